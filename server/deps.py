"""Request dependencies: the settings, the shared service and the documents it serves."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.documents import Documents
from server.feedback import FeedbackStore
from server.runtime import Service
from server.settings import Settings


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


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_feedback(request: Request) -> FeedbackStore:
    """The feedback store the app's lifespan opened."""
    store: FeedbackStore = request.app.state.feedback
    return store


FeedbackDep = Annotated[FeedbackStore, Depends(get_feedback)]
