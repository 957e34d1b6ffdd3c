//! Local scopes from `locals.scm`: which identifiers are local variables (parameters, `let`, loop
//! variables...) and where they are defined. Locals are resolved at query time from the tree and never
//! stored; extraction uses them to drop uses of local variables from the stored references.
//!
//! Definitions anywhere in a scope count for the whole scope (as Python and JavaScript hoist them);
//! definitions in the file's root scope are not locals: they are the file's symbols.

use std::collections::HashMap;

/// A local variable's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDef {
    /// Byte range of the defining identifier.
    pub start: usize,
    pub end: usize,
    /// Byte range of the scope it belongs to.
    pub scope_start: usize,
    pub scope_end: usize,
}

#[derive(Debug, PartialEq)]
struct Scope {
    start: usize,
    end: usize,
    parent: Option<usize>,
    defs: HashMap<String, Vec<(usize, usize)>>,
}

/// The local scopes of one file.
#[derive(Debug, PartialEq)]
pub struct Locals {
    /// Sorted by start; the first is the whole file.
    scopes: Vec<Scope>,
}

impl Locals {
    /// Builds the scopes from the `@local.scope` byte ranges and the `@local.definition` sites
    /// (byte range and name) of a file of `len` bytes.
    pub fn build(
        len: usize,
        mut ranges: Vec<(usize, usize)>,
        defs: Vec<(usize, usize, String)>,
    ) -> Locals {
        ranges.push((0, len));
        // Outer scopes before the scopes they contain.
        ranges.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        ranges.dedup();
        let mut scopes: Vec<Scope> = Vec::with_capacity(ranges.len());
        let mut stack: Vec<usize> = Vec::new();
        for (start, end) in ranges {
            while let Some(&top) = stack.last() {
                if scopes[top].end >= end && scopes[top].start <= start {
                    break;
                }
                stack.pop();
            }
            scopes.push(Scope {
                start,
                end,
                parent: stack.last().copied(),
                defs: HashMap::new(),
            });
            stack.push(scopes.len() - 1);
        }
        let mut locals = Locals { scopes };
        for (start, end, name) in defs {
            let scope = locals.innermost(start);
            if scope != 0 {
                locals.scopes[scope]
                    .defs
                    .entry(name)
                    .or_default()
                    .push((start, end));
            }
        }
        locals
    }

    /// The innermost scope containing `at`.
    fn innermost(&self, at: usize) -> usize {
        let mut i = self
            .scopes
            .partition_point(|s| s.start <= at)
            .saturating_sub(1);
        loop {
            let s = &self.scopes[i];
            if s.start <= at && at < s.end.max(s.start + 1) {
                return i;
            }
            match s.parent {
                Some(p) => i = p,
                None => return 0,
            }
        }
    }

    /// The local definition that `name` used at byte `at` refers to, if it is a local.
    pub fn resolve(&self, name: &str, at: usize) -> Option<LocalDef> {
        let mut scope = Some(self.innermost(at));
        while let Some(i) = scope {
            if i == 0 {
                return None;
            }
            let s = &self.scopes[i];
            if let Some(sites) = s.defs.get(name) {
                // The nearest definition before the use, else the first (hoisted) one.
                let (start, end) = sites
                    .iter()
                    .rev()
                    .find(|(start, _)| *start <= at)
                    .or(sites.first())
                    .copied()?;
                return Some(LocalDef {
                    start,
                    end,
                    scope_start: s.start,
                    scope_end: s.end,
                });
            }
            scope = s.parent;
        }
        None
    }

    /// Every definition site of locals named `name` in the scope that defines it at `at`.
    pub fn definitions_in_scope(&self, def: &LocalDef, name: &str) -> Vec<(usize, usize)> {
        self.scopes
            .iter()
            .find(|s| s.start == def.scope_start && s.end == def.scope_end)
            .and_then(|s| s.defs.get(name).cloned())
            .unwrap_or_default()
    }
}
