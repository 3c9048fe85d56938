"""Request dependencies: the shared service and the documents it serves."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from ingest.types import Document
from server.runtime import Service


def get_service(request: Request) -> Service:
    """The service the app's lifespan opened."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_document(doc_id: str, service: ServiceDep) -> Document:
    """The served document with id ``doc_id``.

    Raises:
        HTTPException: 404 when no served document has that id.
    """
    doc = service.retriever.docs.get(doc_id)
    if doc is None:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"no document with doc_id {doc_id!r}; GET /api/documents lists the documents",
        )
    return doc


DocumentDep = Annotated[Document, Depends(get_document)]
