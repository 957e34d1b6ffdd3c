; Java tags: definitions, references and imports for maestro's code graph.
; Captures: see crates/graph/src/extract.rs. Members belong to the type whose body holds them.

; --- definitions
(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.struct
(enum_constant name: (identifier) @name) @definition.enum_member
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(field_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.field
(constant_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.constant

; --- references
(method_invocation !object name: (identifier) @name) @reference.call
(method_invocation object: (_) @qualifier name: (identifier) @name) @reference.call
(object_creation_expression type: (type_identifier) @name) @reference.call
(object_creation_expression
  type: (scoped_type_identifier (_) @qualifier . (type_identifier) @name)) @reference.call
(object_creation_expression
  type: (generic_type (type_identifier) @name)) @reference.call
(superclass (type_identifier) @name) @reference.inheritance
(superclass (generic_type (type_identifier) @name)) @reference.inheritance
(super_interfaces (type_list (type_identifier) @name)) @reference.implementation
(super_interfaces (type_list (generic_type (type_identifier) @name))) @reference.implementation
(extends_interfaces (type_list (type_identifier) @name)) @reference.inheritance
(extends_interfaces (type_list (generic_type (type_identifier) @name))) @reference.inheritance
(type_identifier) @name @reference.type
(field_access object: (_) @qualifier field: (identifier) @name) @reference.field
(identifier) @name @reference.read

; names that are not uses
(labeled_statement (identifier) @ignore)
(break_statement (identifier) @ignore)
(continue_statement (identifier) @ignore)
(annotation_argument_list (element_value_pair key: (identifier) @ignore))
(package_declaration (_) @ignore)

; --- imports: `import a.b.C;` binds C from package a.b; `import a.b.*;` brings in a.b
(import_declaration (scoped_identifier scope: (_) @module name: (identifier) @name) .) @reference.import
(import_declaration (scoped_identifier) @module (asterisk) @name) @reference.import
