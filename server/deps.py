"""Request dependencies: the settings, the shared service, the documents it serves and the feedback store.

Each is an object the app's lifespan put on ``app.state``; routes take them as typed aliases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from server.documents import Documents
from server.feedback import FeedbackStore
from server.runtime import Service
from server.settings import Settings

T = TypeVar("T")


def _from_state(name: str, kind: type[T]) -> Callable[[Request], T]:
    """A dependency returning ``app.state.<name>``, checked to be a ``kind``."""

    def get(request: Request) -> T:
        value = getattr(request.app.state, name)
        assert isinstance(value, kind), f"app.state.{name} is {type(value).__name__}, not {kind.__name__}"
        return value

    get.__name__ = f"get_{name}"
    return get


ServiceDep = Annotated[Service, Depends(_from_state("service", Service))]
DocumentsDep = Annotated[Documents, Depends(_from_state("documents", Documents))]
SettingsDep = Annotated[Settings, Depends(_from_state("settings", Settings))]
FeedbackDep = Annotated[FeedbackStore, Depends(_from_state("feedback", FeedbackStore))]
