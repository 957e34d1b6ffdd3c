//! Diagnostics of playbook documents: problems of a markdown buffer (malformed tasks, front
//! matter, unknown `@agents`) published as LSP diagnostics a moment after the editor stops typing.

use super::link::Link;
use maestro_protocol::{PlaybookLintResult, method};
use serde_json::json;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{Diagnostic, DiagnosticSeverity, Position, Range, Uri};

/// How long a buffer must stay unchanged before it is linted.
const QUIET: Duration = Duration::from_millis(150);

/// The latest change of each markdown buffer: only the last of a burst is linted.
static GENERATION: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Mutex::default);

/// Lints `uri` once it has been quiet for [`QUIET`] and publishes its diagnostics; a closed
/// document's diagnostics are cleared.
pub fn lint_later(client: Client, link: Link, uri: String, closed: bool) {
    let generation = {
        let mut g = GENERATION.lock().unwrap();
        let n = g.entry(uri.clone()).or_insert(0);
        *n += 1;
        *n
    };
    tokio::spawn(async move {
        let Ok(lsp_uri) = Uri::from_str(&uri) else {
            return;
        };
        if closed {
            GENERATION.lock().unwrap().remove(&uri);
            client.publish_diagnostics(lsp_uri, Vec::new(), None).await;
            return;
        }
        tokio::time::sleep(QUIET).await;
        if GENERATION.lock().unwrap().get(&uri) != Some(&generation) {
            return;
        }
        let Ok(answer) = link
            .call(method::PLAYBOOK_LINT, json!({ "uri": uri }))
            .await
        else {
            return;
        };
        let Ok(facts) = serde_json::from_value::<PlaybookLintResult>(answer) else {
            return;
        };
        let diagnostics = facts
            .problems
            .into_iter()
            .map(|p| Diagnostic {
                range: Range {
                    start: Position::new(p.line, 0),
                    end: Position::new(p.line, u32::MAX),
                },
                severity: Some(if p.severity == "error" {
                    DiagnosticSeverity::ERROR
                } else {
                    DiagnosticSeverity::WARNING
                }),
                source: Some("maestro playbook".into()),
                message: p.message,
                ..Diagnostic::default()
            })
            .collect();
        client.publish_diagnostics(lsp_uri, diagnostics, None).await;
    });
}
