"""The API keys of write routes: when keys are configured, writes must send one of them; reads stay open.

``ZHENGCE_API_KEYS`` holds several named keys, ``ZHENGCE_API_KEY`` one (named ``default``). A write
learns the name of the key it was sent with (:data:`KeyName`), which the audit trail records.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader

from server.deps import SettingsDep

KEY_HEADER = "X-API-Key"
_header = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="Needed by write routes when a key is set")


def require_write_key(settings: SettingsDep, given: Annotated[str | None, Depends(_header)]) -> str | None:
    """Let the request through when no key is configured or it sends one of the keys.

    Every key is compared, in constant time, whichever matches: how long the check takes says nothing
    about which key (or how much of one) was right.

    Returns:
        The name of the key sent, or None when no key is configured.

    Raises:
        HTTPException: 401 when keys are configured and the request's is missing or none of them.
    """
    keys = settings.write_keys
    if not keys:
        return None
    sent = (given or "").encode("utf-8")
    matched = None
    for name, key in keys.items():
        if hmac.compare_digest(sent, key.get_secret_value().encode("utf-8")) and given is not None:
            matched = name
    if matched is None:
        reason = "缺少 API 密钥 / the API key is missing" if given is None else "API 密钥不正确 / the API key is wrong"
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{reason}: this server needs it in the {KEY_HEADER} header for uploads, changes, feedback and the "
            "audit trail",
            headers={"WWW-Authenticate": KEY_HEADER},
        )
    return matched


WriteKey = Depends(require_write_key)
# The name of the key a write was sent with (None when no key is configured), for the audit trail.
KeyName = Annotated[str | None, Depends(require_write_key)]
