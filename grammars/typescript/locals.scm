; TypeScript's own local scopes and definitions (also TSX's), after grammars/ecmascript/locals.scm.

(class_declaration) @local.scope
(abstract_class_declaration) @local.scope
(interface_declaration) @local.scope
(type_alias_declaration) @local.scope
(function_signature) @local.scope
(method_signature) @local.scope
(function_type) @local.scope

(required_parameter pattern: (identifier) @local.definition)
(optional_parameter pattern: (identifier) @local.definition)
(type_parameter name: (type_identifier) @local.definition)
