; C# tags: definitions, references and usings for maestro's code graph.
; Captures: see crates/graph/src/extract.rs. C# names types with plain identifiers, so a type used
; is a read of its name.

; --- definitions
(namespace_declaration name: (_) @name) @definition.module
(file_scoped_namespace_declaration name: (_) @name) @definition.module
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(enum_member_declaration name: (identifier) @name) @definition.enum_member
(delegate_declaration name: (identifier) @name) @definition.type
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(local_function_statement name: (identifier) @name) @definition.function
(property_declaration name: (identifier) @name) @definition.field
(field_declaration (variable_declaration (variable_declarator name: (identifier) @name))) @definition.field
(event_field_declaration (variable_declaration (variable_declarator name: (identifier) @name))) @definition.field

; --- references
(invocation_expression function: (identifier) @name) @reference.call
(invocation_expression function: (generic_name (identifier) @name)) @reference.call
(invocation_expression
  function: (member_access_expression expression: (_) @qualifier name: (identifier) @name)) @reference.call
(invocation_expression
  function: (member_access_expression expression: (_) @qualifier name: (generic_name (identifier) @name))) @reference.call
(object_creation_expression type: (identifier) @name) @reference.call
(object_creation_expression type: (generic_name (identifier) @name)) @reference.call
(object_creation_expression type: (qualified_name qualifier: (_) @qualifier name: (identifier) @name)) @reference.call
(base_list (identifier) @name) @reference.inheritance
(base_list (generic_name (identifier) @name)) @reference.inheritance
(base_list (qualified_name qualifier: (_) @qualifier name: (identifier) @name)) @reference.inheritance
(member_access_expression expression: (_) @qualifier name: (identifier) @name) @reference.field
(identifier) @name @reference.read

; names that are not uses
(namespace_declaration name: (qualified_name) @ignore)
(file_scoped_namespace_declaration name: (qualified_name) @ignore)
(argument name: (identifier) @ignore)

; --- usings: `using A.B;` brings in a namespace, `using X = A.B;` names it
(using_directive !name (qualified_name) @module) @reference.import
(using_directive !name (identifier) @module) @reference.import
(using_directive name: (identifier) @alias (qualified_name) @module) @reference.import
