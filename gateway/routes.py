"""The REST route of every RPC of each version of RunsService, as data.

Each entry says which HTTP method and path an RPC calls, which request fields fill the path, the query and
the JSON body, which field of the response message holds the REST object, and whether the call answers a
stream of server-sent events; `WATCHES` says which routes a watching RPC polls. A version of the REST API is
an `Api`: its gRPC service, its `OpenAI-Beta` header, its routes and watches (and for streamed runs, which
event carries which message). The machinery that applies them is written once, in `core.py` (and
`watch.py`); `tests/test_routes.py` checks that these tables and each service descriptor agree both ways.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

RESOURCE_TYPES = {"thread_id": "thread", "run_id": "run", "step_id": "run_step"}
"""Path placeholder → the type of resource its id names."""

LIST_QUERY = ("limit", "order", "after", "before")
"""The query parameters of the REST list endpoints (cursor pagination)."""
LARGEST_PAGE = (("limit", 100),)  # the API's maximum
"""A stream asks for the API's largest page unless the client chose: the same items, 5x fewer round trips
than the default page of 20."""


@dataclass(frozen=True, slots=True)
class Route:
    """How one RPC maps to its REST endpoint.

    `path` is relative to the upstream base URL (which ends in `/v1`); its `{placeholders}` name request
    fields. `result` names the response field that receives the REST object (for a stream: the repeated
    field of each streamed message that receives a page's items); None means the REST object is the
    response itself (a list page), or, with `events`, that each server-sent event is a message. `query`
    names REST query parameters, each filled by the request field of the same name; a name ending in `[]`
    (`include[]`) is a repeated field sent as one parameter per value. `always` lists body fields sent even
    when empty (a nested one by its dotted path); `defaults`, query parameters sent when the request leaves
    them unset. `events`: the call sends `"stream": true` and answers server-sent events, one message each.
    """

    method: str
    path: str
    result: str | None
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    always: tuple[str, ...] = ()
    defaults: tuple[tuple[str, str | int], ...] = ()
    events: bool = False
    path_params: tuple[str, ...] = field(init=False)
    resources: tuple[tuple[str, str], ...] = field(init=False)
    """(type, name template) of each resource the path names, outermost first: `("run",
    "threads/{thread_id}/runs/{run_id}")`. A 404 says which of them (or what else) was not found."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_params", tuple(_PLACEHOLDER.findall(self.path)))
        resources = tuple(
            (RESOURCE_TYPES[name], self.path[: self.path.index("{" + name + "}") + len(name) + 2].lstrip("/"))
            for name in self.path_params
        )
        object.__setattr__(self, "resources", resources)


def query_field(parameter: str) -> str:
    """The request field that fills a query parameter: `include[]` → `include`."""
    return parameter.removesuffix("[]")


_RUNS = "/threads/{thread_id}/runs"
_RUN = _RUNS + "/{run_id}"
_STEPS = _RUN + "/steps"

_CREATE_RUN = ("assistant_id", "model", "instructions", "additional_instructions", "tools", "metadata")

ROUTES: dict[str, Route] = {
    "CreateRun": Route("POST", _RUNS, "run", body=_CREATE_RUN),
    "GetRun": Route("GET", _RUN, "run"),
    # ModifyRun exists to set metadata: an empty map is sent as {} (clear), never dropped.
    "ModifyRun": Route("POST", _RUN, "run", body=("metadata",), always=("metadata",)),
    "ListRuns": Route("GET", _RUNS, "runs", query=LIST_QUERY, defaults=LARGEST_PAGE),
    "ListRunsPage": Route("GET", _RUNS, None, query=LIST_QUERY),
    "CancelRun": Route("POST", _RUN + "/cancel", "run"),
    "SubmitToolOutputs": Route("POST", _RUN + "/submit_tool_outputs", "run", body=("tool_outputs",)),
    "GetRunStep": Route("GET", _STEPS + "/{step_id}", "run_step"),
    "ListRunSteps": Route("GET", _STEPS, "run_steps", query=LIST_QUERY, defaults=LARGEST_PAGE),
    "ListRunStepsPage": Route("GET", _STEPS, None, query=LIST_QUERY),
}
"""RPC name → its REST route, in v1."""


@dataclass(frozen=True, slots=True)
class Watch:
    """How a watching RPC follows a resource: the route it polls, and the list route of its parts."""

    poll: Route
    parts: Route


WATCHES: dict[str, Watch] = {
    "WatchRun": Watch(ROUTES["GetRun"], ROUTES["ListRunSteps"]),
}
"""RPC name → what it polls, for the RPCs that follow a resource rather than call one route (v1)."""

