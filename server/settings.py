"""Server and CLI settings from the environment (prefix ``ZHENGCE_``); the only reader of ``os.environ``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.config import BuildConfig, ChunkConfig

_DEFAULT = BuildConfig()


class Settings(BaseSettings):
    """Where the data lives, how to build the index, and where to listen.

    Every field can be set as ``ZHENGCE_<NAME>`` (``ZHENGCE_DATA=/srv/zhengce``). The port is also
    read from ``PORT``, as hosting platforms set it; ``ZHENGCE_PORT`` wins when both are set.
    """

    model_config = SettingsConfigDict(env_prefix="ZHENGCE_", extra="ignore", populate_by_name=True, frozen=True)

    data: Path = Path("var")
    seeds: Path = Path("seeds")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535, validation_alias=AliasChoices("ZHENGCE_PORT", "PORT"))
    embedder: str = _DEFAULT.embedder
    tokenizer: str = _DEFAULT.tokenizer
    chunk_max_chars: int = Field(default=_DEFAULT.chunk.max_chars, gt=0)
    log_level: str = "INFO"
    # The largest request body accepted (an upload of one or several files); larger ones get 413.
    max_upload_bytes: int = Field(default=50 * 2**20, gt=0)
    # When set, write routes (upload, replace, correct, delete, feedback) need it in ``X-API-Key``.
    api_key: SecretStr | None = None
    # Server processes answering questions; each maps the index files (shared pages), one writes at a time.
    workers: int = Field(default=1, ge=1, le=64)
    # Processes embedding a large batch of new chunks (``zhengce add``, the server's indexer); 0: one per core.
    embed_workers: int = Field(default=0, ge=0, le=64)

    @field_validator("api_key")
    @classmethod
    def _usable_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None  # ZHENGCE_API_KEY= (empty) means no key, as when it is unset
        if value.get_secret_value().strip() != value.get_secret_value():
            raise ValueError("the API key must not start or end with blanks (check for a stray newline)")
        return value

    @property
    def open_to_network(self) -> bool:
        """Whether the server would listen beyond this machine (any address but loopback)."""
        return self.host not in {"127.0.0.1", "localhost", "::1"}

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in logging.getLevelNamesMapping():
            names = ", ".join(n for n in logging.getLevelNamesMapping() if n != "NOTSET")
            raise ValueError(f"unknown log level {value!r}; use one of {names}")
        return level

    @property
    def embed_processes(self) -> int:
        """How many processes embed a large batch of new chunks."""
        return self.embed_workers or os.cpu_count() or 1

    def as_environment(self) -> dict[str, str]:
        """These settings as the ``ZHENGCE_*`` variables that give them back (for worker processes)."""
        env = {}
        for name, value in self.model_dump().items():
            if value is not None:
                secret = value.get_secret_value() if isinstance(value, SecretStr) else value
                env[f"ZHENGCE_{name.upper()}"] = str(secret)
        return env

    def build_config(self) -> BuildConfig:
        """The ingest build config these settings describe."""
        return BuildConfig(
            chunk=ChunkConfig(max_chars=self.chunk_max_chars),
            embedder=self.embedder,
            tokenizer=self.tokenizer,
        )
