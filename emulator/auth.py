"""Admission: what each real server checks before it reads a request, as pluggable rules a dialect names.

Three kinds, each a plain function (or a small frozen object) raising `Refusal` with the server's own
status and body: an auth rule (the credentials a request must carry), a beta rule (what `OpenAI-Beta`
means: the shape of the objects answered, `v1` or `v2`), and an `ApiVersion` rule (the `api-version`
query of the Azure services). The bodies are quoted from where they were found; each comment names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from emulator import entra
from emulator.model import JSON, ApiError, Refusal


@dataclass(frozen=True)
class Credentials:
    """What an auth rule reads: the request's headers (case-insensitive), the accepted keys (None: any
    non-empty key), and the time now (epoch seconds, for a token's `exp`)."""

    headers: Mapping[str, str]
    keys: frozenset[str] | None
    now: float


AuthRule = Callable[[Credentials], None]
BetaRule = Callable[[str | None, frozenset[str]], str]


# Auth rules.


def openai_key(credentials: Credentials) -> None:
    """OpenAI: `Authorization: Bearer KEY`, a key of `keys` when they are set."""
    header = credentials.headers.get("authorization", "")
    key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not key:
        raise _openai(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if credentials.keys is not None and key not in credentials.keys:
        masked = f"{key[:3]}{'*' * max(len(key) - 7, 0)}{key[-4:]}" if len(key) > 7 else "*" * len(key)
        raise _openai(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )


def entra_bearer(audience: str) -> AuthRule:
    """Azure AI Foundry: an Entra bearer token for `audience`, live; no API key is accepted."""

    def rule(credentials: Credentials) -> None:
        if _bearer_refusal(credentials, audience) is not None:
            raise Refusal(401, token_body(audience))

    return rule


def key_or_entra(audience: str) -> AuthRule:
    """Azure OpenAI: an `api-key: KEY` header (a key of `keys` when they are set), or else an Entra bearer
    token for `audience`."""

    def rule(credentials: Credentials) -> None:
        key = credentials.headers.get("api-key")
        if key is None and credentials.headers.get("authorization", "").startswith("Bearer "):
            if _bearer_refusal(credentials, audience) is not None:
                raise Refusal(401, token_body(audience))
            return
        if not key or (credentials.keys is not None and key not in credentials.keys):
            raise Refusal(401, AZURE_KEY_REFUSED)

    return rule


def optional_bearer(credentials: Credentials) -> None:
    """open-assistant-api: no credentials at all by default (its `AUTH_ENABLE` is false); with `keys` set,
    as with `AUTH_ENABLE`, a `Bearer` token of them."""
    if credentials.keys is None:
        return
    header = credentials.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or token.strip() not in credentials.keys:
        # app/exceptions/exception.py (AuthenticationError) in app/providers/response.py's ErrorResponse.
        raise Refusal(
            401, {"error": {"code": "unauthorized", "message": "Unauthorized", "type": None, "param": None}}
        )


def astra_token(credentials: Credentials) -> None:
    """astra-assistants-api: an `astra-api-token` header (a key of `keys` when they are set; any non-empty
    one otherwise). The model provider's keys ride in other headers, and are not checked."""
    token = credentials.headers.get("astra-api-token")
    if token is None:
        # impl/routes/utils.py, verify_db_client: HTTPException(403), FastAPI's {"detail": ...}.
        raise Refusal(403, {"detail": "Must pass an astradb token in the astra-api-token header"})
    if not token or (credentials.keys is not None and token not in credentials.keys):
        # impl/astra_vector.py: a token Astra's DevOps API calls "JWT not valid" is a 400 with
        # TOKEN_AUTH_FAILURE_MESSAGE followed by that API's answer (its exact words are not known here).
        raise Refusal(400, {"detail": ASTRA_TOKEN_REFUSED})


def _bearer_refusal(credentials: Credentials, audience: str) -> str | None:
    header = credentials.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return "missing"
    return entra.refusal(header.removeprefix("Bearer ").strip(), audience, credentials.now)


def token_body(audience: str) -> JSON:
    """The 401 of an Azure front door to a missing, malformed, wrong-audience or expired token, as issues
    quote it (MuiseDestiny/zotero-gpt#412 and Farzad-R/Advanced-QA-and-RAG-Series#3 for Azure OpenAI;
    Azure/azure-sdk-for-net#50872 for a services.ai.azure.com endpoint): not an `{"error": ...}` body."""
    return {
        "statusCode": 401,
        "message": f"Unauthorized. Access token is missing, invalid, audience is incorrect ({audience}), or "
        "have expired.",
    }


AZURE_KEY_REFUSED: JSON = {
    # Azure OpenAI to a wrong or missing api-key, body quoted whole in SciSharp/BotSharp#386.
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API endpoint for your "
        "resource.",
    }
}
ASTRA_TOKEN_REFUSED = (
    "\nUnauthorized to connect to AstraDB. Please ensure you're passing a token starting with `ASTRACS:...` "
    "from https://astra.datastax.com and ensure it has the right scope.\n"
    "{'errors': [{'message': 'JWT not valid'}]}"
)


# Beta rules: the version whose shape the answers take.


def openai_beta(header: str | None, versions: frozenset[str]) -> str:
    """OpenAI: `OpenAI-Beta: assistants=v1|v2` required, and a version it serves; its answers, word for
    word: a missing header, and v1 after its retirement in December 2024."""
    newest = max(versions)
    if header is None or not header.startswith("assistants="):
        raise _openai(
            400,
            "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try "
            f"again by setting the header 'OpenAI-Beta: assistants={newest}'.",
            code="invalid_beta",
        )
    version = header.removeprefix("assistants=")
    if version == "v1" and version not in versions:
        raise _openai(
            400,
            "The v1 Assistants API has been deprecated. Please try again by setting the header "
            f"'OpenAI-Beta: assistants={newest}'. See the migration guide for more information: "
            "https://platform.openai.com/docs/assistants/migration.",
            code="invalid_beta",
        )
    if version not in versions:
        raise _openai(400, f"Invalid value for 'OpenAI-Beta': {header!r}.", code="invalid_beta")
    return version


def always_v2(header: str | None, versions: frozenset[str]) -> str:
    """A server that serves v2 objects whatever `OpenAI-Beta` says, or without it."""
    return "v2"


def astra_beta(header: str | None, versions: frozenset[str]) -> str:
    """astra-assistants-api (impl/main.py, APIVersionMiddleware): no header or `assistants=v1` is v1,
    `assistants=v2` is v2, anything else a plain-text 400 (the stray `)` is the server's)."""
    if header is None or header == "assistants=v1":
        return "v1"
    if header == "assistants=v2":
        return "v2"
    raise Refusal(400, f"Unsupported version: {header})")


# The api-version query.


@dataclass(frozen=True)
class ApiVersion:
    """The `api-version` query an Azure service requires: `default` (the value accepted unless configured
    otherwise) and the server's answers to a missing (or empty) one and to any other value."""

    default: str
    missing: Callable[[], tuple[int, JSON]]
    unsupported: Callable[[str, str], tuple[int, JSON]]

    def check(self, given: str | None, accepted: str) -> None:
        if not given:
            raise Refusal(*self.missing())
        if given != accepted:
            raise Refusal(*self.unsupported(given, accepted))


def azure_openai_missing() -> tuple[int, JSON]:
    # A 404, not a 400: MicrosoftDocs/azure-docs#114602, the body in ThinkInAIXYZ/deepchat#262.
    return 404, {"error": {"code": "404", "message": "Resource not found"}}


def azure_openai_unsupported(given: str, accepted: str) -> tuple[int, JSON]:
    # openai/codex#3725, hotovo/aider-desk#460.
    return 400, {"error": {"code": "BadRequest", "message": "API version not supported"}}


def foundry_missing() -> tuple[int, JSON]:
    # A Foundry project's agents endpoint, body quoted whole in Azure/azure-dev#8499.
    return 400, {"error": {"code": "BadRequest", "message": "Missing required query parameter: api-version"}}


def foundry_unsupported(given: str, accepted: str) -> tuple[int, JSON]:
    # Azure/azure-sdk-for-net#50120 (creating a thread): the code and the message; the real one lists
    # 'v1', '2025-05-01', '2025-05-15-preview', the emulator the one version it accepts.
    message = f"Unsupported api version '{given}'. The supported versions are '{accepted}'"
    return 400, {"error": {"code": "UnsupportedApiVersionValue", "message": message}}


def _openai(status: int, message: str, code: str | None = None) -> Refusal:
    return Refusal(status, ApiError(status, message, code=code).body())
