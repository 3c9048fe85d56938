"""Tests for ingest.tokenize: the one BM25 tokenizer for chunks and questions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.tokenize import SCHEMES, entities, normalize_for_search, tokenize, tokenizer_id
from ingest.types import Document

SENTENCE = (
    "目前,重庆出台衔接政策130余个,打造产业帮扶基地5.6万个,脱贫人口人均纯收入达到16118元、高出全国脱贫人口收入1776元。"
)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_numbers_stay_whole_tokens(scheme: str) -> None:
    tokens = tokenize("人均纯收入达到16118元，基地5.6万个，覆盖90%以上，打造2—3个", scheme)
    assert {"16118", "5.6", "90%", "2", "3"} <= set(tokens)
    assert not {"1", "6", "11", "161", "118", "5", ".6", "90"} & set(tokens)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_a_question_number_matches_the_same_number_in_a_chunk(scheme: str) -> None:
    chunk_tokens = set(tokenize(SENTENCE, scheme))
    assert "16118" in set(tokenize("收入是16118元吗", scheme)) & chunk_tokens
    assert "1776" in set(tokenize("１７７６元", scheme)) & chunk_tokens


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_full_width_digits_and_letters_fold_to_half_width_lower_case(scheme: str) -> None:
    assert tokenize("１６１１８元ＧＤＰ", scheme) == tokenize("16118元gdp", scheme)
    assert "16118" in tokenize("１６１１８元", scheme)
    assert "gdp" in tokenize("ＧＤＰ增长", scheme)


def test_normalize_for_search_folds_width_and_case_only() -> None:
    assert normalize_for_search("１６１１８元，ＡＢＣ") == "16118元,abc"
    assert normalize_for_search("脱贫人口") == "脱贫人口"


def test_char12_gives_every_cjk_character_and_every_adjacent_pair() -> None:
    assert tokenize("脱贫人口", "char12") == ["脱", "贫", "人", "口", "脱贫", "贫人", "人口"]


def test_char12_pairs_do_not_cross_a_number_or_punctuation() -> None:
    tokens = tokenize("收入16118元、高出", "char12")
    assert tokens == ["收", "入", "收入", "16118", "元", "高", "出", "高出"]


def test_word_scheme_gives_jieba_words_and_drops_stopwords() -> None:
    tokens = tokenize("脱贫人口收入是多少", "word")
    assert {"脱贫", "人口", "收入"} <= set(tokens)
    assert not {"是", "多少"} & set(tokens)
    assert "的" not in tokenize("农村的基础设施", "word")
    assert "的" in tokenize("农村的基础设施", "char12")


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="脱贫人口收入达到元万个的是多少一二三0123456789.%，。ＡＢａｂ１２ \n", max_size=60))
def test_word_plus_char12_is_the_union_of_both_schemes(text: str) -> None:
    both = tokenize(text, "word+char12")
    assert both == tokenize(text, "word") + tokenize(text, "char12")
    assert set(tokenize(text, "word")) | set(tokenize(text, "char12")) == set(both)


def test_an_unknown_scheme_raises_value_error_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown tokenizer 'bigram'") as info:
        tokenize("脱贫", "bigram")
    for name in SCHEMES:
        assert name in str(info.value)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_tokenizing_is_deterministic_on_the_seed(scheme: str, seed_docs: list[Document]) -> None:
    text = seed_docs[0].text
    assert tokenize(text, scheme) == tokenize(text, scheme)
    assert "16118" in tokenize(text, scheme)


def test_punctuation_and_blank_text_give_no_tokens() -> None:
    for scheme in SCHEMES:
        assert tokenize("，。！？“”  \n", scheme) == []
        assert tokenize("", scheme) == []


def test_entities_are_the_places_organisations_and_years_a_question_names() -> None:
    from ingest.tokenize import entities

    assert entities("上海脱贫人口人均纯收入是多少") == ["上海"]
    assert entities("四川省有效衔接的重点任务有哪些") == ["四川省"]
    assert set(entities("2024年重庆脱贫人口人均纯收入是多少")) == {"重庆", "2024"}
    assert "1998" in entities("１９９８年国务院办公厅发文")
    assert entities("脱贫人口收入是多少") == []


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [("脫貧人口收入", "脱贫人口收入"), ("臺灣的經濟發展", "台湾的经济发展"), ("鄉村振興戰略", "乡村振兴战略")],
)
def test_traditional_and_simplified_text_get_the_same_tokens(traditional: str, simplified: str) -> None:
    for scheme in ("char12", "word", "word+char12"):
        assert tokenize(traditional, scheme) == tokenize(simplified, scheme)


def test_an_index_records_the_normalisation_version_and_refuses_another() -> None:
    assert tokenize("脱贫", tokenizer_id("char12")) == tokenize("脱贫", "char12")
    with pytest.raises(ValueError, match="tokenizes as version v1"):
        tokenize("脱贫", "char12@v1")


@pytest.mark.parametrize(
    ("question", "entity"),
    [("两江新区的发展目标", "两江新区"), ("国家发展改革委发布了什么", "国家发展改革委"), ("遵义去年粮食产量", "遵义")],
)
def test_the_user_dictionary_names_places_and_organisations_whole(question: str, entity: str) -> None:
    assert entity in entities(question)
