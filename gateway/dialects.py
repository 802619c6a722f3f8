"""Upstream dialects: how each kind of server of the Assistants REST API wants to be called.

OpenAI no longer serves the Assistants API; what users point the gateway at are other servers of the same
protocol, each with its own habits: where the API lives under the host, a query (`api-version`) on every
request, whether `OpenAI-Beta` means anything to it, how it authenticates, which versions of the API it
speaks, and how it says "no such route". A dialect is that, as data: one frozen object per kind of server,
read by the upstream client and the server builder, as a version of the API is (`routes.Api`). Adding a
server is adding a row to `DIALECTS`, not code.

What a server sends back is read liberally whatever the dialect (integral floats as integers, FastAPI's 422
and 404 bodies, a stream without `done`): that is the converter's and the error reader's job, not a dialect's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BEARER, HEADER, ENTRA = "bearer", "header", "entra"
"""How the gateway's own credential goes up: `Authorization: Bearer KEY`; the key alone in a header of the
dialect's (`api-key: KEY`); or a Microsoft Entra ID token the gateway obtains and refreshes itself."""
AUTH_MODES = (BEARER, HEADER, ENTRA)


@dataclass(frozen=True, slots=True)
class Dialect:
    """One kind of upstream server.

    `query`: parameters every request carries, with their default values (the `--upstream` URL's own
    query wins, and is kept on every request too); `required_query`: those that must end up set.
    `send_beta`: whether `OpenAI-Beta` goes up (a server that picks the version by other means never sees
    it); `versions`: the versions of the API it serves (a call of another version's service is answered
    UNIMPLEMENTED without a REST call). `auth`, `key_header`, `entra_scope`: the default authentication
    (flags override it).
    `required_headers`: static headers (from the gateway's configuration) the server cannot work without.
    `time_scale`: how many of the server's time units make a second (1000: it writes milliseconds where the
    API has seconds); `closes_streams`: the server ends a run's stream by closing it, never with `done`,
    so a stream that closes is whole wherever it stops.
    """

    name: str
    server: str
    example: str
    query: Mapping[str, str] = field(default_factory=dict)
    required_query: tuple[str, ...] = ()
    send_beta: bool = True
    versions: frozenset[str] = frozenset({"v1", "v2"})
    auth: str = BEARER
    key_header: str = "api-key"
    entra_scope: str | None = None
    required_headers: tuple[str, ...] = ()
    time_scale: int = 1
    closes_streams: bool = False


ROUTE_NOT_FOUND = ("not found", "resource not found", "method not allowed")
"""404 and 405 messages without a resource, which every dialect reads as "no such route" (compared lower-case,
without a final full stop): Starlette's and FastAPI's `Not Found` and `Method Not Allowed`, Azure's
`Resource not found`. OpenAI's own
`Invalid URL (...)` is recognised by its prefix (errors.py)."""

OPENAI = Dialect(
    "openai",
    "OpenAI's wire as OpenAI served it: the project's emulator, and servers that copy it exactly",
    "http://127.0.0.1:8080/v1",
)
DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect
    for dialect in (
        OPENAI,
        Dialect(
            "azure-foundry",
            "Azure AI Foundry Agent Service, classic threads and runs (served until 2027-03-31)",
            "https://RESOURCE.services.ai.azure.com/api/projects/PROJECT",
            query={"api-version": "v1"},
            required_query=("api-version",),
            send_beta=False,
            versions=frozenset({"v2"}),
            auth=ENTRA,
            entra_scope="https://ai.azure.com/.default",
        ),
        Dialect(
            "azure-openai",
            "Azure OpenAI Assistants (retired 2026-08-26; the same protocol where it is still served)",
            "https://RESOURCE.openai.azure.com/openai",
            query={"api-version": "2024-05-01-preview"},
            required_query=("api-version",),
            send_beta=False,
            versions=frozenset({"v2"}),
            auth=HEADER,
            key_header="api-key",
            entra_scope="https://cognitiveservices.azure.com/.default",
        ),
        Dialect(
            "open-assistant",
            "MLT-OSS/open-assistant-api (self-hosted; v2-shaped, ignores OpenAI-Beta, the key is optional)",
            "http://HOST:PORT/api/v1",
        ),
        Dialect(
            "astra",
            "datastax/astra-assistants-api (v1 and v2 by OpenAI-Beta; no ModifyRun, CancelRun or run steps)",
            "https://HOST/v1",
            required_headers=("astra-api-token",),
            # impl/routes_v2/threads_v2.py writes `int(time.mktime(...) * 1000)`; its streams end with the
            # last message delta or `thread.run.requires_action`, never `done` (run_event_stream).
            time_scale=1000,
            closes_streams=True,
        ),
    )
}
"""Every dialect by its name (`--dialect`, `RUNS_GATEWAY_DIALECT`)."""
