"""The audit trail endpoint: who uploaded, replaced, corrected or deleted which document, and when."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ingest.audit import ACTIONS, ID_MAX, AuditQuery, AuditRecord
from server.auth import WriteKey
from server.deps import DocumentsDep
from server.schemas import error_responses

router = APIRouter(prefix="/api/audit", tags=["audit"])

AuditAction = Literal["upload", "replace", "update", "delete"]
assert get_args(AuditAction) == ACTIONS, "the API's actions must be the store's"
AUDIT_PAGE_MAX = 1000


class AuditRecordOut(BaseModel):
    """One change to the library, as recorded in the same transaction as the change."""

    id: int = Field(description="Increasing with every record; pass it as `before` for the records older than this")
    time: str = Field(description="When, in UTC (ISO 8601), e.g. 2026-12-05T08:30:12.345Z")
    action: AuditAction
    doc_id: str
    filename: str = Field(description="The file's name as sent (for a replacement, the new version's)")
    sha256: str | None = Field(
        description="sha256 of the file uploaded, of a replacement's new version, or of the file deleted; "
        "null for a metadata correction"
    )
    key_name: str | None = Field(description="The name of the API key used (never the key); null when none is set")
    detail: dict[str, Any] | None = Field(
        description='update: each changed field as {"old": …, "new": …}; replace: previous_sha256 (or '
        "cancelled_sha256 when the current bytes were sent again); delete: the document's title"
    )

    @classmethod
    def from_domain(cls, record: AuditRecord) -> AuditRecordOut:
        """The record as the API shows it."""
        return cls(**asdict(record))


class AuditPage(BaseModel):
    """Records newest first; ``next_before`` pages on to older ones (null when there are none)."""

    records: list[AuditRecordOut]
    next_before: int | None


@router.get("", response_model=AuditPage, dependencies=[WriteKey], responses=error_responses(401, 422, 500))
def audit(
    documents: DocumentsDep,
    doc_id: Annotated[str | None, Query(max_length=500, description="only this document's records")] = None,
    action: Annotated[AuditAction | None, Query(description="only records of this action")] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX, description="at most this many records")] = 100,
    before: Annotated[int | None, Query(ge=1, le=ID_MAX, description="only records with a smaller id")] = None,
) -> AuditPage:
    """The audit trail, newest first: every upload, replacement, metadata correction and deletion, with the
    name of the API key that made it. Needs a key when keys are configured, as writes do."""
    rows = documents.audit(AuditQuery(doc_id, action, before, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(records=[AuditRecordOut.from_domain(r) for r in rows], next_before=rows[-1].id if more else None)
