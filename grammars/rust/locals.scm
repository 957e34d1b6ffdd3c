; Rust local scopes: functions, closures, blocks and the constructs that bind patterns.

(function_item) @local.scope
(function_signature_item) @local.scope
(impl_item) @local.scope
(struct_item) @local.scope
(enum_item) @local.scope
(trait_item) @local.scope
(type_item) @local.scope
(closure_expression) @local.scope
(block) @local.scope
(for_expression) @local.scope
(match_arm) @local.scope
(if_expression) @local.scope
(while_expression) @local.scope

(parameter pattern: (identifier) @local.definition)
(closure_parameters (identifier) @local.definition)
(let_declaration pattern: (identifier) @local.definition)
(let_condition pattern: (_ (identifier) @local.definition))
(for_expression pattern: (identifier) @local.definition)
(tuple_pattern (identifier) @local.definition)
(tuple_struct_pattern (identifier) @local.definition)
(slice_pattern (identifier) @local.definition)
(field_pattern name: (shorthand_field_identifier) @local.definition)
(field_pattern pattern: (identifier) @local.definition)
(ref_pattern (identifier) @local.definition)
(mut_pattern (identifier) @local.definition)
(captured_pattern (identifier) @local.definition)
(match_pattern (identifier) @local.definition)
(or_pattern (identifier) @local.definition)
(type_parameter name: (type_identifier) @local.definition)
(const_parameter name: (identifier) @local.definition)
