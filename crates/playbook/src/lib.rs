//! Playbooks: markdown checklists that agents work through task by task. This crate is their
//! document model: [`parse`] reads the tasks, the front matter's options and the problems of a
//! document, and never fails; [`set_done`] ticks or unticks one task by changing exactly the byte
//! inside its brackets; [`turn`] renders a task's prompt and judges a turn by the file afterwards;
//! [`plan`] decides what a run does next. [`run`] is the Auto Run service that works documents with
//! agents, asking an [`run::Executor`] for their turns.
//!
//! Architecture invariant: the model (`parse`, `set_done`, `turn`, `plan`) is pure: bytes in,
//! values out, no I/O. Only [`run`] reads and writes files and the store.
//!
//! ## How it behaves
//!
//! Playbooks are markdown checklists that agents work through task by task; this crate is their model,
//! pure (bytes in, values out; no I/O), so the run engine can re-read a file after every turn and judge
//! completion from the file alone. `parse(bytes)` never fails: it returns the tasks, the front matter's
//! options and `problems` with 1-based line numbers. A task is a list item `-`, `*` or `+`, one space,
//! then `[ ]` (open) or `[x]`/`[X]` (done), at any indentation (nesting: the parent is the nearest task
//! above with less indentation); a line inside a fenced code block (``` or ~~~, closed by the same
//! character at least as long) is never a task. Lines that look almost like tasks (`- []`, `-[ ]`,
//! `- [ x]`, `- [y]`) are problems, not tasks. A task's first `@name` names its agent; a task whose
//! text starts with `REVIEW:` is a review gate (the run waits for a person to approve it); a line that
//! starts with `HALT:` outside code blocks (an agent may write it) stops the run, its rest is the
//! reason. Front matter is a `---` block at the very top with `key: value` lines: `agent`, `loop`
//! (true/false), `max_loops` (a number), `reset` (true/false), `prompt` (a template), `after` (other
//! documents, `[a.md, b.md]` or one `- a.md` per line); unknown keys and bad values are problems. The
//! parser works on bytes (CRLF and invalid UTF-8 are fine) and records each checkbox's byte offset, so
//! `set_done` changes exactly that one byte and nothing else; a property test feeds arbitrary bytes and
//! checks both "no panic" and "a tick changes only the checkbox byte". `turn` is a run's turn on
//! paper: `render` fills a prompt template (`DEFAULT_PROMPT`, or the front matter's) with
//! `{{DOCUMENT_PATH}}`, `{{DOCUMENT_NAME}}`, `{{TASK}}`, `{{TASK_LINE}}`, `{{LOOP}}`, `{{BRANCH}}`,
//! `{{AGENT}}` (an unknown variable is an error naming the known ones), and `judge` reads the document
//! after a turn: the task ticked (done; tasks unticked meanwhile are noted), still open (a stall), a new
//! `HALT:` line (halted, with its reason), or tasks of the document before the turn missing, rewritten
//! or reordered (tampered: the run stops rather than tick anything twice). `plan` decides a run's next
//! step from the documents as they are on disk and a small `RunState` (loop number, stall counts,
//! skipped documents with reasons, approved review gates, halt) meant to be stored: `order` puts each
//! document after those its `after:` names (unknown names and cycles are errors), `next` gives the first
//! open task of the first unfinished document (a turn), a review gate to wait at, a document to skip
//! (it runs after a skipped one), another loop, a halt, or the end; `record` applies a verdict (a stall
//! counted, the document skipped after `stall_turns` in a row, a halt or tampering stops the run).
//!
//! `run` is the Auto Run service built on that model (`Runner`): one tokio task per run reads the
//! documents from disk, asks `plan::next`, acts and records, and the record and every event are stored
//! before they are shown, so a restarted daemon goes on where it stopped (the turn in flight judged
//! from the file first). It does not know the supervisor: it asks an `Executor` trait for turns (spawn
//! an agent, send a prompt, wait for the turn's end, stop, restore files on a branch, merge) and for
//! the workspace's configuration, and tells the host its events, progress and memories; `engine`
//! implements it with `maestro-agents` (`hosts.rs`). Unit tests drive it with a fake executor whose
//! agents edit the files themselves (tick, stall, halt, fail to log in, hang mid-turn): sequential,
//! gates, stop, resume from the store, parallel merge, refusals. The rules (who gets a task, fresh
//! sessions, gates, loops on copies, parallel worktrees and merges, the event kinds) are in the
//! module's documentation, `crates/playbook/src/run/mod.rs`.
//!
//! **Architecture invariant:** the model is pure; `run` writes a person's files only through
//! `set_done` (checkbox bytes, an atomic rename) and copies under `.maestro/playbooks/Runs/`.

