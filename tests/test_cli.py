"""The `hawcnb` command: every listed subcommand exists (no stubs), and user errors are one line with exit 2."""
import importlib, subprocess, sys
from pathlib import Path

import pytest

from hawcnb.cli import COMMANDS

HAWCNB = Path(sys.executable).parent / "hawcnb"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_its_function(name):
    module = importlib.import_module(COMMANDS[name][0])
    assert callable(getattr(module, f"cli_{name.replace('-', '_')}"))


def _run(*args):
    return subprocess.run([HAWCNB, *args], capture_output=True, text=True, timeout=300)


def test_version_and_help():
    v = _run("--version")
    assert v.returncode == 0 and v.stdout.startswith("hawcnb ")
    h = _run("--help")
    assert h.returncode == 0 and all(name in h.stdout for name in COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name):
    r = _run(name, "--help")
    assert r.returncode == 0, r.stderr
    assert "usage: hawcnb" in r.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_bad_option_is_one_line_exit_2(name):
    r = _run(name, "--no-such-option-xyz")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_command():
    r = _run("frobnicate")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
