"""The document endpoints: list, read, upload, replace, correct, delete. No ingest logic here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Response, UploadFile, status
from starlette.concurrency import run_in_threadpool

from ingest.audit import Actor
from ingest.errors import DocumentError
from ingest.library import Received
from ingest.readers import UnsupportedFormatError
from ingest.store import StatusQuery
from server.auth import KeyName
from server.deps import DocumentsDep, ServiceDep
from server.schemas import DocumentOut, DocumentSummary, MetadataPatch, Status, UploadResult, error_responses

router = APIRouter(prefix="/api/documents", tags=["documents"])
Files = Annotated[list[UploadFile], File(description="One or several .txt .md .html .htm .pdf .docx files")]


def _missing(doc_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, f"no document with doc_id {doc_id!r}; GET /api/documents lists the documents"
    )


TOTAL_HEADER = "X-Total-Count"
PAGE_MAX = 500


@router.get(
    "",
    response_model=list[DocumentSummary],
    responses={
        200: {
            "headers": {TOTAL_HEADER: {"description": "documents matching the filters", "schema": {"type": "integer"}}}
        },
        **error_responses(422, 500),
    },
)
def list_documents(
    documents: DocumentsDep,
    service: ServiceDep,
    response: Response,
    offset: Annotated[int, Query(ge=0, le=2**31, description="skip this many matching documents")] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="at most this many documents")] = 100,
    q: Annotated[str, Query(max_length=200, description="text in the title, file name, issuer, 文号 or doc_id")] = "",
    status_in: Annotated[
        list[Status], Query(alias="status", description="only these statuses (repeat the parameter)")
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    doc_id: Annotated[
        list[str], Query(max_length=PAGE_MAX, description="only these documents (repeat the parameter)")
    ] = [],  # noqa: B006
    region: Annotated[str, Query(max_length=50, description="a place name of the document's region, e.g. 重庆市")] = "",
) -> list[DocumentSummary]:
    """One page of the documents with their metadata, chunk count and status, ordered by ``doc_id``;
    ``X-Total-Count`` says how many match the filters in all."""
    query = StatusQuery(offset, limit, tuple(status_in), tuple(doc_id), q.strip(), region.strip())
    rows, total = documents.page(query)
    response.headers[TOTAL_HEADER] = str(total)
    served = service.retriever.docs
    return [DocumentSummary.from_domain(served.get(row.doc_id), row) for row in rows]


@router.get("/{doc_id}", response_model=DocumentOut, responses=error_responses(404, 500))
def get_document(doc_id: str, documents: DocumentsDep, service: ServiceDep) -> DocumentOut:
    """One document: status, metadata and the clean ``text`` every citation's offsets refer to."""
    rows = documents.statuses(doc_id)
    if not rows:
        raise _missing(doc_id)
    return DocumentOut.from_domain(service.retriever.docs.get(doc_id), rows[0])


async def _read(files: list[UploadFile]) -> list[tuple[str, bytes]]:
    return [(f.filename or "unnamed", await f.read()) for f in files]


def _result(outcome: Received | DocumentError, name: str) -> UploadResult:
    if isinstance(outcome, Received):
        return UploadResult.from_received(outcome)
    return UploadResult(doc_id=None, title=name, status="failed", error=str(outcome))


@router.post(
    "",
    response_model=list[UploadResult],
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(400, 401, 413, 415, 422, 500, 503),
)
async def upload(files: Files, documents: DocumentsDep, key: KeyName) -> list[UploadResult]:
    """Add documents. Each file is acknowledged once stored (``received``), then indexed in the background.

    Identical bytes already here are reported with their existing ``doc_id`` (``duplicate: true``).
    When some files are taken, each file that cannot be is ``failed`` with its reason. When none is,
    the reply is the refusal itself, as PUT gives it: 415 listing the supported types when every file
    has an unsupported type, 422 with each file's reason otherwise (an empty file alone is 422 here too).
    """
    named = await _read(files)
    # Hashing, fsync and the commit leave the event loop.
    outcomes = await run_in_threadpool(documents.add, named, Actor(key))
    if outcomes and not any(isinstance(o, Received) for o in outcomes):
        raise _refusal(outcomes)  # type: ignore[arg-type]
    return [_result(o, name) for o, (name, _) in zip(outcomes, named, strict=True)]


def _refusal(errors: list[DocumentError]) -> DocumentError:
    """The one error answering a request none of whose files was taken (each error names its file)."""
    if len(errors) == 1 or all(isinstance(e, UnsupportedFormatError) for e in errors):
        return errors[0]
    return DocumentError(" | ".join(map(str, errors)))


@router.put(
    "/{doc_id}",
    response_model=UploadResult,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(400, 401, 404, 409, 413, 415, 422, 500, 503),
)
async def replace(doc_id: str, files: Files, documents: DocumentsDep, key: KeyName) -> UploadResult:
    """Replace a document with a new version (one file); all its chunks are replaced once it is indexed."""
    if len(files) != 1:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"send exactly one file, not {len(files)}")
    ((name, data),) = await _read(files)
    received = await run_in_threadpool(documents.replace, doc_id, name, data, Actor(key))
    if received is None:
        raise _missing(doc_id)
    return UploadResult.from_received(received)


@router.patch(
    "/{doc_id}",
    response_model=DocumentSummary,
    responses=error_responses(400, 401, 404, 409, 413, 422, 500, 503),
)
def patch(
    doc_id: str, body: MetadataPatch, documents: DocumentsDep, service: ServiceDep, key: KeyName
) -> DocumentSummary:
    """Correct title, 文号 (``doc_number``), issuer, date or region; citations show the correction once re-indexed.

    Seed documents are changed in ``seeds/`` only: PATCH, PUT and DELETE on them are 409 alike.

    A region is full names from the province down (``["江西省", "九江市"]``), checked against the gazetteer.
    """
    row = documents.patch(doc_id, body.changes(), Actor(key))
    if row is None:
        raise _missing(doc_id)
    return DocumentSummary.from_domain(service.retriever.docs.get(doc_id), row)


@router.delete("/{doc_id}", responses=error_responses(401, 404, 409, 500, 503))
def delete(doc_id: str, documents: DocumentsDep, key: KeyName) -> dict[str, object]:
    """Delete a document; once the next generation is served, nothing of it is ever cited again."""
    if not documents.delete(doc_id, Actor(key)):
        raise _missing(doc_id)
    return {"doc_id": doc_id, "deleted": True}
