"""The notebooks are clean and the library is in sync: nbdev_clean and nbdev_export change nothing."""
import shutil, subprocess, sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent


def _copy(tmp):
    for name in ("nbs", "hawcnb"):
        shutil.copytree(ROOT / name, tmp / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for name in ("settings.ini", "setup.py"):
        shutil.copy(ROOT / name, tmp / name)
    return tmp


def _tree(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}


def _changes(before, after):
    return sorted(str(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def test_notebooks_are_clean(tmp_path):
    work = _copy(tmp_path)
    before = _tree(work / "nbs")
    subprocess.run([BIN / "nbdev_clean"], cwd=work, check=True, capture_output=True)
    changed = _changes(before, _tree(work / "nbs"))
    assert not changed, f"nbdev_clean would change {changed}: run `make export` and commit"


def test_library_in_sync(tmp_path):
    work = _copy(tmp_path)
    before = _tree(work / "hawcnb")
    subprocess.run([BIN / "nbdev_export"], cwd=work, check=True, capture_output=True)
    changed = _changes(before, _tree(work / "hawcnb"))
    assert not changed, f"nbdev_export would change {changed}: hawcnb/ is generated, edit the notebooks"


def test_clean_keeps_papermill_parameters_tag(tmp_path):
    "papermill finds its `parameters` cell by a cell tag: nbdev_clean must keep cell tags."
    import json
    work = _copy(tmp_path)
    nb = {"cells": [{"cell_type": "code", "execution_count": 3, "id": "x", "metadata": {"tags": ["parameters"], "foo": 1},
                     "outputs": [], "source": ["epochs = 1"]}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    p = work / "nbs" / "zz_tagged.ipynb"
    p.write_text(json.dumps(nb))
    subprocess.run([BIN / "nbdev_clean", "--fname", str(p)], cwd=work, check=True, capture_output=True)
    cell = json.loads(p.read_text())["cells"][0]
    assert cell["metadata"] == {"tags": ["parameters"]}
    assert cell["execution_count"] is None
