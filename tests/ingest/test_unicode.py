"""The boundary rule for text: lone surrogates are found, named, and never break an echo."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.unicode import check_unicode, encodable, invalid_at

# Every code point, lone surrogates, NUL, U+FFFF and astral characters included.
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF))


def test_a_lone_surrogate_is_found_and_named_with_its_position() -> None:
    assert invalid_at("补贴\ud800多少") == 2
    assert invalid_at("补贴\x00\uffff\U0001f600") is None
    with pytest.raises(ValueError, match=r"the question is not valid Unicode: a lone surrogate U\+D800 at character 2"):
        check_unicode("补贴\ud800", "the question")


@given(ANY_TEXT)
def test_any_text_is_either_valid_or_refused_and_its_echo_always_encodes(text: str) -> None:
    if invalid_at(text) is None:
        assert check_unicode(text, "x") == text
        assert encodable(text) == text
    else:
        with pytest.raises(ValueError):
            check_unicode(text, "x")
    reply = encodable({"detail": [{"input": text, text: [text]}]})
    json.dumps(reply, ensure_ascii=False).encode("utf-8")  # never raises
