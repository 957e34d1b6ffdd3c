; C# local scopes: method, constructor and local function bodies, lambdas, blocks, loops and
; catch clauses; parameters and local variables.

(method_declaration) @local.scope
(constructor_declaration) @local.scope
(local_function_statement) @local.scope
(lambda_expression) @local.scope
(block) @local.scope
(for_statement) @local.scope
(foreach_statement) @local.scope
(catch_clause) @local.scope

(parameter name: (identifier) @local.definition)
(implicit_parameter) @local.definition
(local_declaration_statement (variable_declaration (variable_declarator name: (identifier) @local.definition)))
(for_statement initializer: (variable_declaration (variable_declarator name: (identifier) @local.definition)))
(foreach_statement left: (identifier) @local.definition)
(catch_declaration name: (identifier) @local.definition)
