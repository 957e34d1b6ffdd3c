//! Hover: a symbol's signature, documentation and callers, with the memories that mention it.

use super::*;

pub(crate) fn hover(s: &Session, p: TextDocumentPositionParams) -> Answer<Option<HoverResult>> {
    let memory = s.engine.memory().clone();
    s.at_position(p, Option::is_some, move |view, cur, pos, byte| {
        let mut answer = hover_at(view, cur, pos, byte);
        if let Some(a) = answer.as_mut()
            && let Some(h) = view.hover(cur, byte)
            && h.kind != "local"
        {
            let ws = crate::workspace::workspace_id(pos.root);
            append_memories(&memory, &ws, &h.name, &mut a.contents.value);
        }
        answer
    })
}

/// Memories that mention `name` (keyword search, then an exact mention), as a hover section.
fn append_memories(
    memory: &maestro_memory::service::Memory,
    ws: &str,
    name: &str,
    value: &mut String,
) {
    if name.len() < 3 {
        return;
    }
    let filter = maestro_memory::service::search::Filter {
        ws: Some(ws.to_owned()),
        ..Default::default()
    };
    let Ok(found) = memory.search(
        name,
        20,
        &filter,
        maestro_memory::service::search::Mode::Keyword,
        crate::engine::unix_now(),
    ) else {
        return;
    };
    let mentions: Vec<_> = found
        .hits
        .iter()
        .filter(|h| h.memory.text.contains(name))
        .take(3)
        .collect();
    if mentions.is_empty() {
        return;
    }
    value.push_str("\n\n---\n**Memories**");
    for h in mentions {
        let m = &h.memory;
        let line = m
            .text
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default()
            .trim();
        let line: String = line.chars().take(160).collect();
        let who = if m.agent.is_empty() {
            m.kind.clone()
        } else {
            format!("{} · {}", m.kind, m.agent)
        };
        value.push_str(&format!("\n- {line} *({who})*"));
    }
}

fn hover_at(
    view: &View<'_>,
    cur: &Current<'_>,
    pos: &mut Positions<'_>,
    byte: usize,
) -> Option<HoverResult> {
    let h = view.hover(cur, byte)?;
    let lang = cur.analysis.facts.lang.name();
    let mut value = format!("```{lang}\n{}\n```", h.signature);
    if !h.doc.is_empty() {
        value.push_str(&format!("\n\n{}", h.doc));
    }
    if h.kind == "local" {
        value.push_str("\n\n*local variable*");
    } else if h.callers + h.callees > 0 || matches!(h.kind.as_str(), "function" | "method") {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        value.push_str(&format!(
            "\n\n*{} · {}*",
            plural(h.callers, "caller"),
            plural(h.callees, "callee")
        ));
    }
    Some(HoverResult {
        contents: MarkupContent {
            kind: "markdown".into(),
            value,
        },
        range: Some(pos.range(view, cur.file, h.range)),
    })
}
