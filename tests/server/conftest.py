"""A real app over a real index built from ``seeds/``, served by a real uvicorn on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from server.app import create_app
from server.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
STARTUP_TIMEOUT_S = 300.0


class LiveServer:
    """``create_app(settings)`` served by uvicorn in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))  # the OS picks a free port; uvicorn listens on this socket
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, log_level="warning", log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> LiveServer:
        """Start serving and wait until ``/healthz`` answers.

        Raises:
            RuntimeError: the server stopped or did not answer in time.
        """
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the server stopped during startup; see the log above")
            if self.server.started:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz within {STARTUP_TIMEOUT_S:.0f}s")

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for it; stopping twice is harmless."""
        if not self.thread.is_alive():
            self.sock.close()
            return
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def client(self) -> httpx.Client:
        """An HTTP client for this server."""
        return httpx.Client(base_url=self.url, timeout=60)


class Servers:
    """Starts live servers and stops whichever are still running at the end of the session."""

    def __init__(self) -> None:
        self.running: list[LiveServer] = []

    def start(self, settings: Settings) -> LiveServer:
        """A started server for ``settings``."""
        server = LiveServer(settings).start()
        self.running.append(server)
        return server

    def stop_all(self) -> None:
        """Stop every server still running."""
        for server in self.running:
            server.stop()


@pytest.fixture(scope="session")
def repo_seeds() -> Path:
    """The repository's real seeds folder."""
    return SEEDS


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """A way to start servers of your own settings (each test gives its own data dir)."""
    pool = Servers()
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, servers: Servers) -> LiveServer:
    """One server over a data dir built from the real seeds, shared by the read-only API tests."""
    return servers.start(Settings(data=tmp_path_factory.mktemp("data"), seeds=SEEDS))


@pytest.fixture()
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of the shared server."""
    with live_server.client() as c:
        yield c


@pytest.fixture()
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of the test module's own ``server`` (a module that starts one defines that fixture)."""
    with server.client() as c:
        yield c
