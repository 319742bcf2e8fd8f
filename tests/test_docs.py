"""The docs builder's pieces (.ci/docs.py): page names and order, Quarto options, show_doc anchors, link checker.

The full build is `make docs-check` (about a minute); these checks are instant.
"""
import importlib.util
from pathlib import Path

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("docs_build", ROOT / ".ci" / "docs.py")
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)


def test_page_names_follow_nbdev():
    assert docs.page_name(Path("00_core.ipynb")) == "core"
    assert docs.page_name(Path("00b_runner.ipynb")) == "runner"
    assert docs.page_name(Path("12_pixelcnn.layers.ipynb")) == "pixelcnn.layers"
    assert docs.page_name(Path("experiments/train_gan1d.ipynb")) == "experiments/train_gan1d"
    assert docs.page_name(Path("index.ipynb")) == "index"


def test_every_notebook_gets_a_page_in_order():
    nbs = [p.as_posix() for p in docs.notebooks()]
    assert "index.ipynb" in nbs and "00_core.ipynb" in nbs
    top = [n for n in nbs if "/" not in n]
    assert top == sorted(top) and nbs[:len(top)] == top          # top level first, by number


def test_quarto_options_and_show_doc_anchors():
    opts, src = docs._split_directives("#| echo: false\n#| output: asis\nshow_doc(f)")
    assert opts == {"echo": "false", "output": "asis"} and src == "show_doc(f)"
    md = docs._show_doc_markdown("---\n\n[source](https://x/y.py#L3){target=\"_blank\"}\n\n### Foo.bar\n\n"
                                 "```python\ndef bar(\n    x, # a [`Foo`](https://h/core.html#foo)\n):\n```\n")
    assert "[source]" not in md and "---" not in md
    assert '<span id="foo.bar"></span>\n\n### Foo.bar' in md     # nbdev's anchor for links from other pages
    assert "# a `Foo`\n" in md                                      # no markdown link inside the code block


def test_link_checker_finds_broken_links_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#x">ok</a><a href="b.html#nope">bad</a>'
                                     '<a href="missing.html">bad</a><a href="https://example.org/">ext</a><a href="#top">ok</a>')
    (tmp_path / "b.html").write_text('<p id="x">B</p><img src="img/p.png">')
    assert sorted(docs.broken_links(tmp_path)) == [("a.html", "b.html#nope"), ("a.html", "missing.html"), ("b.html", "img/p.png")]
