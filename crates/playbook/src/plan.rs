//! What a run does next, decided from the documents as they are on disk and what the run has
//! seen so far: which document (in order, after the documents it depends on), which task, a
//! review gate to wait at, a document to skip after turns that changed nothing, a halt, another
//! loop, or the end. Pure: the run engine reads the files, asks, acts, and records the verdicts.

use crate::turn::Verdict;
use crate::{Playbook, Task};
use std::collections::BTreeMap;

/// A document of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// As the person named it (relative to the workspace).
    pub path: String,
    pub book: Playbook,
}

impl Doc {
    /// The file's name without `.md`, as `after:` may name it.
    pub fn name(&self) -> &str {
        let file = self.path.rsplit('/').next().unwrap_or(&self.path);
        file.strip_suffix(".md").unwrap_or(file)
    }
}

/// What the run has seen: kept in the store so that a restarted daemon decides the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunState {
    /// 1-based.
    pub loop_number: u32,
    /// Per document (by path): turns in a row that left its next task open.
    pub stalls: BTreeMap<String, u32>,
    /// Documents given up on, with why.
    pub skipped: BTreeMap<String, String>,
    /// Review gates a person approved: (document path, task text).
    pub approved: Vec<(String, String)>,
    pub halted: Option<String>,
    /// Start here: in the first loop, open tasks of this document (path) above this 1-based line
    /// are passed over ("Run from here").
    pub from: Option<(String, u32)>,
}

/// How patient a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Turns in a row without the task ticked before its document is skipped.
    pub stall_turns: u32,
    pub looped: bool,
    pub max_loops: Option<u32>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            stall_turns: 3,
            looped: false,
            max_loops: None,
        }
    }
}

/// The next step.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// A fresh agent turn on this task.
    Turn {
        doc: usize,
        task: Task,
    },
    /// A review gate: the run waits until a person approves it.
    Review {
        doc: usize,
        task: Task,
    },
    /// The document cannot run (a document it runs after was skipped): the engine records it in
    /// [`RunState::skipped`] with the reason and asks again.
    Skip {
        doc: usize,
        reason: String,
    },
    /// Every document is complete (or skipped) and there is another loop to run: the engine
    /// resets the documents' copies and calls again with `loop_number + 1`.
    LoopAgain,
    /// The run is over.
    Finished {
        complete: usize,
        skipped: usize,
    },
    Halted(String),
}

