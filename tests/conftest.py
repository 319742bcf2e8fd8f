"""Shared pytest setup: the repository root, and headless plotting everywhere."""
import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parent.parent
# specs and reference test data: laid beside the clone (CI, the main checkout); a worktree elsewhere falls back
SHARED = next((p for p in [ROOT.parent / "shared", Path("/work/shared")] if p.exists()), ROOT.parent / "shared")
