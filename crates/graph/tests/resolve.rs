//! Resolution and queries over small multi-file workspaces. `$0` marks the cursor; answers print as
//! `path:line:col` (1-based).

use maestro_graph::query::Current;
use maestro_graph::resolve::{FileRef, Overlay, View};
use maestro_graph::{
    FileMeta, Lang, Location, WorkspaceGraph, analyze, content_hash, extract, parse,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Fixture {
    ws: WorkspaceGraph,
    cursor_file: PathBuf,
    cursor_text: String,
    cursor: usize,
}

fn fixture(files: &[(&str, &str)]) -> Fixture {
    let mut ws = WorkspaceGraph::new(PathBuf::from("/ws"));
    let mut cursor = None;
    for (path, text) in files {
        let clean = text.replace("$0", "");
        if let Some(at) = text.find("$0") {
            cursor = Some((PathBuf::from(path), clean.clone(), at));
        }
        let lang = Lang::of_path(Path::new(path)).expect("a known language");
        let facts = extract(lang, clean.as_bytes());
        ws.upsert(
            PathBuf::from(path),
            content_hash(lang, clean.as_bytes()),
            FileMeta::default(),
            Arc::new(facts),
        );
    }
    let (cursor_file, cursor_text, cursor) = cursor.expect("a $0 cursor in one file");
    Fixture {
        ws,
        cursor_file,
        cursor_text,
        cursor,
    }
}

impl Fixture {
    /// Runs `f` with the cursor file parsed as an overlay (as an open editor buffer).
    fn with<T>(&self, f: impl FnOnce(&View<'_>, &Current<'_>) -> T) -> T {
        let lang = Lang::of_path(&self.cursor_file).unwrap();
        let tree = parse(lang, self.cursor_text.as_bytes(), None).unwrap();
        let analysis = analyze(lang, &tree, self.cursor_text.as_bytes());
        let overlays = vec![Overlay {
            path: self.cursor_file.clone(),
            facts: analysis.facts.clone(),
        }];
        let view = View::new(&self.ws, &overlays);
        let cur = Current {
            file: FileRef::Overlay(0),
            tree: &tree,
            src: self.cursor_text.as_bytes(),
            analysis: &analysis,
        };
        f(&view, &cur)
    }

    fn show(&self, view: &View<'_>, locs: &[Location]) -> Vec<String> {
        locs.iter()
            .map(|l| {
                format!(
                    "{}:{}:{}",
                    view.path(l.file).display(),
                    l.span.start.line + 1,
                    l.span.start.col + 1
                )
            })
            .collect()
    }

    fn definition(&self) -> Vec<String> {
        self.with(|v, c| self.show(v, &v.definition(c, self.cursor)))
    }

    fn references(&self, include_declaration: bool) -> Vec<String> {
        self.with(|v, c| self.show(v, &v.references(c, self.cursor, include_declaration)))
    }
}

fn def(files: &[(&str, &str)]) -> Vec<String> {
    fixture(files).definition()
}

#[test]
fn python_same_file_local_and_imported_names() {
    let lib = (
        "pkg/mod.py",
        "def helper(x):\n    return x\n\nclass Base:\n    def shared(self):\n        pass\n",
    );
    assert_eq!(
        def(&[
            lib,
            (
                "app.py",
                "from pkg.mod import helper\n\ndef run():\n    return hel$0per(1)\n"
            )
        ]),
        ["pkg/mod.py:1:5"]
    );
    assert_eq!(
        def(&[
            lib,
            (
                "app.py",
                "import pkg.mod as m\n\ndef run():\n    return m.hel$0per(1)\n"
            )
        ]),
        ["pkg/mod.py:1:5"]
    );
    assert_eq!(
        def(&[("a.py", "def f():\n    total = 1\n    return tot$0al\n")]),
        ["a.py:2:5"]
    );
    assert_eq!(
        def(&[("a.py", "def g():\n    pass\n\ndef f():\n    g$0()\n")]),
        ["a.py:1:5"]
    );
    // A local shadows the module-level function of the same name.
    assert_eq!(
        def(&[("a.py", "def g():\n    pass\n\ndef f(g):\n    g$0()\n")]),
        ["a.py:4:7"]
    );
}

#[test]
fn python_self_methods_fields_and_inherited_members() {
    let base = (
        "pkg/base.py",
        "class Base:\n    def shared(self):\n        pass\n",
    );
    let app = "from pkg.base import Base\n\nclass App(Base):\n    def __init__(self):\n        self.count = 0\n\n    def run(self):\n        self.sha$0red()\n        return self.count\n";
    assert_eq!(def(&[base, ("app.py", app)]), ["pkg/base.py:2:9"]);
    let app = app
        .replace("self.sha$0red()", "self.shared()")
        .replace("self.count\n", "self.cou$0nt\n");
    assert_eq!(def(&[base, ("app.py", &app)]), ["app.py:5:14"]);
}

#[test]
fn python_unknown_receivers_find_the_member_nearest_first() {
    let files = [
        (
            "shop/cart.py",
            "class Cart:\n    def add(self, item):\n        pass\n",
        ),
        (
            "other/list.py",
            "class Things:\n    def add(self, x):\n        pass\n",
        ),
        (
            "shop/use.py",
            "from shop.cart import Cart\n\ndef fill(c):\n    c.ad$0d(1)\n",
        ),
    ];
    assert_eq!(
        def(&files),
        ["shop/cart.py:2:9"],
        "the member in an imported module wins"
    );
}

#[test]
fn python_relative_imports_and_packages() {
    let files = [
        ("pkg/__init__.py", "from .core import engine\n"),
        ("pkg/core.py", "def engine():\n    pass\n"),
        (
            "pkg/sub/use.py",
            "from ..core import engine\n\nengi$0ne()\n",
        ),
    ];
    assert_eq!(def(&files), ["pkg/core.py:1:5"]);
    let files = [
        ("json/__init__.py", "def dumps(o):\n    pass\n"),
        ("app.py", "import json\n\njson.dum$0ps(1)\n"),
    ];
    assert_eq!(def(&files), ["json/__init__.py:1:5"]);
}

#[test]
fn rust_paths_impls_and_variants() {
    let store = (
        "src/store.rs",
        "pub struct Store;\nimpl Store {\n    pub fn open() -> Self { Store }\n    fn close(&self) {}\n}\n",
    );
    let util = ("src/util.rs", "pub fn helper() {}\n");
    let main = "use crate::store::Store;\nmod util;\nenum Shape { Circle(f64) }\nfn main() {\n    let s = Store::op$0en();\n    crate::util::helper();\n    Shape::Circle(1.0);\n}\n";
    assert_eq!(
        def(&[store, util, ("src/main.rs", main)]),
        ["src/store.rs:3:12"]
    );
    let m = main
        .replace("Store::op$0en()", "Store::open()")
        .replace("crate::util::helper()", "crate::util::hel$0per()");
    assert_eq!(
        def(&[store, util, ("src/main.rs", &m)]),
        ["src/util.rs:1:8"]
    );
    let m = main
        .replace("Store::op$0en()", "Store::open()")
        .replace("Shape::Circle(1.0)", "Shape::Cir$0cle(1.0)");
    assert_eq!(
        def(&[store, util, ("src/main.rs", &m)]),
        ["src/main.rs:3:14"]
    );
    let s = store.1.replace(
        "fn close(&self) {}",
        "fn close(&self) { self.flu$0sh(); }\n    fn flush(&self) {}",
    );
    assert_eq!(def(&[("src/store.rs", &s)]), ["src/store.rs:5:8"]);
}

#[test]
fn go_packages_and_methods() {
    let files = [
        (
            "pkg/cart/cart.go",
            "package cart\n\ntype Cart struct{}\n\nfunc New() *Cart { return &Cart{} }\n\nfunc (c *Cart) Add(n int) {}\n",
        ),
        (
            "pkg/cart/extra.go",
            "package cart\n\nfunc (c *Cart) Clear() { c.Add(0) }\n",
        ),
        (
            "cmd/main.go",
            "package main\n\nimport \"example.com/shop/pkg/cart\"\n\nfunc main() {\n\tc := cart.Ne$0w()\n\tc.Add(1)\n}\n",
        ),
    ];
    assert_eq!(def(&files), ["pkg/cart/cart.go:5:6"]);
    let main = files[2]
        .1
        .replace("cart.Ne$0w()", "cart.New()")
        .replace("c.Add(1)", "c.Ad$0d(1)");
    assert_eq!(
        def(&[files[0], files[1], ("cmd/main.go", &main)]),
        ["pkg/cart/cart.go:7:16"]
    );
}

#[test]
fn java_imports_packages_and_members() {
    let item = (
        "src/main/java/com/shop/model/Item.java",
        "package com.shop.model;\n\npublic class Item {\n    public int price() { return 1; }\n}\n",
    );
    let rates = (
        "src/main/java/com/shop/model/Rates.java",
        "package com.shop.model;\n\npublic class Rates {\n    static int of(Item i) { return i.price(); }\n}\n",
    );
    let helper = (
        "src/main/java/com/shop/cart/Helper.java",
        "package com.shop.cart;\n\nclass Helper {\n    static int twice(int x) { return 2 * x; }\n}\n",
    );
    let cart = |body: &str| {
        format!(
            "package com.shop.cart;\n\nimport com.shop.model.Item;\nimport com.shop.model.*;\n\nclass Cart {{\n    int sum;\n    int add(Item item) {{\n        {body}\n    }}\n}}\n"
        )
    };
    let at = |body: &str| {
        let text = cart(body);
        def(&[
            item,
            rates,
            helper,
            ("src/main/java/com/shop/cart/Cart.java", &text),
        ])
    };
    // An imported class, from a package under a source root.
    assert_eq!(
        at("It$0em other = item; return 0;"),
        ["src/main/java/com/shop/model/Item.java:3:14"]
    );
    // A class of the same package, without an import.
    assert_eq!(
        at("return Hel$0per.twice(1);"),
        ["src/main/java/com/shop/cart/Helper.java:3:7"]
    );
    // A member through a typed parameter, and a field of the enclosing class used bare.
    assert_eq!(
        at("return item.pri$0ce();"),
        ["src/main/java/com/shop/model/Item.java:4:16"]
    );
    assert_eq!(
        at("return su$0m;"),
        ["src/main/java/com/shop/cart/Cart.java:7:9"]
    );
    // After `this.` the name is the field, never a local of the same name.
    assert_eq!(
        at("int sum = 2; this.su$0m = sum; return sum;"),
        ["src/main/java/com/shop/cart/Cart.java:7:9"]
    );
    // A class of a package imported with `*`.
    assert_eq!(
        at("return Ra$0tes.of(item);"),
        ["src/main/java/com/shop/model/Rates.java:3:14"]
    );
}

#[test]
fn c_names_are_global_nearest_first() {
    let list_h = (
        "src/list.h",
        "typedef struct node { int v; } node_t;\nnode_t *push(node_t *h);\n",
    );
    let list_c = (
        "src/list.c",
        "#include \"list.h\"\n\nnode_t *push(node_t *h) { return h; }\n",
    );
    let other = ("tools/push.c", "int push(int x) { return x; }\n");
    let main = |body: &str| {
        format!("#include \"list.h\"\n\nint main(void) {{\n    {body}\n    return 0;\n}}\n")
    };
    let at = |body: &str| def(&[list_h, list_c, other, ("src/main.c", &main(body))]);
    // A function defined in another file: the body, not the prototype, and the one of the same
    // directory first.
    assert_eq!(at("pu$0sh(0);"), ["src/list.c:3:9"]);
    // A type from the included header, and a field through it.
    assert_eq!(at("node_$0t *n = 0;"), ["src/list.h:1:32"]);
    assert_eq!(
        at("node_t *n = 0; n->$0v = 1;").len(),
        1,
        "the field of the header's struct"
    );
    // A local array with an initializer.
    assert_eq!(
        at("static const int counts[3] = {0}; return cou$0nts[1];"),
        ["src/main.c:4:22"]
    );
}

/// A name in a macro's replacement text (no tree of its own) goes to its definition; the
/// macro's parameter there does not.
#[test]
fn c_names_in_macro_bodies() {
    let log_c = ("src/log.c", "void log_line(int level, const char *m) {}\n");
    let at = |body: &str| def(&[log_c, ("src/main.c", body)]);
    assert_eq!(
        at("#define LEVEL 3\n#define LOG(m) log_$0line(LEVEL, m)\n"),
        ["src/log.c:1:6"]
    );
    assert_eq!(
        at("#define LEVEL 3\n#define LOG(m) log_line(LEV$0EL, m)\n"),
        ["src/main.c:1:9"]
    );
    assert!(at("#define LOG(m) log_line(3, $0m)\n").is_empty());
}

#[test]
fn c_enum_constants_typedefs_and_globals_of_other_files() {
    let state_h = (
        "dec/state.h",
        "typedef enum {\n  STATE_NONE,\n  STATE_LONG\n} State;\ntypedef void (*free_func)(void* p);\nstruct reader { int symbol; };\n",
    );
    let decode = |body: &str| {
        format!(
            "#include \"state.h\"\n\nstatic const int kOrder[3] = {{1, 2, 3}};\nenum {{ LOCAL_A, LOCAL_B }};\nint run(struct reader* h, int s) {{\n    {body}\n    return 0;\n}}\n"
        )
    };
    let at = |body: &str| def(&[state_h, ("dec/decode.c", &decode(body))]);
    // An enumerator of an anonymous enum in a typedef, used in the including file.
    assert_eq!(
        at("switch (s) { case STATE_$0LONG: break; }"),
        ["dec/state.h:3:3"]
    );
    // ... and of an enum of the same file.
    assert_eq!(at("s = LOCAL_$0B;"), ["dec/decode.c:4:17"]);
    // A typedef of a function pointer.
    assert_eq!(at("free_f$0unc f = 0;"), ["dec/state.h:5:16"]);
    // A file's static array.
    assert_eq!(at("int c = kOr$0der[0];"), ["dec/decode.c:3:18"]);
    // A field read after `->` is the struct's field, not the local of the same name.
    assert_eq!(at("int symbol = h->sym$0bol;"), ["dec/state.h:6:21"]);
    // A label, before or after its `goto`.
    assert_eq!(at("goto do$0ne;\n    done: s = 0;"), ["dec/decode.c:7:5"]);
    assert_eq!(
        at("again: s--;\n    if (s) goto aga$0in;"),
        ["dec/decode.c:6:5"]
    );
}

#[test]
fn c_includes_lead_to_the_header_the_neighbour_first() {
    let files = |main: &str| {
        def(&[
            ("include/brotli/types.h", "typedef int brotli_bool;\n"),
            ("common/types.h", "typedef int local_bool;\n"),
            ("common/dict.h", "int dict(void);\n"),
            ("common/dict.c", main),
        ])
    };
    assert_eq!(files("#include \"di$0ct.h\"\n"), ["common/dict.h:1:1"]);
    // A `<...>` include is a header of the workspace when one ends with its path.
    assert_eq!(
        files("#include <brotli/ty$0pes.h>\n"),
        ["include/brotli/types.h:1:1"]
    );
    assert_eq!(files("#include \"typ$0es.h\"\n"), ["common/types.h:1:1"]);
    // One the workspace does not have is nothing.
    assert!(files("#include <std$0io.h>\n").is_empty());
}

#[test]
fn c_a_type_named_by_a_typedef_and_a_tag_is_the_typedef_unless_the_tag_is_written() {
    let header = (
        "enc/memory.h",
        "typedef struct MemoryManager {\n  int size;\n} MemoryManager;\ntypedef enum Mode { FAST } Mode;\n",
    );
    let at = |body: &str| {
        def(&[
            header,
            (
                "enc/encode.c",
                &format!("#include \"memory.h\"\nvoid run(void) {{\n  {body}\n}}\n"),
            ),
        ])
    };
    assert_eq!(at("MemoryMan$0ager* m = 0;"), ["enc/memory.h:3:3"]);
    assert_eq!(at("struct MemoryMan$0ager* m = 0;"), ["enc/memory.h:1:16"]);
    assert_eq!(at("Mo$0de m = FAST;"), ["enc/memory.h:4:28"]);
    assert_eq!(at("enum Mo$0de m = FAST;"), ["enc/memory.h:4:14"]);
}

#[test]
fn c_globals_inside_include_guards_and_extern_c_blocks() {
    let header = (
        "enc/hash.h",
        "#ifndef HASH_H_\n#define HASH_H_\n#if defined(__cplusplus)\nextern \"C\" {\n#endif\n\
         static const unsigned kHashMul32 = 0x1E35A7BD;\nextern int kLimit;\n\
         API_INTERNAL BOOL_T Warmup(int* br);\n#if defined(__cplusplus)\n}\n#endif\n#endif\n",
    );
    let types = ("include/types.h", "#define BOOL_T int\n");
    let source = |body: &str| {
        format!(
            "#include \"hash.h\"\nint kLimit = 3;\nint run(int s) {{\n#ifdef FAST\n  int local = 1;\n#endif\n  {body}\n}}\n"
        )
    };
    let at = |body: &str| def(&[header, types, ("enc/encode.c", &source(body))]);
    // A constant of a header, inside its include guard and `extern "C"` block.
    assert_eq!(at("return kHash$0Mul32;"), ["enc/hash.h:6:23"]);
    // An `extern` declaration is not the definition.
    assert_eq!(at("return kLim$0it;"), ["enc/encode.c:2:5"]);
    // A local under `#ifdef` in a body is not a global of the file.
    assert_eq!(at("return loc$0al;"), ["enc/encode.c:5:7"]);
    // A prototype with macros the parser cannot read is not a variable named after one.
    assert_eq!(at("BOOL$0_T b = 0; return b;"), ["include/types.h:1:9"]);
}

#[test]
fn c_prototype_parameters_name_themselves_and_leak_nowhere() {
    let header = |decl: &str| {
        def(&[(
            "dec/huffman.h",
            &format!("int count;\nint build(int* table,\n          {decl});\n"),
        )])
    };
    assert_eq!(header("int co$0unt"), ["dec/huffman.h:3:15"]);
    assert_eq!(header("unsigned* co$0unt"), ["dec/huffman.h:3:21"]);
    // Outside the prototype the name is the file's global again.
    assert_eq!(
        def(&[(
            "dec/huffman.h",
            "int count;\nint build(int count);\nint use(void) { return co$0unt; }\n",
        )]),
        ["dec/huffman.h:1:5"]
    );
}

/// Parameters and locals behind two or three `*`, and a parameter after a qualifier macro the
/// parser reads as its name (`const uint8_t* BROTLI_RESTRICT data`): the name after the macro is
/// the parameter, the macro a use of its `#define`.
#[test]
fn c_pointer_to_pointer_and_macro_qualified_parameters() {
    let platform = ("common/platform.h", "#define RESTRICT __restrict\n");
    let at = |src: &str| def(&[platform, ("enc/hash.c", src)]);
    assert_eq!(
        at("int f(char** out, int*** n) {\n  *ou$0t = 0;\n  return ***n;\n}\n"),
        ["enc/hash.c:1:14"]
    );
    assert_eq!(
        at("int f(char** out, int*** n) {\n  *out = 0;\n  return ***$0n;\n}\n"),
        ["enc/hash.c:1:26"]
    );
    assert_eq!(
        at("int f(void) {\n  char** p = 0;\n  const char** q;\n  return *$0p == *q;\n}\n"),
        ["enc/hash.c:2:10"]
    );
    assert_eq!(
        at("int f(void) {\n  char** p = 0;\n  const char** q;\n  return *p == *$0q;\n}\n"),
        ["enc/hash.c:3:16"]
    );
    assert_eq!(
        at("int g(FILE** f);\nint h(int n, uint8_t** next_$0out);\n"),
        ["enc/hash.c:2:24"]
    );
    let restrict = |body: &str| {
        at(&format!(
            "static int f(const int* RESTRICT data, int* RESTRICT cache) {{\n  return {body};\n}}\n"
        ))
    };
    assert_eq!(restrict("da$0ta[0] + cache[0]"), ["enc/hash.c:1:34"]);
    assert_eq!(restrict("data[0] + cac$0he[0]"), ["enc/hash.c:1:54"]);
    assert_eq!(
        at("static int f(const int* RESTR$0ICT data) {\n  return data[0];\n}\n"),
        ["common/platform.h:1:9"]
    );
}

/// `#undef X` names the macro; after a macro the parser could not read (`API void f(...)`), the
/// parameters' type names come as plain identifiers, and are still types.
#[test]
fn c_undef_and_parameter_types_after_an_unknown_macro() {
    let types = (
        "include/types.h",
        "typedef void* (*alloc_func)(void* opaque, unsigned size);\ntypedef struct M { int n; } MemoryManager;\n",
    );
    let at = |src: &str| def(&[types, ("enc/memory.h", src)]);
    assert_eq!(
        at("#define FN(X) X ## Histogram\nint a;\n#undef F$0N\n"),
        ["enc/memory.h:1:9"]
    );
    let after_macro = |param: &str| {
        at(&format!(
            "API void InitMemoryManager(\n    MemoryManager* m, {param}, void* opaque);\n"
        ))
    };
    assert_eq!(after_macro("alloc_f$0unc f"), ["include/types.h:1:17"]);
    assert_eq!(after_macro("alloc_func $0f"), ["enc/memory.h:2:34"]);
}

/// A macro a file defines, takes back with `#undef` and defines again means, below, the `#define`
/// in effect; of an `#if`'s alternatives whose condition is not known the first stays first.
#[test]
fn c_a_macro_defined_twice_is_the_definition_in_effect() {
    let at = |src: &str| def(&[("dec/bit.c", src), ("dec/config.h", "#define A 1\n")]);
    assert_eq!(
        at("#if A\n#define X 1\n#else\n#define X 2\n#endif\nint y = $0X;\n")[0],
        "dec/bit.c:2:9"
    );
    let fns = |use_line: &str| {
        at(&format!(
            "#define FN(X) X ## Literal\nint FN(a);\n#undef FN\n#define FN(X) X ## Command\n{use_line}\n#undef FN\n"
        ))
    };
    assert_eq!(fns("int F$0N(b);")[0], "dec/bit.c:4:9");
    assert_eq!(
        at("#define FN(X) X ## Literal\nint F$0N(a);\n#undef FN\n#define FN(X) X ## Command\n")[0],
        "dec/bit.c:1:9"
    );
}

/// A member after `->` or `.` is the field of the struct the variable before it is declared with
/// (a parameter, a local, through a typedef, an anonymous struct's typedef, a field's own type
/// along a chain), not any field of that name nearer by.
#[test]
fn c_fields_through_the_declared_type_of_the_variable() {
    let state = (
        "enc/state.h",
        "typedef struct Params { int quality; int size_hint; } Params;\ntypedef struct StateStruct {\n  Params params;\n  int memory_manager_;\n} State;\ntypedef struct { int quality; } Other;\nstruct Dict { int memory_manager_; };\n",
    );
    let nearer = (
        "enc/dict.h",
        "struct Z { int quality; int memory_manager_; Params params; };\n",
    );
    let at = |body: &str| {
        def(&[
            state,
            nearer,
            (
                "enc/encode.c",
                &format!("#include \"dict.h\"\n#include \"state.h\"\n{body}\n"),
            ),
        ])
    };
    assert_eq!(
        at("int f(State* s) { return s->memory_man$0ager_; }"),
        ["enc/state.h:4:7"]
    );
    assert_eq!(
        at("int f(State* s) { return s->params.qual$0ity; }"),
        ["enc/state.h:1:29"]
    );
    assert_eq!(
        at("int f(State* s) { return s->par$0ams.quality; }"),
        ["enc/state.h:3:10"]
    );
    assert_eq!(
        at("int g(void) { Other o; return o.qual$0ity; }"),
        ["enc/state.h:6:22"]
    );
    assert_eq!(
        at("int h(struct Dict* d) { return d->memory_man$0ager_; }"),
        ["enc/state.h:7:19"]
    );
    // A type the workspace does not define: the fields of that name, nearest first, as before.
    assert_eq!(
        at("int k(Unknown* u) { return u->qual$0ity; }")[0],
        "enc/dict.h:1:16"
    );
}

/// Of a macro's definitions in the branches of an `#if`, the one a default build compiles comes
/// first: the compiler's names are defined, a name no file defines is not, and where the condition
/// is not known the first stays first.
#[test]
fn c_a_macro_in_if_branches_is_the_one_a_default_build_compiles() {
    let platform = (
        "common/platform.h",
        "#ifndef PLATFORM_H_\n#define PLATFORM_H_\n#if defined(ENABLE_LOG)\n#define LOG(x) printf x\n#else\n#define LOG(x)\n#endif\n#if defined(__GNUC__)\n#define INLINE inline\n#else\n#define INLINE\n#endif\n#if CONFIG_X\n#define Y 1\n#else\n#define Y 2\n#endif\n#define CONFIG_X 1\n#endif\n",
    );
    let at = |body: &str| {
        def(&[
            platform,
            (
                "dec/decode.c",
                &format!("#include \"platform.h\"\nint f(void) {{\n  {body}\n}}\n"),
            ),
        ])
    };
    assert_eq!(
        at("LO$0G((\"x\"));"),
        ["common/platform.h:6:9", "common/platform.h:4:9"]
    );
    assert_eq!(at("return INL$0INE 1;")[0], "common/platform.h:9:9");
    assert_eq!(at("return $0Y;")[0], "common/platform.h:14:9");
}

#[test]
fn ruby_requires_constants_and_methods() {
    let item = (
        "lib/shop/item.rb",
        "module Shop\n  class Item\n    def price\n      1\n    end\n  end\nend\n",
    );
    let util = ("lib/shop/util.rb", "def helper(x)\n  x * 2\nend\n");
    let cart = |body: &str| {
        format!(
            "require_relative \"item\"\n\nclass Cart\n  def add(item)\n    {body}\n  end\n\n  def size\n    0\n  end\nend\n"
        )
    };
    let at = |body: &str| def(&[item, util, ("lib/shop/cart.rb", &cart(body))]);
    // A class by its constant, through a module.
    assert_eq!(at("Shop::It$0em.new"), ["lib/shop/item.rb:2:9"]);
    // A method called without parentheses: the enclosing class's first, then anywhere.
    assert_eq!(at("si$0ze + 1"), ["lib/shop/cart.rb:8:7"]);
    assert_eq!(at("help$0er(1)"), ["lib/shop/util.rb:1:5"]);
    // A local is its assignment, not a method.
    assert_eq!(at("x = 1\n    $0x"), ["lib/shop/cart.rb:5:5"]);
}

#[test]
fn csharp_types_and_members_across_files() {
    let item = (
        "src/Models/Item.cs",
        "namespace Shop.Models\n{\n    public class Item\n    {\n        public int Price() => 1;\n    }\n}\n",
    );
    let cart = |body: &str| {
        format!(
            "using Shop.Models;\n\nnamespace Shop\n{{\n    class Cart\n    {{\n        int total;\n        int Add(Item item)\n        {{\n            {body}\n        }}\n    }}\n}}\n"
        )
    };
    let at = |body: &str| def(&[item, ("src/Cart.cs", &cart(body))]);
    // A class of another namespace, used through `using`.
    assert_eq!(
        at("var other = new It$0em(); return 0;"),
        ["src/Models/Item.cs:3:18"]
    );
    // A method of that class, and a field of the enclosing class.
    assert_eq!(at("return item.Pri$0ce();"), ["src/Models/Item.cs:5:20"]);
    assert_eq!(at("return tot$0al;"), ["src/Cart.cs:7:13"]);
    // A parameter is a local.
    assert_eq!(at("return it$0em.Price();"), ["src/Cart.cs:8:22"]);
}

#[test]
fn cpp_namespace_globals_are_definitions_and_a_lambdas_locals_are_not() {
    let file = |body: &str| {
        def(&[(
            "src/app.cpp",
            &format!(
                "namespace shop {{\nconst int kLimit = 3;\nauto twice = [](int a) {{ int inner = a * 2; return inner; }};\nint run() {{ {body} }}\n}}\n"
            ),
        )])
    };
    assert_eq!(file("return kLim$0it;"), ["src/app.cpp:2:11"]);
    assert!(file("return inn$0er;").is_empty());
}

#[test]
fn cpp_methods_defined_outside_their_class() {
    let header = (
        "include/geo/circle.hpp",
        "namespace geo {\nclass Circle {\npublic:\n    double area() const;\n    double r_;\n};\n}\n",
    );
    let source = (
        "src/circle.cpp",
        "#include \"geo/circle.hpp\"\n\nnamespace geo {\ndouble Circle::area() const { return r_ * r_; }\n}\n",
    );
    let main = |body: &str| {
        format!(
            "#include \"geo/circle.hpp\"\n\nint main() {{\n    geo::Circle c;\n    {body}\n}}\n"
        )
    };
    let at = |body: &str| def(&[header, source, ("src/main.cpp", &main(body))]);
    // The body of the method, defined out of its class, not its declaration.
    assert_eq!(at("return c.ar$0ea();"), ["src/circle.cpp:4:16"]);
    // The class through its namespace.
    assert_eq!(at("geo::Cir$0cle d;"), ["include/geo/circle.hpp:2:7"]);
}

#[test]
fn typescript_imports_this_and_inheritance() {
    let files = [
        (
            "src/base.ts",
            "export class Base {\n  hello(): string { return 'hi'; }\n}\n",
        ),
        (
            "src/util.ts",
            "export function fmt(s: string) { return s; }\n",
        ),
        (
            "src/app.ts",
            "import { Base } from './base';\nimport { fmt } from './util';\n\nexport class App extends Base {\n  run() {\n    return fm$0t(this.hello());\n  }\n}\n",
        ),
    ];
    assert_eq!(def(&files), ["src/util.ts:1:17"]);
    let app = files[2]
        .1
        .replace("fm$0t(", "fmt(")
        .replace("this.hello()", "this.hel$0lo()");
    assert_eq!(
        def(&[files[0], files[1], ("src/app.ts", &app)]),
        ["src/base.ts:2:3"]
    );
}

#[test]
fn references_follow_resolution_not_just_names() {
    let files = [
        ("a/lib.py", "def load(x):\n    pass\n"),
        ("b/lib.py", "def load(x):\n    pass\n"),
        ("a/use.py", "from a.lib import load\n\nload(1)\nload(2)\n"),
        ("b/use.py", "from b.lib import load\n\nload(3)\n"),
        ("a/here.py", "from a.lib import lo$0ad\n"),
    ];
    let f = fixture(&files);
    assert_eq!(
        f.references(true),
        [
            "a/here.py:1:19",
            "a/lib.py:1:5",
            "a/use.py:1:19",
            "a/use.py:3:1",
            "a/use.py:4:1"
        ]
    );
    assert_eq!(
        f.references(false),
        [
            "a/here.py:1:19",
            "a/use.py:1:19",
            "a/use.py:3:1",
            "a/use.py:4:1"
        ]
    );
}

#[test]
fn references_and_highlights_of_locals_stay_in_their_scope() {
    let f = fixture(&[(
        "a.py",
        "def f(n):\n    x = n\n    return x$0 + x\n\ndef g(x):\n    return x\n",
    )]);
    assert_eq!(f.references(true), ["a.py:2:5", "a.py:3:12", "a.py:3:16"]);
    let hl = f.with(|v, c| v.highlights(c, f.cursor));
    assert_eq!(hl.iter().filter(|(_, written)| *written).count(), 1);
    assert_eq!(hl.len(), 3);
}

#[test]
fn call_hierarchy_and_hover_counts() {
    let files = [
        (
            "lib.py",
            "def leaf():\n    pass\n\ndef mid():\n    \"\"\"Calls leaf.\"\"\"\n    leaf()\n    leaf()\n",
        ),
        (
            "app.py",
            "from lib import mid, leaf\n\ndef top():\n    mi$0d()\n    leaf()\n\nmid()\n",
        ),
    ];
    let f = fixture(&files);
    f.with(|v, c| {
        let mid = v.symbols_at(c, f.cursor);
        assert_eq!(mid.len(), 1);
        let incoming = v.incoming_calls(mid[0]);
        let callers: Vec<String> = incoming
            .iter()
            .map(|c| {
                c.symbol.map_or_else(
                    || format!("{} (top level)", v.path(c.file).display()),
                    |s| v.symbol(s).name.to_string(),
                )
            })
            .collect();
        assert_eq!(callers, ["top", "app.py (top level)"]);
        let outgoing = v.outgoing_calls(mid[0]);
        assert_eq!(outgoing.len(), 1);
        assert_eq!(outgoing[0].ranges.len(), 2, "two calls to leaf");
        let hover = v.hover(c, f.cursor).unwrap();
        assert_eq!(
            (
                hover.name.as_str(),
                hover.signature.as_str(),
                hover.doc.as_str()
            ),
            ("mid", "def mid()", "Calls leaf.")
        );
        assert_eq!((hover.callers, hover.callees), (2, 1));
    });
}

#[test]
fn workspace_symbols_are_fuzzy_ranked_and_bounded() {
    let f = fixture(&[
        (
            "a.py",
            "class FooBar:\n    pass\n\ndef foo_bar():\n    pass\n\ndef food():\n    pass\n\ndef xfoo():\n    pass\n",
        ),
        ("b.py", "def unrelated():\n    pass\n\nFOO = 1\n$0"),
    ]);
    f.with(|v, _| {
        let names = |q: &str, n: usize| -> Vec<String> {
            v.workspace_symbols(q, n)
                .into_iter()
                .map(|s| v.symbol(s).name.to_string())
                .collect()
        };
        assert_eq!(
            names("foo", 10),
            ["FOO", "food", "FooBar", "foo_bar", "xfoo"]
        );
        assert_eq!(names("fb", 10), ["FooBar", "foo_bar"]);
        assert_eq!(names("foo", 2).len(), 2);
        assert!(names("zzz", 10).is_empty());
    });
}

#[test]
fn unsaved_buffers_win_over_stored_facts() {
    // The stored app.py defines old(); the buffer renamed it to new_name() and calls it.
    let mut f = fixture(&[("app.py", "def old():\n    pass\n\nold$0()\n")]);
    f.cursor_text = "def new_name():\n    pass\n\nnew_name()\n".into();
    f.cursor = f.cursor_text.rfind("new_name()").unwrap() + 2;
    assert_eq!(f.definition(), ["app.py:1:5"]);
    f.with(|v, _| {
        assert!(
            v.workspace_symbols("old", 5).is_empty(),
            "the stored symbol is shadowed"
        )
    });
}

#[test]
fn a_name_after_a_receiver_is_never_a_local() {
    // `self.addr` is the property, not the local variable of the same name.
    let file = "class A:\n    @property\n    def addr(self):\n        return 1\n\n    def show(self):\n        addr = 2\n        return self.ad$0dr\n";
    assert_eq!(def(&[("a.py", file)]), ["a.py:3:9"]);
    let ts = "class A {\n  total = 0;\n  constructor(total: number) {\n    this.to$0tal = total;\n  }\n}\n";
    assert_eq!(def(&[("a.ts", ts)]), ["a.ts:2:3"]);
}

#[test]
fn a_member_through_a_type_comes_from_its_supertypes_when_it_has_none() {
    let base = (
        "base.py",
        "class Base:\n    def __init__(self, x):\n        self.x = x\n",
    );
    let child = (
        "child.py",
        "from base import Base\n\nclass Child(Base):\n    pass\n\nclass Other:\n    def __init__(self):\n        Child.__in$0it__(self, 1)\n",
    );
    assert_eq!(def(&[base, child]), ["base.py:2:9"]);
}

#[test]
fn python_module_paths_and_module_bindings_lead_to_the_module_files() {
    let files = |app: &'static str| {
        [
            ("email/__init__.py", "\n"),
            ("email/mime/__init__.py", "\n"),
            ("email/mime/text.py", "class MIMEText:\n    pass\n"),
            (
                "email/errors.py",
                "class HeaderDefect(Exception):\n    pass\n",
            ),
            ("app.py", app),
        ]
    };
    // A segment of an import's module path: the module up to it.
    assert_eq!(
        def(&files("from email.mi$0me.text import MIMEText\n")),
        ["email/mime/__init__.py:1:1"]
    );
    assert_eq!(
        def(&files("from email.mime.te$0xt import MIMEText\n")),
        ["email/mime/text.py:1:1"]
    );
    // `import email.errors` binds `email`; through it, the submodule and its class.
    let app =
        "import email.errors\n\ntry:\n    pass\nexcept email.errors.Header$0Defect:\n    pass\n";
    assert_eq!(def(&files(app)), ["email/errors.py:1:7"]);
    let app =
        "import email.errors\n\ntry:\n    pass\nexcept em$0ail.errors.HeaderDefect:\n    pass\n";
    assert_eq!(def(&files(app)), ["email/__init__.py:1:1"]);
    let app =
        "import email.errors\n\ntry:\n    pass\nexcept email.err$0ors.HeaderDefect:\n    pass\n";
    assert_eq!(def(&files(app)), ["email/errors.py:1:1"]);
}

