"""`hawcnb run` end to end through the console script: parameters applied, run folder layout, one-line errors."""
import os, subprocess, sys
from pathlib import Path

import nbformat

from conftest import ROOT

BIN = Path(sys.executable).parent


def _nb(path, params_src, *srcs):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    if params_src is not None:
        nb.cells.append(nbformat.v4.new_code_cell(params_src, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(s) for s in srcs]
    nbformat.write(nb, path)
    return path


def _hawcnb(*args, runs):
    env = {**os.environ, "HAWCNB_RUNS": str(runs), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([BIN / "hawcnb", "run", *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


HELLO = ("n = 2  # lines to write\ngreeting = 'hi'\nout_dir = None",
         "from pathlib import Path\nimport tempfile\nout = Path(out_dir or tempfile.mkdtemp())",
         "(out/'lines.txt').write_text((greeting + '\\n') * n)\nPath('cwd.txt').write_text('x')",
         "assert n != 13, 'unlucky'")


def test_run_applies_parameters_into_a_run_folder(tmp_path):
    nb = _nb(tmp_path / "hello.ipynb", *HELLO)
    r = _hawcnb(nb, "-p", "n", "3", "-p", "greeting", "007", "--no-progress", runs=tmp_path / "runs")
    assert r.returncode == 0, r.stderr
    (run,) = (tmp_path / "runs" / "hello").iterdir()          # runs/<notebook>/<timestamp>/
    assert r.stdout.strip() == str(run)
    assert len(run.name) == len("20260131-142501") and run.name[8] == "-"
    assert sorted(p.name for p in run.iterdir()) == ["cwd.txt", "hello.ipynb", "lines.txt"]
    assert (run / "lines.txt").read_text() == "007\n" * 3     # a str parameter keeps its text
    executed = nbformat.read(run / "hello.ipynb", as_version=4)
    assert executed.metadata.papermill.parameters == {"n": 3, "greeting": "007", "out_dir": str(run)}


def test_user_errors_are_one_line_exit_2(tmp_path):
    nb = _nb(tmp_path / "hello.ipynb", *HELLO)
    plain = _nb(tmp_path / "plain.ipynb", None, "x = 1")
    cases = [((nb, "-p", "nn", "3"), "unknown parameter nn for hello.ipynb (its parameters: n, greeting, out_dir)"),
             ((nb, "-p", "n", "three"), "parameter n expects an int"),
             ((plain, "-p", "x", "2"), "plain.ipynb has no cell tagged 'parameters'"),
             ((nb, "-p", "out_dir", "/tmp"), "out_dir is set by the runner"),
             (("no_such_notebook_xyz",), "no notebook 'no_such_notebook_xyz'")]
    for args, msg in cases:
        r = _hawcnb(*args, runs=tmp_path / "runs")
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("hawcnb run: error: ") and msg in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()                   # nothing ran


def test_failed_run_points_at_the_cell_exit_1(tmp_path):
    nb = _nb(tmp_path / "hello.ipynb", *HELLO)
    r = _hawcnb(nb, "-p", "n", "13", "--no-progress", "--out", tmp_path / "out", runs=tmp_path / "runs")
    assert r.returncode == 1
    saved = tmp_path / "out" / "hello.ipynb"
    assert r.stderr == (f"hawcnb run: failed: cell 4 (In [5]) raised AssertionError: unlucky; "
                        f"the executed notebook with the traceback is {saved}\n")
    assert saved.exists() and (tmp_path / "out" / "lines.txt").exists()


def test_runs_never_write_under_nbs(tmp_path):
    nb = _nb(tmp_path / "hello.ipynb", *HELLO)
    r = _hawcnb(nb, "--out", ROOT / "nbs" / "runs_here", runs=tmp_path / "runs")
    assert r.returncode == 2 and "must not write under nbs/" in r.stderr
    assert not (ROOT / "nbs" / "runs_here").exists()
