"""One writer at a time per data directory, across real processes (``ingest.lock.writer_lock``).

The other writer is always a real child process holding a real ``flock``: it takes the lock,
says ``locked`` on stdout, and keeps it until the test closes its stdin (or kills it). Nothing
here asserts how long anything took; waiting is observed through what happened in what order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import cli_env

from ingest.build import UpdateOptions, ensure_index
from ingest.config import BuildConfig, DataPaths
from ingest.lock import LOCK_NAME, WriterBusyError, writer_lock
from ingest.store import Store

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "uploads" / "parking_fees.txt"
# Holds the lock until stdin closes; writes ``released_marker`` (if given) just before letting go.
HOLDER = """
import sys
from pathlib import Path
from ingest.lock import writer_lock
root, marker = Path(sys.argv[1]), sys.argv[2]
with writer_lock(root):
    print("locked", flush=True)
    sys.stdin.read()
    if marker:
        Path(marker).write_text("released", encoding="utf-8")
"""
# Tries the lock once without waiting; prints what happened.
CONTENDER = """
import sys
from pathlib import Path
from ingest.lock import WriterBusyError, writer_lock
try:
    with writer_lock(Path(sys.argv[1])):
        print("acquired")
except WriterBusyError as e:
    print("busy:", e)
    raise SystemExit(3)
"""
CHILD_TIMEOUT_S = 60


@contextmanager
def other_writer(root: Path, released_marker: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """A child process holding ``root``'s writer lock until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), str(released_marker or "")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "locked", f"the holder did not take the lock (exit code {proc.poll()})"
        yield proc
    finally:
        release(proc)


def release(proc: subprocess.Popen[str]) -> None:
    """Let the holder go (close its stdin) and wait for it to exit."""
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    proc.wait(timeout=CHILD_TIMEOUT_S)
    if proc.stdout is not None:
        proc.stdout.close()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_second_writer_process_gets_writer_busy_error_naming_the_first_ones_pid(tmp_path: Path) -> None:
    with other_writer(tmp_path) as holder:
        second = subprocess.run(
            [sys.executable, "-c", CONTENDER, str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    assert second.returncode == 3, second.stderr
    assert second.stdout.startswith("busy:")
    assert f"(pid {holder.pid})" in second.stdout
    assert "wait until it finishes" in second.stdout


def test_writer_busy_error_in_this_process_names_the_holder_and_the_way_out(tmp_path: Path) -> None:
    with other_writer(tmp_path) as holder, pytest.raises(WriterBusyError) as busy, writer_lock(tmp_path):
        pytest.fail("took a lock another process holds")
    message = str(busy.value)
    assert str(tmp_path) in message
    assert f"pid {holder.pid}" in message
    assert "the server's upload" in message


def test_wait_s_waits_until_the_holder_lets_go(tmp_path: Path) -> None:
    marker = tmp_path / "released"
    acquired = threading.Event()
    seen_marker: list[bool] = []

    def wait_for_lock() -> None:
        with writer_lock(tmp_path / "data", wait_s=CHILD_TIMEOUT_S):
            seen_marker.append(marker.exists())
            acquired.set()

    with other_writer(tmp_path / "data", released_marker=marker) as holder:
        waiter = threading.Thread(target=wait_for_lock)
        waiter.start()
        assert not acquired.wait(1.0), "got the lock while another process held it"
        release(holder)
        waiter.join(timeout=CHILD_TIMEOUT_S)
    assert acquired.is_set()
    assert seen_marker == [True]  # the holder had finished before the waiter got in


def test_a_wait_shorter_than_the_holders_work_ends_in_writer_busy_error(tmp_path: Path) -> None:
    with (
        other_writer(tmp_path) as holder,
        pytest.raises(WriterBusyError, match=f"pid {holder.pid}"),
        writer_lock(tmp_path, wait_s=0.3),
    ):
        pytest.fail("took a lock another process holds")


def test_the_lock_is_free_once_its_holder_is_killed(tmp_path: Path) -> None:
    with other_writer(tmp_path) as holder:
        holder.kill()
        holder.wait(timeout=CHILD_TIMEOUT_S)
        with writer_lock(tmp_path):
            assert (tmp_path / LOCK_NAME).read_text() == str(os.getpid())


def test_the_lock_file_names_the_current_holder_and_the_lock_can_be_taken_again(tmp_path: Path) -> None:
    with writer_lock(tmp_path / "data"):
        assert (tmp_path / "data" / LOCK_NAME).read_text() == str(os.getpid())
    # A second open of the lock file, even in this process, is a second writer.
    with writer_lock(tmp_path / "data"), pytest.raises(WriterBusyError), writer_lock(tmp_path / "data"):
        pytest.fail("took the lock twice")


def test_ensure_index_refuses_while_another_process_writes_and_changes_nothing(
    tmp_path: Path, seed_writer: Callable[..., Path], hash_embedder: Any
) -> None:
    seeds = seed_writer(tmp_path, [("notice", "第一条 本办法自发布之日起施行。")])
    paths = DataPaths(tmp_path / "data")
    with other_writer(paths.root) as holder:
        before = tree(paths.root)
        with pytest.raises(WriterBusyError, match=f"pid {holder.pid}"):
            ensure_index(paths, seeds, BuildConfig(), hash_embedder)
        assert tree(paths.root) == before
    assert not paths.db.exists()
    assert not paths.index.exists()


def test_ensure_index_with_wait_s_builds_once_the_other_writer_is_done(
    tmp_path: Path, seed_writer: Callable[..., Path], hash_embedder: Any
) -> None:
    seeds = seed_writer(tmp_path, [("notice", "第一条 本办法自发布之日起施行。")])
    paths = DataPaths(tmp_path / "data")
    marker = tmp_path / "released"
    built: list[int] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            opts = UpdateOptions(wait_s=CHILD_TIMEOUT_S)
            built.append(ensure_index(paths, seeds, BuildConfig(), hash_embedder, opts).n_docs)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    with other_writer(paths.root, released_marker=marker) as holder:
        builder = threading.Thread(target=build)
        builder.start()
        assert not paths.db.exists()  # nothing is written while the other writer holds the lock
        release(holder)
        builder.join(timeout=CHILD_TIMEOUT_S)
    assert errors == []
    assert built == [1]
    assert marker.exists()


def test_zhengce_add_refuses_while_another_process_holds_the_lock_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with other_writer(data) as holder:
        before = tree(data)
        result = subprocess.run(
            [sys.executable, "-m", "server.cli", "add", "--data", str(data), str(FIXTURE)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=cli_env(),
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
        after = tree(data)
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"zhengce add: error: {data} is being updated by another process (pid {holder.pid})" in result.stderr
    assert "Traceback" not in result.stderr
    assert after == before == {LOCK_NAME: str(holder.pid).encode()}


@pytest.mark.model
def test_zhengce_add_once_the_other_writer_is_done_adds_the_file(tmp_path: Path) -> None:
    # The counterpart of the refusal above: the same command, after the holder let go, gets in.
    data = tmp_path / "data"
    with other_writer(data):
        pass
    env = cli_env(ZHENGCE_SEEDS=str(REPO / "seeds"))
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "add", "--data", str(data), str(FIXTURE)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    added = json.loads(result.stdout.splitlines()[0])
    assert (added["path"], added["status"], added["duplicate"]) == (str(FIXTURE), "received", False)
    store = Store(DataPaths(data).db)
    try:
        row = store.status(added["doc_id"])
    finally:
        store.close()
    assert row is not None
    assert (row.status, row.filename) == ("indexed", FIXTURE.name)
