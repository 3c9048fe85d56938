"""Server and CLI settings from the environment (prefix ``ZHENGCE_``); the only reader of ``os.environ``."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.config import BuildConfig, ChunkConfig, EngineConfig, is_server_uri

_DEFAULT = BuildConfig()
# The name ``ZHENGCE_API_KEY``'s one key is recorded under in the audit trail.
DEFAULT_KEY_NAME = "default"
_KEY_NAME = re.compile(r"[\w.@-]{1,64}")


class SettingsError(Exception):
    """A setting is malformed. Not a ValueError on purpose: pydantic would echo the input, a secret key, in its
    message; this one names the problem and never the key."""


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
    # Several named keys, ``name:key`` pairs separated by commas (``zhang:k1,li:k2``); the audit trail
    # records the name of the key each write used. ``api_key``, when set too, is named ``default``.
    api_keys: SecretStr | None = None
    # Server processes answering questions; each maps the index files (shared pages), one writes at a time.
    workers: int = Field(default=1, ge=1, le=64)
    # Processes embedding a large batch of new chunks (``zhengce add``, the server's indexer); 0: one per core.
    embed_workers: int = Field(default=0, ge=0, le=64)
    # Where chunks are searched: ``embedded`` (FAISS + BM25 files in the data directory) or ``milvus``.
    index: Literal["embedded", "milvus"] = "embedded"
    # The Milvus engine: a file path (milvus-lite in this process) or ``http://host:19530``; empty means
    # ``milvus.db`` in the data directory. Its token (``user:password`` or an API key), if it wants one.
    milvus_uri: str = ""
    milvus_token: SecretStr | None = None
    milvus_collection: str = Field(default="zhengce_chunks", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")

    @field_validator("api_key")
    @classmethod
    def _usable_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None  # ZHENGCE_API_KEY= (empty) means no key, as when it is unset
        if value.get_secret_value().strip() != value.get_secret_value():
            raise ValueError("the API key must not start or end with blanks (check for a stray newline)")
        return value

    @field_validator("api_keys")
    @classmethod
    def _usable_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value().strip() == "":
            return None
        parse_named_keys(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _distinct_keys(self) -> Settings:
        self.write_keys  # noqa: B018 (raises SettingsError when ZHENGCE_API_KEY clashes with ZHENGCE_API_KEYS)
        return self

    @model_validator(mode="after")
    def _shared_engine(self) -> Settings:
        if self.index == "milvus" and self.workers > 1 and not is_server_uri(self.milvus_uri):
            raise ValueError(
                "several workers need a Milvus server to share (ZHENGCE_MILVUS_URI=http://host:19530): "
                "milvus-lite opens its file in one process only"
            )
        return self

    @property
    def write_keys(self) -> dict[str, SecretStr]:
        """``name -> key`` of every key that may write: ``ZHENGCE_API_KEYS``'s and ``ZHENGCE_API_KEY``'s (named
        ``default``); empty when no key is configured and writes are open.

        Raises:
            SettingsError: ``default`` is also a name of ``ZHENGCE_API_KEYS``, or two names share one key.
        """
        keys = parse_named_keys(self.api_keys.get_secret_value()) if self.api_keys is not None else {}
        if self.api_key is not None:
            if DEFAULT_KEY_NAME in keys:
                raise SettingsError(
                    f"ZHENGCE_API_KEYS names a key {DEFAULT_KEY_NAME!r}, the name ZHENGCE_API_KEY's key is recorded "
                    "under: rename it, or move ZHENGCE_API_KEY into ZHENGCE_API_KEYS"
                )
            keys[DEFAULT_KEY_NAME] = self.api_key
        by_key: dict[str, str] = {}
        for name, key in keys.items():
            if (other := by_key.setdefault(key.get_secret_value(), name)) != name:
                raise SettingsError(
                    f"the API keys named {other!r} and {name!r} are the same key, so the audit trail could not "
                    "tell them apart: give each its own key"
                )
        return keys

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
        token = self.milvus_token.get_secret_value() if self.milvus_token else ""
        return BuildConfig(
            chunk=ChunkConfig(max_chars=self.chunk_max_chars),
            embedder=self.embedder,
            tokenizer=self.tokenizer,
            engine=EngineConfig(self.index, self.milvus_uri, token, self.milvus_collection),
        )


def parse_named_keys(text: str) -> dict[str, SecretStr]:
    """``name -> key`` of a ``ZHENGCE_API_KEYS`` value: ``name:key`` pairs separated by commas.

    Raises:
        SettingsError: a pair is empty, has no colon, an empty or unusable name, a name used twice, or a blank
            key (or one starting or ending with blanks). The message names the pair by position and name,
            never its key.
    """
    keys: dict[str, SecretStr] = {}
    usage = "write name:key pairs separated by commas, e.g. ZHENGCE_API_KEYS=zhang:k1,li:k2"
    for n, pair in enumerate(text.strip().split(","), start=1):
        name, colon, key = pair.strip().partition(":")
        where = f"ZHENGCE_API_KEYS, pair {n}"
        if not pair.strip():
            raise SettingsError(f"{where} is empty (two commas in a row, or one at an end); {usage}")
        if not colon:
            raise SettingsError(f"{where} has no colon between a name and its key; {usage}")
        if not _KEY_NAME.fullmatch(name):  # not shown: a pair written key:name would print the key
            raise SettingsError(
                f"{where}: the name is empty or unusable; a name is 1 to 64 letters, digits or _ . @ - "
                "(written name:key)"
            )
        if name in keys:
            raise SettingsError(f"{where}: the name {name!r} is given twice; each key needs its own name")
        if not key.strip() or key.strip() != key:
            raise SettingsError(
                f"{where} ({name!r}): the key is blank or starts or ends with blanks (check for a stray space)"
            )
        keys[name] = SecretStr(key)
    return keys
