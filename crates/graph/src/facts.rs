//! What extraction finds in one file: symbols (definitions), references and imports. Positions are
//! zero-based lines and byte columns; converting them to an editor's encoding is the caller's job.

use crate::lang::Lang;
use crate::name::Name;

/// A position: zero-based line, byte column within the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A half-open range of positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn contains(&self, pos: Pos) -> bool {
        self.start <= pos && pos < self.end
    }

    /// Whether `other` lies within this span.
    pub fn encloses(&self, other: &Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

macro_rules! names {
    ($(#[$meta:meta])* $vis:vis enum $ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        $(#[$meta])*
        $vis enum $ty { $($variant),+ }
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            /// The name used in queries (`@definition.<name>`), the store and the CLI.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
            pub fn from_name(name: &str) -> Option<$ty> {
                match name { $($name => Some($ty::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.name()) }
        }
    };
}

names! {
    /// What a symbol is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum SymbolKind {
        Module = "module",
        Class = "class",
        Struct = "struct",
        Enum = "enum",
        Interface = "interface",
        Trait = "trait",
        Impl = "impl",
        Type = "type",
        Function = "function",
        Method = "method",
        Field = "field",
        Constant = "constant",
        Variable = "variable",
        EnumMember = "enum_member",
        Macro = "macro",
    }
}

impl SymbolKind {
    /// Kinds whose symbols hold members (methods, fields, variants).
    pub fn is_type_like(self) -> bool {
        matches!(
            self,
            SymbolKind::Class
                | SymbolKind::Struct
                | SymbolKind::Enum
                | SymbolKind::Interface
                | SymbolKind::Trait
                | SymbolKind::Impl
        )
    }

    /// Kinds that run code, so call references inside them are its outgoing calls.
    pub fn is_callable(self) -> bool {
        matches!(
            self,
            SymbolKind::Function | SymbolKind::Method | SymbolKind::Macro
        )
    }

    /// Members are reached through an owner (`obj.m`, `Type::m`), not by a bare name.
    pub fn is_member(self) -> bool {
        matches!(
            self,
            SymbolKind::Method | SymbolKind::Field | SymbolKind::EnumMember
        )
    }
}

names! {
    /// How a name is used.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum RefKind {
        Call = "call",
        Macro = "macro",
        Implementation = "implementation",
        Inheritance = "inheritance",
        Type = "type",
        Field = "field",
        Import = "import",
        Read = "read",
    }
}

impl RefKind {
    /// When several patterns capture the same name, the most specific use wins.
    pub(crate) fn priority(self) -> u8 {
        match self {
            RefKind::Call => 7,
            RefKind::Macro => 6,
            RefKind::Implementation => 5,
            RefKind::Inheritance => 4,
            RefKind::Import => 3,
            RefKind::Type => 2,
            RefKind::Field => 1,
            RefKind::Read => 0,
        }
    }
}

/// A definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: Name,
    pub kind: SymbolKind,
    /// The whole definition.
    pub span: Span,
    /// The name in the definition.
    pub name_span: Span,
    /// Index of the symbol this one is nested in.
    pub container: Option<u32>,
    /// The type this symbol is a member of (its container's name, or a Go method's receiver).
    pub owner: Option<Name>,
    /// The definition's head: `fn f(a: u32) -> u32`, `class C(Base)`.
    pub signature: Box<str>,
    /// The doc comment or docstring, cleaned of comment markers.
    pub doc: Box<str>,
}

/// A use of a name that is not a local variable. 24 bytes: a large repository holds millions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The name as written: the text of its span, which is on one line.
    pub name: Name,
    pub kind: RefKind,
    /// What the name is reached through: `self`, `os.path`, `a::b`, `pkg`.
    pub qualifier: Option<Name>,
    /// Where the name starts; it ends `name.len()` bytes later.
    start: Pos,
    /// The innermost symbol containing the reference: its index + 1, 0 for none.
    enclosing: u32,
}

