"""What several test modules share that is not a fixture: repository paths and a subprocess environment.

Importable as ``helpers`` (``pythonpath = ["tests"]`` in pyproject.toml); fixtures stay in conftest.py.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
# The public data beside the repository (../shared/data), never an absolute path of one machine.
SHARED_DATA = REPO.parent / "shared" / "data"


def cli_env(**settings: str) -> dict[str, str]:
    """The environment of a ``zhengce`` subprocess: offline, no ZHENGCE_* or PORT of the caller, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGCE_") and k != "PORT"}
    return {**env, "HF_HUB_OFFLINE": "1", **settings}
