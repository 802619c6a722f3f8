"""The servers of the Assistants protocol the emulator can behave as, each a frozen `Dialect` read by one
machinery (`app`): where its API lives, what it requires of a request, how it writes answers, errors and
streams, and what it does not serve.

| name | base path | api-version | credentials | objects |
|---|---|---|---|---|
| `openai` | `/v1` | - | `Authorization: Bearer KEY` | by `OpenAI-Beta` |
| `azure-foundry` | `/api/projects/{project}` | `v1` | Entra bearer (aud `https://ai.azure.com`) | v2 |
| `azure-openai` | `/openai` | `2024-05-01-preview` | `api-key`, or Entra bearer (Cognitive Services) | v2 |
| `open-assistant` | `/api/v1` | - | none (a bearer of the keys, when set) | v2 |
| `astra` | `/v1` | - | `astra-api-token` (provider keys in headers) | by `OpenAI-Beta`, none: v1 |

Their quirks (error bodies, timestamps, streams, missing operations) are in each one's definition, with
where they were found.

`entra_token` (from `entra`) mints the bearer tokens the Azure dialects accept, for tests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from emulator import auth as admission
from emulator import forms
from emulator.entra import COGNITIVE_AUDIENCE, FOUNDRY_AUDIENCE, entra_token
from emulator.model import JSON, written_times
from emulator.stream import OPENAI_STREAM, StreamStyle

__all__ = ["DIALECTS", "Dialect", "entra_token"]

OPERATIONS = frozenset(
    {"CreateAssistant", "GetAssistant", "CreateThread", "GetThread", "ListMessages", "CreateRun"}
    | {"ListRuns", "GetRun", "ModifyRun", "CancelRun", "SubmitToolOutputs", "ListRunSteps", "GetRunStep"}
)
"""The operations the emulator serves, as its route table names them."""


@dataclass(frozen=True)
class Dialect:
    """One real server's habits, as data.

    `base`: the route prefix of its API (`{project}` matches any one path segment); `served_base`: that
    prefix as the emulator serves it (the base URL a client is given). `api_version`: the `api-version`
    query it requires (None: none). `auth`, `beta`: its admission rules (`emulator.auth`). `read_body`,
    `api_error`, `no_route`: how it reads a request body and writes refusals (`forms`). `json_times`: how
    its JSON answers write timestamps (`model.written_times`); `stream`: how it writes a run's events.
    `unsupported`: operations it has no route for (answered by `no_route`, as an unknown path is).
    `provider_headers`: headers (or prefixes of them, ending in `-`) carrying a model provider's
    credentials, recorded apart in the request log."""

    name: str
    base: str
    served_base: str
    auth: admission.AuthRule
    beta: admission.BetaRule = admission.openai_beta
    api_version: admission.ApiVersion | None = None
    read_body: forms.BodyReader = forms.openai_body
    api_error: forms.ErrorForm = forms.openai_error
    no_route: forms.NoRoute = forms.openai_no_route
    json_times: str = "seconds"
    stream: StreamStyle = OPENAI_STREAM
    unsupported: frozenset[str] = frozenset()
    provider_headers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.unsupported <= OPERATIONS:
            raise ValueError(f"unknown operations: {sorted(self.unsupported - OPERATIONS)}")

    def admit(
        self,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        keys: frozenset[str] | None,
        versions: frozenset[str],
        api_version: str | None,
        beta: bool = True,
    ) -> str:
        """Check a request as the server does before reading it (`api-version`, credentials, the beta
        header, in that order) and return the version whose shape its answers take; raise `Refusal`.
        Without `beta` (the Responses API) the header is not read and the version is `responses`."""
        if self.api_version is not None:
            self.api_version.check(query.get("api-version"), api_version or self.api_version.default)
        self.auth(admission.Credentials(headers, keys, time.time()))
        return self.beta(headers.get("openai-beta"), versions) if beta else "responses"

    def answer(self, obj: JSON) -> JSON:
        """A JSON answer as the server writes it."""
        written: JSON = written_times(obj, self.json_times)
        return written

    def provider_keys(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The headers of `headers` that carry a model provider's credentials."""
        return {
            name: value
            for name, value in headers.items()
            if any(name == h or (h.endswith("-") and name.startswith(h)) for h in self.provider_headers)
        }


OPENAI = Dialect("openai", "/v1", "/v1", admission.openai_key)

