; C tags: definitions, references and includes for maestro's code graph. C++ loads them too, then
; its own (grammars/cpp): every pattern here must be valid in both grammars.
; Captures: see crates/graph/src/extract.rs. Function definitions (bodies) are definitions; a
; prototype is not, so a call goes to the body.

; --- definitions
(function_definition declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))) @definition.function
(function_definition
  declarator: (pointer_declarator
    declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))) @definition.function
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(union_specifier name: (type_identifier) @name body: (_)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum
(enumerator name: (identifier) @name) @definition.enum_member
(type_definition declarator: (type_identifier) @name) @definition.type
(type_definition declarator: (pointer_declarator declarator: (type_identifier) @name)) @definition.type
(type_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))) @definition.type
; ... of a function that returns a pointer: `typedef void* (*alloc_func)(size_t)`
(type_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name))))) @definition.type
(type_definition
  declarator: (pointer_declarator
    declarator: (pointer_declarator
      declarator: (function_declarator
        declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))))) @definition.type
(field_declaration declarator: (field_identifier) @name) @definition.field
(field_declaration declarator: (pointer_declarator declarator: (field_identifier) @name)) @definition.field
(field_declaration declarator: (array_declarator declarator: (field_identifier) @name)) @definition.field
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro
; Globals: declarations outside functions (at the top, in `#if` blocks such as a header's include
; guard, in `extern "C" { }` and C++ namespaces). Those inside a function body, `extern`
; declarations and misparsed macro prototypes are left out in extraction (`c_global_definition`).
(declaration declarator: (identifier) @name) @definition.variable
(declaration declarator: (init_declarator declarator: (identifier) @name)) @definition.variable
(declaration
  declarator: (init_declarator declarator: (pointer_declarator declarator: (identifier) @name))) @definition.variable
(declaration declarator: (array_declarator declarator: (identifier) @name)) @definition.variable
(declaration
  declarator: (init_declarator declarator: (array_declarator declarator: (identifier) @name))) @definition.variable

; --- references
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression argument: (_) @qualifier field: (field_identifier) @name)) @reference.call
(field_expression argument: (_) @qualifier field: (field_identifier) @name) @reference.field
(type_identifier) @name @reference.type
(identifier) @name @reference.read
; `#undef X` (the parser keeps X as the directive's text)
((preproc_call directive: (preproc_directive) @_directive argument: (preproc_arg) @name) @reference.read
  (#eq? @_directive "#undef"))

; names that are not uses
(preproc_params (identifier) @ignore)

; a macro's replacement text has no tree: its identifiers are read in extraction
(preproc_def value: (preproc_arg) @macro.body)
(preproc_function_def value: (preproc_arg) @macro.body)

; --- includes of the project's headers (`<...>` are the system's)
(preproc_include path: (string_literal) @module) @reference.import
