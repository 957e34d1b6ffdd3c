; C local scopes: function bodies, blocks and for statements; parameters and local declarations.
; C++ loads them too, then its own (grammars/cpp).

(function_definition) @local.scope
(compound_statement) @local.scope
(for_statement) @local.scope

(parameter_declaration declarator: (identifier) @local.definition)
(parameter_declaration declarator: (pointer_declarator declarator: (identifier) @local.definition))
(parameter_declaration declarator: (array_declarator declarator: (identifier) @local.definition))
(parameter_declaration
  declarator: (pointer_declarator declarator: (pointer_declarator declarator: (identifier) @local.definition)))
(parameter_declaration
  declarator: (pointer_declarator
    declarator: (pointer_declarator declarator: (pointer_declarator declarator: (identifier) @local.definition))))
(parameter_declaration declarator: (pointer_declarator declarator: (array_declarator declarator: (identifier) @local.definition)))
; `const int* RESTRICT data`, RESTRICT a macro: the parser takes the macro for the name and leaves the
; name in an error after it (extraction makes the macro a use).
(parameter_list (ERROR . (identifier) @local.definition .))
(compound_statement (declaration declarator: (identifier) @local.definition))
(compound_statement (declaration declarator: (init_declarator declarator: (identifier) @local.definition)))
(compound_statement
  (declaration declarator: (init_declarator declarator: (pointer_declarator declarator: (identifier) @local.definition))))
(compound_statement (declaration declarator: (pointer_declarator declarator: (identifier) @local.definition)))
(compound_statement
  (declaration declarator: (pointer_declarator declarator: (pointer_declarator declarator: (identifier) @local.definition))))
(compound_statement
  (declaration
    declarator: (init_declarator
      declarator: (pointer_declarator declarator: (pointer_declarator declarator: (identifier) @local.definition)))))
(compound_statement (declaration declarator: (array_declarator declarator: (identifier) @local.definition)))
(compound_statement
  (declaration declarator: (init_declarator declarator: (array_declarator declarator: (identifier) @local.definition))))
(for_statement initializer: (declaration declarator: (init_declarator declarator: (identifier) @local.definition)))

; Declarations in an `#if` block inside a body (at the top of a file they are globals).
(preproc_ifdef (declaration declarator: (identifier) @local.definition))
(preproc_ifdef (declaration declarator: (init_declarator declarator: (identifier) @local.definition)))
(preproc_if (declaration declarator: (identifier) @local.definition))
(preproc_if (declaration declarator: (init_declarator declarator: (identifier) @local.definition)))
(preproc_else (declaration declarator: (identifier) @local.definition))
(preproc_else (declaration declarator: (init_declarator declarator: (identifier) @local.definition)))
(preproc_elif (declaration declarator: (identifier) @local.definition))
(preproc_elif (declaration declarator: (init_declarator declarator: (identifier) @local.definition)))

; A prototype's parameters are a scope of their own: each names itself, and none leaks into the file.
(declaration declarator: (function_declarator) @local.scope)
(declaration declarator: (pointer_declarator declarator: (function_declarator) @local.scope))

; Labels, the targets of `goto` (forward jumps included: a label is found after its use).
(labeled_statement label: (statement_identifier) @local.definition)