/// The order the documents run in: as given, each after the documents its `after:` names (by
/// path or name). An `after:` naming no document of the run, or a cycle, is an error.
pub fn order(docs: &[Doc]) -> Result<Vec<usize>, String> {
    let find = |want: &str| {
        let want = want.trim_start_matches("./");
        docs.iter().position(|d| {
            d.path == want || d.name() == want || d.name() == want.trim_end_matches(".md")
        })
    };
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(docs.len());
    for d in docs {
        let mut mine = Vec::new();
        for a in &d.book.options.after {
            match find(a) {
                Some(i) => mine.push(i),
                None => {
                    return Err(format!(
                        "{} runs after `{a}`, which is not one of this run's documents ({})",
                        d.path,
                        docs.iter()
                            .map(|d| d.path.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        deps.push(mine);
    }
    let mut placed = vec![false; docs.len()];
    let mut out = Vec::with_capacity(docs.len());
    while out.len() < docs.len() {
        let ready = (0..docs.len()).find(|i| !placed[*i] && deps[*i].iter().all(|d| placed[*d]));
        match ready {
            Some(i) => {
                placed[i] = true;
                out.push(i);
            }
            None => {
                let stuck: Vec<&str> = (0..docs.len())
                    .filter(|i| !placed[*i])
                    .map(|i| docs[i].path.as_str())
                    .collect();
                return Err(format!(
                    "these documents wait for each other in a cycle of `after:`: {}",
                    stuck.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

/// The next step of a run over `docs` (read fresh from disk) in `order`.
pub fn next(docs: &[Doc], order: &[usize], state: &RunState, limits: Limits) -> Next {
    if let Some(why) = &state.halted {
        return Next::Halted(why.clone());
    }
    for &i in order {
        let doc = &docs[i];
        if state.skipped.contains_key(&doc.path) {
            continue;
        }
        if let Some(halt) = &doc.book.halt {
            return Next::Halted(format!("{} line {}: {}", doc.path, halt.line, halt.reason));
        }
        let skipped_dependency = doc.book.options.after.iter().find_map(|a| {
            docs.iter().find(|d| {
                (d.path == *a || d.name() == a.trim_end_matches(".md"))
                    && state.skipped.contains_key(&d.path)
            })
        });
        if let Some(dep) = skipped_dependency
            && doc.book.next_open().is_some()
        {
            return Next::Skip {
                doc: i,
                reason: format!("{} runs after {}, which was skipped", doc.path, dep.path),
            };
        }
        let first_line = match &state.from {
            Some((path, line)) if *path == doc.path && state.loop_number <= 1 => *line,
            _ => 0,
        };
        for task in &doc.book.tasks {
            if task.done || task.line < first_line {
                continue;
            }
            if task.review {
                if state
                    .approved
                    .iter()
                    .any(|(p, t)| *p == doc.path && *t == task.text)
                {
                    // Approved: the gate counts as passed until the engine ticks it.
                    continue;
                }
                return Next::Review {
                    doc: i,
                    task: task.clone(),
                };
            }
            return Next::Turn {
                doc: i,
                task: task.clone(),
            };
        }
    }
    let max = limits.max_loops.unwrap_or(u32::MAX);
    if limits.looped && state.loop_number.max(1) < max {
        return Next::LoopAgain;
    }
    let skipped = state.skipped.len();
    Next::Finished {
        complete: docs.len().saturating_sub(skipped),
        skipped,
    }
}

/// What a verdict does to the run: a stall counted (and the document skipped at the limit, with
/// the reason returned), a halt recorded; a done task resets its document's stall count.
pub fn record(
    state: &mut RunState,
    doc: &Doc,
    task: &Task,
    verdict: &Verdict,
    limits: Limits,
) -> Option<String> {
    match verdict {
        Verdict::Done { .. } => {
            state.stalls.remove(&doc.path);
            None
        }
        Verdict::NotDone => {
            let n = state.stalls.entry(doc.path.clone()).or_insert(0);
            *n += 1;
            if *n >= limits.stall_turns {
                let why = format!(
                    "{n} turns in a row left `{}` (line {}) open: {} is skipped",
                    task.text, task.line, doc.path
                );
                state.skipped.insert(doc.path.clone(), why.clone());
                state.stalls.remove(&doc.path);
                Some(why)
            } else {
                None
            }
        }
        Verdict::Halted { line, reason } => {
            let why = format!("{} line {line}: {reason}", doc.path);
            state.halted = Some(why.clone());
            Some(why)
        }
        Verdict::Tampered(why) => {
            let why = format!("{}: {why}", doc.path);
            state.halted = Some(why.clone());
            Some(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn doc(path: &str, text: &str) -> Doc {
        Doc {
            path: path.into(),
            book: parse(text.as_bytes()),
        }
    }

    #[test]
    fn documents_run_after_what_they_name_and_cycles_are_refused() {
        let docs = vec![
            doc("b.md", "---\nafter: [a]\n---\n- [ ] b\n"),
            doc("a.md", "- [ ] a\n"),
            doc("docs/c.md", "---\nafter: [b.md, a.md]\n---\n- [ ] c\n"),
        ];
        assert_eq!(order(&docs).unwrap(), [1, 0, 2]);
        let unknown = vec![doc("x.md", "---\nafter: nope.md\n---\n")];
        assert!(
            order(&unknown)
                .unwrap_err()
                .contains("runs after `nope.md`")
        );
        let cycle = vec![
            doc("x.md", "---\nafter: y\n---\n"),
            doc("y.md", "---\nafter: x\n---\n"),
        ];
        assert!(
            order(&cycle)
                .unwrap_err()
                .contains("cycle of `after:`: x.md, y.md")
        );
    }

    #[test]
    fn the_first_open_task_runs_review_gates_wait_and_stalls_skip() {
        let limits = Limits {
            stall_turns: 2,
            ..Limits::default()
        };
        let docs = vec![
            doc(
                "one.md",
                "- [x] done\n- [ ] REVIEW: look\n- [ ] after the gate\n",
            ),
            doc("two.md", "- [ ] first of two\n"),
        ];
        let order = order(&docs).unwrap();
        let mut state = RunState {
            loop_number: 1,
            ..RunState::default()
        };
        let Next::Review { doc: 0, task } = next(&docs, &order, &state, limits) else {
            panic!("the gate comes first");
        };
        assert_eq!(task.text, "REVIEW: look");
        state
            .approved
            .push(("one.md".into(), "REVIEW: look".into()));
        let Next::Turn { doc: 0, task } = next(&docs, &order, &state, limits) else {
            panic!("past the approved gate");
        };
        assert_eq!(task.text, "after the gate");
        assert_eq!(
            record(&mut state, &docs[0], &task, &Verdict::NotDone, limits),
            None
        );
        let why = record(&mut state, &docs[0], &task, &Verdict::NotDone, limits).unwrap();
        assert!(
            why.contains("2 turns in a row left `after the gate` (line 3) open"),
            "{why}"
        );
        let Next::Turn { doc: 1, .. } = next(&docs, &order, &state, limits) else {
            panic!("the stalled document is skipped");
        };
        // A document after a skipped one is skipped too, with the reason.
        let chained = vec![
            docs[0].clone(),
            doc("three.md", "---\nafter: one\n---\n- [ ] three\n"),
        ];
        assert_eq!(
            next(&chained, &[0, 1], &state, limits),
            Next::Skip {
                doc: 1,
                reason: "three.md runs after one.md, which was skipped".into()
            }
        );
        let done = vec![docs[0].clone(), doc("two.md", "- [x] first of two\n")];
        assert_eq!(
            next(&done, &order, &state, limits),
            Next::Finished {
                complete: 1,
                skipped: 1
            }
        );
    }

    #[test]
    fn a_run_from_a_task_passes_over_the_open_tasks_above_it_in_its_first_loop() {
        let docs = vec![doc("a.md", "- [ ] one\n- [ ] two\n- [ ] three\n")];
        let mut state = RunState {
            loop_number: 1,
            from: Some(("a.md".into(), 2)),
            ..RunState::default()
        };
        let Next::Turn { task, .. } = next(&docs, &[0], &state, Limits::default()) else {
            panic!("a turn");
        };
        assert_eq!(task.text, "two");
        state.loop_number = 2;
        let Next::Turn { task, .. } = next(&docs, &[0], &state, Limits::default()) else {
            panic!("a turn");
        };
        assert_eq!(task.text, "one", "later loops start at the top");
    }

    #[test]
    fn halts_and_loops_end_or_repeat_the_run() {
        let docs = vec![doc("a.md", "- [x] a\n")];
        let mut state = RunState {
            loop_number: 1,
            ..RunState::default()
        };
        let looped = Limits {
            looped: true,
            max_loops: Some(2),
            ..Limits::default()
        };
        assert_eq!(next(&docs, &[0], &state, looped), Next::LoopAgain);
        state.loop_number = 2;
        assert!(matches!(
            next(&docs, &[0], &state, looped),
            Next::Finished { .. }
        ));
        let halted = vec![doc("a.md", "- [ ] a\nHALT: the schema is wrong\n")];
        assert_eq!(
            next(&halted, &[0], &state, looped),
            Next::Halted("a.md line 2: the schema is wrong".into())
        );
        let task = docs[0].book.tasks[0].clone();
        record(
            &mut state,
            &docs[0],
            &task,
            &Verdict::Tampered("gone".into()),
            looped,
        );
        assert_eq!(
            next(&docs, &[0], &state, looped),
            Next::Halted("a.md: gone".into())
        );
    }
}
