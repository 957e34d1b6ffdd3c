//! Aider: `aider --message PROMPT --yes-always`. Plain text, no session ids: the turn ends when
//! the process exits. Its report line `Tokens: 2.3k sent, 1.1k cache hit, 150 received. Cost:
//! $0.01 message, $0.05 session.` becomes usage.

use super::{Access, AgentEvent, Exit, LineParser, TextTail, Turn, TurnUsage};

pub(super) fn args(turn: &Turn) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if !turn.interactive {
        // One argument: a prompt starting with `-` stays the option's value.
        args.push(format!("--message={}", turn.prompt_with_persona()));
        args.extend(["--yes-always", "--no-pretty", "--no-stream"].map(String::from));
        // Aider commits its own edits; in a person's checkout it leaves them uncommitted. It
        // would also add `.aider*` to the repository's .gitignore, an edit nobody asked for.
        args.push("--no-gitignore".to_owned());
        match turn.access {
            Access::Cautious => args.push("--no-auto-commits".to_owned()),
            // Edits are shown, not made.
            Access::ReadOnly => args.extend(["--no-auto-commits", "--dry-run"].map(String::from)),
            Access::Commit { .. } => {}
        }
    }
    if let Some(m) = &turn.model {
        args.extend(["--model".to_owned(), m.clone()]);
    }
    args.extend(turn.extra_args.iter().cloned());
    args
}

#[derive(Default)]
pub(super) struct Parser {
    tail: TextTail,
}

impl LineParser for Parser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        if let Some(usage) = usage_line(line) {
            return vec![AgentEvent::Usage(usage)];
        }
        self.tail.push(line);
        vec![AgentEvent::Text {
            text: line.to_owned(),
        }]
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        self.tail.exit("aider", exit)
    }
}

/// Reads aider's token report.
fn usage_line(line: &str) -> Option<TurnUsage> {
    let rest = line.trim().strip_prefix("Tokens: ")?;
    let (tokens, cost) = match rest.split_once(". Cost: ") {
        Some((t, c)) => (t, Some(c)),
        None => (rest.trim_end_matches('.'), None),
    };
    let mut usage = TurnUsage::default();
    for part in tokens.split(", ") {
        let (count, what) = part.split_once(' ')?;
        let n = count_of(count)?;
        match what {
            "sent" => usage.input_tokens = n,
            "received" => usage.output_tokens = n,
            "cache hit" => usage.cache_read_tokens = n,
            "cache write" => usage.cache_write_tokens = n,
            _ => {}
        }
    }
    usage.cost_usd = cost
        .and_then(|c| c.split(' ').next())
        .and_then(|c| c.strip_prefix('$'))
        .and_then(|c| c.parse().ok());
    Some(usage)
}

/// `2.3k` → 2300, `1.2M` → 1200000, `150` → 150.
fn count_of(s: &str) -> Option<u64> {
    let (number, scale) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        _ => (s, 1.0),
    };
    let n: f64 = number.replace(',', "").parse().ok()?;
    Some((n * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_reports_become_usage() {
        let u = usage_line(
            "Tokens: 2.3k sent, 1.1k cache hit, 150 received. Cost: $0.01 message, $0.05 session.",
        )
        .unwrap();
        assert_eq!(
            (u.input_tokens, u.cache_read_tokens, u.output_tokens),
            (2300, 1100, 150)
        );
        assert_eq!(u.cost_usd, Some(0.01));
        assert!(usage_line("Tokens are great").is_none());
        assert!(usage_line("Tokens: lots sent").is_none());
    }
}
