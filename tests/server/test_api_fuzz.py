"""Schemathesis against the real server: generated requests for every operation of its own OpenAPI document.

The server runs with an API key, which the requests send, so the write routes are exercised too
(uploads of generated files, patches, deletes of generated ids); examples, boundary coverage,
fuzzing and stateful sequences all run, with a fixed seed so that CI is reproducible. Every check
runs except two that judge validation the schema cannot state:

- ``positive_data_acceptance``: a schema-valid request must be accepted. The server also checks
  what JSON Schema cannot express: a region must be names of the gazetteer, a question must not be
  blank once stripped, an upload must be a readable file of a supported type. Those are 422s by design.
- ``negative_data_rejection``: a schema-violating request must be refused. Pydantic's lax mode takes
  ``false`` for the float ``0.0`` in an echoed answer's ``features``; harmless, and not worth a
  strict mode that would also refuse dates written as strings.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings

KEY = "fuzz-key"
ST = Path(sys.executable).with_name("st")
EXCLUDED = ("positive_data_acceptance", "negative_data_rejection")
EXAMPLES = 25  # per operation and phase: bounded for CI


@pytest.mark.model
def test_schemathesis_finds_no_server_error_undeclared_status_or_schema_violation(
    servers: Any, tmp_path: Path, repo_seeds: Path
) -> None:
    server = servers.start(Settings(data=tmp_path / "data", seeds=repo_seeds, api_key=KEY))
    cmd = [
        str(ST), "run", f"{server.url}/openapi.json", "--checks", "all", "--exclude-checks", ",".join(EXCLUDED),
        "--max-examples", str(EXAMPLES), "--header", f"X-API-Key: {KEY}", "--seed", "1", "--no-color",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", done.stdout)
    assert selected and selected[1] == selected[2] and f"Tested: {selected[1]}" in done.stdout, done.stdout[-3000:]
    with server.client() as api:
        assert api.get("/healthz").status_code == 200  # still serving after all of it
