"""The gateway's own credential for the upstream, when a client sends none of its own.

A client's `authorization` metadata always wins (it is forwarded as it is). Otherwise the gateway sends what
it was configured with, in the form its dialect wants (`dialects.py`):

- `StaticKey`: a key from the environment, as `Authorization: Bearer KEY` or alone in a header of the
  dialect's (`api-key: KEY`, Azure OpenAI's);
- `EntraTokens`: Microsoft Entra ID access tokens obtained and refreshed by the gateway from an
  azure-identity credential (managed identity or workload identity in a cluster, a developer's `az login`),
  for Azure's servers, which take no API keys.

Every value here is a secret: `secrets()` lists them so that the upstream client can keep them out of every
message and log line it writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import grpc

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0
"""Seconds before a token expires at which the next call gets a new one (azure-identity's own margin)."""


class CredentialUnavailable(GatewayError):
    """The gateway could not get a credential for the upstream: the client cannot be served, nor fix it."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UPSTREAM_CREDENTIAL_UNAVAILABLE"


class Auth(Protocol):
    """What the upstream client asks of the gateway's credential."""

    async def header(self) -> tuple[str, str] | None:
        """The header (lower-case name, value) that carries the credential, or None to send none."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """The secret values this credential has sent or may send."""
        ...

    async def aclose(self) -> None:
        """Let go of what the credential holds (an azure-identity credential's HTTP session)."""
        ...


class NoAuth:
    """No credential of the gateway's own: only what clients send goes up."""

    async def header(self) -> tuple[str, str] | None:
        return None

    def secrets(self) -> tuple[str, ...]:
        return ()

    async def aclose(self) -> None:
        return None


class StaticKey:
    """A key from the gateway's environment: `Authorization: Bearer KEY`, or the key alone in `header`."""

    def __init__(self, key: str, header: str = "authorization") -> None:
        self._key = key
        self._header = (header, f"Bearer {key}" if header == "authorization" else key)

    async def header(self) -> tuple[str, str] | None:
        return self._header

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)

    async def aclose(self) -> None:
        return None


class TokenCredential(Protocol):
    """An azure-identity async credential (`azure.identity.aio.DefaultAzureCredential`), or anything that
    hands out tokens the same way: `get_token(scope)` returning an object with `token` and `expires_on`
    (seconds since the epoch)."""

    async def get_token(self, *scopes: str) -> Any: ...


class EntraTokens:
    """Bearer tokens for `scope` from `credential`, each used until `margin` seconds before it expires.

    Concurrent calls that find the token due share one refresh. A refresh that fails while the token still
    holds keeps the token (and logs why); one that fails with no valid token left ends the call with
    UNAUTHENTICATED and a message saying what failed.
    """

    def __init__(
        self,
        credential: TokenCredential,
        scope: str,
        *,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._margin = margin
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._issued: list[str] = []
        self.refreshes = 0
        """How many tokens were asked of the credential (for tests and metrics)."""

    async def header(self) -> tuple[str, str] | None:
        return "authorization", f"Bearer {await self.token()}"

    async def token(self) -> str:
        """A token valid for at least `margin` more seconds, or the current one if a refresh failed."""
        if self._token is not None and self._clock() < self._expires - self._margin:
            return self._token
        async with self._lock:
            if self._token is not None and self._clock() < self._expires - self._margin:
                return self._token  # another call refreshed it while this one waited
            return await self._refresh()

    async def _refresh(self) -> str:
        self.refreshes += 1
        try:
            issued = await self._credential.get_token(self._scope)
            token, expires = str(issued.token), float(issued.expires_on)
        except Exception as exc:  # any failure of the credential chain: say what it was, keep no secret
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
            if self._token is not None and self._clock() < self._expires:
                log.warning("Entra ID token refresh failed, the current token still holds: %s", problem)
                return self._token
            raise CredentialUnavailable(
                f"the gateway could not get a Microsoft Entra ID token for {self._scope} ({problem}); "
                "check the gateway's Azure identity (managed identity, workload identity, az login)"
            ) from None
        self._token, self._expires = token, expires
        self._issued = [*self._issued[-3:], token]
        return token

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._issued)

    async def aclose(self) -> None:
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()


def default_azure_credential() -> TokenCredential:
    """azure-identity's DefaultAzureCredential (async): environment, workload identity, managed identity,
    the Azure CLI's login, in that order. azure-identity is an optional extra: `runs-gateway[azure]`."""
    try:
        from azure.identity.aio import DefaultAzureCredential
    except ImportError:
        raise RuntimeError(
            "Entra ID authentication needs azure-identity: pip install 'runs-gateway[azure]'"
        ) from None
    return DefaultAzureCredential()
