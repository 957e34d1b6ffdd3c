//! A language's compiled queries (`tags.scm` and `locals.scm` as one query) and what each of their
//! captures means to the extractor.

use crate::facts::{RefKind, SymbolKind};
use crate::lang::Lang;
use std::sync::OnceLock;
use tree_sitter::{Language, Query};

impl Lang {
    /// The compiled grammar and queries, built on first use.
    pub fn grammar(self) -> &'static Grammar {
        static GRAMMARS: [OnceLock<Grammar>; Lang::ALL.len()] =
            [const { OnceLock::new() }; Lang::ALL.len()];
        let slot = Lang::ALL
            .iter()
            .position(|l| *l == self)
            .expect("every language is in ALL");
        GRAMMARS[slot].get_or_init(|| Grammar::compile(self).unwrap_or_else(|e| panic!("{e}")))
    }
}

/// What a capture of `tags.scm` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Definition(SymbolKind),
    Reference(RefKind),
    Import,
    Name,
    Qualifier,
    Module,
    Alias,
    Receiver,
    Doc,
    Ignore,
    /// `locals.scm`: a scope, and a local variable's definition.
    LocalScope,
    LocalDefinition,
    /// Used by predicates only (`@_x`), or `@local.reference` (every identifier is a candidate).
    Other,
}

impl Role {
    pub(crate) fn parse(name: &str) -> Option<Role> {
        if let Some(kind) = name.strip_prefix("definition.") {
            return SymbolKind::from_name(kind).map(Role::Definition);
        }
        if name == "reference.import" {
            return Some(Role::Import);
        }
        if let Some(kind) = name.strip_prefix("reference.") {
            return RefKind::from_name(kind).map(Role::Reference);
        }
        Some(match name {
            "name" => Role::Name,
            "qualifier" => Role::Qualifier,
            "module" => Role::Module,
            "alias" => Role::Alias,
            "receiver" => Role::Receiver,
            "doc" => Role::Doc,
            "ignore" => Role::Ignore,
            "local.scope" => Role::LocalScope,
            "local.definition" => Role::LocalDefinition,
            "local.reference" => Role::Other,
            n if n.starts_with('_') => Role::Other,
            _ => return None,
        })
    }

    /// Whether the capture belongs in `locals.scm`.
    pub(crate) fn is_local(self) -> bool {
        matches!(self, Role::LocalScope | Role::LocalDefinition)
    }
}

/// A compiled grammar: the language and its queries. `tags.scm` and `locals.scm` are compiled as
/// one query, so that extraction walks the tree once.
pub struct Grammar {
    pub lang: Lang,
    pub language: Language,
    pub query: Query,
    /// What each capture of `query` means, by capture index.
    pub(crate) roles: Vec<Role>,
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
                let known = match Role::parse(name) {
                    Some(role) => role.is_local() == locals || matches!(role, Role::Other),
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
            .map(|n| Role::parse(n).unwrap_or(Role::Other))
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
}
