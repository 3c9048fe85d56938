"""Which documents a question may be answered from: its filters, and the values staff can filter by.

A question is often scoped: only 重庆's documents, one issuer, this year, 通知 rather than 报告, the
document open in the viewer. :class:`Filters` says so; :func:`admitted` turns it into the set of
documents retrieval searches (inside the search, not by dropping results after a top-k:
``retriever.pipeline``); :func:`facets` counts each value over the library for the page's controls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from ingest.doc_type import doc_type
from ingest.regions import lineage
from ingest.types import Document


class FilterError(ValueError):
    """A filter names something that cannot exist (an unknown place, an empty date range)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What a document must be to answer.

    ``region`` is a place of the gazetteer, short or full (重庆, 九江市): a document about it or about a
    place under it is admitted (江西省 admits a 九江市 notice). ``issuer`` is part of the issuing
    organ's name. ``doc_type`` is one of :mod:`ingest.doc_type`'s kinds. ``published_from`` and
    ``published_to`` bound the publication date, both included (a document without one is left out).
    ``doc_ids`` names the documents themselves.
    """

    region: str | None = None
    issuer: str | None = None
    doc_type: str | None = None
    published_from: date | None = None
    published_to: date | None = None
    doc_ids: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.region is not None and not lineage(self.region):
            raise FilterError(f"region {self.region!r} is no province, city or district of the gazetteer")
        if self.published_from and self.published_to and self.published_from > self.published_to:
            raise FilterError(f"published_from {self.published_from} is after published_to {self.published_to}")

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(getattr(self, f) is not None for f in self.__slots__)

    def admits(self, doc: Document) -> bool:
        """Whether ``doc`` passes every filter set."""
        if self.doc_ids is not None and doc.doc_id not in self.doc_ids:
            return False
        if self.region is not None and lineage(self.region)[-1] not in doc.region:
            return False
        if self.issuer is not None and self.issuer not in doc.issuer:
            return False
        if self.doc_type is not None and doc_type(doc.title) != self.doc_type:
            return False
        if self.published_from is None and self.published_to is None:
            return True
        if doc.published is None:
            return False
        return (self.published_from or date.min) <= doc.published <= (self.published_to or date.max)


def admitted(docs: Iterable[Document], filters: Filters) -> frozenset[str]:
    """The ids of the documents ``filters`` admits."""
    return frozenset(d.doc_id for d in docs if filters.admits(d))


def facets(docs: Iterable[Document]) -> Mapping[str, list[tuple[str, int]]]:
    """How many documents hold each value of each filter, most first: region (every level, so 江西省
    counts its cities' notices), issuer, doc_type and year of publication."""
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("region", "issuer", "doc_type", "year")}
    for d in docs:
        counts["region"].update(d.region)
        if d.issuer:
            counts["issuer"][d.issuer] += 1
        counts["doc_type"][doc_type(d.title)] += 1
        if d.published is not None:
            counts["year"][str(d.published.year)] += 1
    return {k: sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) for k, c in counts.items()}
