"""The boundary rule for text: what enters (HTTP, a file, the command line) is valid Unicode.

A lone UTF-16 surrogate (``"\\ud800"``, from JSON escapes or from undecodable command-line bytes)
is a Python ``str`` that no UTF-8 codec accepts: OpenCC, SQLite and the JSON reply all fail on it.
Such text is refused where it enters, with a message that says where the bad character is.
"""

from __future__ import annotations


def invalid_at(text: str) -> int | None:
    """The position of the first character UTF-8 cannot encode (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None


def check_unicode(text: str, what: str) -> str:
    """``text`` unchanged when it is valid Unicode.

    Raises:
        ValueError: it holds a lone surrogate; the message names ``what`` and the position.
    """
    at = invalid_at(text)
    if at is not None:
        raise ValueError(
            f"{what} is not valid Unicode: a lone surrogate U+{ord(text[at]):04X} at character {at}; send UTF-8 text"
        )
    return text


def encodable(value: object) -> object:
    """``value`` (JSON-like) with every string made encodable: a lone surrogate becomes ``\\ud800``.

    For error replies that echo what was sent: the echo must never fail to encode.
    """
    if isinstance(value, str):
        return value if invalid_at(value) is None else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(v) for v in value]
    return value
