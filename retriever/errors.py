"""Errors raised by the retriever; each message names the bad value and the fix."""


class RetrieverError(Exception):
    """Base class of every retriever error."""


class QuestionError(RetrieverError):
    """The question is empty, blank or too long."""


class CitationError(RetrieverError):
    """A citation does not match its document's text at its offsets (an internal bug, never shown as an answer)."""
