; TypeScript tags: definitions, references and imports for maestro's code graph. TSX uses these
; patterns plus grammars/jsx/tags.scm. Captures: see crates/graph/src/extract.rs.

; --- definitions
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function
(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(enum_body (property_identifier) @name @definition.enum_member)
(enum_assignment name: (property_identifier) @name) @definition.enum_member
(module name: (identifier) @name) @definition.module
(internal_module name: (identifier) @name) @definition.module
(method_definition name: (property_identifier) @name) @definition.method
(method_signature name: (property_identifier) @name) @definition.method
(abstract_method_signature name: (property_identifier) @name) @definition.method
(public_field_definition name: (property_identifier) @name) @definition.field
(property_signature name: (property_identifier) @name) @definition.field
(required_parameter (accessibility_modifier) pattern: (identifier) @name) @definition.field

; top-level variables, and functions bound to them
(program (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable))
(program (export_statement (lexical_declaration (variable_declarator name: (identifier) @name) @definition.variable)))
(program (export_statement (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable)))
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @definition.function
(ambient_declaration (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable))

; --- references
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.call
(new_expression constructor: (identifier) @name) @reference.call
(new_expression constructor: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.call
(decorator (identifier) @name) @reference.call
(decorator (call_expression function: (identifier) @name)) @reference.call
(extends_clause value: (identifier) @name) @reference.inheritance
(extends_clause value: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.inheritance
(extends_type_clause (type_identifier) @name) @reference.inheritance
(implements_clause (type_identifier) @name) @reference.implementation
(implements_clause (generic_type name: (type_identifier) @name)) @reference.implementation
(nested_type_identifier module: (_) @qualifier name: (type_identifier) @name) @reference.type
(type_identifier) @name @reference.type
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
(import_statement
  (import_require_clause (identifier) @alias source: (string (string_fragment) @module))) @reference.import
(export_statement
  (export_clause (export_specifier name: (identifier) @name))
  source: (string (string_fragment) @module)) @reference.import
