//! Delegated tasks: the prompt an agent gets for "Delegate to agent…", "Ask an agent to fix" and
//! "Write tests for `<symbol>`" (the code, where it is, the symbol around it and its callers from the
//! graph), and the name of a new agent for it.
//!
//! The editor's "give this to an
//! agent". Code actions are asked on every caret move, so listing them is cheap: "Ask an agent to
//! fix: …" per diagnostic in the request (any server's), "Delegate to agent…" on a non-empty
//! selection, "Write tests for `X`" where X is the definition named at the caret, else the innermost
//! function or type around it (one graph lookup); each runs `maestro.agent.delegate` with the
//! document, range and task, and nothing is computed until it runs. Then the context is read from the
//! document (open buffer or disk) and the graph: the range's whole lines (at most 400), the innermost
//! definition around it (qualified name, kind, signature, lines) and its callers (at most 15 named);
//! a file in a language the graph does not know gets the text alone. `delegate::prompt` turns it into
//! the task's prompt (pure, unit-tested); it goes to the chosen agent as a turn, or to a new agent
//! named from the task and symbol (`fix-parse-config`, `tests-greeter-greet`, `-b`, `-c`… when taken).

use maestro_protocol::DelegateTask;
use serde_json::Value;

/// Where a delegated task is, read from the document and the graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CodeContext {
    /// Relative to the workspace root when the file is in it.
    pub file: String,
    /// The language's name, for the code fence (`rust`, `python`, …); empty when unknown.
    pub language: String,
    /// 1-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    /// The range's whole lines.
    pub text: String,
    /// Lines left out of `text` (a very long range).
    pub cut_lines: u32,
    /// The innermost definition around the range.
    pub symbol: Option<ContextSymbol>,
    /// Who calls `symbol`: "`main` in src/app.py:12".
    pub callers: Vec<String>,
    /// Callers beyond those listed.
    pub more_callers: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContextSymbol {
    /// With its owner: `Greeter.greet`.
    pub name: String,
    /// `function`, `method`, `class`, …
    pub kind: String,
    pub signature: String,
    pub start_line: u32,
    pub end_line: u32,
}

/// The longest text put in a prompt, in lines.
pub(crate) const MAX_LINES: u32 = 400;
/// Callers listed by name.
pub(crate) const MAX_CALLERS: usize = 15;

