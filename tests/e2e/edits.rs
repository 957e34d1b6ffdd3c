//! 1,000 rapid incremental `didChange` notifications, in both modes and both encodings: the text the
//! server reads back equals the text got by applying them in order. The expected text comes from a
//! model written here, independently of the server's rope code.

use maestro_tests::{Lsp, Rng, TestEnv, file_uri};
use serde_json::{Value, json};

/// The document as the editor has it.
struct Model {
    text: Vec<char>,
    utf8: bool,
}

impl Model {
    fn width(&self, c: char) -> u32 {
        if self.utf8 {
            c.len_utf8() as u32
        } else {
            c.len_utf16() as u32
        }
    }

    /// The LSP position of a char index (never between `\r` and `\n`).
    fn position(&self, index: usize) -> Value {
        let (mut line, mut col) = (0u32, 0u32);
        let mut i = 0;
        while i < index {
            match self.text[i] {
                '\r' if self.text.get(i + 1) == Some(&'\n') => {
                    i += 1;
                    line += 1;
                    col = 0;
                }
                '\n' | '\r' => {
                    line += 1;
                    col = 0;
                }
                c => col += self.width(c),
            }
            i += 1;
        }
        json!({"line": line, "character": col})
    }

    /// A char index where a position can point: not inside a CRLF pair.
    fn valid_index(&self, rng: &mut Rng) -> usize {
        let i = rng.below(self.text.len() + 1);
        if i > 0 && i < self.text.len() && self.text[i - 1] == '\r' && self.text[i] == '\n' {
            i - 1
        } else {
            i
        }
    }
}

const PIECES: &[&str] = &[
    "a",
    "é",
    "😀",
    "中文",
    "\n",
    "\r\n",
    "fn x() {}",
    "  ",
    "𝔘",
    "z",
];

fn run(standalone: bool, utf8: bool, seed: u64) {
    let env = TestEnv::new();
    let repo = env.git_repo("edits");
    let args: &[&str] = if standalone { &["--standalone"] } else { &[] };
    let mut lsp: Lsp = env.lsp(&repo, args);
    let init = lsp.initialize(&repo, utf8, false);
    assert_eq!(
        init["capabilities"]["positionEncoding"],
        if utf8 { "utf-8" } else { "utf-16" }
    );

    let uri = file_uri(&repo.join("src/lib.rs"));
    let start = "pub fn hello() {}\r\n// 😀 start\n";
    lsp.rpc.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": start}}),
    );
    let mut model = Model {
        text: start.chars().collect(),
        utf8,
    };
    let mut rng = Rng(seed);
    let mut batch = Vec::new();
    for version in 2..=1001 {
        let change = if rng.below(250) == 0 {
            let text: String = (0..rng.below(5))
                .map(|_| PIECES[rng.below(PIECES.len())])
                .collect();
            model.text = text.chars().collect();
            json!({"text": text})
        } else {
            let a = model.valid_index(&mut rng);
            let b = if rng.below(3) == 0 {
                a
            } else {
                model.valid_index(&mut rng)
            };
            let (a, b) = (a.min(b), a.max(b));
            let insert = if rng.below(4) == 0 {
                ""
            } else {
                PIECES[rng.below(PIECES.len())]
            };
            let range = json!({"start": model.position(a), "end": model.position(b)});
            model.text.splice(a..b, insert.chars());
            json!({"range": range, "text": insert})
        };
        let message = json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
        });
        batch.extend(maestro_tests::frame(&serde_json::to_vec(&message).unwrap()));
    }
    // All 1,000 in one write: as rapid as it gets.
    lsp.rpc.send_raw(&batch);
    let r = lsp
        .rpc
        .request("maestro/document.text", json!({"uri": uri}));
    let expected: String = model.text.iter().collect();
    let result = r
        .get("result")
        .unwrap_or_else(|| panic!("document.text failed: {r}\n{}", lsp.stderr()));
    assert_eq!(result["version"], 1001);
    assert_eq!(
        result["text"].as_str().unwrap(),
        expected,
        "standalone={standalone} utf8={utf8} seed={seed}"
    );
    assert_eq!(lsp.shutdown_and_exit(), 0);
}

#[test]
fn a_thousand_changes_through_the_daemon_in_utf16() {
    run(false, false, 0x9E37_79B9_7F4A_7C15);
}

#[test]
fn a_thousand_changes_through_the_daemon_in_utf8() {
    run(false, true, 0xDEAD_BEEF_CAFE_F00D);
}

#[test]
fn a_thousand_changes_standalone_in_utf16() {
    run(true, false, 0x0123_4567_89AB_CDEF);
}

#[test]
fn a_thousand_changes_standalone_in_utf8() {
    run(true, true, 0x5555_AAAA_3333_CCCC);
}
