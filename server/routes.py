"""The HTTP endpoints: translation between JSON and the service, no retrieval logic."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, status
from fastapi.responses import FileResponse, JSONResponse

from ingest.milvus_index import EngineUnavailableError
from server.auth import WriteKey
from server.deps import FeedbackDep, ServiceDep, SettingsDep
from server.schemas import (
    AnswerOut,
    AskRequest,
    Facets,
    FeedbackIn,
    FeedbackStored,
    Health,
    PageConfig,
    error_responses,
)

STATIC_DIR = Path(__file__).with_name("static")
# The page loads its script and style from this origin only; document text is never markup.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'", "X-Content-Type-Options": "nosniff"}

router = APIRouter()


@router.post(
    "/api/ask", response_model=AnswerOut, responses=error_responses(400, 413, 422, 500, 503), tags=["questions"]
)
def ask(body: AskRequest, service: ServiceDep) -> AnswerOut:
    """Answer a question with verbatim citations, or abstain and offer related passages.

    ``history`` (the previous questions) makes a follow-up whole: ``resolved_question`` says how it was
    read. ``filters`` restrict the answer to the documents they admit; when none is admitted the answer
    says so. An empty, blank or over-long question, an unknown region or an empty date range gets 422
    with a ``detail`` that says why.
    """
    filters = body.filters.to_domain() if body.filters is not None else None
    answer = service.ask(body.question, body.top_k, filters, body.history)
    return AnswerOut.from_domain(answer, service.generation, asked=body.question)


@router.get("/api/facets", response_model=Facets, responses=error_responses(500), tags=["questions"])
def facets(service: ServiceDep) -> Facets:
    """The values each filter of ``POST /api/ask`` can take, with how many documents hold each."""
    return Facets.of(service.facets())


@router.post(
    "/api/feedback",
    response_model=FeedbackStored,
    status_code=status.HTTP_201_CREATED,
    dependencies=[WriteKey],
    responses=error_responses(400, 401, 413, 422, 500),
    tags=["questions"],
)
def feedback(body: FeedbackIn, store: FeedbackDep) -> FeedbackStored:
    """Store a thumbs-up or thumbs-down (with its reason) of an answer, together with the answer's trace.

    ``zhengce feedback export`` turns the stored judgements into eval-set lines.
    """
    return FeedbackStored(id=store.add(body.to_domain()))


@router.get("/api/config", response_model=PageConfig, tags=["service"])
def page_config(settings: SettingsDep) -> PageConfig:
    """What the page needs to know: whether writes need the API key."""
    return PageConfig(auth_required=bool(settings.write_keys))


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The search engine (Milvus) cannot be reached."}},
    tags=["service"],
)
def healthz(service: ServiceDep) -> Health | JSONResponse:
    """What is being served: counts, embedding model, tokenizer, index generation and search engine; 503
    while the search engine cannot be reached (questions then get 503 too, never a wrong answer)."""
    retriever = service.retriever
    try:
        retriever.index.check()
    except EngineUnavailableError as e:
        health = Health.from_manifest(retriever.manifest, str(e))
        return JSONResponse(health.model_dump(mode="json"), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return Health.from_manifest(retriever.manifest)


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index_page() -> FileResponse:
    """The question page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
