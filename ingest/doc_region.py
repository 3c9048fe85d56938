"""Which region a document is about: a lineage from the province down, or ``()`` for a national one.

Read, in this order of trust, stopping at the first that names a place:

1. the title (``2025年重庆市政府工作报告``, ``九江市启动…``);
2. the issuer (``国家税务总局重庆市税务局``, ``江西省人力资源和社会保障厅``);
   a title or issuer of a national organ (国务院, 国家发展改革委, 全国人大, 财政部, …) that names no
   place makes the document national: ``()``;
3. the dateline and lead of its first line (``新华社南昌3月2日电`` gives 南昌市, so 江西省 南昌市;
   the organ a lead names: ``记者从国家税务总局重庆市税务局获悉``); a Beijing dateline
   (``新华社北京7月12日电``) is national news, so ``()``;
4. the first few hundred characters of the text.

Within the source that names one, the first place wins, made more precise by a later place that
lies inside it (``江西省九江市`` gives ``("江西省", "九江市")``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from ingest.lead import read_lead
from ingest.regions import find_places, lineage
from ingest.types import Document

_BODY_CHARS = 300
# National organs: a title or issuer naming one, and no place, is a national document's.
_NATIONAL = re.compile(
    r"国务院|中共中央|党中央|全国人民代表大会|全国人大|全国政协|中华人民共和国|最高人民(?:法院|检察院)|中国人民银行"
    r"|国家[\u4e00-\u9fff]{1,16}(?:委员会|委|局|署|部|院|中心)|(?:^|\s)[\u4e00-\u9fff]{1,10}(?:部|总局|总署)(?:办公厅)?(?:\s|$)"
)
_NATIONAL_DATELINES = frozenset({"北京"})


def document_region(title: str, issuer: str, text: str) -> tuple[str, ...]:
    """The region a document is about (see the module docstring).

    Args:
        title: The document's title.
        issuer: Its issuing organs, space-separated.
        text: Its clean text.

    Returns:
        Full names from the province down, ``("江西省", "九江市")``; ``()`` when national or unknown.
    """
    for source in (title, issuer):
        if region := region_named(source):
            return region
    if _NATIONAL.search(title) or _NATIONAL.search(issuer):
        return ()
    lead = read_lead(text.split("\n", 1)[0])
    if lead.dateline in _NATIONAL_DATELINES:
        return ()
    for source in (lead.dateline, lead.issuer, text[:_BODY_CHARS]):
        if region := region_named(source):
            return region
    return ()


def region_named(text: str) -> tuple[str, ...]:
    """The lineage of the first place ``text`` names, down to the deepest later place inside it."""
    places = find_places(text)
    if not places:
        return ()
    region = lineage(places[0].name)
    for p in places[1:]:
        deeper = lineage(p.name)
        if len(deeper) > len(region) and deeper[: len(region)] == region:
            region = deeper
    return region


def with_region(doc: Document) -> Document:
    """The document with ``region`` derived from its title, issuer and text."""
    return replace(doc, region=document_region(doc.title, doc.issuer, doc.text))
