"""Tests for retriever.filters and ingest.doc_type: which documents a filter admits, and the facet counts."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.doc_type import doc_type
from ingest.types import Document
from retriever.filters import FilterError, Filters, admitted, facets

DOCS = [
    Document("a", "九江市关于支持企业复工复产的若干措施", "", issuer="九江市人民政府", region=("江西省", "九江市"),
             published=date(2020, 2, 14)),
    Document("b", "国家税务总局吉林省税务局关于延长2022年4月纳税申报期限的通告", "", issuer="国家税务总局吉林省税务局",
             region=("吉林省",), published=date(2022, 4, 8)),
    Document("c", "2025年政府工作报告", "", issuer="国务院", published=date(2025, 3, 5)),
    Document("d", "江西3月份纳税申报期限延长至3月18日", "", region=("江西省",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        (Filters(), {"a", "b", "c", "d"}),
        (Filters(region="江西"), {"a", "d"}),  # a province admits its cities' documents
        (Filters(region="九江市"), {"a"}),  # a city does not admit its province's
        (Filters(region="吉林省", doc_type="通告"), {"b"}),
        (Filters(issuer="税务局"), {"b"}),
        (Filters(published_from=date(2021, 1, 1)), {"b", "c"}),  # undated documents are left out
        (Filters(published_to=date(2020, 12, 31)), {"a"}),
        (Filters(doc_ids=frozenset({"c", "d", "nope"})), {"c", "d"}),
        (Filters(region="吉林", published_to=date(2000, 1, 1)), set()),
    ],
)
def test_a_filter_admits_the_documents_that_pass_every_part(filters: Filters, ids: set[str]) -> None:
    assert admitted(DOCS, filters) == ids


def test_an_impossible_filter_says_why() -> None:
    with pytest.raises(FilterError, match="no province, city or district"):
        Filters(region="火星")
    with pytest.raises(FilterError, match="is after"):
        Filters(published_from=date(2024, 1, 2), published_to=date(2024, 1, 1))


def test_the_facets_count_each_value_most_first_and_every_level_of_a_region() -> None:
    found = facets(DOCS)
    assert found["region"] == [("江西省", 2), ("九江市", 1), ("吉林省", 1)]
    assert found["doc_type"] == [("其他", 2), ("报告", 1), ("通告", 1)]
    assert found["year"] == [("2020", 1), ("2022", 1), ("2025", 1)]
    assert ("国务院", 1) in found["issuer"]


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("2025年重庆市政府工作报告", "报告"),
        ("国家发展改革委办公厅关于加强个人所得税纳税信用建设的通知", "通知"),
        ("重庆市失业保险稳岗返还实施办法（试行）", "办法"),
        ("关于《实施方案》的答记者问", "解读"),
        ("2月申报纳税期限延长至2月24日 重庆倡导“非接触式”办理税费业务", "其他"),
    ],
)
def test_a_documents_type_is_read_from_the_end_of_its_title(title: str, kind: str) -> None:
    assert doc_type(title) == kind
