//! Dollars for agents that report only tokens (Codex, Gemini, some custom agents): a price table,
//! with defaults for common models that the config (`[prices."<model>"]`) extends or overrides.

use crate::adapters::TurnUsage;

/// Dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input read back; `None` bills it as input.
    pub cache_read: Option<f64>,
    /// Input written to the cache; `None` bills it as input.
    pub cache_write: Option<f64>,
}

const fn price(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Price {
    Price {
        input,
        output,
        cache_read: Some(cache_read),
        cache_write: Some(cache_write),
    }
}

/// List prices (USD per million tokens) of common models, mid 2026. A model matches the longest
/// entry it starts with, so dated names (`claude-sonnet-4-5-20250929`) find theirs.
pub const DEFAULT_PRICES: &[(&str, Price)] = &[
    ("claude-opus-4-5", price(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4", price(15.0, 75.0, 1.5, 18.75)),
    ("claude-sonnet-4", price(3.0, 15.0, 0.3, 3.75)),
    ("claude-3-7-sonnet", price(3.0, 15.0, 0.3, 3.75)),
    ("claude-haiku-4", price(1.0, 5.0, 0.1, 1.25)),
    ("claude-3-5-haiku", price(0.8, 4.0, 0.08, 1.0)),
    ("gpt-5-mini", price(0.25, 2.0, 0.025, 0.25)),
    ("gpt-5-nano", price(0.05, 0.4, 0.005, 0.05)),
    ("gpt-5", price(1.25, 10.0, 0.125, 1.25)),
    ("gpt-4.1-mini", price(0.4, 1.6, 0.1, 0.4)),
    ("gpt-4.1", price(2.0, 8.0, 0.5, 2.0)),
    ("o4-mini", price(1.1, 4.4, 0.275, 1.1)),
    ("o3", price(2.0, 8.0, 0.5, 2.0)),
    ("codex-mini", price(1.5, 6.0, 0.375, 1.5)),
    ("gemini-2.5-pro", price(1.25, 10.0, 0.31, 1.25)),
    ("gemini-2.5-flash-lite", price(0.1, 0.4, 0.025, 0.1)),
    ("gemini-2.5-flash", price(0.3, 2.5, 0.075, 0.3)),
    ("gemini-3-pro", price(2.0, 12.0, 0.2, 2.0)),
];

/// The defaults plus the configured prices (which win).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    configured: Vec<(String, Price)>,
}

impl PriceTable {
    pub fn new(configured: Vec<(String, Price)>) -> PriceTable {
        PriceTable { configured }
    }

    /// The price of a model: configured entries first, then the defaults; the longest matching
    /// prefix wins. A provider prefix (`anthropic/claude-…`) is ignored.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        let model = model.rsplit('/').next().unwrap_or(model).to_lowercase();
        let best = |entries: &mut dyn Iterator<Item = (&str, Price)>| {
            entries
                .filter(|(name, _)| model.starts_with(&name.to_lowercase()))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, p)| p)
        };
        best(&mut self.configured.iter().map(|(n, p)| (n.as_str(), *p)))
            .or_else(|| best(&mut DEFAULT_PRICES.iter().map(|(n, p)| (*n, *p))))
    }

    /// Dollars for a turn's usage: what the agent reported, else priced from the table. The flag
    /// says the table was used; `None` when neither is known.
    pub fn cost(&self, usage: &TurnUsage, model: Option<&str>) -> (Option<f64>, bool) {
        if let Some(c) = usage.cost_usd {
            return (Some(c), false);
        }
        let Some(p) = usage
            .model
            .as_deref()
            .or(model)
            .and_then(|m| self.lookup(m))
        else {
            return (None, false);
        };
        let m = 1e-6;
        let dollars = usage.input_tokens as f64 * p.input * m
            + usage.output_tokens as f64 * p.output * m
            + usage.cache_read_tokens as f64 * p.cache_read.unwrap_or(p.input) * m
            + usage.cache_write_tokens as f64 * p.cache_write.unwrap_or(p.input) * m;
        (Some(dollars), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_wins_and_the_config_overrides() {
        let t = PriceTable::default();
        assert_eq!(t.lookup("claude-sonnet-4-5-20250929").unwrap().input, 3.0);
        assert_eq!(t.lookup("gpt-5-mini-2025").unwrap().input, 0.25);
        assert_eq!(t.lookup("gpt-5-codex").unwrap().input, 1.25);
        assert_eq!(t.lookup("anthropic/claude-opus-4-5").unwrap().input, 5.0);
        assert!(t.lookup("llama-3").is_none());
        let mine = PriceTable::new(vec![(
            "gpt-5".to_owned(),
            Price {
                input: 1.0,
                output: 2.0,
                cache_read: None,
                cache_write: None,
            },
        )]);
        assert_eq!(mine.lookup("gpt-5-codex").unwrap().input, 1.0);
    }

    #[test]
    fn reported_dollars_are_kept_and_tokens_are_priced() {
        let t = PriceTable::default();
        let reported = TurnUsage {
            cost_usd: Some(0.5),
            input_tokens: 1_000_000,
            ..TurnUsage::default()
        };
        assert_eq!(t.cost(&reported, Some("gpt-5")), (Some(0.5), false));
        let tokens = TurnUsage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_read_tokens: 1_000_000,
            ..TurnUsage::default()
        };
        let (dollars, priced) = t.cost(&tokens, Some("gpt-5"));
        assert!(priced);
        assert!((dollars.unwrap() - (1.25 + 1.0 + 0.125)).abs() < 1e-9);
        assert_eq!(t.cost(&tokens, Some("unknown-model")), (None, false));
        assert_eq!(t.cost(&tokens, None), (None, false));
    }
}
