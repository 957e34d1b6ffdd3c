//! A compact binary encoding of [`FileFacts`], stored as one value per content: loading a workspace
//! reads one blob per file instead of one row per fact, which is what makes a daemon restart fast.
//! Varints for numbers, a per-file table for strings (names and qualifiers repeat a lot), all of it
//! an LZ4 block (the cargo registry's facts: 106 → 64 MB; 51 ms to decompress them all) behind a
//! version byte and the plain length. Decoding checks every bound: a damaged blob is an error, never
//! a panic.

use crate::facts::{FileFacts, Import, Pos, RefKind, Reference, Span, Symbol, SymbolKind};
use crate::lang::Lang;
use crate::name::Name;
use std::collections::HashMap;

/// 2: `non_ascii_lines` replaced a whole-file ASCII flag. 3: compressed. 4: C extraction finds
/// more (a macro's `#if` condition in its signature, parameters behind macros and `**`, `#undef`):
/// the version also changes when extraction does, so that an older maestro's facts are not kept
/// for files that did not change (they do not decode, and their files are parsed again).
const VERSION: u8 = 4;

/// No file's facts come near this (the indexer skips files past 200,000 facts): a larger plain
/// length is a damaged blob, not an allocation.
const MAX_PLAIN: u64 = 256 << 20;

struct Writer {
    out: Vec<u8>,
    strings: HashMap<String, u32>,
    table: Vec<String>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn string(&mut self, s: &str) {
        let id = match self.strings.get(s) {
            Some(id) => *id,
            None => {
                let id = self.table.len() as u32;
                self.table.push(s.to_owned());
                self.strings.insert(s.to_owned(), id);
                id
            }
        };
        self.varint(u64::from(id));
    }

    fn opt_string(&mut self, s: Option<&str>) {
        match s {
            None => self.varint(0),
            Some(s) => {
                self.varint(1);
                self.string(s);
            }
        }
    }

    fn opt_u32(&mut self, v: Option<u32>) {
        self.varint(v.map_or(0, |v| u64::from(v) + 1));
    }

    fn span(&mut self, s: &Span) {
        self.varint(u64::from(s.start.line));
        self.varint(u64::from(s.start.col));
        // The end line relative to the start: usually 0.
        self.varint(u64::from(s.end.line.saturating_sub(s.start.line)));
        self.varint(u64::from(s.end.col));
    }
}

/// Encodes facts.
pub fn encode(facts: &FileFacts) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(64 + facts.references.len() * 12),
        strings: HashMap::new(),
        table: Vec::new(),
    };
    w.varint(Lang::ALL.iter().position(|l| *l == facts.lang).unwrap_or(0) as u64);
    w.varint(u64::from(facts.parse_errors));
    w.varint(facts.non_ascii_lines.len() as u64);
    let mut previous = 0;
    for &line in &facts.non_ascii_lines {
        w.varint(u64::from(line - previous));
        previous = line;
    }
    w.varint(facts.symbols.len() as u64);
    for s in &facts.symbols {
        w.string(&s.name);
        w.varint(
            SymbolKind::ALL
                .iter()
                .position(|k| *k == s.kind)
                .unwrap_or(0) as u64,
        );
        w.span(&s.span);
        w.span(&s.name_span);
        w.opt_u32(s.container);
        w.opt_string(s.owner.as_deref());
        w.string(&s.signature);
        w.string(&s.doc);
    }
    w.varint(facts.references.len() as u64);
    for r in &facts.references {
        w.string(&r.name);
        w.varint(RefKind::ALL.iter().position(|k| *k == r.kind).unwrap_or(0) as u64);
        w.span(&r.span());
        w.opt_string(r.qualifier.as_deref());
        w.opt_u32(r.enclosing());
    }
    w.varint(facts.imports.len() as u64);
    for i in &facts.imports {
        w.string(&i.module);
        w.opt_string(i.name.as_deref());
        w.opt_string(i.alias.as_deref());
        w.varint(u64::from(i.line));
    }
    // The string table goes in front of the body.
    let body = std::mem::take(&mut w.out);
    let table = std::mem::take(&mut w.table);
    w.varint(table.len() as u64);
    for s in &table {
        w.varint(s.len() as u64);
        w.out.extend_from_slice(s.as_bytes());
    }
    w.out.extend_from_slice(&body);
    let plain = std::mem::take(&mut w.out);
    w.out.push(VERSION);
    w.varint(plain.len() as u64);
    w.out.extend_from_slice(&lz4_flex::block::compress(&plain));
    w.out
}

