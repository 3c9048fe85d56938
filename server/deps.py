"""Request dependencies: the shared service and the documents it serves."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.documents import Documents
from server.runtime import Service


def get_service(request: Request) -> Service:
    """The service the app's lifespan opened."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_documents(request: Request) -> Documents:
    """The document service the app's lifespan started."""
    documents: Documents = request.app.state.documents
    return documents


DocumentsDep = Annotated[Documents, Depends(get_documents)]
