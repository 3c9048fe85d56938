"""Fixtures shared by the ingest tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a data directory of its own."""
    s = Store(tmp_path / "data" / "zhengce.db")
    yield s
    s.close()
