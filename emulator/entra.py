"""Entra-style (Azure AD) bearer tokens for the Azure dialects: `entra_token` mints one for tests, `refusal`
says why the emulator refuses one.

A token is JWT-shaped, `header.payload.signature`, each part base64url without padding; the payload holds
`aud` (the resource the token is for: `https://ai.azure.com` for Azure AI Foundry, the Cognitive Services
audience for Azure OpenAI) and `exp` (epoch seconds). The emulator checks the shape, the audience and the
expiry, never the signature: a test's token is as good as one Entra issued.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any

FOUNDRY_AUDIENCE = "https://ai.azure.com"
COGNITIVE_AUDIENCE = "https://cognitiveservices.azure.com"
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def entra_token(audience: str, expires_at: float | None = None, **claims: Any) -> str:
    """A JWT-shaped token for `audience`, expiring at `expires_at` (epoch seconds; default: in an hour),
    with any further `claims`; its signature is a placeholder nobody checks."""
    exp = int(time.time()) + 3600 if expires_at is None else int(expires_at)
    header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
    payload = {"aud": audience, "iss": "https://sts.windows.net/emulator/", "exp": exp, **claims}
    return ".".join((_encode(header), _encode(payload), _encode_bytes(b"emulator-signature")))


def refusal(token: str, audience: str, now: float | None = None) -> str | None:
    """Why `token` is not a live token for `audience` (`malformed`, `audience`, `expired`), or None when it
    is. An audience written with a trailing slash is the same audience (Entra issues both forms)."""
    claims = claims_of(token)
    if claims is None:
        return "malformed"
    if not isinstance(claims.get("aud"), str) or claims["aud"].rstrip("/") != audience.rstrip("/"):
        return "audience"
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return "malformed"
    return "expired" if exp <= (time.time() if now is None else now) else None


def claims_of(token: str) -> dict[str, Any] | None:
    """The payload of a JWT-shaped token, or None when it is not one (three base64url parts, the first
    two JSON objects)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    try:
        header, payload = (json.loads(_decode(part)) for part in parts[:2])
        _decode(parts[2])
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(header, dict) and isinstance(payload, dict) else None


def _encode(obj: dict[str, Any]) -> str:
    return _encode_bytes(json.dumps(obj, separators=(",", ":")).encode())


def _encode_bytes(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(part: str) -> bytes:
    if not BASE64URL.fullmatch(part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
