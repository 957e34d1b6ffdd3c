; Go local scopes: function bodies, literals and the statements that declare variables.

(function_declaration) @local.scope
(method_declaration) @local.scope
(func_literal) @local.scope
(method_elem) @local.scope
(function_type) @local.scope
(block) @local.scope
(for_statement) @local.scope
(if_statement) @local.scope
(expression_switch_statement) @local.scope
(type_switch_statement) @local.scope
(select_statement) @local.scope

(parameter_declaration name: (identifier) @local.definition)
(variadic_parameter_declaration name: (identifier) @local.definition)
(short_var_declaration left: (expression_list (identifier) @local.definition))
(var_spec name: (identifier) @local.definition)
(const_spec name: (identifier) @local.definition)
(range_clause left: (expression_list (identifier) @local.definition))
(type_switch_statement alias: (expression_list (identifier) @local.definition))
(receive_statement left: (expression_list (identifier) @local.definition))
(type_parameter_declaration name: (identifier) @local.definition)
