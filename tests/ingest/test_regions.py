"""Tests for ingest.regions: the gazetteer read from ingest/data/regions.tsv, on names and real text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.regions import DATA, Place, _gazetteer, check_lineage, find_places, lineage, place, place_mentions
from ingest.tokenize import normalize_for_search

REPORTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "gov_work_reports"


def names(text: str) -> list[str]:
    return [p.name for p in find_places(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # provinces, autonomous regions, municipalities, special administrative regions: full and short
        ("江西省", ["江西省"]),
        ("江西", ["江西省"]),
        ("内蒙古自治区", ["内蒙古自治区"]),
        ("内蒙古", ["内蒙古自治区"]),
        ("广西壮族自治区", ["广西壮族自治区"]),
        ("广西", ["广西壮族自治区"]),
        ("宁夏", ["宁夏回族自治区"]),
        ("新疆", ["新疆维吾尔自治区"]),
        ("西藏", ["西藏自治区"]),
        ("重庆市", ["重庆市"]),
        ("重庆", ["重庆市"]),
        ("香港", ["香港特别行政区"]),
        # prefecture-level divisions: 市, 自治州 (with and without 州), 地区, 盟, 新区
        ("九江市", ["九江市"]),
        ("九江", ["九江市"]),
        ("恩施土家族苗族自治州", ["恩施土家族苗族自治州"]),
        ("恩施州", ["恩施土家族苗族自治州"]),
        ("延边", ["延边朝鲜族自治州"]),
        ("阿克苏", ["阿克苏地区"]),
        ("锡林郭勒盟", ["锡林郭勒盟"]),
        ("雄安新区", ["雄安新区"]),
        # districts and counties, by full name
        ("渝中区", ["渝中区"]),
        ("国家税务总局重庆市渝中区税务局", ["重庆市", "渝中区"]),
        # order of first mention, each once
        ("九江市和江西省，还有九江", ["九江市", "江西省"]),
        ("江西省九江市", ["江西省", "九江市"]),
    ],
)
def test_find_places_names_full_and_short_forms(text: str, found: list[str]) -> None:
    assert names(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("渝", []),  # one-character forms are never enough
        ("赣", []),
        ("吉林", ["吉林省"]),  # the province, not the city's short form
        ("吉林市", ["吉林市"]),
        ("海南", ["海南省"]),  # the province; the Qinghai prefecture is 海南州
        ("海南州", ["海南藏族自治州"]),
        ("浙江西湖", ["浙江省"]),  # leftmost wins: never 江西
        ("中山大学", []),
        ("孙中山", []),
        ("中山市", ["中山市"]),
        ("长治久安", []),
        ("人民幸福安康", []),
        ("隆重庆祝", []),
        ("在合理均衡水平上", []),  # not 衡水
        ("扩大同各国利益的汇合点", []),  # not 大同
        ("制定西部大开发规划", []),  # not 定西
        ("提高县级统筹水平", []),  # two-character counties (高县) are never matched
        ("示范县", []),
        ("河北区域协调发展", ["河北省"]),  # 区域 is no district (天津's 河北区)
        ("天津市河北区", ["天津市", "河北区"]),
        ("朝阳区", []),  # a district name of two cities is no place of its own
        ("北京路", []),  # a street
        ("黄河南岸", []),
    ],
)
def test_find_places_avoids_words_that_only_contain_a_place_name(text: str, found: list[str]) -> None:
    assert names(text) == found


def test_find_places_returns_places_with_their_parents() -> None:
    assert find_places("九江") == (Place("九江市", "city", "江西省"),)
    assert find_places("重庆") == (Place("重庆市", "province", None),)
    assert find_places("渝中区") == (Place("渝中区", "district", "重庆市"),)


@pytest.mark.parametrize(
    ("name", "chain"),
    [
        ("九江市", ("江西省", "九江市")),
        ("九江", ("江西省", "九江市")),
        ("江西省", ("江西省",)),
        ("重庆市", ("重庆市",)),
        ("渝中区", ("重庆市", "渝中区")),
        ("浔阳区", ("江西省", "九江市", "浔阳区")),
        ("仙桃市", ("湖北省", "仙桃市")),  # a county-level city directly under its province
        ("南昌", ("江西省", "南昌市")),
        ("火星", ()),
        ("朝阳区", ()),
        ("", ()),
    ],
)
def test_lineage_runs_from_the_province_down(name: str, chain: tuple[str, ...]) -> None:
    assert lineage(name) == chain


def test_place_resolves_short_forms_and_refuses_unknown_names() -> None:
    assert place("广西") == Place("广西壮族自治区", "province", None)
    assert place("不存在的地方") is None


def test_the_gazetteer_has_every_province_and_names_its_source() -> None:
    rows = [line.split("\t") for line in DATA.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    provinces = {name for _, name, level, _ in rows if level == "province"}
    assert len(provinces) == 34
    assert {"北京市", "重庆市", "内蒙古自治区", "新疆维吾尔自治区", "台湾省", "澳门特别行政区"} <= provinces
    assert sum(level == "city" for _, _, level, _ in rows) > 330
    header = DATA.read_text(encoding="utf-8")[:600]
    assert "cpca" in header and "MIT" in header


def test_every_parent_in_the_gazetteer_is_a_place_of_the_level_above() -> None:
    rows = [line.split("\t") for line in DATA.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    levels = {name: level for _, name, level, _ in rows}
    for _, name, level, parent in rows:
        if level == "province":
            assert parent == "", name
        else:
            assert levels[parent] in (("province",) if level == "city" else ("province", "city")), name


def test_a_national_report_names_only_the_places_it_is_about() -> None:
    text = (REPORTS / "2025_2025年中华人民共和国国务院政府工作报告.txt").read_text(encoding="utf-8")
    found = set(names(text))
    # 均衡水平 (衡水), 扩大同 (大同) and the like are not places; what the report does name is.
    assert found == {
        "上海市",
        "北京市",
        "香港特别行政区",
        "澳门特别行政区",
        "台湾省",
        "海南省",
        "雄安新区",
        "西藏自治区",
        "定日县",
    }


def _every_match(text: str) -> list[tuple[int, int, str]]:
    """What the gazetteer's regex finds trying every position: what place_mentions must find."""
    gazetteer = _gazetteer()
    found = ((m.start(), m.end(), gazetteer.forms[m.group()]) for m in gazetteer.pattern.finditer(text))
    return [(start, end, name) for start, end, name in found if name is not None]


