"""The REST route of every RPC of RunsService, as data.

Each entry says which HTTP method and path an RPC calls, which request fields fill the path, the query and
the JSON body, and which field of the response message holds the REST object; `WATCHES` says which routes a
watching RPC polls. The machinery that applies a route is written once, in `core.py` (and `watch.py`);
`tests/test_routes.py` checks that these tables and the service descriptor agree both ways.
"""

from __future__ import annotations

import re
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
    response itself (a list page). `always` lists body fields sent even when empty; `defaults`, query
    parameters sent when the request leaves them unset.
    """

    method: str
    path: str
    result: str | None
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    always: tuple[str, ...] = ()
    defaults: tuple[tuple[str, str | int], ...] = ()
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


_RUNS = "/threads/{thread_id}/runs"
_RUN = _RUNS + "/{run_id}"
_STEPS = _RUN + "/steps"

ROUTES: dict[str, Route] = {
    "CreateRun": Route(
        "POST",
        _RUNS,
        "run",
        body=("assistant_id", "model", "instructions", "additional_instructions", "tools", "metadata"),
    ),
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
"""RPC name → its REST route."""


@dataclass(frozen=True, slots=True)
class Watch:
    """How a watching RPC follows a resource: the route it polls, and the list route of its parts."""

    poll: Route
    parts: Route


WATCHES: dict[str, Watch] = {
    "WatchRun": Watch(ROUTES["GetRun"], ROUTES["ListRunSteps"]),
}
"""RPC name → what it polls, for the RPCs that follow a resource rather than call one route."""
