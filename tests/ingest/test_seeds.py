"""Tests for ingest.seeds: the real seed folder, and broken seed folders built in tmp_path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from ingest.errors import IngestError, SeedError
from ingest.seeds import read_seeds

DOC = "一、总体要求\n对小型微利企业年应纳税所得额不超过100万元的部分，减按25%计入应纳税所得额。\n"


def _rows(seeds: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (seeds / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def _write_rows(seeds: Path, rows: list[dict[str, object]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (seeds / "manifest.jsonl").write_text(text, encoding="utf-8")


def test_the_real_seed_folder_reads_with_its_metadata(repo_root: Path) -> None:
    entries = list(read_seeds(repo_root / "seeds"))
    assert [e.doc_id for e in entries] == ["cq-2023-08-25-xianjie"]
    (e,) = entries
    assert e.published == date(2023, 8, 25)
    assert e.author == "邓俐"
    assert e.doc_number is None and e.source_url is None
    assert e.sha256 == hashlib.sha256(e.raw).hexdigest() == _rows(repo_root / "seeds")[0]["sha256"]
    assert "16118元" in e.raw.decode("utf-8")


def test_a_good_tmp_seed_folder_reads_in_manifest_order(tmp_path: Path, seed_writer: Callable[..., Path]) -> None:
    seeds = seed_writer(tmp_path, [("b-doc", DOC), ("a-doc", DOC + "二、附则\n")])
    entries = list(read_seeds(seeds))
    assert [e.doc_id for e in entries] == ["b-doc", "a-doc"]
    assert entries[0].raw == DOC.encode("utf-8")
    assert entries[0].filename == "b-doc.txt"
    assert entries[0].published == date(2024, 3, 1)


def test_a_changed_file_raises_seed_error_naming_both_digests(tmp_path: Path, seed_writer: Callable[..., Path]) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    path = seeds / "docs" / "a.txt"
    path.write_text(DOC.replace("25%", "20%"), encoding="utf-8")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = _rows(seeds)[0]["sha256"]
    with pytest.raises(SeedError, match="sha256") as info:
        list(read_seeds(seeds))
    assert actual in str(info.value) and str(expected) in str(info.value)
    assert "a.txt" in str(info.value)


def test_a_missing_file_raises_seed_error_naming_the_path(tmp_path: Path, seed_writer: Callable[..., Path]) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    (seeds / "docs" / "a.txt").unlink()
    with pytest.raises(SeedError, match=r"cannot read .*a\.txt.*'file'"):
        list(read_seeds(seeds))


@pytest.mark.parametrize("bad", ["2023-13-45", "2023/08/25", "昨天", "2023-8-25"])
def test_a_bad_date_raises_seed_error_naming_the_value(
    bad: str, tmp_path: Path, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    rows = _rows(seeds)
    rows[0]["published"] = bad
    _write_rows(seeds, rows)
    with pytest.raises(SeedError, match="YYYY-MM-DD") as info:
        list(read_seeds(seeds))
    assert repr(bad) in str(info.value)
    assert "manifest.jsonl:1" in str(info.value)


def test_an_empty_date_means_unknown(tmp_path: Path, seed_writer: Callable[..., Path]) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    rows = _rows(seeds)
    rows[0]["published"] = ""
    _write_rows(seeds, rows)
    assert next(read_seeds(seeds)).published is None


def test_a_duplicate_doc_id_raises_seed_error_naming_it_and_its_line(
    tmp_path: Path, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC), ("b", DOC)])
    rows = _rows(seeds)
    rows[1]["doc_id"] = "a"
    _write_rows(seeds, rows)
    with pytest.raises(SeedError, match=r"manifest\.jsonl:2: doc_id 'a' appears twice"):
        list(read_seeds(seeds))


def test_a_missing_manifest_raises_seed_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    with pytest.raises(SeedError, match=r"manifest\.jsonl not found"):
        list(read_seeds(tmp_path))


def test_a_missing_required_field_raises_seed_error_naming_it(tmp_path: Path, seed_writer: Callable[..., Path]) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    rows = _rows(seeds)
    del rows[0]["sha256"]
    rows[0]["title"] = ""
    _write_rows(seeds, rows)
    with pytest.raises(SeedError, match="missing title, sha256"):
        list(read_seeds(seeds))


def test_a_line_that_is_not_json_raises_seed_error_naming_the_line(
    tmp_path: Path, seed_writer: Callable[..., Path]
) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    with (seeds / "manifest.jsonl").open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    with pytest.raises(SeedError, match=r"manifest\.jsonl:2: not valid JSON"):
        list(read_seeds(seeds))


def test_blank_manifest_lines_are_skipped(tmp_path: Path, seed_writer: Callable[..., Path]) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    manifest = seeds / "manifest.jsonl"
    manifest.write_text("\n  \n" + manifest.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert [e.doc_id for e in read_seeds(seeds)] == ["a"]


def test_a_line_that_is_not_a_json_object_raises_seed_error(tmp_path: Path, seed_writer: Callable[..., Path]) -> None:
    seeds = seed_writer(tmp_path, [("a", DOC)])
    with (seeds / "manifest.jsonl").open("a", encoding="utf-8") as f:
        f.write('["b", "docs/a.txt"]\n')
    with pytest.raises(IngestError):
        list(read_seeds(seeds))
