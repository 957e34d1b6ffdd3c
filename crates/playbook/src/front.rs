//! Front matter: a `---` block at the very top with `key: value` lines.

use crate::{Problem, lossy};

/// A document's options, from its front matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The agent that works the tasks that name none.
    pub agent: Option<String>,
    /// Start again from the first task when all are done.
    pub looped: bool,
    pub max_loops: Option<u32>,
    /// Work on a copy that is reset (unticked) at each completion.
    pub reset: bool,
    /// A prompt template instead of the default one.
    pub prompt: Option<String>,
    /// Documents that must be complete before this one runs.
    pub after: Vec<String>,
}

const KEYS: &[&str] = &["agent", "loop", "max_loops", "reset", "prompt", "after"];

/// The options, their problems and the index of the first line after the block; `None` when the
/// document has no front matter.
pub(crate) fn parse(
    bytes: &[u8],
    lines: &[(usize, usize)],
) -> Option<(Options, Vec<Problem>, usize)> {
    let text = |i: usize| lossy(&bytes[lines[i].0..lines[i].1]);
    if lines.is_empty() || text(0) != "---" {
        return None;
    }
    let mut options = Options::default();
    let mut problems = Vec::new();
    let Some(close) = (1..lines.len()).find(|i| matches!(text(*i).as_str(), "---" | "...")) else {
        problems.push(Problem {
            line: 1,
            message: "the front matter opened here is never closed with `---`: it is read as text"
                .into(),
        });
        return Some((options, problems, 0));
    };
    let mut i = 1;
    while i < close {
        let number = i as u32 + 1;
        let line = text(i);
        i += 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            problems.push(Problem {
                line: number,
                message: format!("`{}` is not `key: value`", line.trim()),
            });
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let mut problem = |message: String| {
            problems.push(Problem {
                line: number,
                message,
            })
        };
        match key {
            "agent" => options.agent = Some(unquote(value)).filter(|a| !a.is_empty()),
            "loop" => match boolean(value) {
                Some(b) => options.looped = b,
                None => problem(format!("loop: `{value}` is not true or false")),
            },
            "reset" => match boolean(value) {
                Some(b) => options.reset = b,
                None => problem(format!("reset: `{value}` is not true or false")),
            },
            "max_loops" => match value.parse::<u32>() {
                Ok(n) if n > 0 => options.max_loops = Some(n),
                _ => problem(format!(
                    "max_loops: `{value}` is not a whole number above 0"
                )),
            },
            "prompt" if value == "|" || value == ">" => {
                // A block: the indented lines that follow.
                let mut block = Vec::new();
                while i < close {
                    let l = text(i);
                    if !l.is_empty() && !l.starts_with([' ', '\t']) {
                        break;
                    }
                    block.push(l.trim().to_owned());
                    i += 1;
                }
                let joined = if value == "|" {
                    block.join("\n")
                } else {
                    block.join(" ")
                };
                options.prompt = Some(joined.trim().to_owned()).filter(|p| !p.is_empty());
            }
            "prompt" => options.prompt = Some(unquote(value)).filter(|p| !p.is_empty()),
            "after" if value.is_empty() => {
                while i < close {
                    let l = text(i);
                    let Some(item) = l.trim_start().strip_prefix("- ") else {
                        break;
                    };
                    options.after.push(unquote(item.trim()));
                    i += 1;
                }
            }
            "after" => match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                Some(list) => options.after.extend(
                    list.split(',')
                        .map(|s| unquote(s.trim()))
                        .filter(|s| !s.is_empty()),
                ),
                None => options.after.push(unquote(value)),
            },
            other => problem(format!(
                "`{other}` is not an option: playbooks take {}",
                KEYS.join(", ")
            )),
        }
    }
    Some((options, problems, close + 1))
}

fn boolean(value: &str) -> Option<bool> {
    match unquote(value).to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_owned();
        }
    }
    v.to_owned()
}
