"""The API key of write routes: when ``ZHENGCE_API_KEY`` is set, writes must send it; reads stay open."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader

from server.deps import SettingsDep

KEY_HEADER = "X-API-Key"
_header = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="Needed by write routes when a key is set")


def require_write_key(settings: SettingsDep, given: Annotated[str | None, Depends(_header)]) -> None:
    """Let the request through when no key is configured or it sends the right one.

    Raises:
        HTTPException: 401 when a key is configured and the request's is missing or wrong.
    """
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode("utf-8")
    if given is None or not hmac.compare_digest(given.encode("utf-8"), expected):
        reason = "缺少 API 密钥 / the API key is missing" if given is None else "API 密钥不正确 / the API key is wrong"
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{reason}: this server needs it in the {KEY_HEADER} header for uploads, changes and feedback",
            headers={"WWW-Authenticate": KEY_HEADER},
        )


WriteKey = Depends(require_write_key)
