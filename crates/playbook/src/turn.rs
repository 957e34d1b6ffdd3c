//! One turn of a run, on paper: the prompt an agent gets for a task, and what the document says
//! afterwards (judged from the file alone, never from the agent's reply).

use crate::{HALT_MARKER, Playbook, Task};

/// The prompt when a playbook's front matter gives none.
pub const DEFAULT_PROMPT: &str = "\
You are working through the playbook {{DOCUMENT_PATH}} (loop {{LOOP}}, on branch {{BRANCH}}), one task at a time.

Your task is the one on line {{TASK_LINE}}:

    {{TASK}}

Do that task and nothing else. When it is done, tick its box in {{DOCUMENT_PATH}} (change `[ ]` to `[x]` on line {{TASK_LINE}}; leave the other tasks as they are) and commit your work together with the ticked box.
If the task cannot be done, do not tick it: write a line `HALT: <why>` under it and stop.
";

/// The variables a prompt template may use, as `{{NAME}}`.
pub const VARIABLES: &[&str] = &[
    "DOCUMENT_PATH",
    "DOCUMENT_NAME",
    "TASK",
    "TASK_LINE",
    "LOOP",
    "BRANCH",
    "AGENT",
];

/// The values of [`VARIABLES`] for one turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptVars {
    pub document_path: String,
    pub document_name: String,
    pub task: String,
    pub task_line: u32,
    pub loop_number: u32,
    pub branch: String,
    pub agent: String,
}

/// `template` with its variables filled in; an unknown `{{NAME}}` is an error that lists the known
/// ones (a typo would otherwise reach the agent as is).
pub fn render(template: &str, vars: &PromptVars) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let name = after[..close].trim();
        let value = match name {
            "DOCUMENT_PATH" => vars.document_path.clone(),
            "DOCUMENT_NAME" => vars.document_name.clone(),
            "TASK" => vars.task.clone(),
            "TASK_LINE" => vars.task_line.to_string(),
            "LOOP" => vars.loop_number.to_string(),
            "BRANCH" => vars.branch.clone(),
            "AGENT" => vars.agent.clone(),
            other => {
                return Err(format!(
                    "the prompt template uses {{{{{other}}}}}, which is not a variable: it may use {}",
                    VARIABLES
                        .iter()
                        .map(|v| format!("{{{{{v}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        };
        out.push_str(&value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What the document says after a turn on one of its tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The task is ticked. `unticked` lists tasks (their text) that were done before and are not
    /// now: worth a note, not a failure.
    Done { unticked: Vec<String> },
    /// The task is still open: the turn changed nothing that counts.
    NotDone,
    /// An agent wrote a halt line.
    Halted { line: u32, reason: String },
    /// Tasks of the document before the turn are gone or rewritten: the run cannot trust it.
    Tampered(String),
}

/// Judges a turn on `task` (from `before`) by the document `after` it. Every task of `before`
/// must still be in `after`, in the same order and with the same text (tasks may be added); the
/// task's own box says whether it is done.
pub fn judge(before: &Playbook, task: &Task, after: &Playbook) -> Verdict {
    if let Some(halt) = &after.halt
        && before.halt.is_none()
    {
        return Verdict::Halted {
            line: halt.line,
            reason: if halt.reason.is_empty() {
                format!("an agent wrote {HALT_MARKER} without a reason")
            } else {
                halt.reason.clone()
            },
        };
    }
    let mut found = after.tasks.iter();
    let mut target_done = None;
    let mut unticked = Vec::new();
    for old in &before.tasks {
        let Some(new) = found.find(|t| t.text == old.text) else {
            return Verdict::Tampered(format!(
                "the task on line {} (`{}`) was deleted, rewritten or moved: the run stops so that nothing is ticked twice; restore it and resume",
                old.line, old.text
            ));
        };
        if old.checkbox == task.checkbox {
            target_done = Some(new.done);
        } else if old.done && !new.done {
            unticked.push(old.text.clone());
        }
    }
    match target_done {
        Some(true) => Verdict::Done { unticked },
        Some(false) => Verdict::NotDone,
        None => Verdict::Tampered(format!(
            "the task on line {} is not in the document the run read",
            task.line
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn templates_fill_their_variables_and_name_unknown_ones() {
        let vars = PromptVars {
            document_path: "docs/release.md".into(),
            document_name: "release".into(),
            task: "bump the version".into(),
            task_line: 7,
            loop_number: 2,
            branch: "maestro/rel".into(),
            agent: "rel".into(),
        };
        let p = render(DEFAULT_PROMPT, &vars).unwrap();
        assert!(
            p.contains("playbook docs/release.md (loop 2, on branch maestro/rel)"),
            "{p}"
        );
        assert!(p.contains("\n    bump the version\n"), "{p}");
        assert!(p.contains("on line 7;"), "{p}");
        assert!(!p.contains("{{"), "{p}");
        assert_eq!(
            render("{{ TASK }} by {{AGENT}}", &vars).unwrap(),
            "bump the version by rel"
        );
        assert_eq!(render("open {{ brace", &vars).unwrap(), "open {{ brace");
        let err = render("do {{TASKS}}", &vars).unwrap_err();
        assert!(err.contains("{{TASKS}}, which is not a variable"), "{err}");
        assert!(err.contains("{{TASK}}, {{TASK_LINE}}"), "{err}");
    }

    #[test]
    fn a_turn_is_judged_by_the_file() {
        let before = parse(b"# r\n- [x] one\n- [ ] two\n- [ ] three\n");
        let two = &before.tasks[1];
        let judge_after = |text: &str| judge(&before, two, &parse(text.as_bytes()));
        assert_eq!(
            judge_after("# r\n- [x] one\n- [x] two\n- [ ] three\n"),
            Verdict::Done { unticked: vec![] }
        );
        // Notes and new tasks may be added; moving lines is fine as long as the order holds.
        assert_eq!(
            judge_after("# r\nnotes\n- [ ] one\n- [x] two\n  - [ ] two and a half\n- [ ] three\n"),
            Verdict::Done {
                unticked: vec!["one".into()]
            }
        );
        assert_eq!(
            judge_after("# r\n- [x] one\n- [ ] two\n- [ ] three\n"),
            Verdict::NotDone
        );
        assert_eq!(
            judge_after("# r\n- [x] one\n- [ ] two\nHALT: no database\n- [ ] three\n"),
            Verdict::Halted {
                line: 4,
                reason: "no database".into()
            }
        );
        let Verdict::Tampered(why) = judge_after("# r\n- [x] one\n- [x] two, done\n- [ ] three\n")
        else {
            panic!("a rewritten task is tampering");
        };
        assert!(
            why.contains("line 3 (`two`) was deleted, rewritten or moved"),
            "{why}"
        );
        assert!(matches!(
            judge_after("# r\n- [x] one\n- [ ] three\n- [x] two\n"),
            Verdict::Tampered(_)
        ));
        assert!(matches!(judge_after(""), Verdict::Tampered(_)));
    }
}
