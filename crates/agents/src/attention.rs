//! The attention manager (ARCHITECTURE.md, "Attention"): when an agent waits for a person — its
//! CLI's permission prompt, or a question printed on an unfinished line — a policy decides at
//! once (a rule of the person's `attention.allow`), or the question goes to the person, and the
//! agent waits for their answer. Every decision and its reason is a row of `attention`.
//!
//! Rules are `Tool` or `Tool(glob)` (`*` any text, `?` one character): `Bash(cargo test*)`
//! allows commands whose every part (split at `;`, `&&`, `||`, `|`, line breaks) matches an
//! allowing rule, and never one with a substitution or a redirection unless a bare `Bash`
//! allows every command; `Edit` (also `Write`, `MultiEdit`, `NotebookEdit`) allows edits inside
//! the agent's worktree only, `Edit(src/*)` those whose path there matches; `Prompt(glob)`
//! answers `y` to a printed question that matches. The repository's `attention.ask` rules send
//! what they match to the person even when allowed: a repository may narrow, never widen. The
//! person may name an agent (`attention.decider`) asked first about what the rules leave open: its
//! ALLOW or DENY decides, anything else leaves the question to the person.

use futures::future::BoxFuture;
use maestro_protocol::{AttentionEventParams, AttentionInfo};
use maestro_store::{DataValue, Store, StoreError, params, unix_now};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// One rule: a tool, and what of its input it covers (everything without a pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub tool: String,
    pub pattern: Option<String>,
}

impl FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        let (tool, pattern) = match s.split_once('(') {
            None => (s, None),
            Some((tool, rest)) => {
                let Some(pattern) = rest.strip_suffix(')') else {
                    return Err(format!("rule `{s}`: a pattern ends with `)`"));
                };
                (tool, Some(pattern.to_owned()))
            }
        };
        if tool.is_empty() || !tool.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "rule `{s}`: write a tool name (`Bash`, `Edit`, `Prompt`, …), optionally with a pattern in parentheses: `Bash(cargo test*)`"
            ));
        }
        if pattern.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(format!("rule `{s}`: the pattern is empty"));
        }
        Ok(Rule {
            tool: tool.to_owned(),
            pattern,
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Some(p) => write!(f, "{}({p})", self.tool),
            None => f.write_str(&self.tool),
        }
    }
}

/// Checks a rule as configuration is read.
pub fn check_rule(s: &str) -> Result<(), String> {
    Rule::from_str(s).map(drop)
}

/// The rules in force for one workspace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    /// The person's (`attention.allow`).
    pub allow: Vec<Rule>,
    /// The repository's (`attention.ask`): always the person's to answer.
    pub ask: Vec<Rule>,
    /// An agent asked before the person (`attention.decider`): its ALLOW or DENY decides, its
    /// silence or anything else leaves the question to the person.
    pub decider: Option<String>,
}

impl Policy {
    /// Rules as configured; a bad one is left out (configuration checks them first).
    pub fn new(allow: &[String], ask: &[String]) -> Policy {
        let parse = |v: &[String]| v.iter().filter_map(|r| r.parse().ok()).collect();
        Policy {
            allow: parse(allow),
            ask: parse(ask),
            decider: None,
        }
    }
}

impl Policy {
    /// The tools a CLI may use without asking at all: those a bare rule allows and no rule of
    /// the repository's sends to the person. Edits are never among them (an edit is allowed
    /// inside the worktree only, which the CLI's own `Edit` permission does not know), nor
    /// printed questions.
    pub fn unasked(&self) -> Vec<String> {
        let mut tools: Vec<String> = self
            .allow
            .iter()
            .filter(|r| r.pattern.is_none())
            .filter(|r| {
                r.tool != "Prompt" && r.tool != "Edit" && !EDIT_TOOLS.contains(&r.tool.as_str())
            })
            .filter(|r| !self.ask.iter().any(|a| a.tool == r.tool))
            .map(|r| r.tool.clone())
            .collect();
        tools.dedup();
        tools
    }
}

/// What an agent waits on.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// Its CLI asks whether it may use `tool` with `input`.
    Tool { tool: String, input: Value },
    /// It printed `text` and waits for a line.
    Prompt { text: String },
}

const EDIT_TOOLS: &[&str] = &["Edit", "Write", "MultiEdit", "NotebookEdit"];