/// Why a blob does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("facts blob: {0}")]
pub struct DecodeError(String);

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    table: Vec<String>,
    /// The table's entries interned, each once per blob, when read as names.
    names: Vec<Option<Name>>,
}

impl Reader<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, DecodeError> {
        Err(DecodeError(format!("{what} at byte {}", self.at)))
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.at) else {
                return self.fail("truncated number");
            };
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        self.fail("overlong number")
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.varint()?).or_else(|_| self.fail("number out of range"))
    }

    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.varint()? as usize;
        // Every item takes at least a byte: a larger count is a damaged blob, not an allocation.
        if n > self.bytes.len() {
            self.fail("count larger than the blob")
        } else {
            Ok(n)
        }
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let id = self.varint()? as usize;
        match self.table.get(id) {
            Some(s) => Ok(s.clone()),
            None => self.fail("unknown string"),
        }
    }

    fn opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.varint()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => self.fail("bad option tag"),
        }
    }

    fn name(&mut self) -> Result<Name, DecodeError> {
        let id = self.varint()? as usize;
        let Some(text) = self.table.get(id) else {
            return self.fail("unknown string");
        };
        Ok(*self.names[id].get_or_insert_with(|| Name::new(text)))
    }

    fn opt_name(&mut self) -> Result<Option<Name>, DecodeError> {
        match self.varint()? {
            0 => Ok(None),
            1 => self.name().map(Some),
            _ => self.fail("bad option tag"),
        }
    }

    fn opt_u32(&mut self) -> Result<Option<u32>, DecodeError> {
        match self.varint()? {
            0 => Ok(None),
            v => u32::try_from(v - 1)
                .map(Some)
                .or_else(|_| self.fail("number out of range")),
        }
    }

    fn span(&mut self) -> Result<Span, DecodeError> {
        let (line, col) = (self.u32()?, self.u32()?);
        let (lines, end_col) = (self.u32()?, self.u32()?);
        Ok(Span {
            start: Pos { line, col },
            end: Pos {
                line: line.saturating_add(lines),
                col: end_col,
            },
        })
    }

    fn pick<T: Copy>(&mut self, all: &[T], what: &str) -> Result<T, DecodeError> {
        let i = self.varint()? as usize;
        match all.get(i) {
            Some(v) => Ok(*v),
            None => self.fail(what),
        }
    }
}

/// Decodes facts encoded by [`encode`].
pub fn decode(blob: &[u8]) -> Result<FileFacts, DecodeError> {
    match blob.first() {
        Some(&VERSION) => {}
        Some(v) => return Err(DecodeError(format!("unknown version {v}"))),
        None => return Err(DecodeError("empty".into())),
    }
    let mut header = Reader {
        bytes: blob,
        at: 1,
        table: Vec::new(),
        names: Vec::new(),
    };
    let len = header.varint()?;
    let packed = &blob[header.at..];
    // LZ4 expands at most about 255 times.
    if len > MAX_PLAIN || len > (packed.len() as u64 + 16) * 255 {
        return header.fail("plain length out of range");
    }
    let bytes = lz4_flex::block::decompress(packed, len as usize)
        .map_err(|e| DecodeError(format!("compressed body: {e}")))?;
    if bytes.len() as u64 != len {
        return Err(DecodeError("compressed body of another length".into()));
    }
    decode_plain(&bytes)
}

