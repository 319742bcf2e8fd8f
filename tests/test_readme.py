"""README.md is generated from nbs/index.ipynb (`make readme`) and kept in sync with it."""
import importlib.util, json

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("readme_gen", ROOT / ".ci" / "readme.py")
readme_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_gen)


def test_readme_in_sync_with_index():
    assert (ROOT / "README.md").read_text(encoding="utf-8") == readme_gen.readme(), \
        "README.md differs from nbs/index.ipynb: run `make readme` and commit"


def test_readme_quick_start_is_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [l.split("#")[0].strip() for l in block.strip().splitlines()] == ["make demo", "make test"]


def test_generator_rules(tmp_path):
    "Markdown kept, hidden cells skipped, code and its text output shown, links rewritten to the repo root."
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# t\n\n> s\n\n![f](../plots/docs/a.png) [n](00_core.ipynb)"},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "#| hide\nsecret = 1"},
             {"cell_type": "code", "metadata": {}, "execution_count": None, "source": "print(1 + 1)",
              "outputs": [{"output_type": "stream", "name": "stdout", "text": ["2\n"]}]}]
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    (nbs / "index.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    readme_gen.ROOT = tmp_path
    try: text = readme_gen.readme(nbs / "index.ipynb")
    finally: readme_gen.ROOT = ROOT
    assert text == (readme_gen.HEADER + "# t\n\n> s\n\n![f](plots/docs/a.png) [n](nbs/00_core.ipynb)\n\n"
                    "```python\nprint(1 + 1)\n```\n\n```\n2\n```\n")
