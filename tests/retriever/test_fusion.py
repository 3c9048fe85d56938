"""Tests for retriever.fusion: RRF against hand-computed ranks, min-max edge cases, weighted fusion."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retriever.fusion import RRF_K, fuse, minmax, region_fit, rrf, section_fit, year_fit

scores = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=30)


def test_rrf_matches_hand_computed_scores_and_order() -> None:
    lexical, dense = [10, 20, 30], [30, 10, 40]
    # k=60, ranks from 1: 10 → 1/61 + 1/62, 30 → 1/63 + 1/61, 20 → 1/62, 40 → 1/63.
    expected = {
        10: Fraction(1, 61) + Fraction(1, 62),
        30: Fraction(1, 63) + Fraction(1, 61),
        20: Fraction(1, 62),
        40: Fraction(1, 63),
    }
    fused = rrf([lexical, dense])
    assert [item for item, _ in fused] == [10, 30, 20, 40]
    for item, score in fused:
        assert score == pytest.approx(float(expected[item]), rel=1e-12)


def test_rrf_uses_k_60_by_default_and_honours_another_k() -> None:
    assert RRF_K == 60
    assert rrf([[7]]) == [(7, 1 / 61)]
    assert rrf([[7, 8]], k=0) == [(7, 1.0), (8, 0.5)]


def test_rrf_ties_keep_first_seen_order() -> None:
    assert [item for item, _ in rrf([[5, 6], [6, 5]])] == [5, 6]
    assert [item for item, _ in rrf([[9], [3]])] == [9, 3]


def test_rrf_of_nothing_is_empty() -> None:
    assert rrf([]) == []
    assert rrf([[], []]) == []


def test_an_item_in_both_lists_beats_one_ranked_first_in_only_one() -> None:
    fused = rrf([[1, 2], [3, 2]])
    assert fused[0][0] == 2


def test_minmax_of_nothing_is_empty() -> None:
    out = minmax([])
    assert out.shape == (0,) and out.dtype == np.float64


def test_minmax_of_all_equal_scores_is_all_zero() -> None:
    np.testing.assert_array_equal(minmax([3.5, 3.5, 3.5]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(minmax([2.0]), [0.0])


def test_minmax_maps_the_lowest_to_0_and_the_highest_to_1() -> None:
    np.testing.assert_allclose(minmax([2.0, 4.0, 3.0, -6.0]), [0.8, 1.0, 0.9, 0.0])


@given(scores)
def test_minmax_stays_in_unit_range_and_keeps_the_order(values: list[float]) -> None:
    out = minmax(values)
    assert out.shape == (len(values),)
    assert ((out >= 0.0) & (out <= 1.0)).all()
    a = np.asarray(values)
    for i in range(len(values)):
        for j in range(len(values)):
            if a[i] < a[j]:
                assert out[i] <= out[j]


def test_fuse_with_weight_0_ranks_by_lexical_and_weight_1_by_dense() -> None:
    lexical = [3.0, 9.0, 1.0, 5.0]
    dense = [0.9, 0.1, 0.5, 0.2]
    by_lexical = list(np.argsort(-np.asarray(lexical), kind="stable"))
    by_dense = list(np.argsort(-np.asarray(dense), kind="stable"))
    assert list(np.argsort(-fuse(lexical, dense, 0.0), kind="stable")) == by_lexical
    assert list(np.argsort(-fuse(lexical, dense, 1.0), kind="stable")) == by_dense
    np.testing.assert_allclose(fuse(lexical, dense, 0.0), minmax(lexical))
    np.testing.assert_allclose(fuse(lexical, dense, 1.0), minmax(dense))


def test_fuse_is_the_weighted_sum_of_the_normalised_scores() -> None:
    lexical, dense = [0.0, 10.0, 5.0], [0.2, 0.4, 0.6]
    np.testing.assert_allclose(fuse(lexical, dense, 0.3), [0.0 * 0.7 + 0.0 * 0.3, 0.7 + 0.15, 0.35 + 0.3])


@given(
    st.integers(min_value=1, max_value=20).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0, 100, allow_nan=False), min_size=n, max_size=n),
            st.lists(st.floats(-1, 1, allow_nan=False), min_size=n, max_size=n),
        )
    ),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_fused_scores_stay_in_unit_range(pair: tuple[list[float], list[float]], weight: float) -> None:
    out = fuse(pair[0], pair[1], weight)
    assert ((out >= -1e-12) & (out <= 1.0 + 1e-12)).all()


@pytest.mark.parametrize(
    ("asked", "region", "fit"),
    [
        ((("江西省",),), ("江西省", "九江市"), 1.0),  # a province asked, a notice of one of its cities
        ((("江西省", "九江市"),), ("江西省", "九江市"), 1.0),
        ((("江西省", "九江市"),), ("江西省",), 0.5),  # a city asked, a document of its province
        ((("江西省",),), ("吉林省",), -1.0),  # somewhere else
        ((("江西省", "九江市"),), ("江西省", "赣州市"), -1.0),  # a sibling city
        ((("江西省",),), (), 0.0),  # a national document, or a region not known
        ((), ("吉林省",), -0.5),  # the question names no place: national documents first
        ((), (), 0.0),
        ((("吉林省",), ("江西省",)), ("江西省",), 1.0),  # any asked place will do
    ],
)
def test_region_fit_prefers_the_asked_place_and_what_lies_inside_it(
    asked: tuple[tuple[str, ...], ...], region: tuple[str, ...], fit: float
) -> None:
    assert region_fit(asked, region) == fit


def test_year_fit_prefers_the_document_whose_title_names_the_asked_year() -> None:
    assert year_fit(("2025",), ("2025",)) == 1.0
    assert year_fit(("2025",), ("2024",)) == -1.0
    assert year_fit(("2024",), ("2025",)) == 0.0  # a 2025 report reviews 2024: neither preferred nor pushed down
    assert year_fit(("2023",), ("2025",)) == -1.0
    assert year_fit(("2025",), ()) == 0.0
    assert year_fit((), ("2024",)) == 0.0
    assert year_fit(("2023", "2024"), ("2024",)) == 1.0


def test_section_fit_holds_back_a_section_about_another_year_only() -> None:
    assert section_fit(("2025",), ("2024",)) == -1.0  # 一、2024年工作回顾 for a question about this year
    assert section_fit(("2025",), ("2025",)) == 0.0  # no bonus: a report whose headings name no year keeps up
    assert section_fit(("2025",), ()) == 0.0
    assert section_fit((), ("2024",)) == 0.0
    assert section_fit(("2024", "2025"), ("2024",)) == 0.0
