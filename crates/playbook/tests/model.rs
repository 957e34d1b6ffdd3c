//! The playbook model on hand-written documents and on arbitrary bytes.

use maestro_playbook::{parse, set_done};
use proptest::prelude::*;

const DOC: &str = "\
---
agent: shop-api
loop: true
max_loops: 3
prompt: |
  Do {{TASK}}
  then commit
after: [setup.md, 'data.md']
---
# Release

- [ ] write the changelog @docs-writer
- [x] bump the version
  * [ ] nested under bump
    + [X] deeper
- [ ] REVIEW: a person looks at the diff
- [link](http://example.com) is not a task
- [ ]no-space is not a task either

```md
- [ ] inside a code block
```
~~~~
- [ ] inside a tilde block
~~~
- [ ] still inside: the closing fence is too short
~~~~

1. [ ] numbered items are not tasks
- [ ] mail me@example.com is not an agent
HALT: the schema is wrong
- [ ] after the halt line
";

#[test]
fn tasks_options_markers_and_nesting_are_read() {
    let book = parse(DOC.as_bytes());
    assert_eq!(book.problems, vec![], "{:#?}", book.problems);
    let o = &book.options;
    assert_eq!(o.agent.as_deref(), Some("shop-api"));
    assert!(o.looped && !o.reset);
    assert_eq!(o.max_loops, Some(3));
    assert_eq!(o.prompt.as_deref(), Some("Do {{TASK}}\nthen commit"));
    assert_eq!(o.after, ["setup.md", "data.md"]);
    let tasks: Vec<(u32, bool, &str)> = book
        .tasks
        .iter()
        .map(|t| (t.line, t.done, t.text.as_str()))
        .collect();
    assert_eq!(
        tasks,
        [
            (12, false, "write the changelog @docs-writer"),
            (13, true, "bump the version"),
            (14, false, "nested under bump"),
            (15, true, "deeper"),
            (16, false, "REVIEW: a person looks at the diff"),
            (30, false, "mail me@example.com is not an agent"),
            (32, false, "after the halt line"),
        ]
    );
    assert_eq!(book.tasks[0].agent.as_deref(), Some("docs-writer"));
    assert_eq!(book.tasks[5].agent, None);
    assert!(book.tasks[4].review && !book.tasks[0].review);
    let parents: Vec<Option<usize>> = book.tasks.iter().map(|t| t.parent).collect();
    assert_eq!(parents, [None, None, Some(1), Some(2), None, None, None]);
    let halt = book.halt.as_ref().unwrap();
    assert_eq!(
        (halt.line, halt.reason.as_str()),
        (31, "the schema is wrong")
    );
    assert_eq!(book.next_open().unwrap().line, 12);
    assert_eq!(book.open_count(), 5);
}

#[test]
fn ticking_changes_one_byte_and_keeps_crlf_and_everything_else() {
    let doc = "intro\r\n- [ ] one\r\n  - [ ] two  \r\n- [x] three\r\n";
    let book = parse(doc.as_bytes());
    assert_eq!(book.tasks.len(), 3);
    assert_eq!(book.tasks[1].text, "two");
    let ticked = set_done(doc.as_bytes(), &book.tasks[1], true).unwrap();
    assert_eq!(
        String::from_utf8(ticked.clone()).unwrap(),
        "intro\r\n- [ ] one\r\n  - [x] two  \r\n- [x] three\r\n"
    );
    let unticked = set_done(&ticked, &book.tasks[2], false).unwrap();
    assert_eq!(
        String::from_utf8(unticked).unwrap(),
        "intro\r\n- [ ] one\r\n  - [x] two  \r\n- [ ] three\r\n"
    );
    // A document that changed under the task is not edited blindly.
    assert_eq!(set_done(b"- [ ] on", &book.tasks[2], true), None);
}

#[test]
fn near_misses_and_broken_front_matter_are_problems_with_lines() {
    let doc = "---\nloop: maybe\nmax_loops: 0\ncolour: red\nnot a pair\n---\n- [] empty\n-[ ] tight\n- [ x] wide\n- [y] letter\n```\n- [ ] never closed\n";
    let book = parse(doc.as_bytes());
    let problems: Vec<(u32, &str)> = book
        .problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(problems.len(), 9, "{problems:#?}");
    let at = |line: u32, words: &str| {
        assert!(
            problems
                .iter()
                .any(|(l, m)| *l == line && m.contains(words)),
            "no problem on line {line} saying `{words}`: {problems:#?}"
        )
    };
    at(2, "loop: `maybe` is not true or false");
    at(3, "max_loops: `0`");
    at(4, "`colour` is not an option");
    at(5, "`not a pair` is not `key: value`");
    at(7, "`[]` is not a checkbox");
    at(8, "put a space between `-` and `[`");
    at(9, "`[ x]` is not a checkbox");
    at(10, "`[y]` is not a checkbox");
    at(11, "never closed");
    assert!(book.tasks.is_empty());
    let open = parse(b"---\nagent: a\n- [ ] x\n");
    assert_eq!(open.problems[0].line, 1);
    assert!(open.problems[0].message.contains("never closed"));
    assert_eq!(
        open.tasks.len(),
        1,
        "an unclosed front matter is read as text"
    );
    assert_eq!(parse(b"").tasks.len(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any bytes: no panic, and ticking any task changes its checkbox byte only.
    #[test]
    fn any_bytes_parse_and_a_tick_changes_only_the_checkbox(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let book = parse(&bytes);
        for task in &book.tasks {
            for done in [true, false] {
                let out = set_done(&bytes, task, done).expect("a parsed task's checkbox");
                prop_assert_eq!(out.len(), bytes.len());
                let changed: Vec<usize> = (0..bytes.len()).filter(|i| out[*i] != bytes[*i]).collect();
                prop_assert!(changed.iter().all(|i| *i == task.checkbox));
                let again = parse(&out);
                prop_assert_eq!(again.tasks.len(), book.tasks.len());
                let same = again.tasks.iter().find(|t| t.checkbox == task.checkbox).expect("the same task");
                prop_assert_eq!(same.done, done);
            }
        }
    }

    /// Markdown-like lines (where tasks really are): the same holds.
    #[test]
    fn checklist_like_documents_tick_byte_exactly(lines in proptest::collection::vec(
        prop_oneof![
            Just("- [ ] a".to_owned()), Just("  * [x] b".to_owned()), Just("+ [X] c @who".to_owned()),
            Just("```".to_owned()), Just("~~~~".to_owned()), Just("---".to_owned()), Just("HALT: x".to_owned()),
            Just("- []".to_owned()), Just("\t- [ ] tab".to_owned()), "[ -~]{0,12}",
        ], 0..40), crlf in any::<bool>()) {
        let doc = lines.join(if crlf { "\r\n" } else { "\n" });
        let book = parse(doc.as_bytes());
        for task in &book.tasks {
            let out = set_done(doc.as_bytes(), task, !task.done).expect("a parsed task's checkbox");
            let changed: Vec<usize> = (0..out.len()).filter(|i| out[*i] != doc.as_bytes()[*i]).collect();
            prop_assert_eq!(changed, vec![task.checkbox]);
        }
    }
}
