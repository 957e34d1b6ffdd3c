; Go tags: definitions, references and imports for maestro's code graph.
; Captures: see crates/graph/src/extract.rs. A method's owner is its receiver's type (@receiver).

; --- definitions
(function_declaration name: (identifier) @name) @definition.function
(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @receiver
        (pointer_type (type_identifier) @receiver)
        (generic_type type: (type_identifier) @receiver)
        (pointer_type (generic_type type: (type_identifier) @receiver))
      ]))
  name: (field_identifier) @name) @definition.method
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name) @definition.type
(type_alias name: (type_identifier) @name) @definition.type
(field_declaration name: (field_identifier) @name) @definition.field
(method_elem name: (field_identifier) @name) @definition.method
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))

; --- references
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (selector_expression operand: (_) @qualifier field: (field_identifier) @name)) @reference.call
(call_expression function: (parenthesized_expression (identifier) @name)) @reference.call
(qualified_type package: (package_identifier) @qualifier name: (type_identifier) @name) @reference.type
(type_identifier) @name @reference.type
(selector_expression operand: (_) @qualifier field: (field_identifier) @name) @reference.field
(keyed_element key: (literal_element (identifier) @name)) @reference.field
(identifier) @name @reference.read

; names that are not uses
(label_name) @ignore

; --- imports
(import_spec name: (package_identifier) @alias path: (_) @module) @reference.import
(import_spec name: (dot) path: (_) @module) @reference.import
(import_spec !name path: (_) @module) @reference.import