impl Reference {
    /// `span` is where `name` is written; `enclosing`, the index of the innermost symbol
    /// containing it.
    pub fn new(
        name: Name,
        kind: RefKind,
        span: Span,
        qualifier: Option<Name>,
        enclosing: Option<u32>,
    ) -> Reference {
        Reference {
            name,
            kind,
            qualifier,
            start: span.start,
            enclosing: enclosing.map_or(0, |i| i.saturating_add(1)),
        }
    }

    /// The name as written.
    pub fn span(&self) -> Span {
        Span {
            start: self.start,
            end: Pos {
                line: self.start.line,
                col: self.start.col.saturating_add(self.name.len() as u32),
            },
        }
    }

    /// Index of the innermost symbol containing the reference.
    pub fn enclosing(&self) -> Option<u32> {
        self.enclosing.checked_sub(1)
    }
}

/// An import: what module, which name, under what local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// As written: `os.path`, `..pkg`, `./foo`, `crate::a::b`, `fmt`.
    pub module: String,
    /// The imported name, or `None` when the module itself is imported; `*` for a wildcard.
    pub name: Option<String>,
    pub alias: Option<String>,
    pub line: u32,
}

impl Import {
    /// The name this import binds in a file of `lang`: the alias, the imported name, or the
    /// module's last segment (`fmt` for `"fmt"`, `b` for `a::b`); Python's `import a.b` binds `a`.
    pub fn binding(&self, lang: Lang) -> &str {
        if let Some(a) = &self.alias {
            return a;
        }
        // A C `#include`, a Ruby `require` or a C# `using` of a namespace binds no name: what they
        // bring in is found as a global.
        if matches!(lang, Lang::C | Lang::Cpp | Lang::Ruby | Lang::CSharp) {
            return "";
        }
        if let Some(n) = &self.name {
            return n;
        }
        if lang == Lang::Python && !self.module.starts_with('.') {
            return self.module.split('.').next().unwrap_or(&self.module);
        }
        self.module
            .rsplit(['.', '/', ':'])
            .find(|s| !s.is_empty())
            .unwrap_or(&self.module)
    }

    /// The module the binding names when the import brings in a module (no `name`): `a` for
    /// Python's `import a.b`, else the module itself.
    pub fn bound_module(&self, lang: Lang) -> &str {
        if lang == Lang::Python && self.alias.is_none() && !self.module.starts_with('.') {
            return self.module.split('.').next().unwrap_or(&self.module);
        }
        &self.module
    }
}

/// Everything extracted from one file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub lang: Lang,
    pub symbols: Vec<Symbol>,
    pub references: Vec<Reference>,
    pub imports: Vec<Import>,
    /// Syntax errors tree-sitter recovered from; facts of the valid parts are still there.
    pub parse_errors: u32,
    /// Lines holding non-ASCII bytes, ascending: on every other line byte columns are UTF-16 and
    /// UTF-32 columns too, so converting a position needs no text.
    pub non_ascii_lines: Vec<u32>,
}

impl FileFacts {
    pub fn empty(lang: Lang) -> FileFacts {
        FileFacts {
            lang,
            symbols: Vec::new(),
            references: Vec::new(),
            imports: Vec::new(),
            parse_errors: 0,
            non_ascii_lines: Vec::new(),
        }
    }

    /// Drops the spare capacity extraction left: facts live as long as their file is in a graph.
    pub fn shrink_to_fit(&mut self) {
        self.symbols.shrink_to_fit();
        self.references.shrink_to_fit();
        self.imports.shrink_to_fit();
        self.non_ascii_lines.shrink_to_fit();
    }

    /// Whether `line` is plain ASCII (byte columns are columns in every encoding).
    pub fn line_is_ascii(&self, line: u32) -> bool {
        self.non_ascii_lines.binary_search(&line).is_err()
    }
}

/// The lines of `src` that hold a non-ASCII byte.
pub fn non_ascii_lines(src: &[u8]) -> Vec<u32> {
    if src.is_ascii() {
        return Vec::new();
    }
    src.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_ascii())
        .map(|(i, _)| i as u32)
        .collect()
}
