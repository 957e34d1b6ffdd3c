#!/usr/bin/env python3
"""Builds the code-search quality set: queries with the definition each should find, on Python
packages from PyPI that nobody here wrote.

    python3 scripts/code_search_set.py DEST

For each package (pinned below) DEST/<package>/ gets:
    src/...            the package's modules with every docstring removed (the docstring's lines are
                       deleted; a body that was only a docstring becomes `...`), so that what is indexed
                       is code alone
    queries.json       [{query, path, line, name, kind}]: a definition's docstring's first sentence
                       (reST markup taken out) is the query, the definition (1-based line of its `def`
                       or `class` in src/) the answer. kind is "shares" when a word of the query (not a
                       stopword, three letters or more, crudely stemmed) is in the definition's name or
                       code, else "none". A sentence that is the first of two docstrings is left out.
    definitions.json   [{path, line, name, text}]: every function, method and class with its code, the
                       documents of the BM25 baseline (name split into words, then the code)
A rerun with the same pins and this script unchanged is a no-op (DEST/<package>/stamp).
"""

import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# (requirement, the package's directory inside the distribution)
PACKAGES = [
    ("boltons==25.0.0", "boltons"),
    ("more-itertools==10.8.0", "more_itertools"),
    ("toolz==1.0.0", "toolz"),
    ("click==8.1.8", "click"),
]
MIN_WORDS, MAX_WORDS = 4, 40
STOPWORDS = set(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)


def words(text):
    """Identifiers split into lowercase words: parse_HTTPResponse2 -> parse http response 2."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", text.replace("_", " "))]


def stem(w):
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def first_sentence(doc):
    para = " ".join(doc.strip().split("\n\n")[0].split())
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    s = m.group(1) if m else para
    s = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", s)  # :func:`foo` -> foo
    s = s.replace("``", "").replace("`", "").replace("*", "")
    return s.strip()


def definitions(tree):
    """Functions, methods and classes in source order: (node, owner class name or "")."""
    out = []

    def visit(node, owner):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.append((child, owner))
                visit(child, child.name if isinstance(child, ast.ClassDef) else owner)
            else:
                visit(child, owner)

    visit(tree, "")
    return out


def docstring_node(node):
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def strip(source):
    """The source without docstrings, and each definition's docstring (None when it has none)."""
    tree = ast.parse(source)
    lines = source.split("\n")
    cuts = []  # (first line, last line, replacement), 1-based, inclusive
    docs = []
    for node in [tree] + [d for d, _ in definitions(tree)]:
        doc = docstring_node(node)
        if node is not tree:
            docs.append(ast.get_docstring(node))
        if doc is None:
            continue
        only = len(node.body) == 1
        cuts.append((doc.lineno, doc.end_lineno, " " * doc.col_offset + "..." if only else None))
    for first, last, replacement in sorted(cuts, reverse=True):
        # A docstring on the `def` line itself (`def f(): "doc"`) keeps the line, without it.
        if first == last and lines[first - 1].lstrip().startswith(("def ", "class ", "async def ")):
            continue
        lines[first - 1:last] = [replacement] if replacement is not None else []
    return "\n".join(lines), docs


def fetch(requirement, into):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    "--no-deps", "-d", str(into), requirement], check=True)
    files = sorted(p for p in into.iterdir() if p.is_file())
    if not files:
        raise SystemExit(f"pip download {requirement} gave nothing")
    return files[0]


def unpack(archive, into):
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as t:
            t.extractall(into, filter="data")


def build(requirement, package, dest):
    out = dest / package
    stamp = hashlib.sha256((requirement + Path(__file__).read_text()).encode()).hexdigest()
    if (out / "stamp").is_file() and (out / "stamp").read_text() == stamp:
        return out
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        unpack(fetch(requirement, tmp / "dl"), tmp / "x")
        roots = [p for p in (tmp / "x").rglob(package) if p.is_dir() and (p / "__init__.py").exists()]
        if not roots:
            raise SystemExit(f"{requirement}: no {package}/ package inside")
        root = min(roots, key=lambda p: len(p.parts))
        queries, defs, seen, twice = [], [], {}, set()
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root.parent).as_posix()
            stripped, docs = strip(path.read_text())
            target = out / "src" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(stripped)
            lines = stripped.split("\n")
            for (node, owner), doc in zip(definitions(ast.parse(stripped)), docs):
                start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                code = "\n".join(lines[start - 1:node.end_lineno])
                name = f"{owner}.{node.name}" if owner else node.name
                defs.append({"path": rel, "line": node.lineno, "name": name, "text": code})
                if not doc:
                    continue
                query = first_sentence(doc)
                if not MIN_WORDS <= len(query.split()) <= MAX_WORDS:
                    continue
                if query in seen:
                    twice.add(query)
                    continue
                have = {stem(w) for w in words(node.name + " " + code)}
                want = {stem(w) for w in words(query) if w not in STOPWORDS and len(w) >= 3}
                seen[query] = {"query": query, "path": rel, "line": node.lineno, "name": name,
                               "kind": "shares" if want & have else "none"}
        queries = [q for text, q in seen.items() if text not in twice]
        (out / "queries.json").write_text(json.dumps(queries, indent=1))
        (out / "definitions.json").write_text(json.dumps(defs))
    (out / "stamp").write_text(stamp)
    return out


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    dest = Path(sys.argv[1]).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    for requirement, package in PACKAGES:
        out = build(requirement, package, dest)
        queries = json.loads((out / "queries.json").read_text())
        none = sum(q["kind"] == "none" for q in queries)
        print(f"{out}: {len(queries)} queries ({none} sharing no word)", file=sys.stderr)


if __name__ == "__main__":
    main()