ASTRA_PROVIDER_HEADERS = (
    "authorization", "api-key", "base-url", "api-version", "custom-llm-provider", "embedding-model",
    "llm-param-", "embedding-param-", "vertexai-project", "vertexai-location",
    "google-application-credentials-file-id",
)  # fmt: skip
"""astra-assistants-api's model-provider headers (impl/routes/utils.py, get_litellm_kwargs: LiteLLM's key,
base URL, version and provider, the OpenAI bearer, LLM-PARAM-* and EMBEDDING-PARAM-*; infer_embedding_model's
embedding-model; the Vertex and Google credentials headers)."""

AZURE_FOUNDRY = Dialect(
    "azure-foundry",
    # Azure AI Foundry Agent Service, classic threads and runs: the project endpoint
    # https://<resource>.services.ai.azure.com/api/projects/<project>, no /v1 (Azure/azure-dev#8499).
    "/api/projects/{project}",
    "/api/projects/demo",
    admission.entra_bearer(FOUNDRY_AUDIENCE),
    beta=admission.always_v2,
    api_version=admission.ApiVersion("v1", admission.foundry_missing, admission.foundry_unsupported),
    no_route=forms.azure_no_route,
)

AZURE_OPENAI = Dialect(
    "azure-openai",
    "/openai",
    "/openai",
    admission.key_or_entra(COGNITIVE_AUDIENCE),
    beta=admission.always_v2,
    api_version=admission.ApiVersion(
        "2024-05-01-preview", admission.azure_openai_missing, admission.azure_openai_unsupported
    ),
    no_route=forms.azure_no_route,
)

OPEN_ASSISTANT = Dialect(
    "open-assistant",
    # MLT-OSS/open-assistant-api: API_PREFIX "/api" (config/config.py) and the router's "/v1"
    # (app/api/routes.py).
    "/api/v1",
    "/api/v1",
    admission.optional_bearer,
    beta=admission.always_v2,
    read_body=forms.FastApiBody(forms.open_assistant_validation),
    api_error=forms.open_assistant_error,
    no_route=forms.open_assistant_no_route,
    # Its JSON encoder writes each datetime as `value.timestamp()` (app/models/base_model.py,
    # app/libs/util.py datetime2timestamp): a float. Its stream events go through the openai SDK's
    # models first (app/core/runner/pub_handler.py), whose integer fields write integers.
    json_times="float",
    stream=StreamStyle(
        # sse-starlette's EventSourceResponse: `\r\n` line ends (sse_starlette/sse.py).
        line_end="\r\n",
        # pub_handler.sub_stream stops at its internal `done` event without sending it; ThreadRunner.run
        # publishes `thread.run.completed` with the run as it stands once its loop ends, `requires_action`
        # included (app/core/runner/thread_runner.py).
        done=False,
        completed_after_action=True,
        # _data_adjust_message: its messages have no `status`, so "in_progress" is written on every one.
        message_completed_status="in_progress",
    ),
)

ASTRA = Dialect(
    "astra",
    # datastax/astra-assistants-api (impl/main.py): the v1 routers under /v1; `OpenAI-Beta: assistants=v2`
    # rewrites the path to its v2 routers.
    "/v1",
    "/v1",
    admission.astra_token,
    beta=admission.astra_beta,
    read_body=forms.FastApiBody(forms.fastapi_default),
    api_error=forms.astra_error,
    no_route=forms.astra_no_route,
    # impl/routes_v2/threads_v2.py: `created_at = int(time.mktime(datetime.now().timetuple()) * 1000)`.
    json_times="milliseconds",
    stream=StreamStyle(
        # `yield f"data: {event_json}\n\n"` of the whole event, no `event:` line, and no `[DONE]`; a run
        # that replies ends with its message's last delta, a run calling functions with
        # `thread.run.requires_action` (run_event_stream, stream_message_events).
        envelope=True,
        done=False,
        omitted=frozenset({"thread.message.completed", "thread.run.step.completed", "thread.run.completed"}),
        times="milliseconds",
    ),
    # threads_v2.py has no route to modify or cancel a run or to read its steps (nor has threads.py).
    unsupported=frozenset({"ModifyRun", "CancelRun", "ListRunSteps", "GetRunStep"}),
    provider_headers=ASTRA_PROVIDER_HEADERS,
)

DIALECTS: Mapping[str, Dialect] = {
    dialect.name: dialect for dialect in (OPENAI, AZURE_FOUNDRY, AZURE_OPENAI, OPEN_ASSISTANT, ASTRA)
}
"""Every dialect by name (`EmulatorConfig.dialect`, `--dialect`)."""
