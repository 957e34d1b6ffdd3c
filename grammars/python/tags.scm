; Python tags: definitions, references and imports for maestro's code graph.
; Captures: see crates/graph/src/extract.rs. Methods and constants are derived from context:
; a function inside a class is a method, an UPPER_CASE variable a constant.

; --- definitions
(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function

; module-level variables (`x = ...`, `a, b = ...`, `x: int = ...`)
(module (expression_statement (assignment left: (identifier) @name) @definition.variable))
(module (expression_statement (assignment left: (pattern_list (identifier) @name)) @definition.variable))
(module (expression_statement (assignment left: (tuple_pattern (identifier) @name)) @definition.variable))

; class attributes, and instance attributes assigned through `self`
(class_definition
  body: (block (expression_statement (assignment left: (identifier) @name) @definition.field)))
((assignment
   left: (attribute object: (identifier) @_self attribute: (identifier) @name)) @definition.field
 (#eq? @_self "self"))

; --- references
(call function: (identifier) @name) @reference.call
(call function: (attribute object: (_) @qualifier attribute: (identifier) @name)) @reference.call
(decorator (identifier) @name) @reference.call
(decorator (attribute object: (_) @qualifier attribute: (identifier) @name)) @reference.call
(decorator (call function: (identifier) @name)) @reference.call
(class_definition superclasses: (argument_list (identifier) @name)) @reference.inheritance
(class_definition
  superclasses: (argument_list (attribute object: (_) @qualifier attribute: (identifier) @name))) @reference.inheritance
(type (identifier) @name) @reference.type
(type (attribute object: (_) @qualifier attribute: (identifier) @name)) @reference.type
(generic_type (identifier) @name) @reference.type
(attribute object: (_) @qualifier attribute: (identifier) @name) @reference.field
(identifier) @name @reference.read

; names that are not uses
(keyword_argument name: (identifier) @ignore)
(global_statement (identifier) @ignore)
(nonlocal_statement (identifier) @ignore)

; --- imports
(import_statement name: (dotted_name) @module) @reference.import
(import_statement
  name: (aliased_import name: (dotted_name) @module alias: (identifier) @alias)) @reference.import
(import_from_statement module_name: (_) @module name: (dotted_name (identifier) @name)) @reference.import
(import_from_statement
  module_name: (_) @module
  name: (aliased_import name: (dotted_name (identifier) @name) alias: (identifier) @alias)) @reference.import
(import_from_statement module_name: (_) @module (wildcard_import) @name) @reference.import
(future_import_statement) @reference.import
