//! The languages the graph understands: their tree-sitter grammars (from crates.io) and the
//! project's own queries (`grammars/<lang>/tags.scm`, `locals.scm`), compiled once per process.

use std::path::Path;
use std::sync::OnceLock;
use tree_sitter::{Language, Query};

/// A language with a grammar and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    Rust,
    Python,
    TypeScript,
    Tsx,
    JavaScript,
    Go,
}

impl Lang {
    pub const ALL: [Lang; 6] = [
        Lang::Rust,
        Lang::Python,
        Lang::TypeScript,
        Lang::Tsx,
        Lang::JavaScript,
        Lang::Go,
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
            _ => return None,
        })
    }

    /// The stable name stored and shown (`rust`, `python`, `typescript`, `tsx`, `javascript`, `go`).
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::JavaScript => "javascript",
            Lang::Go => "go",
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
        }
    }

    /// The compiled grammar and queries, built on first use.
    pub fn grammar(self) -> &'static Grammar {
        static GRAMMARS: [OnceLock<Grammar>; 6] = [const { OnceLock::new() }; 6];
        let slot = Lang::ALL
            .iter()
            .position(|l| *l == self)
            .expect("every language is in ALL");
        GRAMMARS[slot].get_or_init(|| Grammar::compile(self).unwrap_or_else(|e| panic!("{e}")))
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

/// A compiled grammar: the language and its queries. `tags.scm` and `locals.scm` are compiled as
/// one query, so that extraction walks the tree once.
pub struct Grammar {
    pub lang: Lang,
    pub language: Language,
    pub query: Query,
    /// What each capture of `query` means, by capture index.
    pub(crate) roles: Vec<crate::extract::Role>,
}

/// A query that does not compile against its grammar, or uses a capture name the extractor does
/// not know.
#[derive(Debug, thiserror::Error)]
#[error("grammars/{lang}/{file}: {message}")]
pub struct QueryProblem {
    pub lang: &'static str,
    pub file: &'static str,
    pub message: String,
}

impl Grammar {
    /// Compiles the queries of `lang` and checks every capture name. Each file is compiled on its
    /// own first, so that an error points at its file and line.
    pub fn compile(lang: Lang) -> Result<Grammar, QueryProblem> {
        let language = lang.language();
        let sources = lang.query_sources();
        let problem = |file: &'static str, message: String| QueryProblem {
            lang: lang.name(),
            file,
            message,
        };
        for (file, source, locals) in [
            ("tags.scm", sources.tags, false),
            ("locals.scm", sources.locals, true),
        ] {
            let query = Query::new(&language, source).map_err(|e| problem(file, e.to_string()))?;
            for name in query.capture_names() {
                let known = match crate::extract::Role::parse(name) {
                    Some(role) => {
                        role.is_local() == locals || matches!(role, crate::extract::Role::Other)
                    }
                    None => false,
                };
                if !known {
                    return Err(problem(file, format!("unknown capture @{name}")));
                }
            }
        }
        let combined = format!("{}\n{}", sources.tags, sources.locals);
        let query = Query::new(&language, &combined)
            .map_err(|e| problem("tags.scm + locals.scm", e.to_string()))?;
        let roles = query
            .capture_names()
            .iter()
            .map(|n| crate::extract::Role::parse(n).unwrap_or(crate::extract::Role::Other))
            .collect();
        Ok(Grammar {
            lang,
            language,
            query,
            roles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_compiles_against_its_grammar_with_known_captures() {
        for lang in Lang::ALL {
            if let Err(e) = Grammar::compile(lang) {
                panic!("{e}");
            }
        }
    }

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
