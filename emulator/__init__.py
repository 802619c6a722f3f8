"""An in-memory server of the OpenAI Assistants v1 and v2 REST APIs (assistants, threads, runs, steps).

The default upstream of the demo, the end-to-end tests and the benchmarks: `store` holds the objects and the
REST operations on them (built of `model`, `validation` with its `checks`, and `lifecycle`, how runs advance
and what a streamed run sends), `versions` the differences between v1 and v2, `app` the HTTP side
(Starlette) with an admin API for fault injection, `stream` the server-sent events, `server` serves it with
uvicorn. `dialects` makes it behave as other servers of the protocol (Azure AI Foundry, Azure OpenAI,
open-assistant-api, astra-assistants-api), each a frozen profile of rules: `auth` (credentials, the beta
header, `api-version`), `forms` (error bodies, request validation), `entra` (the bearer tokens of Azure).
`responses` serves OpenAI's Responses and Conversations APIs beside them, under the same base path.
"""

from emulator.app import EmulatorConfig, create_app
from emulator.server import EmulatorServer

__all__ = ["EmulatorConfig", "EmulatorServer", "create_app"]
