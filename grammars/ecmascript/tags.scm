; JavaScript and TypeScript tags: the patterns both grammars share, loaded first for .js and .ts
; alike. grammars/javascript/tags.scm and grammars/typescript/tags.scm add each language's own
; (and grammars/jsx/tags.scm JSX, for JavaScript and TSX). Captures: see crates/graph/src/extract.rs.

; --- definitions
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(method_definition name: (property_identifier) @name) @definition.method

; top-level variables, and functions bound to them
(program (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable)))
(program (export_statement (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable)))
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @definition.function

; --- references
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.call
(new_expression constructor: (identifier) @name) @reference.call
(new_expression constructor: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.call
(member_expression object: (_) @qualifier property: (property_identifier) @name) @reference.field
(shorthand_property_identifier) @name @reference.read
(identifier) @name @reference.read

; names that are not uses
(labeled_statement label: (statement_identifier) @ignore)

; --- imports
(import_statement
  (import_clause (named_imports (import_specifier name: (identifier) @name alias: (identifier) @alias)))
  source: (string (string_fragment) @module)) @reference.import
(import_statement
  (import_clause (named_imports (import_specifier !alias name: (identifier) @name)))
  source: (string (string_fragment) @module)) @reference.import
(import_statement
  (import_clause (identifier) @alias)
  source: (string (string_fragment) @module)) @reference.import
(import_statement
  (import_clause (namespace_import (identifier) @alias))
  source: (string (string_fragment) @module)) @reference.import
(export_statement
  (export_clause (export_specifier name: (identifier) @name))
  source: (string (string_fragment) @module)) @reference.import
