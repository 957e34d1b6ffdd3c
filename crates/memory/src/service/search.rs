//! Hybrid search: keywords (cozo's full-text index; for code chunks the BM25 index of keyword.rs) and
//! the vector index, each asked for candidates under the same filters, fused by reciprocal rank, then
//! weighted by recency and reinforcement.

use super::{Memory, row_to_memory, rows_or_log};
use crate::{fts_query, recency, rrf};
use maestro_protocol::{MemoryHit, MemorySearchResult, memory_kind};
use maestro_store::{DataValue, params};
use std::collections::HashMap;
use std::time::Instant;

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;
/// The most hits a search returns.
pub const MAX_K: u32 = 100;
/// Candidates each list contributes to the fusion, at least.
const CANDIDATES: usize = 50;
/// The RRF constant. The paper's 60 makes neighbouring ranks differ by under 2%, so that any
/// recency or reinforcement boost reorders them; with 20, rank 1 leads rank 2 by about 5%.
const RRF_K: f64 = 20.0;
/// The weight of the code keyword list against the vectors' in the fusion. On the code-search quality
/// set the vectors alone find what a query describes without naming it (no shared word) two to
/// three times as often as with keywords at full weight; at half weight the keywords still lift the
/// queries that do name it.
const CODE_KEYWORD_WEIGHT: f64 = 0.5;
/// The weight of a Python protocol method's chunk (`__init__`, `__len__`, …) in the ranking. They
/// are a quarter of a Python package's definitions and look alike to the model (`method init of
/// x`), so they crowd the named definitions a query describes; on the code-search quality set 3 of
/// 821 queries mean one, and this weight lifted recall@5 by about two points (the set's ranked
/// lists fused again offline, `MAESTRO_BENCH_DUMP`).
const PROTOCOL_METHOD_WEIGHT: f64 = 0.8;
/// How much each doubling of a memory's count (merged near-duplicates) adds, relatively.
const REINFORCEMENT: f64 = 0.02;

/// A search's filters, resolved (workspace ids, not paths).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None`: every workspace.
    pub ws: Option<String>,
    pub agent: Option<String>,
    pub kinds: Vec<String>,
    pub since: Option<f64>,
    pub until: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Hybrid,
    Keyword,
    Semantic,
}

