; TypeScript's own tags, after grammars/ecmascript/tags.scm (TSX adds grammars/jsx/tags.scm).
; Captures: see crates/graph/src/extract.rs.

; --- definitions
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
(method_signature name: (property_identifier) @name) @definition.method
(abstract_method_signature name: (property_identifier) @name) @definition.method
(public_field_definition name: (property_identifier) @name) @definition.field
(property_signature name: (property_identifier) @name) @definition.field
(required_parameter (accessibility_modifier) pattern: (identifier) @name) @definition.field
(ambient_declaration (variable_declaration (variable_declarator name: (identifier) @name) @definition.variable))

; --- references
(decorator (identifier) @name) @reference.call
(decorator (call_expression function: (identifier) @name)) @reference.call
(extends_clause value: (identifier) @name) @reference.inheritance
(extends_clause value: (member_expression object: (_) @qualifier property: (property_identifier) @name)) @reference.inheritance
(extends_type_clause (type_identifier) @name) @reference.inheritance
(implements_clause (type_identifier) @name) @reference.implementation
(implements_clause (generic_type name: (type_identifier) @name)) @reference.implementation
(nested_type_identifier module: (_) @qualifier name: (type_identifier) @name) @reference.type
(type_identifier) @name @reference.type

; --- imports
(import_statement
  (import_require_clause (identifier) @alias source: (string (string_fragment) @module))) @reference.import