mod front;
pub mod plan;
pub mod run;
pub mod turn;

pub use front::Options;
pub use turn::{DEFAULT_PROMPT, PromptVars, Verdict, judge, render};

/// One checkbox list item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// 1-based.
    pub line: u32,
    /// Columns before the list marker (a tab counts 4).
    pub indent: u32,
    pub done: bool,
    /// The text after the checkbox, trimmed.
    pub text: String,
    /// The agent the task names with `@name`.
    pub agent: Option<String>,
    /// A review gate (`REVIEW:`): the run waits for a person to approve it.
    pub review: bool,
    /// Byte offset of the character between the brackets (` `, `x` or `X`).
    pub checkbox: usize,
    /// Index (in [`Playbook::tasks`]) of the task this one is nested under.
    pub parent: Option<usize>,
}

/// A line that stops the run: `HALT: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    pub line: u32,
    pub reason: String,
}

/// Something wrong with the document, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based.
    pub line: u32,
    pub message: String,
}

/// A parsed document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Playbook {
    pub options: Options,
    pub tasks: Vec<Task>,
    /// The first halt line, if an agent wrote one.
    pub halt: Option<Halt>,
    pub problems: Vec<Problem>,
}

impl Playbook {
    /// The first task not done, the one a run works on next.
    pub fn next_open(&self) -> Option<&Task> {
        self.tasks.iter().find(|t| !t.done)
    }

    pub fn open_count(&self) -> usize {
        self.tasks.iter().filter(|t| !t.done).count()
    }
}

/// The text a task starts with to be a review gate.
pub const REVIEW_MARKER: &str = "REVIEW:";
/// The text a line starts with to stop the run.
pub const HALT_MARKER: &str = "HALT:";

/// Reads a document. Never fails: what cannot be read is a [`Problem`].
pub fn parse(bytes: &[u8]) -> Playbook {
    let mut book = Playbook::default();
    let lines = split_lines(bytes);
    let body_from = match front::parse(bytes, &lines) {
        Some((options, problems, next)) => {
            book.options = options;
            book.problems.extend(problems);
            next
        }
        None => 0,
    };
    let mut fence: Option<(u8, usize, u32)> = None;
    // The tasks above that could hold the next one, outermost first.
    let mut open_parents: Vec<usize> = Vec::new();
    for (i, &(start, end)) in lines.iter().enumerate().skip(body_from) {
        let number = i as u32 + 1;
        let line = &bytes[start..end];
        if let Some((ch, len, _)) = fence {
            if closes_fence(line, ch, len) {
                fence = None;
            }
            continue;
        }
        if let Some((ch, len)) = opens_fence(line) {
            fence = Some((ch, len, number));
            continue;
        }
        let trimmed = trim_start(line);
        if trimmed.starts_with(HALT_MARKER.as_bytes()) && book.halt.is_none() {
            book.halt = Some(Halt {
                line: number,
                reason: lossy(&trimmed[HALT_MARKER.len()..]).trim().to_owned(),
            });
            continue;
        }
        match task_of(line, start) {
            Item::Task(mut task) => {
                task.line = number;
                while let Some(&p) = open_parents.last() {
                    if book.tasks[p].indent < task.indent {
                        break;
                    }
                    open_parents.pop();
                }
                task.parent = open_parents.last().copied();
                open_parents.push(book.tasks.len());
                book.tasks.push(task);
            }
            Item::Almost(message) => book.problems.push(Problem {
                line: number,
                message,
            }),
            Item::Other => {
                // A line that is not indented and not blank ends the nesting.
                if !line.is_empty()
                    && !matches!(line[0], b' ' | b'\t' | b'\r')
                    && !trim_start(line).is_empty()
                {
                    open_parents.clear();
                }
            }
        }
    }
    if let Some((ch, _, line)) = fence {
        book.problems.push(Problem {
            line,
            message: format!(
                "this code block ({}) is never closed: nothing after it is read as tasks",
                (ch as char).to_string().repeat(3)
            ),
        });
    }
    book
}

