#!/usr/bin/env python3
"""How often maestro's `textDocument/definition` agrees with a precise language server.

Samples identifier positions in a corpus, asks the precise server (pyright for Python,
typescript-language-server for TypeScript, clangd for C) and `maestro lsp --standalone` for the definition at
each, and counts the positions where maestro's first answer is one of the precise server's
answers (the same file, and ranges that overlap: pyright's range of `*args` starts at the `*`),
among the positions the precise server resolves. Reported twice: over every position it
resolves, and over those it resolves to a place inside the corpus (maestro indexes the corpus,
not the language's standard library or type stubs).

Run through `scripts/agreement`, which installs the servers and builds maestro.
"""

import argparse
import json
import keyword
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import tokenize
import urllib.parse
from pathlib import Path


class Lsp:
    """A minimal LSP client over a child process's stdio."""

    def __init__(self, name, cmd, root, env=None):
        self.name = name
        self.root = root
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=root,
        )
        self.next_id = 0
        self.pending = {}
        self.diagnosed = set()
        self.diagnostics = threading.Condition()
        self.progress_ended = set()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _send(self, message):
        body = json.dumps(message).encode()
        with self.lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    for waiter in self.pending.values():
                        waiter["event"].set()
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message = json.loads(out.read(length))
            if "method" in message and "id" in message:
                self._answer(message)
            elif message.get("method") == "textDocument/publishDiagnostics":
                with self.diagnostics:
                    self.diagnosed.add(message["params"]["uri"])
                    self.diagnostics.notify_all()
            elif message.get("method") == "$/progress":
                if message["params"].get("value", {}).get("kind") == "end":
                    with self.diagnostics:
                        self.progress_ended.add(message["params"]["token"])
                        self.diagnostics.notify_all()
            elif "id" in message and message["id"] in self.pending:
                waiter = self.pending[message["id"]]
                waiter["message"] = message
                waiter["event"].set()

    def _answer(self, request):
        method = request["method"]
        if method == "workspace/configuration":
            result = [None for _ in request["params"]["items"]]
        elif method == "workspace/workspaceFolders":
            result = [{"uri": uri_of(self.root), "name": "corpus"}]
        else:
            result = None
        self._send({"jsonrpc": "2.0", "id": request["id"], "result": result})

    def request(self, method, params, timeout=120):
        self.next_id += 1
        waiter = {"event": threading.Event(), "message": None}
        self.pending[self.next_id] = waiter
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        if not waiter["event"].wait(timeout):
            raise TimeoutError(f"{self.name}: {method} timed out")
        del self.pending[self.next_id]
        message = waiter["message"]
        if message is None:
            raise RuntimeError(f"{self.name} exited")
        if "error" in message:
            raise RuntimeError(f"{self.name}: {method}: {message['error']}")
        return message.get("result")

    def wait_diagnostics(self, uri, timeout=120):
        """Waits until the server has published diagnostics for `uri`: its project is loaded."""
        with self.diagnostics:
            self.diagnostics.wait_for(lambda: uri in self.diagnosed, timeout)

    def wait_progress_end(self, token, timeout=600):
        """Waits until the server reports the end of the work `token` names (e.g. clangd's index)."""
        with self.diagnostics:
            return self.diagnostics.wait_for(lambda: token in self.progress_ended, timeout)

    def notify(self, method, params):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def start(self):
        uri = uri_of(self.root)
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": "corpus"}],
                "capabilities": {
                    "general": {"positionEncodings": ["utf-16"]},
                    "textDocument": {"definition": {"linkSupport": False}},
                    "workspace": {"configuration": True, "workspaceFolders": True},
                    "window": {"workDoneProgress": True},
                },
            },
        )
        self.notify("initialized", {})

    def stop(self):
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def uri_of(path):
    return "file://" + urllib.parse.quote(str(path))


def path_of(uri):
    return Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))