impl Question {
    /// One line for the person: `Bash: cargo test`, `Edit: src/lib.rs`, the printed question.
    pub fn summary(&self) -> String {
        match self {
            Question::Tool { tool, input } => match subject(tool, input) {
                Some(s) => format!("{tool}: {s}"),
                None => format!("{tool}: {input}"),
            },
            Question::Prompt { text } => text.trim().to_owned(),
        }
    }

    /// The answers it takes: a prompt's own (`[y/n]`, `(yes/no)`), `Allow`/`Deny` for a tool.
    pub fn choices(&self) -> Vec<String> {
        match self {
            Question::Tool { .. } => vec![ALLOW.into(), DENY.into()],
            Question::Prompt { text } => prompt_choices(text),
        }
    }
}

pub const ALLOW: &str = "Allow";
pub const DENY: &str = "Deny";

/// What of a tool's input its rules match: a command, a path, a URL.
fn subject(tool: &str, input: &Value) -> Option<String> {
    let field = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
    match tool {
        "Bash" => field("command"),
        t if EDIT_TOOLS.contains(&t) => field("file_path").or_else(|| field("notebook_path")),
        "WebFetch" => field("url"),
        _ => field("command")
            .or_else(|| field("file_path"))
            .or_else(|| field("path"))
            .or_else(|| field("url")),
    }
}

/// How a question was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Answered by rule: `answer` goes to the agent.
    Allow { answer: String, reason: String },
    /// The person's to answer.
    Escalate { reason: String },
}

/// The policy's decision on `question` of an agent working in `worktree`.
pub fn decide(policy: &Policy, question: &Question, worktree: &Path) -> Verdict {
    if let Some(rule) = policy.ask.iter().find(|r| covers(r, question, worktree)) {
        return Verdict::Escalate {
            reason: format!("the repository's attention.ask rule `{rule}` asks the person"),
        };
    }
    match question {
        Question::Tool { tool, input } if tool == "Bash" => {
            let command = subject(tool, input).unwrap_or_default();
            decide_command(policy, &command)
        }
        _ => match policy.allow.iter().find(|r| covers(r, question, worktree)) {
            Some(rule) => Verdict::Allow {
                answer: match question {
                    Question::Prompt { .. } => "y".into(),
                    Question::Tool { .. } => ALLOW.into(),
                },
                reason: format!("allowed by attention.allow `{rule}`"),
            },
            None => Verdict::Escalate {
                reason: match question {
                    Question::Tool { tool, input } if EDIT_TOOLS.contains(&tool.as_str()) => {
                        let path = subject(tool, input).unwrap_or_default();
                        if inside(worktree, &path).is_none() {
                            format!("`{path}` is outside the agent's worktree")
                        } else {
                            "no rule of attention.allow allows this edit".into()
                        }
                    }
                    _ => "no rule of attention.allow allows it".into(),
                },
            },
        },
    }
}

/// A command is allowed when a bare `Bash` rule allows everything, or each of its simple
/// commands matches a `Bash(glob)` rule and it has nothing a glob cannot see through.
fn decide_command(policy: &Policy, command: &str) -> Verdict {
    let bash: Vec<&Rule> = policy.allow.iter().filter(|r| r.tool == "Bash").collect();
    if let Some(rule) = bash.iter().find(|r| r.pattern.is_none()) {
        return Verdict::Allow {
            answer: ALLOW.into(),
            reason: format!("allowed by attention.allow `{rule}`"),
        };
    }
    if let Some(what) = opaque(command) {
        return Verdict::Escalate {
            reason: format!("the command has {what}: only a bare `Bash` rule allows that"),
        };
    }
    let mut used = Vec::new();
    for part in simple_commands(command) {
        match bash
            .iter()
            .find(|r| r.pattern.as_deref().is_some_and(|p| glob(p, part)))
        {
            Some(rule) => used.push(format!("`{rule}`")),
            None => {
                return Verdict::Escalate {
                    reason: format!("no rule of attention.allow allows `{part}`"),
                };
            }
        }
    }
    if used.is_empty() {
        return Verdict::Escalate {
            reason: "an empty command".into(),
        };
    }
    used.dedup();
    Verdict::Allow {
        answer: ALLOW.into(),
        reason: format!("allowed by attention.allow {}", used.join(", ")),
    }
}

