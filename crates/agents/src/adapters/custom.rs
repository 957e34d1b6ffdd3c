//! Custom agents from the config: a program, an argument template, and how to read its output.
//!
//! ```toml
//! [agents.custom.mybot]
//! program = "mybot"
//! args = ["run", "--prompt", "{prompt}"]
//! resume_args = ["--session", "{session_id}"]
//! output = "jsonl"               # or "text"
//! type_field = "/kind"           # JSON pointers into each line
//! result_type = "done"
//! session_field = "/session"
//! text_field = "/text"
//! ```

use super::{AgentEvent, Exit, LineParser, TextTail, Turn, TurnUsage, json_line, text_at};
use crate::classify::classify;
use serde_json::Value;

/// How a custom agent's output is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomOutput {
    /// Lines of text; the turn ends when the process exits.
    Text,
    /// One JSON object per line, read through [`FieldMap`].
    Jsonl(Box<FieldMap>),
}

/// JSON pointers (`/a/b`) into a custom agent's lines. Empty means "not reported".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldMap {
    pub type_field: String,
    /// The value of `type_field` that ends a turn well.
    pub result_type: String,
    /// The value of `type_field` that ends a turn in an error.
    pub error_type: String,
    pub session_field: String,
    pub text_field: String,
    /// Where the error message is, on error lines.
    pub error_field: String,
    pub input_tokens_field: String,
    pub output_tokens_field: String,
    pub cost_field: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomAgent {
    pub name: String,
    pub program: String,
    /// The arguments; `{prompt}` is replaced by the prompt, `{session_id}` by the session to
    /// resume (an argument naming `{session_id}` is left out when there is none), `{model}` by the
    /// model (left out likewise).
    pub args: Vec<String>,
    /// Added after `args` when resuming a session (e.g. `["--resume", "{session_id}"]`).
    pub resume_args: Vec<String>,
    pub output: CustomOutput,
}

impl CustomAgent {
    pub(super) fn args(&self, turn: &Turn) -> Vec<String> {
        let prompt = turn.prompt_with_persona();
        // One pass over the template: a value that contains `{model}` (a prompt may) is not
        // filled in again.
        let fill = |arg: &String| -> Option<String> {
            let mut out = String::with_capacity(arg.len());
            let mut rest = arg.as_str();
            while let Some(at) = rest.find('{') {
                out.push_str(&rest[..at]);
                rest = &rest[at..];
                let value = if let Some(after) = rest.strip_prefix("{prompt}") {
                    rest = after;
                    prompt.as_str()
                } else if let Some(after) = rest.strip_prefix("{session_id}") {
                    rest = after;
                    turn.session_id.as_deref()?
                } else if let Some(after) = rest.strip_prefix("{model}") {
                    rest = after;
                    turn.model.as_deref()?
                } else {
                    rest = &rest[1..];
                    "{"
                };
                out.push_str(value);
            }
            out.push_str(rest);
            Some(out)
        };
        let mut args: Vec<String> = self.args.iter().filter_map(fill).collect();
        if turn.session_id.is_some() {
            args.extend(self.resume_args.iter().filter_map(fill));
        }
        args.extend(turn.extra_args.iter().cloned());
        if !self.args.iter().any(|a| a.contains("{prompt}")) && !turn.no_prompt() {
            // After `--`, a prompt is never an option.
            args.push("--".to_owned());
            args.push(prompt);
        }
        args
    }

    /// A prompt its CLI would read as an option: one starting with `-`, where the template has
    /// `{prompt}` as an argument of its own with no `--` before it.
    pub(super) fn prompt_problem(&self, turn: &Turn) -> Option<String> {
        if !turn.prompt_with_persona().starts_with('-') {
            return None;
        }
        let at = self.args.iter().position(|a| a == "{prompt}")?;
        if self.args[..at].iter().any(|a| a == "--") {
            return None;
        }
        Some(format!(
            "the prompt starts with `-`, and custom agent `{}` takes it as an argument of its own: its CLI would read it as an option. Put \"--\" before \"{{prompt}}\" in agents.custom.{}.args (or join them, as \"--prompt={{prompt}}\"), or start the prompt otherwise",
            self.name, self.name
        ))
    }

    pub(super) fn parser(&self) -> Box<dyn LineParser> {
        match &self.output {
            CustomOutput::Text => Box::new(TextParser {
                name: self.name.clone(),
                tail: TextTail::default(),
            }),
            CustomOutput::Jsonl(map) => Box::new(JsonParser {
                name: self.name.clone(),
                map: (**map).clone(),
                session: None,
                reply: None,
                ended: false,
            }),
        }
    }
}

struct TextParser {
    name: String,
    tail: TextTail,
}

impl LineParser for TextParser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        self.tail.push(line);
        vec![AgentEvent::Text {
            text: line.to_owned(),
        }]
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        self.tail.exit(&self.name, exit)
    }
}

struct JsonParser {
    name: String,
    map: FieldMap,
    session: Option<String>,
    reply: Option<String>,
    ended: bool,
}

fn field<'v>(v: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        None
    } else {
        v.pointer(pointer)
    }
}

impl LineParser for JsonParser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let v = match json_line(&self.name, line) {
            Ok(m) => Value::Object(m),
            Err(e) => return vec![e],
        };
        let m = &self.map;
        let mut events = Vec::new();
        if self.session.is_none()
            && let Some(id) = field(&v, &m.session_field).and_then(Value::as_str)
        {
            self.session = Some(id.to_owned());
            events.push(AgentEvent::SessionStarted {
                session_id: id.to_owned(),
                model: None,
            });
        }
        let kind = field(&v, &m.type_field).and_then(Value::as_str);
        let is = |t: &str| !t.is_empty() && kind == Some(t);
        if let Some(text) = field(&v, &m.text_field).and_then(Value::as_str)
            && !is(&m.error_type)
        {
            self.reply = Some(text.to_owned());
            events.push(AgentEvent::Text {
                text: text.to_owned(),
            });
        }
        let tokens = |p: &str| field(&v, p).and_then(Value::as_u64);
        let (input, output) = (
            tokens(&m.input_tokens_field),
            tokens(&m.output_tokens_field),
        );
        let cost = field(&v, &m.cost_field).and_then(Value::as_f64);
        if input.is_some() || output.is_some() || cost.is_some() {
            events.push(AgentEvent::Usage(TurnUsage {
                input_tokens: input.unwrap_or(0),
                output_tokens: output.unwrap_or(0),
                cost_usd: cost,
                ..TurnUsage::default()
            }));
        }
        if is(&m.error_type) {
            self.ended = true;
            let message = text_at(&v, &m.error_field)
                .or_else(|| text_at(&v, &m.text_field))
                .unwrap_or("error");
            events.push(AgentEvent::Error {
                class: classify(message),
                message: format!("{}: {message}", self.name),
                fatal: true,
            });
        } else if is(&m.result_type) {
            self.ended = true;
            events.push(AgentEvent::Result {
                text: self.reply.take(),
            });
        }
        events
    }

    fn exit(&mut self, exit: &Exit) -> Vec<AgentEvent> {
        if !self.ended && self.map.result_type.is_empty() && exit.success() {
            // No result marker configured: a clean exit ends the turn.
            self.ended = true;
            return vec![AgentEvent::Result {
                text: self.reply.take(),
            }];
        }
        super::structured_exit(&self.name, self.ended, exit)
    }
}
