; Ruby local scopes: methods (which see no outer locals), blocks and lambdas (which do); parameters
; and assigned names.

(method) @local.scope
(singleton_method) @local.scope
(lambda) @local.scope
(block) @local.scope
(do_block) @local.scope

(method_parameters (identifier) @local.definition)
(lambda_parameters (identifier) @local.definition)
(block_parameters (identifier) @local.definition)
(block_parameter (identifier) @local.definition)
(splat_parameter (identifier) @local.definition)
(hash_splat_parameter (identifier) @local.definition)
(destructured_parameter (identifier) @local.definition)
(keyword_parameter name: (identifier) @local.definition)
(optional_parameter name: (identifier) @local.definition)
(assignment left: (identifier) @local.definition)
(operator_assignment left: (identifier) @local.definition)
(left_assignment_list (identifier) @local.definition)
