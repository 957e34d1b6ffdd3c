; JavaScript's own tags, after grammars/ecmascript/tags.scm (and before grammars/jsx/tags.scm).
; Captures: see crates/graph/src/extract.rs.

; --- definitions
(class_declaration name: (identifier) @name) @definition.class
(field_definition property: (property_identifier) @name) @definition.field
(assignment_expression
  left: (member_expression object: (identifier) @_exports property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]
  (#eq? @_exports "exports")) @definition.function

; --- references
(class_heritage (identifier) @name) @reference.inheritance
(class_heritage (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.inheritance

; --- imports
((variable_declarator
   name: (identifier) @alias
   value: (call_expression function: (identifier) @_require arguments: (arguments (string (string_fragment) @module))))
 (#eq? @_require "require")) @reference.import
