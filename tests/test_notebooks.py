"""Execute every notebook in nbs/ with nbdev's runner (one pytest test per notebook).

Cells flagged with a `tst_flags` flag (`#| slow`, `#| gpu`) are skipped unless named in the environment
variable HAWCNB_TEST_FLAGS (for example `HAWCNB_TEST_FLAGS=slow make test`). Folders holding a `.notest` file
and notebooks with `skip_exec: true` front matter are skipped, as `nbdev_test` does.
"""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

from conftest import ROOT

CFG = get_config(path=ROOT)


def _skipped(p):
    return any((d / ".notest").exists() for d in p.parents if d.is_relative_to(ROOT / "nbs"))


NBS = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb")
             if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("_") and not _skipped(p))
SKIP = CFG.tst_flags.split()
FORCE = os.environ.get("HAWCNB_TEST_FLAGS", "").split()


@pytest.mark.parametrize("nb", NBS, ids=[str(p.relative_to(ROOT / "nbs")) for p in NBS])
def test_notebook_runs(nb, capsys):
    ok, secs = run_notebook(nb, skip_flags=SKIP, force_flags=FORCE, showerr=True, basepath=ROOT)
    assert ok, f"{nb.name} failed (see the traceback above)"
