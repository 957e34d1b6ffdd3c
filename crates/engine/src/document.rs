//! Open documents: the editor's unsaved text, kept in a rope and edited with LSP's incremental
//! changes in the connection's position encoding. A document in a language the graph knows also
//! keeps its syntax tree: edits are applied to the tree with tree-sitter's edit API as they come,
//! and the tree is reparsed incrementally (and the facts extracted again, querying only the
//! top-level items that changed: `maestro_graph::analyze_incremental`) when a question needs it.
//!
//! Open documents in a `ropey` rope (CR, LF and CRLF line breaks only, as LSP counts lines);
//! positions in UTF-8, UTF-16 or UTF-32 as negotiated; positions past a line or the document clamp, as LSP
//! says; a change batch applies entirely or not at all; a version that does not move forward is refused.
//!
//! `document` also keeps each open document's tree-sitter parse (`Document::syntax`): edits are given to
//! the old tree (`InputEdit`) and the reparse happens lazily, when a question needs it, so a burst of
//! `didChange` costs one incremental parse.

use maestro_graph::{Analysis, Lang, Previous, Units};
use maestro_protocol::{Position, PositionEncoding, TextChange};
use ropey::Rope;
use std::sync::Arc;
use tree_sitter::{InputEdit, Point, Tree};

/// An open document as the editor has it.
#[derive(Clone)]
pub struct Document {
    pub uri: String,
    pub language_id: String,
    version: i32,
    text: Rope,
    lang: Option<Lang>,
    /// The last parse, with the edits since applied to it.
    tree: Option<Tree>,
    /// The parse and facts of the current text, once asked for.
    syntax: Option<Arc<Syntax>>,
    /// What the last extraction found per top-level item, to extract the next text
    /// incrementally.
    units: Option<Units>,
}

/// A document's parse and facts at one version.
pub struct Syntax {
    pub lang: Lang,
    pub version: i32,
    pub tree: Tree,
    pub text: Vec<u8>,
    pub analysis: Analysis,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("uri", &self.uri)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(
        "{uri}: change for version {got} refused, the document is already at version {current}"
    )]
    Stale { uri: String, current: i32, got: i32 },
    #[error(
        "{uri}: change {index} has its range end ({end_line}:{end_char}) before its start ({start_line}:{start_char}); no change of this batch was applied"
    )]
    InvertedRange {
        uri: String,
        index: usize,
        start_line: u32,
        start_char: u32,
        end_line: u32,
        end_char: u32,
    },
}

impl Document {
    pub fn new(uri: String, language_id: String, version: i32, text: &str) -> Document {
        let lang = Lang::from_id(&language_id)
            .or_else(|| crate::text::uri_to_path(&uri).and_then(|p| Lang::of_path(&p)));
        Document {
            uri,
            language_id,
            version,
            text: Rope::from_str(text),
            lang,
            tree: None,
            syntax: None,
            units: None,
        }
    }

    pub fn lang(&self) -> Option<Lang> {
        self.lang
    }

