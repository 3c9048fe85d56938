"""Errors raised by ingest; each message names the bad value and the fix."""


class IngestError(Exception):
    """Base class of every ingest error."""


class SeedError(IngestError):
    """The seeds folder or its manifest is malformed."""


class IndexFormatError(IngestError):
    """An index generation is missing, partial, corrupt or built with another model or tokenizer."""


class OutdatedIndexError(IndexFormatError):
    """An index generation written by another release, in another format: not damaged, just to be rebuilt."""


class DocumentError(IngestError):
    """A document cannot be ingested (empty, unreadable, unsupported)."""
