; JavaScript tags: definitions, references and imports for maestro's code graph, plus
; grammars/jsx/tags.scm. Captures: see crates/graph/src/extract.rs.

; --- definitions
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(class_declaration name: (identifier) @name) @definition.class
(method_definition name: (property_identifier) @name) @definition.method
(field_definition property: (property_identifier) @name) @definition.field
(program (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable)))
(program (export_statement (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable)))
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @definition.function
(assignment_expression
  left: (member_expression object: (identifier) @_exports property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]
  (#eq? @_exports "exports")) @definition.function

; --- references
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.call
(new_expression constructor: (identifier) @name) @reference.call
(new_expression constructor: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.call
(class_heritage (identifier) @name) @reference.inheritance
(class_heritage (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.inheritance
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
((variable_declarator
   name: (identifier) @alias
   value: (call_expression function: (identifier) @_require arguments: (arguments (string (string_fragment) @module))))
 (#eq? @_require "require")) @reference.import