/// The prompt of a delegated task.
pub(crate) fn prompt(
    task: DelegateTask,
    ctx: &CodeContext,
    diagnostic: Option<&Value>,
    instructions: Option<&str>,
) -> String {
    let mut out = String::new();
    let lines = if ctx.start_line == ctx.end_line {
        format!("line {}", ctx.start_line)
    } else {
        format!("lines {}-{}", ctx.start_line, ctx.end_line)
    };
    let symbol_name = ctx.symbol.as_ref().map(|s| s.name.as_str());
    match task {
        DelegateTask::Selection => {
            out.push_str(&format!("Work on this code from {} ({lines})", ctx.file));
            if let Some(s) = &ctx.symbol {
                out.push_str(&format!(", in the {} `{}`", s.kind, s.name));
            }
            out.push_str(".\n\nTask: ");
            match instructions.map(str::trim).filter(|i| !i.is_empty()) {
                Some(i) => out.push_str(i),
                None => out.push_str(
                    "review it; fix the bugs you find and finish what is marked as unfinished (TODO, FIXME), keeping its behaviour otherwise",
                ),
            }
            out.push('\n');
        }
        DelegateTask::Fix => {
            let message = diagnostic
                .and_then(|d| d.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("(no message)");
            let source = diagnostic
                .and_then(|d| d.get("source"))
                .and_then(Value::as_str);
            let code = diagnostic
                .and_then(|d| d.get("code"))
                .and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            out.push_str(&format!("Fix this problem in {} ({lines}", ctx.file));
            if let Some(s) = symbol_name {
                out.push_str(&format!(", in `{s}`"));
            }
            out.push_str("):\n\n");
            let from = match (source, code) {
                (Some(s), Some(c)) => format!(" ({s} {c})"),
                (Some(s), None) => format!(" ({s})"),
                (None, Some(c)) => format!(" ({c})"),
                (None, None) => String::new(),
            };
            out.push_str(&format!("    {}{from}\n", message.trim()));
            if let Some(i) = instructions.map(str::trim).filter(|i| !i.is_empty()) {
                out.push_str(&format!("\nAlso: {i}\n"));
            }
        }
        DelegateTask::Tests => {
            let what = ctx.symbol.as_ref().map_or_else(
                || format!("the code in {} ({lines})", ctx.file),
                |s| format!("the {} `{}` in {} ({lines})", s.kind, s.name, ctx.file),
            );
            out.push_str(&format!(
                "Write tests for {what}. Put them where this project keeps its tests, in its test framework and style; cover its normal use, its edge cases and its errors; run them and make them pass without changing its behaviour (if a test shows a bug, say so).\n"
            ));
            if let Some(i) = instructions.map(str::trim).filter(|i| !i.is_empty()) {
                out.push_str(&format!("\nAlso: {i}\n"));
            }
        }
    }
    if let Some(s) = &ctx.symbol
        && !s.signature.is_empty()
        && task != DelegateTask::Tests
    {
        out.push_str(&format!(
            "\n`{}` is defined at lines {}-{}: `{}`\n",
            s.name, s.start_line, s.end_line, s.signature
        ));
    }
    out.push_str(&format!(
        "\nThe code ({}, {lines}):\n\n```{}\n",
        ctx.file, ctx.language
    ));
    out.push_str(ctx.text.trim_end_matches('\n'));
    out.push_str("\n```\n");
    if ctx.cut_lines > 0 {
        out.push_str(&format!(
            "({} more lines are in the file.)\n",
            ctx.cut_lines
        ));
    }
    if let Some(name) = symbol_name {
        if ctx.callers.is_empty() {
            out.push_str(&format!("\nNothing in the workspace calls `{name}`.\n"));
        } else {
            out.push_str("\nCalled by (from the code graph):\n");
            for c in &ctx.callers {
                out.push_str(&format!("- {c}\n"));
            }
            if ctx.more_callers > 0 {
                out.push_str(&format!("- and {} more\n", ctx.more_callers));
            }
            if task != DelegateTask::Tests {
                out.push_str("Keep these callers working.\n");
            }
        }
    }
    out.push_str("\nCommit your work when it is done, with a message that says what changed.\n");
    out
}

/// A new agent's name for a task: `fix-parse-config`, `tests-greeter-greet`, `task-app`; the
/// first of `base`, `base-b`, `base-c`, … that `taken` does not refuse.
pub(crate) fn agent_name(task: DelegateTask, about: &str, taken: impl Fn(&str) -> bool) -> String {
    let verb = match task {
        DelegateTask::Selection => "task",
        DelegateTask::Fix => "fix",
        DelegateTask::Tests => "tests",
    };
    let mut base = verb.to_owned();
    for part in slug_parts(about) {
        if base.len() + 1 + part.len() > 40 {
            break;
        }
        base.push('-');
        base.push_str(&part);
    }
    if !taken(&base) {
        return base;
    }
    for suffix in 'b'..='z' {
        let name = format!("{base}-{suffix}");
        if !taken(&name) {
            return name;
        }
    }
    // Twenty-six of the same: the time tells them apart.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{base}-t{now}")
}

/// `Greeter.greet` → `greeter`, `greet`; `parseHTTPConfig` → `parsehttpconfig`; parts start with a
/// letter (as agent names want).
fn slug_parts(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .map(|p| p.to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with(|c: char| c.is_ascii_digit()) {
                format!("n{p}")
            } else {
                p
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use maestro_agents::identity::validate_name;
    use serde_json::json;

    fn ctx() -> CodeContext {
        CodeContext {
            file: "src/app.py".into(),
            language: "python".into(),
            start_line: 3,
            end_line: 4,
            text: "def greet(name):\n    return 'hi ' + nam\n".into(),
            cut_lines: 0,
            symbol: Some(ContextSymbol {
                name: "Greeter.greet".into(),
                kind: "method".into(),
                signature: "def greet(name)".into(),
                start_line: 3,
                end_line: 4,
            }),
            callers: vec!["`main` in src/main.py:7".into()],
            more_callers: 2,
        }
    }

    #[test]
    fn a_fix_prompt_carries_the_problem_the_code_and_its_callers() {
        let d = json!({"message": "name 'nam' is not defined", "source": "pyright", "code": "reportUndefinedVariable", "range": {}});
        let p = prompt(DelegateTask::Fix, &ctx(), Some(&d), None);
        assert!(
            p.starts_with("Fix this problem in src/app.py (lines 3-4, in `Greeter.greet`):"),
            "{p}"
        );
        assert!(
            p.contains("    name 'nam' is not defined (pyright reportUndefinedVariable)"),
            "{p}"
        );
        assert!(
            p.contains("```python\ndef greet(name):\n    return 'hi ' + nam\n```"),
            "{p}"
        );
        assert!(
            p.contains("- `main` in src/main.py:7\n- and 2 more\nKeep these callers working."),
            "{p}"
        );
        assert!(p.ends_with(
            "Commit your work when it is done, with a message that says what changed.\n"
        ));
    }

    #[test]
    fn selection_and_tests_prompts_say_what_to_do() {
        let p = prompt(
            DelegateTask::Selection,
            &ctx(),
            None,
            Some("  make it async "),
        );
        assert!(
            p.contains("in the method `Greeter.greet`.\n\nTask: make it async\n"),
            "{p}"
        );
        let p = prompt(DelegateTask::Selection, &ctx(), None, None);
        assert!(p.contains("Task: review it;"), "{p}");
        let p = prompt(DelegateTask::Tests, &ctx(), None, None);
        assert!(
            p.starts_with("Write tests for the method `Greeter.greet` in src/app.py (lines 3-4)."),
            "{p}"
        );
        assert!(!p.contains("Keep these callers"), "{p}");
        let mut lone = ctx();
        lone.callers.clear();
        lone.more_callers = 0;
        lone.symbol = None;
        lone.cut_lines = 12;
        let p = prompt(DelegateTask::Tests, &lone, None, None);
        assert!(
            p.starts_with("Write tests for the code in src/app.py (lines 3-4)."),
            "{p}"
        );
        assert!(p.contains("(12 more lines are in the file.)"), "{p}");
    }

    #[test]
    fn new_agents_get_valid_unique_names() {
        let none = |_: &str| false;
        assert_eq!(
            agent_name(DelegateTask::Fix, "parse_config", none),
            "fix-parse-config"
        );
        assert_eq!(
            agent_name(DelegateTask::Tests, "Greeter.greet", none),
            "tests-greeter-greet"
        );
        assert_eq!(
            agent_name(DelegateTask::Selection, "2fa::Check", none),
            "task-n2fa-check"
        );
        assert_eq!(
            agent_name(DelegateTask::Selection, "héllo wörld", none),
            "task-h-llo-w-rld"
        );
        let long = agent_name(DelegateTask::Fix, &"segment_".repeat(20), none);
        assert!(long.len() <= 40, "{long}");
        let taken = |n: &str| n == "fix-x" || n == "fix-x-b";
        assert_eq!(agent_name(DelegateTask::Fix, "x", taken), "fix-x-c");
        for name in [
            "fix-parse-config",
            "task-n2fa-check",
            "fix-x-c",
            long.as_str(),
        ] {
            validate_name(name).unwrap();
        }
        assert!(validate_name(&agent_name(DelegateTask::Fix, "x", |_| true)).is_ok());
    }
}
