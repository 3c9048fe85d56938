"""The HTTP endpoints: translation between JSON and the service, no retrieval logic."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, status
from fastapi.responses import FileResponse

from server.auth import WriteKey
from server.deps import FeedbackDep, ServiceDep, SettingsDep
from server.schemas import AnswerOut, AskRequest, FeedbackIn, FeedbackStored, Health, PageConfig, error_responses

STATIC_DIR = Path(__file__).with_name("static")
# The page loads its script and style from this origin only; document text is never markup.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'", "X-Content-Type-Options": "nosniff"}

router = APIRouter()


@router.post("/api/ask", response_model=AnswerOut, responses=error_responses(400, 413, 422, 500), tags=["questions"])
def ask(body: AskRequest, service: ServiceDep) -> AnswerOut:
    """Answer a question with verbatim citations, or abstain and offer related passages.

    An empty, blank or over-long question gets 422 with a ``detail`` that says why.
    """
    answer = service.ask(body.question, body.top_k)
    return AnswerOut.from_domain(answer, service.generation)


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
    return PageConfig(auth_required=settings.api_key is not None)


@router.get("/healthz", response_model=Health, tags=["service"])
def healthz(service: ServiceDep) -> Health:
    """What is being served: counts, embedding model, tokenizer and index generation."""
    return Health.from_manifest(service.retriever.manifest)


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index_page() -> FileResponse:
    """The question page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
