; JavaScript's own local definitions, after grammars/ecmascript/locals.scm.

(formal_parameters (identifier) @local.definition)