_INCLUDE = ("include[]",)
_CREATE_RUN_V2 = (
    *_CREATE_RUN, "additional_messages", "reasoning_effort", "temperature", "top_p", "max_prompt_tokens",
    "max_completion_tokens", "truncation_strategy", "tool_choice", "parallel_tool_calls", "response_format",
)  # fmt: skip
_SUBMIT = ROUTES["SubmitToolOutputs"]

# The description requires an attachment's `tools` (on the array, where it means its items): sent even empty.
_ALWAYS_V2 = ("additional_messages.attachments.tools",)

ROUTES_V2: dict[str, Route] = {
    **ROUTES,
    "CreateRun": Route("POST", _RUNS, "run", query=_INCLUDE, body=_CREATE_RUN_V2, always=_ALWAYS_V2),
    "GetRunStep": Route("GET", _STEPS + "/{step_id}", "run_step", query=_INCLUDE),
    "ListRunSteps": Route("GET", _STEPS, "run_steps", query=LIST_QUERY + _INCLUDE, defaults=LARGEST_PAGE),
    "ListRunStepsPage": Route("GET", _STEPS, None, query=LIST_QUERY + _INCLUDE),
    "CreateRunStream": Route(
        "POST", _RUNS, None, query=_INCLUDE, body=_CREATE_RUN_V2, always=_ALWAYS_V2, events=True
    ),
    "SubmitToolOutputsStream": Route("POST", _SUBMIT.path, None, body=_SUBMIT.body, events=True),
}
"""RPC name → its REST route, in v2: v1's, with v2's request fields, and the streamed runs."""

WATCHES_V2: dict[str, Watch] = {"WatchRun": Watch(ROUTES_V2["GetRun"], ROUTES_V2["ListRunSteps"])}

_RUN_EVENTS = (
    "created", "queued", "in_progress", "requires_action", "completed", "incomplete", "failed", "cancelling",
    "cancelled", "expired",
)  # fmt: skip
_STEP_EVENTS = ("created", "in_progress", "completed", "failed", "cancelled", "expired")
EVENTS_V2: dict[str, str] = {
    **{f"thread.run.{name}": "run" for name in _RUN_EVENTS},
    **{f"thread.run.step.{name}": "run_step" for name in _STEP_EVENTS},
    "thread.run.step.delta": "run_step_delta",
    **{f"thread.message.{name}": "message" for name in ("created", "in_progress", "completed", "incomplete")},
    "thread.message.delta": "message_delta",
}
"""Server-sent event name → the field of a streamed message that carries its data (the v2 description's
`RunStreamEvent`, `RunStepStreamEvent` and `MessageStreamEvent`). Any other event is sent as JSON text in
`UNKNOWN_EVENT_FIELD`: the API warns that events will be added."""
UNKNOWN_EVENT_FIELD = "data_json"
RESTING_V2 = frozenset(
    f"thread.run.{name}"
    for name in ("requires_action", "completed", "incomplete", "failed", "cancelled", "expired")
)
"""The events after which a run's stream has nothing more to say: an upstream that closes the stream right
after one of them without its `done` has still ended it whole."""


@dataclass(frozen=True, slots=True)
class Api:
    """One version of the REST API as the gateway serves it.

    `service` is the full name of its gRPC service; `beta`, the `OpenAI-Beta` header its REST calls carry;
    `events`, for streamed runs, which field of a streamed message carries each server-sent event, and
    `resting`, the events after which a run's stream is whole even without its `done`.
    """

    version: str
    service: str
    beta: str
    routes: Mapping[str, Route]
    watches: Mapping[str, Watch]
    events: Mapping[str, str] = field(default_factory=dict)
    resting: frozenset[str] = frozenset()

    @property
    def statuses(self) -> frozenset[str]:
        """The last words of event names that name an object's status (`completed` of
        `thread.run.completed`), as opposed to what happened to it (`created`, `delta`)."""
        return frozenset(name.rpartition(".")[2] for name in self.events) - {"created", "delta"}


V1 = Api("v1", "runs_gateway.assistants.v1.RunsService", "assistants=v1", ROUTES, WATCHES)
V2 = Api(
    "v2",
    "runs_gateway.assistants.v2.RunsService",
    "assistants=v2",
    ROUTES_V2,
    WATCHES_V2,
    EVENTS_V2,
    RESTING_V2,
)
APIS = (V1, V2)
"""Every version the gateway serves, each as its own gRPC service on the same server."""
