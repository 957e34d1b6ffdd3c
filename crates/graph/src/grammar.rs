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
    /// A C/C++ macro's replacement text (`preproc_arg`, no tree of its own): its identifiers are
    /// read as uses, but the macro's parameters.
    MacroBody,
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
            "macro.body" => Role::MacroBody,
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
    /// `query` split in two for incremental extraction (same captures): the patterns that start
    /// below the root, which a top-level item can be queried with on its own, and those that
    /// start at the root (`(module (expression_statement ...))`), queried over the whole file.
    pub(crate) item_query: Query,
    pub(crate) root_query: Query,
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
        // Which patterns start at the root, read from their text: the top node's kind.
        let root_kind = {
            let mut parser = tree_sitter::Parser::new();
            parser
                .set_language(&language)
                .map_err(|e| problem("grammar", e.to_string()))?;
            let tree = parser
                .parse("", None)
                .expect("a parser with a language parses");
            tree.root_node().kind().to_owned()
        };
        let at_root: Vec<bool> = (0..query.pattern_count())
            .map(|i| {
                let text =
                    &combined[query.start_byte_for_pattern(i)..query.end_byte_for_pattern(i)];
                starts_at_root(text, &root_kind).map_err(|m| problem("tags.scm + locals.scm", m))
            })
            .collect::<Result<_, _>>()?;
        let split = |keep_root: bool| -> Result<Query, QueryProblem> {
            let mut q = Query::new(&language, &combined)
                .map_err(|e| problem("tags.scm + locals.scm", e.to_string()))?;
            for (i, root) in at_root.iter().enumerate() {
                if *root != keep_root {
                    q.disable_pattern(i);
                }
            }
            Ok(q)
        };
        let (item_query, root_query) = (split(false)?, split(true)?);
        Ok(Grammar {
            lang,
            language,
            query,
            item_query,
            root_query,
            roles,
        })
    }
}

/// Whether a pattern starts at the root node (kind `root`): its top node is of that kind. A
/// top node that may be the root although another kind is written (a wildcard) is refused, as
/// is the root below the top: incremental extraction could not tell where such a match starts.
fn starts_at_root(pattern: &str, root: &str) -> Result<bool, String> {
    let top = pattern.trim_start_matches(|c: char| c == '(' || c.is_whitespace());
    let kind: &str = &top[..top
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(top.len())];
    let first_line = || pattern.lines().next().unwrap_or("").to_owned();
    if top.starts_with('[') || kind == "_" || kind.is_empty() && !top.starts_with('"') {
        return Err(format!(
            "a pattern must start with a named node kind (it may match the root otherwise): {}",
            first_line()
        ));
    }
    let needle = format!("({root}");
    let names_root_below = pattern
        .match_indices(&needle)
        .skip(usize::from(kind == root))
        .any(|(at, _)| {
            !pattern[at + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        });
    if names_root_below {
        return Err(format!(
            "the root node ({root}) below a pattern's top: {}",
            first_line()
        ));
    }
    Ok(kind == root)
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
    fn patterns_at_the_root_are_told_from_their_top_node() {
        let at = |p: &str| starts_at_root(p, "module");
        assert_eq!(
            at("(module (expression_statement (assignment left: (identifier) @name)))"),
            Ok(true)
        );
        assert_eq!(at("((module) @local.scope)"), Ok(true));
        assert_eq!(at("(module_name) @name"), Ok(false));
        assert_eq!(at("(class_definition name: (identifier) @name)"), Ok(false));
        assert_eq!(at("\"import\" @ignore"), Ok(false));
        // A match that might start at the root, or has it below its top, is refused.
        assert!(at("(_ (identifier) @name)").is_err());
        assert!(at("[(module) (block)] @local.scope").is_err());
        assert!(at("(block (module) @x)").is_err());
    }
}
