"""The gateway's own credential: Entra ID tokens used until shortly before they expire, refreshed once for
all the calls that find them due, kept through a failed refresh while they still hold; static keys in the
dialect's header. A clock of the test's own stands for time, so nothing here waits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from gateway.auth import CredentialUnavailable, EntraTokens, StaticKey, default_azure_credential


@dataclass
class Token:
    token: str
    expires_on: int


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Credential:
    """Issues `token-N`, valid for `lifetime` seconds of `clock`; fails while `failing`."""

    def __init__(self, clock: Clock, lifetime: int = 3600) -> None:
        self.clock, self.lifetime, self.failing, self.issued = clock, lifetime, False, 0

    async def get_token(self, *scopes: str) -> Token:
        assert scopes == ("https://ai.azure.com/.default",)
        await asyncio.sleep(0)  # let concurrent callers pile up
        if self.failing:
            raise RuntimeError("AzureCliCredential: Please run 'az login' to set up an account")
        self.issued += 1
        return Token(f"token-{self.issued}", int(self.clock.now + self.lifetime))


def tokens(clock: Clock, credential: Credential) -> EntraTokens:
    return EntraTokens(credential, "https://ai.azure.com/.default", margin=300, clock=clock)


async def test_a_token_is_used_until_the_margin_before_its_expiry_then_refreshed() -> None:
    clock = Clock()
    credential = Credential(clock)
    source = tokens(clock, credential)
    assert await source.header() == ("authorization", "Bearer token-1")
    clock.now += 3600 - 301  # still more than the margin left
    assert await source.token() == "token-1"
    clock.now += 2  # within the margin, before the expiry: refreshed now, not after a refusal
    assert await source.token() == "token-2"
    assert source.secrets() == ("token-1", "token-2")


async def test_many_calls_that_find_the_token_due_share_one_refresh() -> None:
    clock = Clock()
    credential = Credential(clock)
    source = tokens(clock, credential)
    assert set(await asyncio.gather(*(source.token() for _ in range(100)))) == {"token-1"}
    assert credential.issued == 1


async def test_a_failed_refresh_keeps_a_token_that_still_holds_and_refuses_once_it_expired() -> None:
    clock = Clock()
    credential = Credential(clock)
    source = tokens(clock, credential)
    await source.token()
    credential.failing = True
    clock.now += 3600 - 100  # due, not expired
    assert await source.token() == "token-1"
    clock.now += 200  # expired
    with pytest.raises(CredentialUnavailable) as refused:
        await source.token()
    assert "AzureCliCredential: Please run 'az login'" in str(refused.value)
    assert refused.value.code.name == "UNAUTHENTICATED"


async def test_a_static_key_goes_as_a_bearer_or_alone_in_its_header() -> None:
    assert await StaticKey("k-1234567890").header() == ("authorization", "Bearer k-1234567890")
    assert await StaticKey("k-1234567890", "api-key").header() == ("api-key", "k-1234567890")


async def test_the_default_azure_credential_is_azure_identitys() -> None:
    pytest.importorskip("azure.identity", reason="azure-identity is the optional extra runs-gateway[azure]")
    credential = default_azure_credential()  # built only: asking it for a token would leave this machine
    assert type(credential).__name__ == "DefaultAzureCredential"
    assert callable(credential.get_token)
    await credential.close()  # type: ignore[attr-defined]
