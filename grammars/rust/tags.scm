; Rust tags: definitions, references and imports for maestro's code graph.
; Captures: see crates/graph/src/extract.rs. A function inside an impl or trait is a method; an
; impl block is a symbol named after its type, holding the methods.

; --- definitions
(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(enum_variant name: (identifier) @name) @definition.enum_member
(trait_item name: (type_identifier) @name) @definition.trait
(type_item name: (type_identifier) @name) @definition.type
(associated_type name: (type_identifier) @name) @definition.type
(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(mod_item name: (identifier) @name) @definition.module
(macro_definition name: (identifier) @name) @definition.macro
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(field_declaration name: (field_identifier) @name) @definition.field
(impl_item
  type: [
    (type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (scoped_type_identifier name: (type_identifier) @name)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
  ]) @definition.impl

; --- references
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression value: (_) @qualifier field: (field_identifier) @name)) @reference.call
(call_expression function: (scoped_identifier path: (_) @qualifier name: (identifier) @name)) @reference.call
(call_expression function: (generic_function function: (identifier) @name)) @reference.call
(call_expression
  function: (generic_function function: (scoped_identifier path: (_) @qualifier name: (identifier) @name))) @reference.call
(call_expression
  function: (generic_function function: (field_expression value: (_) @qualifier field: (field_identifier) @name))) @reference.call
(macro_invocation macro: (identifier) @name) @reference.macro
(macro_invocation macro: (scoped_identifier path: (_) @qualifier name: (identifier) @name)) @reference.macro
(impl_item trait: (type_identifier) @name) @reference.implementation
(impl_item trait: (scoped_type_identifier path: (_) @qualifier name: (type_identifier) @name)) @reference.implementation
(impl_item trait: (generic_type type: (type_identifier) @name)) @reference.implementation
(impl_item
  trait: (generic_type type: (scoped_type_identifier path: (_) @qualifier name: (type_identifier) @name))) @reference.implementation
(scoped_type_identifier path: (_) @qualifier name: (type_identifier) @name) @reference.type
(type_identifier) @name @reference.type
(field_expression value: (_) @qualifier field: (field_identifier) @name) @reference.field
(shorthand_field_initializer (identifier) @name) @reference.read
(field_initializer field: (field_identifier) @name) @reference.field
(scoped_identifier path: (_) @qualifier name: (identifier) @name) @reference.read
(identifier) @name @reference.read

; names that are not uses
(label (identifier) @ignore)
(lifetime (identifier) @ignore)
(macro_definition (macro_rule) @ignore)
((type_identifier) @ignore (#eq? @ignore "Self"))

; --- imports: the use tree is expanded by the extractor
(use_declaration argument: (_) @module) @reference.import
(extern_crate_declaration name: (identifier) @module) @reference.import
