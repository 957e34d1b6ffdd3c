; Python local scopes: functions, lambdas and comprehensions. Module- and class-level names are
; symbols, not locals.

(function_definition) @local.scope
(lambda) @local.scope
(list_comprehension) @local.scope
(set_comprehension) @local.scope
(dictionary_comprehension) @local.scope
(generator_expression) @local.scope

(parameters (identifier) @local.definition)
(default_parameter name: (identifier) @local.definition)
(typed_parameter (identifier) @local.definition)
(typed_default_parameter name: (identifier) @local.definition)
(list_splat_pattern (identifier) @local.definition)
(dictionary_splat_pattern (identifier) @local.definition)
(lambda_parameters (identifier) @local.definition)

(assignment left: (identifier) @local.definition)
(assignment left: (pattern_list (identifier) @local.definition))
(assignment left: (tuple_pattern (identifier) @local.definition))
(assignment left: (list_pattern (identifier) @local.definition))
(augmented_assignment left: (identifier) @local.definition)
(named_expression name: (identifier) @local.definition)
(for_statement left: (identifier) @local.definition)
(for_statement left: (pattern_list (identifier) @local.definition))
(for_statement left: (tuple_pattern (identifier) @local.definition))
(for_in_clause left: (identifier) @local.definition)
(for_in_clause left: (pattern_list (identifier) @local.definition))
(for_in_clause left: (tuple_pattern (identifier) @local.definition))
(as_pattern alias: (as_pattern_target (identifier) @local.definition))
(except_clause (as_pattern alias: (as_pattern_target (identifier) @local.definition)))
(import_statement name: (dotted_name . (identifier) @local.definition))
(import_statement name: (aliased_import alias: (identifier) @local.definition))
(import_from_statement name: (dotted_name (identifier) @local.definition))
(import_from_statement name: (aliased_import alias: (identifier) @local.definition))