fn decode_plain(bytes: &[u8]) -> Result<FileFacts, DecodeError> {
    let mut r = Reader {
        bytes,
        at: 0,
        table: Vec::new(),
        names: Vec::new(),
    };
    let n = r.count()?;
    r.table.reserve(n);
    for _ in 0..n {
        let len = r.count()?;
        let Some(raw) = bytes.get(r.at..r.at + len) else {
            return r.fail("truncated string");
        };
        r.at += len;
        r.table.push(String::from_utf8_lossy(raw).into_owned());
    }
    r.names = vec![None; n];
    let lang = r.pick(&Lang::ALL, "unknown language")?;
    let mut facts = FileFacts::empty(lang);
    facts.parse_errors = r.u32()?;
    let n = r.count()?;
    let mut line = 0u32;
    for _ in 0..n {
        line = line
            .checked_add(r.u32()?)
            .ok_or_else(|| DecodeError("line number overflow".into()))?;
        facts.non_ascii_lines.push(line);
    }
    let n = r.count()?;
    facts.symbols.reserve(n);
    for _ in 0..n {
        let name = r.name()?;
        let kind = r.pick(SymbolKind::ALL, "unknown symbol kind")?;
        let (span, name_span) = (r.span()?, r.span()?);
        let container = r.opt_u32()?;
        let owner = r.opt_name()?;
        let (signature, doc) = (r.string()?, r.string()?);
        facts.symbols.push(Symbol {
            name,
            kind,
            span,
            name_span,
            container,
            owner,
            signature: signature.into(),
            doc: doc.into(),
        });
    }
    let n = r.count()?;
    facts.references.reserve(n);
    for _ in 0..n {
        let name = r.name()?;
        let kind = r.pick(RefKind::ALL, "unknown reference kind")?;
        let span = r.span()?;
        let qualifier = r.opt_name()?;
        let enclosing = r.opt_u32()?;
        facts
            .references
            .push(Reference::new(name, kind, span, qualifier, enclosing));
    }
    let n = r.count()?;
    for _ in 0..n {
        let module = r.string()?;
        let (name, alias) = (r.opt_string()?, r.opt_string()?);
        facts.imports.push(Import {
            module,
            name,
            alias,
            line: r.u32()?,
        });
    }
    if r.at != bytes.len() {
        return r.fail("trailing bytes");
    }
    let symbols = facts.symbols.len() as u32;
    let in_range = |i: &Option<u32>| i.is_none_or(|i| i < symbols);
    if !facts.symbols.iter().all(|s| in_range(&s.container))
        || !facts.references.iter().all(|r| in_range(&r.enclosing()))
    {
        return Err(DecodeError("index of a symbol out of range".into()));
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_round_trip_for_every_language() {
        let samples: [(Lang, &str); 11] = [
            (
                Lang::Python,
                "import os\nclass A(B):\n    \"\"\"Doc é.\"\"\"\n    def m(self):\n        self.x = os.path.join(1)\n",
            ),
            (
                Lang::Rust,
                "use a::{b, c as d};\nstruct S { f: u8 }\nimpl S { fn g(&self) { h(self.f) } }\n",
            ),
            (
                Lang::TypeScript,
                "import { x } from './y';\nexport class C extends D { m() { return x(); } }\n",
            ),
            (Lang::Tsx, "export const App = () => <Button />;\n"),
            (Lang::JavaScript, "function f() { return g(); }\n"),
            (
                Lang::Go,
                "package p\n\nimport \"fmt\"\n\nfunc (c *C) M() { fmt.Println(c) }\n",
            ),
            (
                Lang::C,
                "#include \"a.h\"\nstruct S { int f; };\nint g(struct S *s) { return h(s->f); }\n",
            ),
            (
                Lang::Ruby,
                "require \"a\"\nclass C < B\n  def m(x) = helper(x)\nend\n",
            ),
            (
                Lang::CSharp,
                "using A.B;\nnamespace N { class C : D { int f; void M() { G(f); } } }\n",
            ),
            (
                Lang::Cpp,
                "#include \"a.hpp\"\nnamespace n { class C : B { int f; }; int C::m() { return g<int>(f); } }\n",
            ),
            (
                Lang::Java,
                "package p;\nimport a.b.C;\nclass D extends C { int f; void m() { g(f); } }\n",
            ),
        ];
        for (lang, src) in samples {
            let facts = crate::extract(lang, src.as_bytes());
            assert_eq!(decode(&encode(&facts)).unwrap(), facts, "{lang}");
        }
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let facts = crate::extract(Lang::Python, b"def f():\n    g()\n");
        let blob = encode(&facts);
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 0]).is_err());
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err(), "cut at {cut}");
        }
        // Flipping any byte either still decodes to something or fails cleanly.
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0xff;
            let _ = decode(&b);
        }
        let mut huge = vec![VERSION];
        huge.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode(&huge).is_err());
    }
}
