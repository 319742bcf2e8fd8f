"""Shared pytest setup: the repository root, and headless plotting everywhere."""
import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"          # specs and reference test data laid beside the clone
