; Ruby tags: definitions, references and requires for maestro's code graph.
; Captures: see crates/graph/src/extract.rs. A bare name that is not a local variable is a method
; call (Ruby needs no parentheses), so it is captured as a call.

; --- definitions
(class name: (constant) @name) @definition.class
(class name: (scope_resolution name: (constant) @name)) @definition.class
; A module holds methods as a class does (`Utils.escape_html`, mixins): it is recorded as a class,
; so that its methods have it as their owner.
(module name: (constant) @name) @definition.class
(module name: (scope_resolution name: (constant) @name)) @definition.class
; A `def` is a function; inside a class or module (however deep in its `if`s) it is a method of it.
(method name: (_) @name) @definition.function
(singleton_method name: (_) @name) @definition.function
(alias name: (_) @name) @definition.function
(assignment left: (constant) @name) @definition.constant

; --- references
(call receiver: (_) @qualifier method: (identifier) @name) @reference.call
(call !receiver method: (identifier) @name) @reference.call
(superclass (constant) @name) @reference.inheritance
(superclass (scope_resolution scope: (_) @qualifier name: (constant) @name)) @reference.inheritance
(scope_resolution scope: (_) @qualifier name: (constant) @name) @reference.type
(constant) @name @reference.type
(identifier) @name @reference.call

; --- requires
((call
   !receiver
   method: (identifier) @_require
   arguments: (argument_list . (string (string_content) @module))) @reference.import
 (#any-of? @_require "require" "require_relative"))
