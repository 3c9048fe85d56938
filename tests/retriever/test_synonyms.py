"""The synonym table expands questions for the lexical search only, and is read from its data file."""

from __future__ import annotations

from retriever.synonyms import Synonyms, default_synonyms


def test_a_province_in_a_question_also_searches_for_its_abbreviation() -> None:
    extra = default_synonyms().expand("山东和重庆的帮扶合作要做到什么")
    assert {"鲁", "渝"} <= set(extra)


def test_a_one_character_word_is_searched_for_but_never_triggers() -> None:
    table = Synonyms.parse(["新疆 疆", "山东 鲁"])
    assert table.expand("疆土面积多大") == []
    assert table.expand("新疆的学校") == []  # 疆 is already in the question
    assert table.expand("山东的学校") == ["鲁"]


def test_comments_blank_lines_and_traditional_script_are_handled() -> None:
    table = Synonyms.parse(["# 注释", "", "廣東 粤  # 广东", "单词"])
    assert table.groups == (("广东", "粤"),)
    assert table.expand("廣東的經濟") == ["粤"]


def test_words_already_in_the_question_are_not_added_again() -> None:
    assert Synonyms.parse(["重庆 渝"]).expand("渝北区在重庆") == []