impl Mode {
    pub fn parse(s: Option<&str>) -> Result<Mode, String> {
        match s.unwrap_or("hybrid") {
            "hybrid" => Ok(Mode::Hybrid),
            "keyword" => Ok(Mode::Keyword),
            "semantic" => Ok(Mode::Semantic),
            other => Err(format!(
                "unknown search mode {other:?}: use hybrid, keyword or semantic"
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Mode::Hybrid => "hybrid",
            Mode::Keyword => "keyword",
            Mode::Semantic => "semantic",
        }
    }
}

const KEYWORD: &str = r#"
?[id, score] := ~memory:fts{id, ws, kind, agent, at |
    query: $q, k: $n, bind_score: score,
    filter: ($ws == '' || ws == $ws) && ($agent == '' || agent == $agent) && is_in(kind, $kinds)
        && at >= $since && at <= $until}
"#;
const FETCH: &str = r#"
?[id, ws, kind, agent, source, at, text, count, unembedded] :=
    id in $ids, *memory{id, ws, kind, agent, source, at, text, count, vec}, unembedded = is_null(vec)
"#;

impl Memory {
    /// Searches; `query` and `k` are checked by the caller.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        filter: &Filter,
        mode: Mode,
        now: f64,
    ) -> Result<MemorySearchResult, String> {
        let started = Instant::now();
        let kinds: Vec<String> = if filter.kinds.is_empty() {
            memory_kind::BY_DEFAULT.map(str::to_owned).to_vec()
        } else {
            filter.kinds.clone()
        };
        let n = CANDIDATES.max(k * 4);
        let mut warning = None;
        let embedder = match mode {
            Mode::Keyword => None,
            _ => {
                let e = self
                    .embedder()
                    .filter(|_| self.loaded.load(std::sync::atomic::Ordering::Acquire));
                if e.is_none() {
                    warning = self.semantic_warning();
                }
                e
            }
        };
        let used = match (mode, &embedder) {
            (Mode::Keyword, _) | (_, None) => Mode::Keyword,
            (m, Some(_)) => m,
        };

        let mut lists: Vec<(Vec<String>, f64)> = Vec::new();
        let mut keyword_rank = HashMap::new();
        // Code chunks have a keyword index of their own (BM25 over their words) once it is loaded;
        // code has no agent, so a search for one agent's memories finds none.
        let since = filter.since.unwrap_or(f64::MIN);
        let until = filter.until.unwrap_or(f64::MAX);
        let code_by_words = kinds.iter().any(|k| k == memory_kind::CODE)
            && self
                .code_words_loaded
                .load(std::sync::atomic::Ordering::Acquire);
        let prose: Vec<&String> = kinds
            .iter()
            .filter(|k| !(code_by_words && *k == memory_kind::CODE))
            .collect();
        if used != Mode::Semantic
            && !prose.is_empty()
            && let Some(q) = fts_query(query, 32)
        {
            let rows = self
                .store
                .read(
                    KEYWORD,
                    params([
                        ("q", DataValue::from(q.as_str())),
                        ("n", DataValue::from(n as i64)),
                        ("ws", DataValue::from(filter.ws.as_deref().unwrap_or(""))),
                        (
                            "agent",
                            DataValue::from(filter.agent.as_deref().unwrap_or("")),
                        ),
                        (
                            "kinds",
                            DataValue::List(
                                prose.iter().map(|k| DataValue::from(k.as_str())).collect(),
                            ),
                        ),
                        ("since", DataValue::from(since)),
                        ("until", DataValue::from(until)),
                    ]),
                )
                .map_err(|e| format!("keyword search failed: {e}"))?;
            let mut scored: Vec<(String, f64)> = rows
                .rows
                .into_iter()
                .filter_map(|r| Some((r[0].get_str()?.to_owned(), r[1].get_float()?)))
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for (i, (id, _)) in scored.iter().enumerate() {
                keyword_rank.insert(id.clone(), i as u32 + 1);
            }
            lists.push((scored.into_iter().map(|(id, _)| id).collect(), 1.0));
        }
        if used != Mode::Semantic
            && code_by_words
            && filter.agent.as_deref().is_none_or(str::is_empty)
        {
            let hits = self.code_words.lock().unwrap().search(
                query,
                n,
                crate::Within {
                    ws: filter.ws.as_deref(),
                    since,
                    until,
                },
            );
            for (i, (id, _)) in hits.iter().enumerate() {
                keyword_rank.insert(id.clone(), i as u32 + 1);
            }
            // Lighter only beside the vectors: alone, it weighs as much as the prose keywords.
            let weight = if embedder.is_some() {
                CODE_KEYWORD_WEIGHT
            } else {
                1.0
            };
            lists.push((hits.into_iter().map(|(id, _)| id).collect(), weight));
        }

        let mut vector_rank = HashMap::new();
        let mut similarity = HashMap::new();
        if let Some(embedder) = &embedder {
            let v = embedder
                .embed(&[query])
                .map_err(|e| format!("embedding the query failed: {e}"))?
                .pop()
                .unwrap_or_default();
            let index = self.index.lock().unwrap();
            let ws = filter.ws.as_deref().map(|w| index.lookup(w));
            let agent = filter.agent.as_deref().map(|a| index.lookup(a));
            let kind_ids: Vec<u32> = kinds.iter().filter_map(|k| index.lookup(k)).collect();
            // A workspace or agent the index never saw matches nothing.
            let hits = if ws == Some(None) || agent == Some(None) {
                Vec::new()
            } else {
                index.search(&v, n, |m| {
                    ws.is_none_or(|w| Some(m.ws) == w)
                        && agent.is_none_or(|a| Some(m.agent) == a)
                        && kind_ids.contains(&m.kind)
                        && m.at >= since
                        && m.at <= until
                })
            };
            drop(index);
            for (i, h) in hits.iter().enumerate() {
                vector_rank.insert(h.id.clone(), i as u32 + 1);
                similarity.insert(h.id.clone(), h.score);
            }
            lists.push((hits.into_iter().map(|h| h.id).collect(), 1.0));
        }

        let fused = rrf(&lists, RRF_K);
        let ids: Vec<DataValue> = fused
            .iter()
            .map(|(id, _)| DataValue::from(id.as_str()))
            .collect();
        let rows = rows_or_log(
            "fetching hits",
            self.store
                .read(FETCH, params([("ids", DataValue::List(ids))])),
        );
        let mut memories: HashMap<String, maestro_protocol::Memory> = rows
            .iter()
            .filter_map(|r| row_to_memory(r))
            .map(|m| (m.id.clone(), m))
            .collect();
        let mut hits: Vec<MemoryHit> = fused
            .into_iter()
            .filter_map(|(id, score)| {
                let memory = memories.remove(&id)?;
                let boost = recency(
                    now - memory.at,
                    self.settings.recency_half_life_secs,
                    self.settings.recency_weight,
                ) * (1.0 + REINFORCEMENT * f64::from(memory.count.max(1)).log2())
                    * if memory.kind == memory_kind::CODE
                        && super::code::protocol_method(&memory.text)
                    {
                        PROTOCOL_METHOD_WEIGHT
                    } else {
                        1.0
                    };
                Some(MemoryHit {
                    score: score * boost,
                    keyword_rank: keyword_rank.get(&id).copied(),
                    vector_rank: vector_rank.get(&id).copied(),
                    similarity: similarity.get(&id).copied(),
                    memory,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(MemorySearchResult {
            hits,
            mode: used.as_str().into(),
            warning,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}