def _mentions(text: str) -> list[tuple[int, int, str]]:
    return [(start, end, p.name) for start, end, p in place_mentions(text)]


def test_place_mentions_of_long_texts_are_the_regex_scan_of_every_position() -> None:
    """Every national work report (up to 57k characters), the way they are searched."""
    reports = sorted(REPORTS.glob("*.txt"))
    assert len(reports) > 60
    for path in reports:
        text = normalize_for_search(path.read_text(encoding="utf-8"))
        assert _mentions(text) == _every_match(text), path.name


_FORMS = sorted(_gazetteer().forms)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_FORMS), st.sampled_from(list("省市区县路街域大道的和在中国南北东西江河"))),
        max_size=400,
    )
)
def test_place_mentions_of_forms_run_together_are_the_regex_scan(pieces: list[str]) -> None:
    """Forms overlapping each other (浙江西湖, 隆重庆祝), lookaheads (北京路, 河北区域), words that hide places;
    after 500 characters naming none, so the text is long enough to be tried at its form openings only."""
    text = "的" * 500 + "".join(pieces)
    assert _mentions(text) == _every_match(text)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["九江"], "did you mean '九江市'"),
        (["火星"], "write full official names"),
        (["湖南省", "九江市"], "write ['江西省', '九江市']"),
        (["九江市"], "write ['江西省', '九江市']"),
    ],
)
def test_check_lineage_refuses_what_is_no_region_and_says_what_would_be(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_lineage(names)


def test_check_lineage_accepts_full_lineages_and_the_national_region() -> None:
    assert check_lineage(["江西省", "九江市", "浔阳区"]) == ("江西省", "九江市", "浔阳区")
    assert check_lineage(["重庆市"]) == ("重庆市",)
    assert check_lineage([]) == ()
