"""The import graph of `hawcnb/`: no module may import (directly or through others) a module that imports it back.

Every `import`/`from ... import` counts, including those inside functions (a lazy import is still a dependency).
The graph is read with `ast`, so nothing is executed.
"""
import ast
from pathlib import Path

from conftest import ROOT

PKG = ROOT / "hawcnb"

# Circles that exist today and are being removed by the layout work (issue 13: split the parse hub into an
# encoding/events module and the parse jobs). The test fails if any other circle appears, and also once this one is
# gone (then empty this set).
KNOWN = {frozenset({"hawcnb.parse", "hawcnb.plot"})}


def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__": parts = parts[:-1]
    return ".".join(parts)


def import_graph():
    "{module: set of hawcnb modules it imports}, from the source files."
    mods = {_module_name(p): p for p in PKG.rglob("*.py") if p.name != "_modidx.py"}
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            for t in targets:
                if t in mods and t != m: graph[m].add(t)
    return graph


def cycles(graph):
    "The strongly connected components with more than one module (Tarjan)."
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop(); on.discard(w); comp.add(w)
                if w == v: break
            if len(comp) > 1: out.append(frozenset(comp))
    for v in graph:
        if v not in index: visit(v)
    return set(out)


def test_graph_is_read():
    g = import_graph()
    assert "hawcnb.xcdf_cli" in g and "hawcnb.xcdf" in g["hawcnb.xcdf_cli"]
    assert "hawcnb.pixelcnn.fast" in g and any(m.startswith("hawcnb.pixelcnn.") for m in g["hawcnb.pixelcnn.fast"])


def test_cycle_finder():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}
    assert cycles({"a": {"b"}, "b": set()}) == set()


def test_no_import_circles():
    found = cycles(import_graph())
    assert found - KNOWN == set(), f"new import circle(s): {[sorted(c) for c in found - KNOWN]}"
    assert KNOWN - found == set(), f"circle(s) removed, take them out of KNOWN: {[sorted(c) for c in KNOWN - found]}"
