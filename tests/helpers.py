"""What several test modules share that is not a fixture: repository paths, a subprocess environment, and a
Milvus server on loopback.

Importable as ``helpers`` (``pythonpath = ["tests"]`` in pyproject.toml); fixtures stay in conftest.py.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
# The public data beside the repository (../shared/data), never an absolute path of one machine.
SHARED_DATA = REPO.parent / "shared" / "data"


def cli_env(**settings: str) -> dict[str, str]:
    """The environment of a ``zhengce`` subprocess: offline, no ZHENGCE_* or PORT of the caller, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGCE_") and k != "PORT"}
    return {**env, "HF_HUB_OFFLINE": "1", **settings}


def chunk_ids(db: Path) -> set[int]:
    """The ids of the searchable chunks of a data directory's database (what a Milvus collection must hold)."""
    from ingest.store import Store

    store = Store(db)
    try:
        return {i for i, _ in store.chunk_ids()}
    finally:
        store.close()


class MilvusServer:
    """milvus-lite 2.5.1 (Milvus's own engine) serving TCP on loopback, as a Milvus server would: ``uri`` is
    what the service is given; ``kill`` SIGKILLs the engine process, ``start`` brings it back on the same
    port and file."""

    def __init__(self, db_file: Path) -> None:
        from evals.bench import free_port

        self.db_file = db_file
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> MilvusServer:
        from milvus_lite.server import Server

        self._server = Server(str(self.db_file), address=f"127.0.0.1:{self.port}")
        if not self._server.start():
            raise RuntimeError(f"milvus-lite did not start on {self.db_file}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"milvus-lite did not listen on {self.port}")

    @property
    def pid(self) -> int:
        """The engine process's id."""
        return int(self._server._p.pid)

    def kill(self) -> None:
        """SIGKILL the engine process (as a crash would), then release its file lock."""
        self._server._p.kill()
        self._server._p.wait()
        self._server.stop()

    def __enter__(self) -> MilvusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._server is not None and self._server._p is not None:
            self.kill()