def utf16_len(text):
    return len(text.encode("utf-16-le")) // 2


def python_names(path):
    """(line, UTF-16 column) of every name token that is not a keyword."""
    out = []
    with open(path, "rb") as f:
        try:
            tokens = list(tokenize.tokenize(f.readline))
        except (tokenize.TokenError, SyntaxError):
            return out
    for tok in tokens:
        if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
            line, col = tok.start
            out.append((line - 1, utf16_len(tok.line[:col])))
    return out


TS_KEYWORDS = set(
    """abstract any as asserts async await bigint boolean break case catch class const constructor
    continue debugger declare default delete do else enum export extends false finally for from
    function get if implements import in infer instanceof interface is keyof let module namespace
    never new null number object of package private protected public readonly require return
    satisfies set static string super switch symbol this throw true try type typeof undefined
    unique unknown var void while with yield""".split()
)


C_KEYWORDS = set(
    """auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef union
    unsigned void volatile while _Bool include define ifdef ifndef endif elif undef pragma defined
    NULL""".split()
)


def c_names(path):
    """(line, UTF-16 column) of C identifiers outside comments, strings and keywords."""
    return ts_names(path, C_KEYWORDS)


def ts_names(path, keywords=TS_KEYWORDS):
    """(line, UTF-16 column) of identifiers outside comments and strings (a small lexer)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    out = []
    i, n, line, line_start = 0, len(text), 0, 0
    ident = re.compile(r"[A-Za-z_$][\w$]*")
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            line_start = i + 1
            i += 1
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            if "\n" in text[i:end]:
                line_start = text.rfind("\n", i, end) + 1
            i = end
        elif c in "'\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            end = min(j + 1, n)
            line += text.count("\n", i, end)
            if "\n" in text[i:end]:
                line_start = text.rfind("\n", i, end) + 1
            i = end
        else:
            m = ident.match(text, i)
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_$")):
                if m.group() not in keywords:
                    out.append((line, utf16_len(text[line_start:i])))
                i = m.end()
            elif m:
                i = m.end()
            else:
                i += 1
    return out


def locations(result):
    """An answer as a list of (path, (start line, character), (end line, character))."""
    if result is None:
        return []
    if isinstance(result, dict):
        result = [result]
    out = []
    for loc in result:
        uri = loc.get("uri") or loc.get("targetUri")
        rng = loc.get("range") or loc.get("targetSelectionRange")
        start, end = rng["start"], rng["end"]
        out.append((str(path_of(uri)), (start["line"], start["character"]),
                    (end["line"], end["character"])))
    return out


def same_place(a, b):
    """Two locations name the same definition: same file, overlapping ranges."""
    return a[0] == b[0] and a[1] <= b[2] and b[1] <= a[2]


def compare(corpus_name, root, files, lang_id, reference, maestro, sample, seed, show, ready=None):
    """`ready(reference)`, when given, runs once the first file is open (e.g. waits for an index)."""
    positions = []
    names = {"python": python_names, "c": c_names}.get(lang_id, ts_names)
    for f in files:
        positions.extend((f, line, col) for line, col in names(f))
    random.Random(seed).shuffle(positions)
    positions = positions[:sample]
    positions.sort()
    stats = {"sampled": len(positions), "resolved": 0, "agree": 0, "inside": 0, "agree_inside": 0,
             "maestro_empty": 0}
    disagreements = []
    opened = None
    for f, line, col in positions:
        if f != opened:
            if opened is not None:
                reference.notify("textDocument/didClose", {"textDocument": {"uri": uri_of(opened)}})
            text = Path(f).read_text(encoding="utf-8", errors="replace")
            reference.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri_of(f), "languageId": lang_id, "version": 1, "text": text}},
            )
            if opened is None:
                # Asked before its project is loaded, tsserver answers with import specifiers.
                reference.wait_diagnostics(uri_of(f))
                if ready is not None:
                    ready(reference)
            opened = f
        params = {"textDocument": {"uri": uri_of(f)}, "position": {"line": line, "character": col}}
        theirs = locations(reference.request("textDocument/definition", params))
        if not theirs:
            continue
        ours = locations(maestro.request("textDocument/definition", params))
        stats["resolved"] += 1
        inside = any(Path(p).is_relative_to(root) for p, _, _ in theirs)
        stats["inside"] += inside
        agree = bool(ours) and any(same_place(ours[0], t) for t in theirs)
        stats["agree"] += agree
        stats["agree_inside"] += agree and inside
        stats["maestro_empty"] += not ours
        if not agree and inside:
            disagreements.append((f, line, col, theirs[0], ours[0] if ours else None))
    share = lambda a, b: 100.0 * a / b if b else 0.0
    stats["agreement"] = round(share(stats["agree"], stats["resolved"]), 1)
    stats["agreement_inside"] = round(share(stats["agree_inside"], stats["inside"]), 1)
    print(
        f"{corpus_name}: {stats['sampled']} positions sampled, {reference.name} resolves "
        f"{stats['resolved']}; maestro's first answer is one of its answers at {stats['agree']} "
        f"({stats['agreement']}%); at {stats['agree_inside']} of the {stats['inside']} that "
        f"resolve inside the corpus ({stats['agreement_inside']}%); maestro found nothing at "
        f"{stats['maestro_empty']}"
    )
    for f, line, col, theirs, ours in disagreements[:show]:
        rel = lambda p: os.path.relpath(p, root)
        source = Path(f).read_text(encoding="utf-8", errors="replace").splitlines()[line].strip()
        place = lambda loc: f"{rel(loc[0])}:{loc[1][0] + 1}:{loc[1][1] + 1}"
        mine = place(ours) if ours else "nothing"
        print(f"  {rel(f)}:{line + 1}:{col + 1} `{source[:70]}`: "
              f"{reference.name} {place(theirs)}, maestro {mine}")
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--maestro", required=True, help="the maestro binary")
    parser.add_argument("--node-modules", required=True, help="where the servers are installed")
    parser.add_argument("--c-corpus", help="a C source tree (with an include/ of public headers), "
                                            "compared with clangd")
    parser.add_argument("--clangd", default="clangd", help="the clangd binary")
    parser.add_argument("--only", choices=["python", "typescript", "c"], action="append",
                        help="compare only this language (repeatable; default: every one)")
    parser.add_argument("--python-package", default="email", help="stdlib package (default: email)")
    parser.add_argument("--sample", type=int, default=1500, help="positions per corpus")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=10, help="disagreements to print per corpus")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    node_modules = Path(args.node_modules).resolve()
    args.maestro = str(Path(args.maestro).resolve())
    work = Path(tempfile.mkdtemp(prefix="agreement"))
    results = {}
    try:
        home = work / "maestro-home"
        env = dict(os.environ, MAESTRO_HOME=str(home))

        def maestro_for(root):
            lsp = Lsp("maestro", [args.maestro, "lsp", "--standalone"], root, env)
            lsp.start()
            # The first definition waits for the graph to load; the index pass must finish
            # before answers are complete: `maestro index` waits for it.
            return lsp

        wanted = lambda lang: not args.only or lang in args.only

        if wanted("python"):
            # Python: a stdlib package, copied, as pyright sees it.
            stdlib = Path(sysconfig.get_paths()["stdlib"])
            py_root = work / "python"
            shutil.copytree(stdlib / args.python_package, py_root / args.python_package,
                            ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
            py_files = sorted(str(p) for p in py_root.rglob("*.py"))
            # Pyright resolves stdlib module names to typeshed's stubs before local code: without
            # the package's own stubs, its imports resolve to the copied code, as maestro's do.
            typeshed = work / "typeshed"
            shutil.copytree(node_modules / "pyright/dist/typeshed-fallback", typeshed)
            shutil.rmtree(typeshed / "stdlib" / args.python_package, ignore_errors=True)
            (typeshed / "stdlib" / f"{args.python_package}.pyi").unlink(missing_ok=True)
            (py_root / "pyrightconfig.json").write_text(json.dumps({"typeshedPath": str(typeshed)}))
            index(args.maestro, env, py_root)
            pyright = Lsp("pyright", ["node", str(node_modules / "pyright/langserver.index.js"), "--stdio"], py_root)
            pyright.start()
            ours = maestro_for(py_root)
            results["python"] = compare(f"python (stdlib {args.python_package}, {len(py_files)} files)",
                                        py_root, py_files, "python", pyright, ours, args.sample, args.seed,
                                        args.show)
            pyright.stop()
            ours.stop()

        if wanted("typescript"):
            # TypeScript: rxjs's sources, with a tsconfig of our own.
            ts_root = work / "typescript"
            shutil.copytree(node_modules / "rxjs/src", ts_root / "src")
            (ts_root / "tsconfig.json").write_text(json.dumps({
                "compilerOptions": {"target": "es2017", "module": "esnext", "moduleResolution": "bundler",
                                    "lib": ["es2018", "dom"], "strict": True, "noEmit": True},
                "include": ["src/**/*.ts"],
            }))
            ts_files = sorted(str(p) for p in (ts_root / "src").rglob("*.ts"))
            index(args.maestro, env, ts_root)
            tsserver = Lsp(
                "typescript-language-server",
                ["node", str(node_modules / "typescript-language-server/lib/cli.mjs"), "--stdio"],
                ts_root,
            )
            tsserver.start()
            ours = maestro_for(ts_root)
            results["typescript"] = compare(f"typescript (rxjs src, {len(ts_files)} files)", ts_root,
                                            ts_files, "typescript", tsserver, ours, args.sample,
                                            args.seed, args.show)
            tsserver.stop()
            ours.stop()

        # C: a source tree, with a compilation database so that clangd indexes every file and
        # answers with definitions (bodies), not the prototypes of the file's own headers.
        if args.c_corpus and wanted("c"):
            c_root = work / "c"
            shutil.copytree(args.c_corpus, c_root)
            c_files = sorted(str(p) for p in c_root.rglob("*.[ch]"))
            includes = sorted({str(p) for p in c_root.rglob("include") if p.is_dir()} | {str(c_root)})
            # Brotli keeps its shared-dictionary code under BROTLI_EXPERIMENTAL: without it clangd
            # parses none of it and answers there by name from its index (a guess).
            flags = ["-xc", "-std=c99", "-DBROTLI_EXPERIMENTAL"] + [f"-I{d}" for d in includes]
            (c_root / "compile_commands.json").write_text(json.dumps([
                {"directory": str(c_root), "file": f, "arguments": ["cc", *flags, "-c", f]}
                for f in c_files if f.endswith(".c")
            ]))
            index(args.maestro, env, c_root)
            clangd = Lsp("clangd", [args.clangd, "--background-index", "--log=error"], c_root)
            clangd.start()
            ours = maestro_for(c_root)

            def indexed(server):
                if not server.wait_progress_end("backgroundIndexProgress"):
                    raise SystemExit("clangd did not finish indexing in 10 minutes")

            results["c"] = compare(f"c ({Path(args.c_corpus).name}, {len(c_files)} files)", c_root,
                                   c_files, "c", clangd, ours, args.sample, args.seed, args.show,
                                   ready=indexed)
            clangd.stop()
            ours.stop()
    finally:
        subprocess.run([args.maestro, "daemon", "stop"], env=dict(os.environ, MAESTRO_HOME=str(work / "maestro-home")),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results))


def index(maestro, env, root):
    """Indexes a corpus (the standalone servers then load it from the store)."""
    subprocess.run([maestro, "index", str(root)], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([maestro, "daemon", "stop"], env=env, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
