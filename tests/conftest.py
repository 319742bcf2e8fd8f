"""Shared pytest setup: the repository root, and headless plotting everywhere."""
import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
# pytest-xdist workers share the cores: one intra-op thread each. torch's default (one thread per core in every
# worker) oversubscribes them, which made PixelCNN training steps 10-70x slower on the 2-core VM.
if os.environ.get("PYTEST_XDIST_WORKER"): os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
# specs and reference test data: laid beside the clone (CI, the main checkout); a worktree elsewhere falls back
SHARED = next((p for p in [ROOT.parent / "shared", Path("/work/shared")] if p.exists()), ROOT.parent / "shared")