#[test]
fn a_typescript_overload_is_defined_by_its_implementation() {
    let ts = "export function pick(a: string): string;\nexport function pi$0ck(a: number): number;\nexport function pick(a: any): any {\n  return a;\n}\n";
    assert_eq!(def(&[("a.ts", ts)]), ["a.ts:3:17"]);
}

#[test]
fn a_bare_name_is_visible_only_where_the_language_makes_it_so() {
    // Python: `len` here is the builtin, not another module's function of that name.
    let other = ("tools/other.py", "def len(x):\n    return 0\n");
    assert!(def(&[other, ("app.py", "def f(xs):\n    return le$0n(xs)\n")]).is_empty());
    // ... and references of that function leave the builtin's calls out.
    let refs = fixture(&[
        ("tools/other.py", "def le$0n(x):\n    return 0\n"),
        ("app.py", "def f(xs):\n    return len(xs)\n"),
    ])
    .references(false);
    assert!(refs.is_empty(), "{refs:?}");
    // An import whose module is not in the workspace still names the symbol, nearest first.
    assert_eq!(
        def(&[
            ("vendor/lib/helpers.py", "def helper():\n    pass\n"),
            (
                "app.py",
                "from somewhere.else import helper\n\nhel$0per()\n"
            ),
        ]),
        ["vendor/lib/helpers.py:1:5"]
    );
    // Go: the package is the directory.
    assert_eq!(
        def(&[
            ("pkg/a.go", "package pkg\n\nfunc Helper() {}\n"),
            ("pkg/b.go", "package pkg\n\nfunc Use() { Hel$0per() }\n"),
        ]),
        ["pkg/a.go:3:6"]
    );
    assert!(
        def(&[
            ("other/a.go", "package other\n\nfunc Helper() {}\n"),
            ("pkg/b.go", "package pkg\n\nfunc Use() { Hel$0per() }\n"),
        ])
        .is_empty()
    );
    // TypeScript: ambient declarations are global; another module's export is not.
    assert_eq!(
        def(&[
            (
                "types/globals.d.ts",
                "declare function track(event: string): void;\n"
            ),
            (
                "src/app.ts",
                "export function run() {\n  tra$0ck('x');\n}\n"
            ),
        ]),
        ["types/globals.d.ts:1:18"]
    );
    assert!(
        def(&[
            ("src/util.ts", "export function track(event: string) {}\n"),
            (
                "src/app.ts",
                "export function run() {\n  tra$0ck('x');\n}\n"
            ),
        ])
        .is_empty()
    );
}

#[test]
fn an_imported_name_resolves_through_its_module_not_as_a_member() {
    let files = [
        (
            "src/ajax/types.ts",
            "export interface AjaxConfig {\n  timeout?: number;\n}\n",
        ),
        (
            "src/operators/timeout.ts",
            "export function timeout(ms: number) {\n  return ms;\n}\n",
        ),
        (
            "src/index.ts",
            "export { time$0out } from './operators/timeout';\n",
        ),
    ];
    assert_eq!(def(&files), ["src/operators/timeout.ts:1:17"]);
    let files = [
        (
            "src/ajax/types.ts",
            "export interface AjaxConfig {\n  timeout?: number;\n}\n",
        ),
        (
            "src/operators/timeout.ts",
            "export function timeout(ms: number) {\n  return ms;\n}\n",
        ),
        (
            "src/app.ts",
            "import { time$0out as t } from './operators/timeout';\n",
        ),
    ];
    assert_eq!(def(&files), ["src/operators/timeout.ts:1:17"]);
}