    /// The parse and facts of the current text: reparsed (incrementally) if edits came since.
    /// `None` for a language the graph does not know, and for a text over `max_bytes` (the
    /// indexer's `index.max_file_bytes`: a parse costs many times the text).
    pub fn syntax(&mut self, max_bytes: u64) -> Option<Arc<Syntax>> {
        let lang = self.lang?;
        if self.text.len_bytes() as u64 > max_bytes {
            self.tree = None;
            self.syntax = None;
            self.units = None;
            return None;
        }
        if let Some(s) = self.syntax.as_ref().filter(|s| s.version == self.version) {
            return Some(s.clone());
        }
        let text = self.text.to_string().into_bytes();
        let tree = maestro_graph::parse(lang, &text, self.tree.as_ref())?;
        // The last extraction's units are reused only with its text and its tree as edited
        // since (a text replaced whole has no tree: everything is extracted again).
        let previous = match (&self.syntax, &self.tree, self.units.take()) {
            (Some(before), Some(edited), Some(units)) => Some(Previous {
                text: &before.text,
                tree: edited,
                units,
            }),
            _ => None,
        };
        let (analysis, units, _) = maestro_graph::analyze_incremental(lang, &tree, &text, previous);
        self.units = units;
        self.tree = Some(tree.clone());
        let syntax = Arc::new(Syntax {
            lang,
            version: self.version,
            tree,
            text,
            analysis,
        });
        self.syntax = Some(syntax.clone());
        Some(syntax)
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    /// The text's size in bytes.
    pub fn len_bytes(&self) -> usize {
        self.text.len_bytes()
    }

    pub fn text(&self) -> String {
        self.text.to_string()
    }

    /// A cheap snapshot of the text (ropes share structure).
    pub fn rope(&self) -> Rope {
        self.text.clone()
    }

    /// Applies one `didChange` batch. The version must move forward; the batch applies entirely
    /// or not at all. Positions past the end of a line or of the document are clamped, as LSP says.
    pub fn apply(
        &mut self,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
    ) -> Result<(), DocumentError> {
        if version <= self.version {
            return Err(DocumentError::Stale {
                uri: self.uri.clone(),
                current: self.version,
                got: version,
            });
        }
        let mut text = self.text.clone();
        let mut edits = Vec::new();
        let mut replaced = false;
        for (index, change) in changes.iter().enumerate() {
            match change.range {
                None => {
                    text = Rope::from_str(&change.text);
                    replaced = true;
                }
                Some(range) => {
                    let start = char_index(&text, range.start, encoding);
                    let end = char_index(&text, range.end, encoding);
                    if end < start {
                        return Err(DocumentError::InvertedRange {
                            uri: self.uri.clone(),
                            index,
                            start_line: range.start.line,
                            start_char: range.start.character,
                            end_line: range.end.line,
                            end_char: range.end.character,
                        });
                    }
                    let (start_byte, start_position) = point(&text, start);
                    let (old_end_byte, old_end_position) = point(&text, end);
                    text.remove(start..end);
                    text.insert(start, &change.text);
                    edits.push(InputEdit {
                        start_byte,
                        old_end_byte,
                        new_end_byte: start_byte + change.text.len(),
                        start_position,
                        old_end_position,
                        new_end_position: advance(start_position, &change.text),
                    });
                }
            }
        }
        self.text = text;
        self.version = version;
        if replaced {
            self.tree = None;
        } else if let Some(tree) = &mut self.tree {
            for edit in &edits {
                tree.edit(edit);
            }
        }
        Ok(())
    }
}

/// The byte offset and tree-sitter point (row, byte column) of a char index.
fn point(text: &Rope, char_idx: usize) -> (usize, Point) {
    let byte = text.char_to_byte(char_idx);
    let row = text.char_to_line(char_idx);
    (
        byte,
        Point {
            row,
            column: byte - text.line_to_byte(row),
        },
    )
}

/// Where an insertion of `inserted` at `start` ends.
fn advance(start: Point, inserted: &str) -> Point {
    match inserted.rfind('\n') {
        Some(last) => Point {
            row: start.row + inserted.matches('\n').count(),
            column: inserted.len() - last - 1,
        },
        None => Point {
            row: start.row,
            column: start.column + inserted.len(),
        },
    }
}

/// The char index of an LSP position in `text`, clamped to the line's end and the text's end.
pub fn char_index(text: &Rope, pos: Position, encoding: PositionEncoding) -> usize {
    let line = pos.line as usize;
    if line >= text.len_lines() {
        return text.len_chars();
    }
    let start = text.line_to_char(line);
    let slice = text.line(line);
    let content = slice.slice(..slice.len_chars() - line_break_len(&slice));
    let column = pos.character as usize;
    let within = match encoding {
        PositionEncoding::Utf32 => column.min(content.len_chars()),
        PositionEncoding::Utf16 => content.utf16_cu_to_char(column.min(content.len_utf16_cu())),
        PositionEncoding::Utf8 => content.byte_to_char(column.min(content.len_bytes())),
    };
    start + within
}

fn line_break_len(line: &ropey::RopeSlice<'_>) -> usize {
    let n = line.len_chars();
    match (
        n.checked_sub(2).map(|i| line.char(i)),
        n.checked_sub(1).map(|i| line.char(i)),
    ) {
        (Some('\r'), Some('\n')) => 2,
        (_, Some('\n' | '\r')) => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maestro_protocol::Range;

    fn change(l1: u32, c1: u32, l2: u32, c2: u32, text: &str) -> TextChange {
        TextChange {
            range: Some(Range {
                start: Position {
                    line: l1,
                    character: c1,
                },
                end: Position {
                    line: l2,
                    character: c2,
                },
            }),
            text: text.into(),
        }
    }

    fn doc(text: &str) -> Document {
        Document::new("file:///t".into(), "rust".into(), 1, text)
    }

    #[test]
    fn utf16_counts_surrogate_pairs_as_two() {
        let mut d = doc("a😀b\n");
        // 'b' is at UTF-16 column 3 (the emoji takes two code units).
        d.apply(2, &[change(0, 3, 0, 4, "B")], PositionEncoding::Utf16)
            .unwrap();
        assert_eq!(d.text(), "a😀B\n");
    }

    #[test]
    fn utf8_counts_bytes() {
        let mut d = doc("é=1\n");
        d.apply(2, &[change(0, 2, 0, 3, ":")], PositionEncoding::Utf8)
            .unwrap();
        assert_eq!(d.text(), "é:1\n");
    }

    #[test]
    fn crlf_and_cr_end_lines_and_are_not_columns() {
        let mut d = doc("ab\r\ncd\ref");
        d.apply(2, &[change(0, 99, 1, 0, "|")], PositionEncoding::Utf16)
            .unwrap();
        assert_eq!(d.text(), "ab|cd\ref");
        d.apply(3, &[change(1, 0, 1, 1, "E")], PositionEncoding::Utf16)
            .unwrap();
        assert_eq!(d.text(), "ab|cd\rEf");
    }

    #[test]
    fn positions_past_the_end_clamp_and_batches_apply_in_order() {
        let mut d = doc("one\ntwo");
        d.apply(
            5,
            &[
                change(9, 0, 9, 0, "\nthree"),
                change(0, 0, 0, 3, "1"),
                TextChange {
                    range: None,
                    text: "x".into(),
                },
            ],
            PositionEncoding::Utf16,
        )
        .unwrap();
        assert_eq!((d.text().as_str(), d.version()), ("x", 5));
        let mut d = doc("one\ntwo");
        d.apply(
            2,
            &[change(9, 0, 9, 0, "\nthree"), change(0, 0, 0, 3, "1")],
            PositionEncoding::Utf16,
        )
        .unwrap();
        assert_eq!(d.text(), "1\ntwo\nthree");
    }

    #[test]
    fn incremental_reparses_match_a_fresh_parse() {
        let mut d = Document::new(
            "file:///x.py".into(),
            "python".into(),
            1,
            "def f():\n    return 1\n",
        );
        let first = d.syntax(u64::MAX).unwrap();
        assert_eq!(first.analysis.facts.symbols[0].name, "f");
        d.apply(
            2,
            &[
                change(0, 4, 0, 5, "renamed"),
                change(2, 0, 2, 0, "def g(é):\n    f()\n"),
            ],
            PositionEncoding::Utf16,
        )
        .unwrap();
        let edited = d.syntax(u64::MAX).unwrap();
        let fresh = maestro_graph::extract(Lang::Python, d.text().as_bytes());
        assert_eq!(*edited.analysis.facts, fresh);
        assert_eq!(edited.version, 2);
        assert!(
            Arc::ptr_eq(&edited, &d.syntax(u64::MAX).unwrap()),
            "no change, no reparse"
        );
        let plain = Document::new("file:///notes.txt".into(), "plaintext".into(), 1, "hi");
        assert!(plain.clone().syntax(u64::MAX).is_none());
    }

    #[test]
    fn a_text_over_the_limit_is_not_parsed_until_it_shrinks() {
        let mut d = Document::new("file:///x.py".into(), "python".into(), 1, "x = 1\n");
        assert!(d.syntax(6).is_some());
        d.apply(2, &[change(1, 0, 1, 0, "y = 2\n")], PositionEncoding::Utf16)
            .unwrap();
        assert!(d.syntax(6).is_none(), "12 bytes over a limit of 6");
        d.apply(3, &[change(1, 0, 2, 0, "")], PositionEncoding::Utf16)
            .unwrap();
        let back = d.syntax(6).expect("parsed again once under the limit");
        assert_eq!(back.analysis.facts.symbols.len(), 1);
    }

    #[test]
    fn stale_versions_and_inverted_ranges_change_nothing() {
        let mut d = doc("abc");
        d.apply(3, &[change(0, 0, 0, 1, "")], PositionEncoding::Utf16)
            .unwrap();
        let err = d
            .apply(3, &[change(0, 0, 0, 0, "x")], PositionEncoding::Utf16)
            .unwrap_err();
        assert!(matches!(
            err,
            DocumentError::Stale {
                current: 3,
                got: 3,
                ..
            }
        ));
        let err = d
            .apply(
                4,
                &[change(0, 0, 0, 0, "x"), change(0, 2, 0, 1, "")],
                PositionEncoding::Utf16,
            )
            .unwrap_err();
        assert!(matches!(err, DocumentError::InvertedRange { index: 1, .. }));
        assert_eq!((d.text().as_str(), d.version()), ("bc", 3));
    }
}
