; C++ local scopes and names, beyond C's (grammars/c): lambdas, range-for loops, catch clauses;
; references and defaulted parameters.

(lambda_expression) @local.scope
(for_range_loop) @local.scope
(catch_clause) @local.scope

(for_range_loop declarator: (identifier) @local.definition)
(for_range_loop declarator: (reference_declarator (identifier) @local.definition))
(optional_parameter_declaration declarator: (identifier) @local.definition)
(parameter_declaration declarator: (reference_declarator (identifier) @local.definition))
(compound_statement (declaration declarator: (init_declarator declarator: (reference_declarator (identifier) @local.definition))))
