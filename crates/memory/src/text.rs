//! Text handling around search: chunking long texts, turning a person's query into cozo's full-text
//! syntax, and fusing ranked lists.

use std::collections::HashMap;

/// A chunk of a longer text, with its byte offset in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub offset: usize,
    pub text: String,
}

/// Splits `text` into chunks of at most `max` bytes that overlap by about `overlap` bytes, cutting at
/// a paragraph break, else a line break, else a sentence end, else a space — whichever is latest in
/// the second half of the window — and never inside a UTF-8 character. A text that fits is one chunk.
pub fn chunk(text: &str, max: usize, overlap: usize) -> Vec<Chunk> {
    let max = max.max(16);
    let overlap = overlap.min(max / 2);
    let text_len = text.len();
    if text_len <= max {
        return vec![Chunk {
            offset: 0,
            text: text.to_owned(),
        }];
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < text_len {
        let mut end = floor_boundary(text, (start + max).min(text_len));
        if end < text_len {
            let window = &text[start..end];
            let half = window.len() / 2;
            let cut = ["\n\n", "\n", ". ", "? ", "! ", " "]
                .iter()
                .find_map(|sep| {
                    window
                        .rfind(sep)
                        .filter(|&i| i >= half)
                        .map(|i| i + sep.len())
                });
            if let Some(cut) = cut {
                end = start + cut;
            }
        }
        if end <= start {
            // One character wider than `max`: take it whole.
            end = ceil_boundary(text, start + 1);
        }
        out.push(Chunk {
            offset: start,
            text: text[start..end].to_owned(),
        });
        if end >= text_len {
            break;
        }
        let next = floor_boundary(text, end.saturating_sub(overlap));
        // Start the overlap at a word.
        let next = text[next..end]
            .find(char::is_whitespace)
            .map_or(next, |i| next + i + 1);
        start = if next > start && next < end {
            next
        } else {
            end
        };
    }
    out
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The words of a person's query as a cozo full-text query: each word (letters, digits, `_`) lowercased,
/// joined with OR, at most `max_words` of them. `None` when the query has no word.
/// Lowercasing also keeps the words from being read as the operators AND, OR, NOT and NEAR.
pub fn fts_query(query: &str, max_words: usize) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    for w in query.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if w.is_empty() {
            continue;
        }
        let w = w.to_lowercase();
        if !words.contains(&w) {
            words.push(w);
        }
        if words.len() == max_words {
            break;
        }
    }
    (!words.is_empty()).then(|| words.join(" OR "))
}

/// Reciprocal rank fusion: each list adds `weight / (k + rank)` (rank from 1) to an id's score.
/// Returns ids with their fused score, best first (ties: the earlier id in the first list that has
/// it).
pub fn rrf(lists: &[(Vec<String>, f64)], k: f64) -> Vec<(String, f64)> {
    let mut score: HashMap<&str, (f64, usize)> = HashMap::new();
    let mut order = 0;
    for (list, weight) in lists {
        for (rank, id) in list.iter().enumerate() {
            let e = score.entry(id.as_str()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            e.0 += weight / (k + rank as f64 + 1.0);
        }
    }
    let mut out: Vec<(String, f64, usize)> = score
        .into_iter()
        .map(|(id, (s, o))| (id.to_owned(), s, o))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

/// The recency factor of a memory `age_secs` old: `1 + weight · 2^(−age / half_life)` — 1 + weight
/// for a new memory, 1 + weight/2 one half-life later, → 1 for old ones. Weight 0 turns it off.
pub fn recency(age_secs: f64, half_life_secs: f64, weight: f64) -> f64 {
    if weight <= 0.0 || half_life_secs <= 0.0 {
        return 1.0;
    }
    1.0 + weight * (-age_secs.max(0.0) / half_life_secs).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_one_chunk_and_long_ones_overlap_at_boundaries() {
        assert_eq!(chunk("hello", 100, 10).len(), 1);
        let para = "The retry loop backs off. It doubles the wait each time. ".repeat(40);
        let chunks = chunk(&para, 300, 60);
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(c.text.len() <= 300, "{}", c.text.len());
            assert_eq!(&para[c.offset..c.offset + c.text.len()], c.text);
        }
        // Consecutive chunks overlap and cover everything.
        for w in chunks.windows(2) {
            assert!(w[1].offset < w[0].offset + w[0].text.len());
            assert!(w[1].offset > w[0].offset);
        }
        let last = chunks.last().unwrap();
        assert_eq!(last.offset + last.text.len(), para.len());
        // Cut at sentence ends.
        assert!(chunks[0].text.ends_with(". "), "{:?}", chunks[0].text);
    }

    #[test]
    fn chunking_never_splits_a_character_and_always_progresses() {
        let text = format!(
            "{}{}{}",
            "é".repeat(1000),
            "日本語".repeat(300),
            "x".repeat(5000)
        );
        let chunks = chunk(&text, 100, 30);
        let last = chunks.last().unwrap();
        assert_eq!(last.offset + last.text.len(), text.len());
        for c in &chunks {
            assert!(c.text.len() <= 100);
        }
    }

    #[test]
    fn queries_become_or_of_lowercased_words() {
        assert_eq!(
            fts_query("Where are RETRIES handled? (auth AND NOT)", 10).unwrap(),
            "where OR are OR retries OR handled OR auth OR and OR not"
        );
        assert_eq!(fts_query("  ?!  ", 10), None);
        assert_eq!(fts_query("a b c d", 2).unwrap(), "a OR b");
        assert_eq!(
            fts_query("snake_case x2 x2", 10).unwrap(),
            "snake_case OR x2"
        );
    }

    #[test]
    fn rrf_rewards_ids_in_both_lists() {
        let a = vec!["x".to_owned(), "y".to_owned(), "z".to_owned()];
        let b = vec!["z".to_owned(), "w".to_owned()];
        let fused = rrf(&[(a.clone(), 1.0), (b.clone(), 1.0)], 60.0);
        assert_eq!(fused[0].0, "z");
        assert_eq!(fused[1].0, "x");
        assert_eq!(fused.len(), 4);
        // A lighter list counts less: x (first in the heavy one) leads z.
        let fused = rrf(&[(a, 1.0), (b, 0.01)], 60.0);
        assert_eq!(fused[0].0, "x");
    }

    #[test]
    fn recency_halves_its_boost_each_half_life() {
        assert_eq!(recency(0.0, 100.0, 0.5), 1.5);
        assert_eq!(recency(100.0, 100.0, 0.5), 1.25);
        assert_eq!(recency(1e9, 100.0, 0.0), 1.0);
    }
}