/// What in a command a pattern cannot judge: substitutions, redirections, background jobs.
fn opaque(command: &str) -> Option<&'static str> {
    if command.contains('`') || command.contains("$(") || command.contains("<(") {
        Some("a command substitution")
    } else if command.contains('>') || command.contains('<') {
        Some("a redirection")
    } else if command.replace("&&", "").contains('&') {
        Some("a background job")
    } else {
        None
    }
}

/// A command line's simple commands: split at `;`, `&&`, `||`, `|` and line breaks.
fn simple_commands(command: &str) -> Vec<&str> {
    command
        .split([';', '\n', '|', '&'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn covers(rule: &Rule, question: &Question, worktree: &Path) -> bool {
    match question {
        Question::Prompt { text } => {
            rule.tool == "Prompt" && rule.pattern.as_deref().is_none_or(|p| glob(p, text.trim()))
        }
        Question::Tool { tool, input } => {
            let edit = EDIT_TOOLS.contains(&tool.as_str());
            let named = rule.tool == *tool || (edit && rule.tool == "Edit");
            if !named {
                return false;
            }
            let subject = subject(tool, input).unwrap_or_default();
            if edit {
                let Some(relative) = inside(worktree, &subject) else {
                    return false;
                };
                return rule
                    .pattern
                    .as_deref()
                    .is_none_or(|p| glob(p, &relative.to_string_lossy()));
            }
            if tool == "Bash" {
                // Only the command rules above decide commands; `attention.ask` matches any part.
                return rule
                    .pattern
                    .as_deref()
                    .is_none_or(|p| simple_commands(&subject).iter().any(|c| glob(p, c)));
            }
            rule.pattern.as_deref().is_none_or(|p| glob(p, &subject))
        }
    }
}

/// `path` relative to `root` when it stays inside it (lexically: `..` cannot climb out; a link
/// inside the worktree is the CLI's to resolve, and its own sandbox's).
fn inside(root: &Path, path: &str) -> Option<PathBuf> {
    if path.is_empty() {
        return None;
    }
    let p = Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    };
    let mut parts: Vec<Component> = Vec::new();
    for c in full.components() {
        match c {
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            c => parts.push(c),
        }
    }
    let normal: PathBuf = parts.iter().collect();
    normal.strip_prefix(root).ok().map(Path::to_path_buf)
}

/// `*` matches any text, `?` one character; everything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A printed question's own answers: the last `[a/b]` or `(a/b)` in it; none when it names none.
fn prompt_choices(text: &str) -> Vec<String> {
    let t = text.trim_end();
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(end) = t.rfind(close)
            && let Some(start) = t[..end].rfind(open)
        {
            let inner = &t[start + 1..end];
            let choices: Vec<String> = inner
                .split('/')
                .map(|c| c.trim().to_lowercase())
                .filter(|c| !c.is_empty() && c.len() <= 16)
                .collect();
            if choices.len() >= 2 {
                return choices;
            }
        }
    }
    Vec::new()
}

/// What the attention manager needs from the rest of maestro.
pub trait AttentionHost: Send + Sync + 'static {
    /// Tells the editors (`maestro/attention`).
    fn told(&self, event: AttentionEventParams);
    /// The agent waits for the person (`Some`: the question) or works again (`None`).
    fn waiting(&self, ws: &str, agent: &str, question: Option<String>);
    /// Puts the question in the person's inbox.
    fn escalated(&self, question: &AttentionInfo) -> BoxFuture<'_, ()>;
    /// Asks agent `decider` whether `question` may go ahead: `Some((allow, why))` when it
    /// answered ALLOW or DENY, `None` otherwise (it failed, said something else).
    fn ask_agent(
        &self,
        _ws: &str,
        _decider: &str,
        _question: &AttentionInfo,
    ) -> BoxFuture<'_, Option<(bool, String)>> {
        Box::pin(async { None })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttentionError {
    #[error("no question {0} waits for an answer: `maestro attention log --pending` lists them")]
    NotPending(String),
    #[error("`{choice}` is not an answer to {id}: answer one of {choices}")]
    BadChoice {
        id: String,
        choice: String,
        choices: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The questions agents wait on and the log of decisions.
pub struct Attention {
    store: Store,
    host: Arc<dyn AttentionHost>,
    pending: Mutex<HashMap<String, (AttentionInfo, oneshot::Sender<String>)>>,
}

const PUT: &str = r#"
?[id, ws, agent, at, question, decision, by, reason, answered] <-
    [[$id, $ws, $agent, $at, $question, $decision, $by, $reason, $answered]]
:put attention {id => ws, agent, at, question, decision, by, reason, answered}
"#;
const LOG: &str = r#"
?[at, id, ws, agent, question, decision, by, reason, answered] :=
    *attention:by_at{at, id}, *attention{id, ws, agent, question, decision, by, reason, answered},
    $all || ws == $ws
:order -at
:limit $limit
"#;
const LOST: &str = r#"
?[id, ws, agent, at, question, decision, by, reason, answered] :=
    *attention{id, ws, agent, at, question, decision: 'pending', by, reason},
    decision = 'lost', answered = null
:put attention {id => ws, agent, at, question, decision, by, reason, answered}
"#;

impl Attention {
    /// The manager; questions a stopped daemon left unanswered are marked `lost` (their turns
    /// ended with it).
    pub fn load(store: Store, host: Arc<dyn AttentionHost>) -> Result<Arc<Attention>, StoreError> {
        store.queue_write(LOST, params([])).wait_in_place()?;
        Ok(Arc::new(Attention {
            store,
            host,
            pending: Mutex::new(HashMap::new()),
        }))
    }

    /// Decides `question` of agent `agent` (in `worktree`): by rule at once, or by the person,
    /// waiting for their answer. The answer is the decision (`Allow`, `Deny`, a prompt's choice).
    pub async fn ask(
        &self,
        ws: &str,
        agent: &str,
        worktree: &Path,
        question: Question,
        policy: &Policy,
    ) -> Result<AttentionInfo, StoreError> {
        let mut info = AttentionInfo {
            id: new_id(),
            workspace: ws.to_owned(),
            agent: agent.to_owned(),
            at: unix_now(),
            question: question.summary(),
            choices: question.choices(),
            decision: "pending".into(),
            by: String::new(),
            reason: String::new(),
            answered: None,
        };
        match decide(policy, &question, worktree) {
            Verdict::Allow { answer, reason } => {
                info.decision = answer;
                info.by = "rule".into();
                info.reason = reason;
                info.answered = Some(unix_now());
                self.save(&info).await?;
                Ok(info)
            }
            Verdict::Escalate { reason } => {
                info.reason = reason;
                if let Some(decider) = policy.decider.as_deref().filter(|d| *d != agent)
                    && let Some(decided) = self.by_agent(ws, decider, &info).await
                {
                    info = decided;
                    self.save(&info).await?;
                    return Ok(info);
                }
                // A printed question already made the agent `needs_input`, and its answer is
                // written while it is; a CLI's permission prompt is shown as one here.
                let prompt_tool = matches!(question, Question::Tool { .. });
                let (tx, rx) = oneshot::channel();
                self.pending
                    .lock()
                    .unwrap()
                    .insert(info.id.clone(), (info.clone(), tx));
                self.save(&info).await?;
                if prompt_tool {
                    self.host.waiting(ws, agent, Some(info.question.clone()));
                }
                // In the inbox before the editors ask: a person who looks finds it there.
                self.host.escalated(&info).await;
                self.host.told(AttentionEventParams {
                    event: "ask".into(),
                    attention: info.clone(),
                });
                let answer = rx.await;
                if prompt_tool {
                    self.host.waiting(ws, agent, None);
                }
                match answer {
                    Ok(choice) => {
                        info.decision = choice;
                        info.by = "person".into();
                    }
                    // Dropped: the agent's turn ended (`forget`).
                    Err(_) => info.decision = "lost".into(),
                }
                info.answered = Some(unix_now());
                self.save(&info).await?;
                self.host.told(AttentionEventParams {
                    event: "answered".into(),
                    attention: info.clone(),
                });
                Ok(info)
            }
        }
    }

    /// The decider agent's answer, as the decision (a printed question takes its first answer
    /// for ALLOW and its second for DENY; one naming no answers stays the person's).
    async fn by_agent(
        &self,
        ws: &str,
        decider: &str,
        info: &AttentionInfo,
    ) -> Option<AttentionInfo> {
        let (allow, why) = self.host.ask_agent(ws, decider, info).await?;
        let decision = match info.choices.as_slice() {
            [yes, no, ..] if yes != ALLOW => {
                if allow {
                    yes.clone()
                } else {
                    no.clone()
                }
            }
            [_, _, ..] => (if allow { ALLOW } else { DENY }).to_owned(),
            _ => return None,
        };
        let mut info = info.clone();
        info.decision = decision;
        info.by = format!("agent {decider}");
        info.reason = format!("{} ({})", why, info.reason);
        info.answered = Some(unix_now());
        Some(info)
    }

    /// The person's answer: `choice` is one of the question's choices (any text when it names
    /// none), compared without case.
    pub fn answer(&self, id: &str, choice: &str) -> Result<AttentionInfo, AttentionError> {
        let mut pending = self.pending.lock().unwrap();
        let Some((info, _)) = pending.get(id) else {
            return Err(AttentionError::NotPending(id.to_owned()));
        };
        let choice = if info.choices.is_empty() {
            choice.to_owned()
        } else {
            match info
                .choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(choice.trim()))
            {
                Some(c) => c.clone(),
                None => {
                    return Err(AttentionError::BadChoice {
                        id: id.to_owned(),
                        choice: choice.to_owned(),
                        choices: info.choices.join(", "),
                    });
                }
            }
        };
        let (mut info, tx) = pending.remove(id).expect("looked up above");
        let _ = tx.send(choice.clone());
        info.decision = choice;
        info.by = "person".into();
        info.answered = Some(unix_now());
        Ok(info)
    }

    /// The questions of an agent whose turn ended are nobody's to answer any more.
    pub fn forget(&self, ws: &str, agent: &str) {
        self.pending
            .lock()
            .unwrap()
            .retain(|_, (i, _)| !(i.workspace == ws && i.agent == agent));
    }

    /// The questions waiting now.
    pub fn pending(&self) -> Vec<AttentionInfo> {
        let mut list: Vec<AttentionInfo> = self
            .pending
            .lock()
            .unwrap()
            .values()
            .map(|(i, _)| i.clone())
            .collect();
        list.sort_by(|a, b| b.at.total_cmp(&a.at));
        list
    }

    /// Decisions, newest first.
    pub fn log(&self, ws: Option<&str>, limit: usize) -> Result<Vec<AttentionInfo>, StoreError> {
        let rows = self.store.read(
            LOG,
            params([
                ("limit", DataValue::from(limit as i64)),
                ("all", DataValue::from(ws.is_none())),
                ("ws", DataValue::from(ws.unwrap_or_default())),
            ]),
        )?;
        Ok(rows
            .rows
            .iter()
            .map(|r| AttentionInfo {
                at: r[0].get_float().unwrap_or(0.0),
                id: r[1].get_str().unwrap_or_default().to_owned(),
                workspace: r[2].get_str().unwrap_or_default().to_owned(),
                agent: r[3].get_str().unwrap_or_default().to_owned(),
                question: r[4].get_str().unwrap_or_default().to_owned(),
                choices: Vec::new(),
                decision: r[5].get_str().unwrap_or_default().to_owned(),
                by: r[6].get_str().unwrap_or_default().to_owned(),
                reason: r[7].get_str().unwrap_or_default().to_owned(),
                answered: r[8].get_float(),
            })
            .map(|mut i| {
                // A question still waiting shows the answers it takes.
                if let Some((p, _)) = self.pending.lock().unwrap().get(&i.id) {
                    i.choices = p.choices.clone();
                }
                i
            })
            .collect())
    }

    async fn save(&self, i: &AttentionInfo) -> Result<(), StoreError> {
        self.store
            .queue_write(
                PUT,
                params([
                    ("id", DataValue::from(i.id.as_str())),
                    ("ws", DataValue::from(i.workspace.as_str())),
                    ("agent", DataValue::from(i.agent.as_str())),
                    ("at", DataValue::from(i.at)),
                    ("question", DataValue::from(i.question.as_str())),
                    ("decision", DataValue::from(i.decision.as_str())),
                    ("by", DataValue::from(i.by.as_str())),
                    ("reason", DataValue::from(i.reason.as_str())),
                    (
                        "answered",
                        i.answered.map_or(DataValue::Null, DataValue::from),
                    ),
                ]),
            )
            .done()
            .await
            .map(drop)
    }
}

/// A question's id: `att_` and 6 random bytes in hex.
fn new_id() -> String {
    let mut bytes = [0u8; 6];
    getrandom::getrandom(&mut bytes).expect("the system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("att_{hex}")
}

#[cfg(test)]
mod tests;
