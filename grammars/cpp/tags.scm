; C++ tags, loaded after C's (grammars/c): classes, namespaces, methods in and out of their class,
; constructors' and destructors' names, aliases; qualified and template calls, new, base classes.

; --- definitions
(class_specifier name: (type_identifier) @name body: (_)) @definition.class
(namespace_definition name: (namespace_identifier) @name) @definition.module
(alias_declaration name: (type_identifier) @name) @definition.type
(function_definition declarator: (function_declarator declarator: (field_identifier) @name)) @definition.method
(function_definition declarator: (function_declarator declarator: (destructor_name) @name)) @definition.method
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier scope: (namespace_identifier) @receiver name: (identifier) @name))) @definition.method
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier scope: (namespace_identifier) @receiver name: (destructor_name) @name))) @definition.method
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (qualified_identifier scope: (namespace_identifier) @receiver name: (identifier) @name)))) @definition.method
(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: (qualified_identifier scope: (namespace_identifier) @receiver name: (identifier) @name)))) @definition.method

; --- references
(call_expression function: (qualified_identifier scope: (_) @qualifier name: (identifier) @name)) @reference.call
(call_expression function: (template_function name: (identifier) @name)) @reference.call
(call_expression
  function: (qualified_identifier scope: (_) @qualifier name: (template_function name: (identifier) @name))) @reference.call
(new_expression type: (type_identifier) @name) @reference.call
(new_expression type: (qualified_identifier scope: (_) @qualifier name: (type_identifier) @name)) @reference.call
(base_class_clause (type_identifier) @name) @reference.inheritance
(base_class_clause (qualified_identifier scope: (_) @qualifier name: (type_identifier) @name)) @reference.inheritance
(base_class_clause (template_type name: (type_identifier) @name)) @reference.inheritance
(qualified_identifier scope: (namespace_identifier) @qualifier name: (identifier) @name) @reference.read
(template_type name: (type_identifier) @name) @reference.type

; names that are not uses: a destructor's class name
(destructor_name (identifier) @ignore)