/// `bytes` with `task` ticked (`done`) or unticked: the one byte between its brackets changes, and
/// nothing else. `None` when that byte is not a checkbox's (the document changed since it was read).
pub fn set_done(bytes: &[u8], task: &Task, done: bool) -> Option<Vec<u8>> {
    let at = task.checkbox;
    let current = *bytes.get(at)?;
    let framed = at >= 1 && bytes[at - 1] == b'[' && bytes.get(at + 1) == Some(&b']');
    if !framed || !matches!(current, b' ' | b'x' | b'X') {
        return None;
    }
    let mut out = bytes.to_vec();
    out[at] = match (done, current) {
        (true, b' ') => b'x',
        (true, c) => c,
        (false, _) => b' ',
    };
    Some(out)
}

/// Lines as byte ranges without their `\n` (a `\r` before it is kept, and ignored by the readers).
fn split_lines(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            lines.push((start, i));
            start = i + 1;
        }
    }
    if start < bytes.len() {
        lines.push((start, bytes.len()));
    }
    lines
}

fn trim_start(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &line[n..]
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches('\r')
        .to_owned()
}

/// A fence opener: at most 3 spaces, then 3 or more backticks or tildes.
fn opens_fence(line: &[u8]) -> Option<(u8, usize)> {
    let spaces = line.iter().take_while(|b| **b == b' ').count();
    if spaces > 3 {
        return None;
    }
    let rest = &line[spaces..];
    let ch = *rest.first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = rest.iter().take_while(|b| **b == ch).count();
    // A backtick fence's info string has no backticks.
    if len < 3 || (ch == b'`' && rest[len..].contains(&b'`')) {
        return None;
    }
    Some((ch, len))
}

fn closes_fence(line: &[u8], ch: u8, len: usize) -> bool {
    let spaces = line.iter().take_while(|b| **b == b' ').count();
    if spaces > 3 {
        return false;
    }
    let rest = &line[spaces..];
    let n = rest.iter().take_while(|b| **b == ch).count();
    n >= len && rest[n..].iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

enum Item {
    Task(Task),
    /// It looks like a task but is not one; why.
    Almost(String),
    Other,
}

/// Reads one line as a task; `start` is its offset in the document.
fn task_of(line: &[u8], start: usize) -> Item {
    let lead = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let indent: u32 = line[..lead]
        .iter()
        .map(|b| if *b == b'\t' { 4 } else { 1 })
        .sum();
    let rest = &line[lead..];
    let Some(&marker) = rest.first() else {
        return Item::Other;
    };
    if !matches!(marker, b'-' | b'*' | b'+') {
        return Item::Other;
    }
    let after = &rest[1..];
    let spaces = after.iter().take_while(|b| **b == b' ').count();
    let body = &after[spaces..];
    if !body.starts_with(b"[") {
        return Item::Other;
    }
    let m = marker as char;
    if spaces == 0 {
        return Item::Almost(format!(
            "`{m}[` is not a task: put a space between `{m}` and `[`"
        ));
    }
    let close = body.iter().position(|b| *b == b']');
    let inside = close.map(|c| &body[1..c]);
    match inside {
        Some([c @ (b' ' | b'x' | b'X')]) => {
            let tail = &body[3..];
            if !tail.is_empty() && !matches!(tail[0], b' ' | b'\t' | b'\r') {
                return Item::Other;
            }
            let text = lossy(tail).trim().to_owned();
            let checkbox = start + lead + 1 + spaces + 1;
            Item::Task(Task {
                line: 0,
                indent,
                done: *c != b' ',
                agent: agent_of(&text),
                review: text.starts_with(REVIEW_MARKER),
                text,
                checkbox,
                parent: None,
            })
        }
        Some([]) => {
            Item::Almost("`[]` is not a checkbox: write `[ ]` (with a space) or `[x]`".into())
        }
        Some(inner)
            if inner.len() <= 3 && inner.iter().all(|b| matches!(b, b' ' | b'x' | b'X')) =>
        {
            Item::Almost(format!(
                "`[{}]` is not a checkbox: write `[ ]` or `[x]`, one character between the brackets",
                lossy(inner)
            ))
        }
        Some([c]) if c.is_ascii_alphanumeric() => Item::Almost(format!(
            "`[{}]` is not a checkbox: write `[ ]` for an open task or `[x]` for a done one",
            *c as char
        )),
        // A link or other text in brackets: an ordinary list item.
        _ => Item::Other,
    }
}

/// The first `@name` of a task's text (names as agents have them: `shop-api`).
fn agent_of(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('@') {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.') {
            continue; // an e-mail address
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        let name = name.trim_end_matches('-');
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Some(name.to_owned());
        }
    }
    None
}
