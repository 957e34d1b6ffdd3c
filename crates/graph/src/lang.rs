//! The languages the graph understands: their tree-sitter grammars (from crates.io) and the
//! project's own queries (`grammars/<lang>/tags.scm`, `locals.scm`), compiled once per process.

use std::path::Path;
use tree_sitter::Language;

/// A language with a grammar and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    Rust,
    Python,
    TypeScript,
    Tsx,
    JavaScript,
    Go,
    Java,
    C,
    Ruby,
    CSharp,
    Cpp,
}

impl Lang {
    pub const ALL: [Lang; 11] = [
        Lang::Rust,
        Lang::Python,
        Lang::TypeScript,
        Lang::Tsx,
        Lang::JavaScript,
        Lang::Go,
        Lang::Java,
        Lang::C,
        Lang::Ruby,
        Lang::CSharp,
        Lang::Cpp,
    ];

    /// The language of a file, by its extension.
    pub fn of_path(path: &Path) -> Option<Lang> {
        let ext = path.extension()?.to_str()?;
        Some(match ext {
            "rs" => Lang::Rust,
            "py" | "pyi" | "pyw" => Lang::Python,
            "ts" | "mts" | "cts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "js" | "mjs" | "cjs" | "jsx" => Lang::JavaScript,
            "go" => Lang::Go,
            "java" => Lang::Java,
            "c" | "h" => Lang::C,
            "rb" | "rake" | "gemspec" => Lang::Ruby,
            "cs" => Lang::CSharp,
            "cpp" | "cc" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" => Lang::Cpp,
            _ => return None,
        })
    }

    /// The language named as in LSP's `languageId` (or our own names).
    pub fn from_id(id: &str) -> Option<Lang> {
        Some(match id {
            "rust" => Lang::Rust,
            "python" => Lang::Python,
            "typescript" => Lang::TypeScript,
            "typescriptreact" | "tsx" => Lang::Tsx,
            "javascript" | "javascriptreact" | "jsx" => Lang::JavaScript,
            "go" => Lang::Go,
            "java" => Lang::Java,
            "c" => Lang::C,
            "ruby" => Lang::Ruby,
            "csharp" => Lang::CSharp,
            "cpp" => Lang::Cpp,
            _ => return None,
        })
    }

    /// The stable name stored and shown (`rust`, `python`, `typescript`, `tsx`, `javascript`, `go`,
    /// `java`, `c`, `ruby`, `csharp`, `cpp`).
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::JavaScript => "javascript",
            Lang::Go => "go",
            Lang::Java => "java",
            Lang::C => "c",
            Lang::Ruby => "ruby",
            Lang::CSharp => "csharp",
            Lang::Cpp => "cpp",
        }
    }

    pub fn from_name(name: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.name() == name)
    }

    pub fn language(self) -> Language {
        match self {
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::Python => tree_sitter_python::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::Go => tree_sitter_go::LANGUAGE.into(),
            Lang::Java => tree_sitter_java::LANGUAGE.into(),
            Lang::C => tree_sitter_c::LANGUAGE.into(),
            Lang::Ruby => tree_sitter_ruby::LANGUAGE.into(),
            Lang::CSharp => tree_sitter_c_sharp::LANGUAGE.into(),
            Lang::Cpp => tree_sitter_cpp::LANGUAGE.into(),
        }
    }

    /// The query sources, as checked in under `grammars/`.
    pub fn query_sources(self) -> QuerySources {
        macro_rules! grammar {
            ($($dir:literal),+) => {
                QuerySources {
                    tags: concat!($(include_str!(concat!("../../../grammars/", $dir, "/tags.scm"))),+),
                    locals: concat!($(include_str!(concat!("../../../grammars/", $dir, "/locals.scm"))),+),
                }
            };
        }
        match self {
            Lang::Rust => grammar!("rust"),
            Lang::Python => grammar!("python"),
            // TypeScript and JavaScript share the patterns of both grammars (`ecmascript`) and
            // add their own; TSX is TypeScript plus JSX; JavaScript's grammar parses JSX too.
            Lang::TypeScript => grammar!("ecmascript", "typescript"),
            Lang::Tsx => grammar!("ecmascript", "typescript", "jsx"),
            Lang::JavaScript => grammar!("ecmascript", "javascript", "jsx"),
            Lang::Go => grammar!("go"),
            Lang::Java => grammar!("java"),
            Lang::C => grammar!("c"),
            Lang::Ruby => grammar!("ruby"),
            Lang::CSharp => grammar!("csharp"),
            // C++ is C's patterns (valid in both grammars) plus its own.
            Lang::Cpp => grammar!("c", "cpp"),
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The source of a language's queries.
#[derive(Debug, Clone, Copy)]
pub struct QuerySources {
    pub tags: &'static str,
    pub locals: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_found_by_extension_and_id() {
        assert_eq!(Lang::of_path(Path::new("a/b.tsx")), Some(Lang::Tsx));
        assert_eq!(Lang::of_path(Path::new("x.mjs")), Some(Lang::JavaScript));
        assert_eq!(Lang::of_path(Path::new("Makefile")), None);
        assert_eq!(Lang::from_id("typescriptreact"), Some(Lang::Tsx));
        for l in Lang::ALL {
            assert_eq!(Lang::from_name(l.name()), Some(l));
        }
    }
}
