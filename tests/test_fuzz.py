"""Input fuzzing: hypothesis over the request messages of every RPC and over the request metadata.

The request messages are fuzzed against the core (`Gateway` over an `httpx.MockTransport` that records every
REST request): ids with `/`, `..`, `%2F`, `?`, `#`, spaces, unicode, empty, too long or valid-looking;
metadata maps of 0-20 pairs with keys and values at and beyond 64 / 512 characters; tools with valid and
invalid types and function names; empty, long and many tool outputs; any `limit`; unknown `order` numbers;
cursors. An oracle written here from the REST API's documented rules (the OpenAPI description in
../shared/openapi and the README's "Errors" section), not from `gateway/validate.py`, says which requests the
REST API would refuse. The property: a refused request raises `InvalidArgument` naming a field the oracle
names, and makes no REST call; any other request makes exactly one REST request per page, with the
documented method and path (the ids verbatim), exactly the query parameters the request set and exactly the
body fields it set, and raises nothing at all.

The request metadata is fuzzed over real gRPC, against a gateway thread whose upstream is a stdlib HTTP
server on loopback, so the forwarded headers go through a real HTTP client (h11) as in production. The
property: a call succeeds with exactly the allow-listed headers forwarded (no other client key reaches the
upstream), or fails with INVALID_ARGUMENT exactly when the README's metadata rules refuse a value.

The two gateway bugs fuzzing found (surrounding spaces in a forwarded value, a forwarded key sent twice)
are fixed; their examples stay as regular tests at the end of this module. The property sends each
forwarded key once; repeated keys have their own test.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import string
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl

import grpc
import httpx
import pytest
from conftest import API_KEY, GatewayThread
from factories import rest_page, rest_run
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from gateway.config import Settings
from gateway.core import Gateway, method_path
from gateway.errors import InvalidArgument
from gateway.routes import ROUTES, V1, WATCHES
from gateway.upstream import CallOptions, Upstream

SERVICE = pb.DESCRIPTOR.services_by_name["RunsService"]
RPCS = [method.name for method in SERVICE.methods if method.name not in WATCHES]
"""The RPCs that call one route; WatchRun, which polls, has a property of its own below."""
STREAMING = {method.name: method.server_streaming for method in SERVICE.methods}
BASE_URL = "http://upstream.test/v1"
Code = grpc.StatusCode
JSON = dict[str, Any]

EXAMPLES_PER_FIELD = 120
"""Examples of the core property per request field that takes hostile values (480 for CreateRun)."""
METADATA_EXAMPLES = 300
FUZZ = settings(
    database=None,
    deadline=None,
    derandomize=True,
    # Some requests carry 20 metadata pairs or 20+ tools with JSON schemas: drawing them takes up to ~20 ms
    # here, more on a loaded CI machine, which can trip too_slow's fixed threshold. The examples counts above
    # are what bound each test's time (a few seconds).
    suppress_health_check=[HealthCheck.too_slow],
)

# --- The REST API as documented (README "RPC → REST", OpenAPI paths) -------------------------------------

REST: dict[str, tuple[str, str]] = {
    "CreateRun": ("POST", "/threads/{thread_id}/runs"),
    "GetRun": ("GET", "/threads/{thread_id}/runs/{run_id}"),
    "ModifyRun": ("POST", "/threads/{thread_id}/runs/{run_id}"),
    "ListRuns": ("GET", "/threads/{thread_id}/runs"),
    "ListRunsPage": ("GET", "/threads/{thread_id}/runs"),
    "CancelRun": ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"),
    "SubmitToolOutputs": ("POST", "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"),
    "GetRunStep": ("GET", "/threads/{thread_id}/runs/{run_id}/steps/{step_id}"),
    "ListRunSteps": ("GET", "/threads/{thread_id}/runs/{run_id}/steps"),
    "ListRunStepsPage": ("GET", "/threads/{thread_id}/runs/{run_id}/steps"),
}
"""RPC → (HTTP method, path under the base URL), written out from the README's table."""

LISTS = {"ListRuns", "ListRunsPage", "ListRunSteps", "ListRunStepsPage"}
STREAMS = {"ListRuns", "ListRunSteps"}
STEPS = {"GetRunStep", "ListRunSteps", "ListRunStepsPage"}
ORDERS = {pb.LIST_ORDER_ASC: "asc", pb.LIST_ORDER_DESC: "desc"}
"""The REST `order` values (OpenAPI: enum asc, desc); LIST_ORDER_UNSPECIFIED means "not sent"."""
TOOL_TYPES = {
    res.TOOL_TYPE_CODE_INTERPRETER: "code_interpreter",
    res.TOOL_TYPE_RETRIEVAL: "retrieval",
    res.TOOL_TYPE_FUNCTION: "function",
}
"""The REST tool types (OpenAPI: CreateRunRequest.tools is oneOf AssistantToolsCode/Retrieval/Function)."""

# The gateway is deliberately stricter than the REST API here (README "Errors"): OpenAPI types every id as
# a plain string, but the gateway accepts only 1-128 letters, digits, '_' and '-', so that no id can change
# which REST path is called (`../x`, `a/b`, `%2F`, `?q`). That rule, not the REST API's, is what an id meets.
ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# OpenAPI FunctionObject.name: "a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of
# 64"; it is required, so it is not empty.
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def path_params(rpc: str) -> list[str]:
    """The request fields that fill the documented path of `rpc`, in order."""
    return re.findall(r"\{(\w+)\}", REST[rpc][1])


def refusals(rpc: str, request: Message) -> set[str]:
    """The request fields for which the REST API (or a documented, deliberately stricter rule of the
    gateway) refuses `request`; empty when the gateway must make the REST call."""
    fields = {field.name for field in request.DESCRIPTOR.fields}
    bad = {name for name in path_params(rpc) if not ID.fullmatch(getattr(request, name))}
    # CreateRun's assistant_id is an id too: the same stricter rule as the path ids (README "Errors").
    if "assistant_id" in fields and not ID.fullmatch(getattr(request, "assistant_id")):
        bad.add("assistant_id")
    # The cursors are ids when set; proto3's "" means "not sent".
    bad |= {
        name for name in ("after", "before") if name in fields and not _optional_id(getattr(request, name))
    }
    # OpenAPI: "Limit can range between 1 and 100"; proto3's 0 means "not sent" (the default, 20).
    if "limit" in fields and not 0 <= getattr(request, "limit") <= 100:
        bad.add("limit")
    if "order" in fields and getattr(request, "order") not in {pb.LIST_ORDER_UNSPECIFIED, *ORDERS}:
        bad.add("order")
    if "metadata" in fields and not _metadata_ok(getattr(request, "metadata")):
        bad.add("metadata")
    if "tools" in fields and not _tools_ok(getattr(request, "tools")):
        bad.add("tools")
    if "tool_outputs" in fields and not _tool_outputs_ok(getattr(request, "tool_outputs")):
        bad.add("tool_outputs")
    return bad


def _optional_id(value: str) -> bool:
    return not value or ID.fullmatch(value) is not None


def _metadata_ok(metadata: Any) -> bool:
    # OpenAPI: "Set of 16 key-value pairs ... Keys can be a maximum of 64 characters long and values can be a
    # maximum of 512 characters long"; characters are code points. An empty key is refused too: OpenAPI and
    # the README give only the maximum, so this is the gateway being stricter than written (a key that names
    # nothing), kept here as its rule so that a change to it is a decision, not an accident.
    return len(metadata) <= 16 and all(0 < len(k) <= 64 and len(v) <= 512 for k, v in metadata.items())


def _tools_ok(tools: Sequence[Any]) -> bool:
    # OpenAPI: maxItems 20; each tool one of the three REST types.
    return len(tools) <= 20 and all(map(_tool_ok, tools))


def _tool_ok(tool: Any) -> bool:
    if tool.type not in TOOL_TYPES:
        return False  # no REST type: UNSPECIFIED, or a number this version does not know
    # OpenAPI requires `function` on a function tool. On a code_interpreter or retrieval tool a `function`
    # would at best be ignored: the gateway refuses it rather than send or drop it silently (deliberately
    # stricter than the oneOf, whose other variants do not forbid extra properties).
    if tool.HasField("function") != (tool.type == res.TOOL_TYPE_FUNCTION):
        return False
    if tool.type != res.TOOL_TYPE_FUNCTION:
        return True
    function = tool.function
    # JSON (RFC 8259) has no NaN or Infinity: such a parameters schema cannot be sent at all.
    return FUNCTION_NAME.fullmatch(function.name) is not None and all(_numbers_finite(function.parameters))


def _numbers_finite(struct: struct_pb2.Struct) -> Iterator[bool]:
    stack: list[struct_pb2.Value] = list(struct.fields.values())
    while stack:
        value = stack.pop()
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            yield math.isfinite(value.number_value)
        elif kind == "struct_value":
            stack.extend(value.struct_value.fields.values())
        elif kind == "list_value":
            stack.extend(value.list_value.values)


def _tool_outputs_ok(outputs: Sequence[Any]) -> bool:
    # OpenAPI: tool_outputs is required, and a run waits for the output of every call it requires, so an
    # empty list never resumes it (README: "an empty tool_outputs"); a tool_call_id names a call of the
    # run's required_action, which "" never does.
    return bool(outputs) and all(output.tool_call_id for output in outputs)


def expected_query(rpc: str, request: Message) -> dict[str, str]:
    """The REST query parameters of `request`: exactly the list parameters it set."""
    if rpc not in LISTS:
        return {}
    query = {name: getattr(request, name) for name in ("after", "before") if getattr(request, name)}
    if getattr(request, "limit"):
        query["limit"] = str(getattr(request, "limit"))
    elif rpc in STREAMS:  # README: unset, a stream asks for the largest page
        query["limit"] = "100"
    if getattr(request, "order"):
        query["order"] = ORDERS[getattr(request, "order")]
    return query


def expected_body(rpc: str, request: Any) -> JSON | None:
    """The REST JSON body of `request` (None: no body): the body fields it set, by the README's rules.

    Plain strings are always sent, fields with presence when set (even to ""), empty maps and lists are left
    out (REST null and empty mean the same), except ModifyRun's metadata, always sent so {} clears it.
    """
    if rpc == "CreateRun":
        body: JSON = {"assistant_id": request.assistant_id}
        for name in ("model", "instructions", "additional_instructions"):
            if request.HasField(name):
                body[name] = getattr(request, name)
        if request.tools:
            body["tools"] = [_rest_tool(tool) for tool in request.tools]
        if request.metadata:
            body["metadata"] = dict(request.metadata)
        return body
    if rpc == "ModifyRun":
        return {"metadata": dict(request.metadata)}
    if rpc == "SubmitToolOutputs":
        outputs = [{"tool_call_id": o.tool_call_id, "output": o.output} for o in request.tool_outputs]
        return {"tool_outputs": outputs}
    return None


def _rest_tool(tool: Any) -> JSON:
    rest: JSON = {"type": TOOL_TYPES[tool.type]}
    if tool.HasField("function"):
        function: JSON = {"name": tool.function.name}
        if tool.function.HasField("description"):
            function["description"] = tool.function.description
        if tool.function.HasField("parameters"):
            function["parameters"] = json_format.MessageToDict(tool.function.parameters)
        rest["function"] = function
    return rest


# --- Strategies ----------------------------------------------------------------------------------------
#
# Each request field has two strategies: `valid` (what the REST API accepts) and `mixed` (valid and hostile
# values, a hostile list or map mostly with one bad element). A quarter of the requests take mixed values in
# every field, the rest in one field or none: a field's own rule is only observable on a request whose other
# fields are valid, since any refused field refuses the request.

T = TypeVar("T")


def weighted(*branches: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """Like st.one_of, with weights (listing a strategy twice in one_of does not make it twice as likely, as
    measured here)."""
    pool = [strategy for weight, strategy in branches for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


@st.composite
def spoiled(draw: st.DrawFn, items: st.SearchStrategy[list[T]], one: st.SearchStrategy[T]) -> list[T]:
    """A list from `items` with one element from `one` put in anywhere."""
    result = draw(items)
    result.insert(draw(st.integers(0, len(result))), draw(one))
    return result


ID_CHARS = string.ascii_letters + string.digits + "_-"
HOSTILE_IDS = (
    "",
    "/",
    ".",
    "..",
    "../x",
    "../../assistants",
    "a/b",
    "run_abc/cancel",
    "%2F",
    "run%2F..",
    "%2e%2e",
    "?",
    "a?b=c",
    "#",
    "a#b",
    " ",
    "a b",
    "run_1\n",
    "\t",
    "a\x00b",
    "a;b",
    "a\\b",
    "a:b",
    "a@b",
    "r\u00e9",
    "\u0661\u0662",
    "\uff21",
    "run_\u200b",
    "\U0001f600",
    "x" * 129,
)
HOSTILE_CHARS = "/?#%. \\:;@&=+\n\t\x00\u00e9\u200b\u0661\U0001f600"
UNICODE = st.characters(codec="utf-8")  # any code point that a proto string can hold (no lone surrogates)

plain_ids = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["run_", "thread_", "step_", "asst_", "call_", ""]),
    st.text(ID_CHARS, min_size=1, max_size=24),
)


def long_ids(lengths: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    return lengths.map(lambda n: ("run_" + "x" * n)[:n])


spiked_ids = st.builds(
    lambda valid, char, at: valid[:at] + char + valid[at:],
    plain_ids,
    st.sampled_from(HOSTILE_CHARS),
    st.integers(0, 30),
)
"""A valid id with one hostile character in it."""
valid_ids = weighted((9, plain_ids), (1, long_ids(st.integers(120, 128))))
mixed_ids = weighted(
    (4, valid_ids),
    (1, long_ids(st.integers(129, 300))),
    (1, st.sampled_from(HOSTILE_IDS)),
    (2, spiked_ids),
    (1, st.text(UNICODE)),
)
valid_cursors = weighted((1, st.just("")), (1, valid_ids))
mixed_cursors = weighted((1, st.just("")), (1, mixed_ids))


@st.composite
def sized_text(draw: st.DrawFn, limit: int, *, minimum: int = 0, over: bool = True) -> str:
    """Text that is short, at the `limit` (± 1 with `over`), or anything up to `limit` (four times it with
    `over`); long text is a short random seed repeated, so hypothesis draws a few bytes, not thousands."""
    edge = st.integers(limit - 1, limit + 1) if over else st.integers(limit - 1, limit)
    length = draw(
        weighted(
            (3, st.integers(minimum, 12)),
            (2, edge),
            (1, st.integers(minimum, 4 * limit if over else limit)),
        )
    )
    seed = draw(st.text(UNICODE, min_size=1, max_size=6))
    return (seed * (length // len(seed) + 1))[:length]


@st.composite
def full_metadata(draw: st.DrawFn, over: bool) -> dict[str, str]:
    """16 pairs with keys of 64 and values of 512 characters (or one less): the documented edge; with
    `over`, one more pair, or one more character in every key or in every value."""
    beyond = draw(st.sampled_from(["pairs", "key", "value"])) if over else None
    pairs = 17 if beyond == "pairs" else draw(st.integers(15, 16))
    key_size = 65 if beyond == "key" else draw(st.integers(63, 64))
    value_size = 513 if beyond == "value" else draw(st.integers(511, 512))
    fill = draw(UNICODE)
    return {(f"{i:02d}" + fill * key_size)[:key_size]: fill * value_size for i in range(pairs)}


short_text = st.text(UNICODE, max_size=12)
valid_metadata = weighted(
    (2, st.just({})),
    (4, st.dictionaries(short_text.filter(bool), short_text, max_size=4)),
    (2, st.dictionaries(sized_text(64, minimum=1, over=False), sized_text(512, over=False), max_size=4)),
    (1, full_metadata(over=False)),
)
bad_pairs = weighted(
    (1, st.tuples(st.just(""), short_text)),
    (1, st.tuples(st.integers(65, 200).map(lambda n: "k" * n), short_text)),
    (1, st.tuples(short_text.filter(bool), st.integers(513, 2000).map(lambda n: "v" * n))),
)
"""A pair the REST API refuses: an empty key, a key over 64 or a value over 512 characters."""


@st.composite
def spoiled_metadata(draw: st.DrawFn) -> dict[str, str]:
    """A valid map of up to 16 pairs with one pair the REST API refuses."""
    metadata = draw(valid_metadata)
    key, value = draw(bad_pairs)
    if len(metadata) == 16:
        metadata.pop(next(iter(metadata)))
    metadata[key] = value
    return metadata


mixed_metadata = weighted(
    (2, valid_metadata),
    (2, spoiled_metadata()),
    (2, st.dictionaries(sized_text(64), sized_text(512), max_size=4)),
    (1, st.dictionaries(short_text, short_text, min_size=14, max_size=20)),
    (2, full_metadata(over=True)),
)


def json_values(finite: bool) -> st.SearchStrategy[Any]:
    """Values for a function's parameters schema: ints (within a double's exact range), floats (with NaN
    and Infinity unless `finite`), strings, booleans, null, nested lists and objects."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=not finite, allow_infinity=not finite),
        st.text(max_size=8),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=6,
    )


valid_function_names = weighted(
    (6, st.text(ID_CHARS, min_size=1, max_size=20)), (1, st.integers(62, 64).map(lambda n: "f" * n))
)
mixed_function_names = weighted(
    (2, valid_function_names),
    (2, st.sampled_from(["f" * 65, "f" * 66, "f" * 100])),
    (1, st.sampled_from(["", "get weather", "f/g", "f.g", "f\n", "caf\u00e9", "\u0661", "f:g"])),
    (1, st.text(UNICODE, max_size=70)),
)
KNOWN_TOOL_TYPES = sorted(TOOL_TYPES)
UNKNOWN_TOOL_TYPES = [res.TOOL_TYPE_UNSPECIFIED, 4, 99, -1, 2**31 - 1]


@st.composite
def tools(draw: st.DrawFn, hostile: bool = False) -> res.Tool:
    """A tool; a `hostile` one may be wrong in one aspect: an unknown type, a function where it does not
    belong or none where it must be, its function's name, or NaN / Infinity in its parameters."""
    aspect = draw(st.sampled_from(["type", "function", "name", "parameters"])) if hostile else None
    if aspect == "type":
        return res.Tool(type=draw(st.sampled_from(UNKNOWN_TOOL_TYPES)))
    kind = (
        res.TOOL_TYPE_FUNCTION
        if aspect in ("name", "parameters")
        else draw(st.sampled_from(KNOWN_TOOL_TYPES))
    )
    if (kind == res.TOOL_TYPE_FUNCTION) == (aspect == "function"):
        return res.Tool(type=kind)
    function = res.FunctionDefinition(
        name=draw(mixed_function_names if aspect == "name" else valid_function_names)
    )
    description = draw(st.none() | st.text(max_size=20))
    if description is not None:
        function.description = description
    if aspect == "parameters" or draw(st.booleans()):
        values = json_values(finite=aspect != "parameters")
        function.parameters.update(draw(st.dictionaries(st.text(max_size=6), values, max_size=4)))
    if aspect == "parameters":  # for sure, at any depth
        non_finite = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        nested = draw(st.sampled_from([non_finite, [1, non_finite], {"maximum": non_finite}]))
        function.parameters.update({"properties": {"n": {"type": "number", "default": nested}}})
    return res.Tool(type=kind, function=function)


valid_tool_lists = weighted(
    (2, st.just([])),
    (6, st.lists(tools(), min_size=1, max_size=3)),
    (1, st.lists(tools(), min_size=19, max_size=20)),
)
mixed_tool_lists = weighted(
    (2, valid_tool_lists),
    (4, spoiled(st.lists(tools(), max_size=2), tools(hostile=True))),
    (2, st.lists(tools(), min_size=21, max_size=22)),
    (1, st.lists(tools(hostile=True), min_size=1, max_size=3)),
)

# REST documents no limit on an output's length: long ones are valid.
valid_tool_outputs = st.builds(
    pb.ToolOutput,
    tool_call_id=weighted((4, plain_ids), (1, st.text(UNICODE, min_size=1))),
    output=sized_text(4096),
)
valid_tool_output_lists = weighted(
    (6, st.lists(valid_tool_outputs, min_size=1, max_size=3)),
    (1, st.lists(valid_tool_outputs, min_size=20, max_size=40)),
)
mixed_tool_output_lists = weighted(
    (3, valid_tool_output_lists),
    (1, st.just([])),
    (2, spoiled(st.lists(valid_tool_outputs, max_size=3), st.builds(pb.ToolOutput, output=sized_text(4096)))),
)

valid_limits = weighted((1, st.just(0)), (6, st.integers(1, 100)), (1, st.sampled_from([1, 100])))
mixed_limits = weighted(
    (2, valid_limits),
    (1, st.sampled_from([-1, 101])),
    (1, st.integers(-(2**31), 2**31 - 1)),
)
valid_orders = st.sampled_from(sorted({pb.LIST_ORDER_UNSPECIFIED, *ORDERS}))
mixed_orders = weighted((1, valid_orders), (1, st.integers(-(2**31), 2**31 - 1)))
optional_text = weighted((2, st.none()), (2, st.text(UNICODE, max_size=30)), (1, sized_text(2000)))

FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "thread_id": (valid_ids, mixed_ids),
    "run_id": (valid_ids, mixed_ids),
    "step_id": (valid_ids, mixed_ids),
    "assistant_id": (valid_ids, mixed_ids),
    "model": (optional_text, optional_text),
    "instructions": (optional_text, optional_text),
    "additional_instructions": (optional_text, optional_text),
    "tools": (valid_tool_lists, mixed_tool_lists),
    "metadata": (valid_metadata, mixed_metadata),
    "tool_outputs": (valid_tool_output_lists, mixed_tool_output_lists),
    "limit": (valid_limits, mixed_limits),
    "order": (valid_orders, mixed_orders),
    "after": (valid_cursors, mixed_cursors),
    "before": (valid_cursors, mixed_cursors),
}
"""Request field name → (valid, mixed) values; a field added to a request message fails here until it is
fuzzed."""
HOSTILE_FIELDS = {name for name, (valid, mixed) in FIELDS.items() if valid is not mixed}
EVERY_FIELD = "*"


@st.composite
def requests(draw: st.DrawFn, rpc: str) -> Message:
    """A request message of `rpc`: hostile values mixed into every field, or into one field, or none."""
    message_class = getattr(pb, f"{rpc}Request")
    names = [field.name for field in message_class.DESCRIPTOR.fields]
    fuzzable = [name for name in names if name in HOSTILE_FIELDS]
    hostile = draw(weighted((2, st.just(EVERY_FIELD)), (1, st.none()), (5, st.sampled_from(fuzzable))))
    arguments = {}
    for name in names:
        valid, mixed = FIELDS[name]
        value = draw(mixed if hostile in (EVERY_FIELD, name) else valid, label=name)
        if value is not None:
            arguments[name] = value
    return cast(Message, message_class(**arguments))


# --- The core over a recording fake upstream ----------------------------------------------------------


def rest_step(step_id: str) -> JSON:
    """A REST `thread.run.step` with every required field."""
    return {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": 1_700_000_000,
        "assistant_id": "asst_1",
        "thread_id": "thread_1",
        "run_id": "run_1",
        "type": "message_creation",
        "status": "completed",
        "step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_1"}},
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": 1_700_000_001,
        "metadata": {},
        "usage": None,
    }


def cursor(page: int) -> str:
    # A '.' is in no valid id, so no client cursor can ever equal one of these.
    return f"cursor.{page}"


class RecordingUpstream:
    """Records every REST request and answers what `rpc`'s route answers: a run, a step, or a list of
    `pages` pages of one item each, chained by `cursor(n)`."""

    def __init__(self, rpc: str, pages: int) -> None:
        self.rpc = rpc
        self.pages = pages
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=self._answer(request))

    def _answer(self, request: httpx.Request) -> JSON:
        item = rest_step if self.rpc in STEPS else rest_run
        if self.rpc not in LISTS:
            return item("answer")
        after = request.url.params.get("after", "")
        page = int(after.removeprefix("cursor.")) + 1 if after.startswith("cursor.") else 1
        return rest_page([item(cursor(page))], has_more=page < self.pages)


async def exercise(
    rpc: str, request: Message, upstream: RecordingUpstream
) -> list[Message] | InvalidArgument:
    """Serve `request` with a fresh core: the response of a unary RPC or every message of a stream, or the
    InvalidArgument that refused it. Anything else it raises propagates, and fails the property."""
    gateway = Gateway(Upstream(BASE_URL, API_KEY, transport=httpx.MockTransport(upstream.handle)))
    try:
        if STREAMING[rpc]:
            return [message async for message in gateway.stream(method_path(V1, rpc), request, CallOptions())]
        return [await gateway.call(method_path(V1, rpc), request, CallOptions())]
    except InvalidArgument as error:
        return error
    finally:
        await gateway.upstream.aclose()


def _no_integral_float(text: str) -> float:
    value = float(text)
    assert not value.is_integer(), f"an integral number reached the upstream as a JSON float: {text}"
    return value


def check_rest_requests(rpc: str, request: Message, sent: list[httpx.Request], pages: int) -> None:
    """One REST request per page, to the documented route, with exactly the request's query and body."""
    method, template = REST[rpc]
    path = "/v1" + template.format(**{name: getattr(request, name) for name in path_params(rpc)})
    body = expected_body(rpc, request)
    assert len(sent) == pages
    for page, rest in enumerate(sent, start=1):
        raw_path, _, raw_query = rest.url.raw_path.partition(b"?")
        assert (rest.method, rest.url.host, raw_path.decode("ascii")) == (method, "upstream.test", path)
        query = expected_query(rpc, request)
        if page > 1:
            query["after"] = cursor(page - 1)  # the stream follows the previous page's last_id
        assert sorted(parse_qsl(raw_query.decode("ascii"), keep_blank_values=True)) == sorted(query.items())
        assert rest.headers["openai-beta"] == "assistants=v1"
        if body is None:
            assert rest.content == b""
        else:
            assert rest.headers["content-type"] == "application/json"
            assert json.loads(rest.content, parse_float=_no_integral_float) == body


def check_answers(rpc: str, answers: list[Message], pages: int) -> None:
    """The response carries what the fake upstream answered."""
    response_class = getattr(pb, f"{rpc}Response")
    assert all(isinstance(answer, response_class) for answer in answers)
    result = ROUTES[rpc].result
    if STREAMING[rpc]:
        # A message per page (each page holds one item).
        got = [[item.id for item in getattr(a, cast(str, result))] for a in answers]
        assert got == [[cursor(p)] for p in range(1, pages + 1)]
    elif result is None:
        [page] = answers
        assert [item.id for item in getattr(page, "data")] == [cursor(1)]
        assert (getattr(page, "last_id"), getattr(page, "has_more")) == (cursor(1), pages > 1)
    else:
        [answer] = answers
        assert getattr(answer, result).id == "answer"


def test_the_fuzzed_routes_are_the_gateways_and_cover_every_rpc() -> None:
    assert sorted(REST) == sorted(RPCS) == sorted(ROUTES)
    assert {method.name for method in SERVICE.methods} == {*RPCS, *WATCHES}
    assert {rpc: (route.method, route.path) for rpc, route in ROUTES.items()} == REST
    assert {name for rpc in RPCS for name in path_params(rpc)} <= set(FIELDS)


def check_core(rpc: str, request: Message, pages: int) -> None:
    """The core property for one request (see the module docstring)."""
    refused = refusals(rpc, request)
    upstream = RecordingUpstream(rpc, pages)
    outcome = asyncio.run(exercise(rpc, request, upstream))
    if isinstance(outcome, InvalidArgument):
        assert refused, f"refused a request the REST API accepts: {outcome}"
        assert re.sub(r"[\[.].*", "", outcome.field) in refused, (outcome.field, refused)
        assert upstream.requests == []
        return
    assert not refused, f"accepted a request the REST API refuses ({sorted(refused)})"
    check_rest_requests(rpc, request, upstream.requests, pages if STREAMING[rpc] else 1)
    check_answers(rpc, outcome, pages)


@pytest.mark.parametrize("rpc", RPCS)
def test_core_refuses_what_the_rest_api_would_and_calls_only_the_documented_route(rpc: str) -> None:
    fuzzable = [f.name for f in getattr(pb, f"{rpc}Request").DESCRIPTOR.fields if f.name in HOSTILE_FIELDS]

    @settings(FUZZ, max_examples=EXAMPLES_PER_FIELD * len(fuzzable))
    @given(data=st.data())
    def refused_or_routed(data: st.DataObject) -> None:
        request = data.draw(requests(rpc), label="request")
        event("refused" if refusals(rpc, request) else "accepted")
        check_core(rpc, request, data.draw(st.integers(1, 3 if STREAMING[rpc] else 2), label="pages"))

    refused_or_routed()


def _create(**fields: Any) -> pb.CreateRunRequest:
    return pb.CreateRunRequest(**{"thread_id": "thread_1", "assistant_id": "asst_1", **fields})


def _function(name: str, parameters: JSON | None = None) -> res.Tool:
    return res.Tool(
        type=res.TOOL_TYPE_FUNCTION, function=res.FunctionDefinition(name=name, parameters=parameters)
    )


def _metadata(pairs: int, key: int, value: int) -> dict[str, str]:
    return {(f"{i:02d}" + "k" * key)[:key]: "v" * value for i in range(pairs)}


CODE = res.Tool(type=res.TOOL_TYPE_CODE_INTERPRETER)
_ids = {"thread_id": "t", "run_id": "r"}
_outputs = pb.SubmitToolOutputsRequest
EDGES: dict[str, tuple[str, Message, bool]] = {
    "id of 128": ("GetRun", pb.GetRunRequest(thread_id="t" * 128, run_id="run_1"), False),
    "id of 129": ("GetRun", pb.GetRunRequest(thread_id="t" * 129, run_id="run_1"), True),
    "id %2F": ("GetRunStep", pb.GetRunStepRequest(**_ids, step_id="%2F"), True),
    "id ../x": ("CancelRun", pb.CancelRunRequest(thread_id="t", run_id="../x"), True),
    "limit -1": ("ListRunsPage", pb.ListRunsPageRequest(thread_id="t", limit=-1), True),
    "limit 0": ("ListRunsPage", pb.ListRunsPageRequest(thread_id="t", limit=0), False),
    "limit 100": (
        "ListRunsPage",
        pb.ListRunsPageRequest(thread_id="t", limit=100, order=pb.LIST_ORDER_ASC),
        False,
    ),
    "limit 101": ("ListRunsPage", pb.ListRunsPageRequest(thread_id="t", limit=101), True),
    "order 3": ("ListRunSteps", pb.ListRunStepsRequest(**_ids, order=3), True),  # type: ignore[arg-type]
    "cursors": ("ListRuns", pb.ListRunsRequest(thread_id="t", after="run_1", before="run_9"), False),
    "cursor a b": ("ListRuns", pb.ListRunsRequest(thread_id="t", before="a b"), True),
    "16 pairs at the limits": (
        "ModifyRun",
        pb.ModifyRunRequest(**_ids, metadata=_metadata(16, 64, 512)),
        False,
    ),
    "17 pairs": ("ModifyRun", pb.ModifyRunRequest(**_ids, metadata=_metadata(17, 8, 8)), True),
    "key of 65": ("ModifyRun", pb.ModifyRunRequest(**_ids, metadata=_metadata(1, 65, 8)), True),
    "value of 513": ("ModifyRun", pb.ModifyRunRequest(**_ids, metadata=_metadata(1, 8, 513)), True),
    "empty key": ("ModifyRun", pb.ModifyRunRequest(**_ids, metadata={"": "v"}), True),
    "create, 16 pairs": ("CreateRun", _create(metadata=_metadata(16, 64, 512)), False),
    "create, 17 pairs": ("CreateRun", _create(metadata=_metadata(17, 3, 0)), True),
    "no assistant": ("CreateRun", _create(assistant_id=""), True),
    "name of 64": ("CreateRun", _create(tools=[_function("f" * 64)]), False),
    "name of 65": ("CreateRun", _create(tools=[_function("f" * 65)]), True),
    "empty name": ("CreateRun", _create(tools=[_function("")]), True),
    "20 tools": ("CreateRun", _create(tools=[CODE] * 20), False),
    "21 tools": ("CreateRun", _create(tools=[CODE] * 21), True),
    "untyped tool": ("CreateRun", _create(tools=[res.Tool(type=res.TOOL_TYPE_UNSPECIFIED)]), True),
    "function tool without function": (
        "CreateRun",
        _create(tools=[res.Tool(type=res.TOOL_TYPE_FUNCTION)]),
        True,
    ),
    "retrieval with function": (
        "CreateRun",
        _create(tools=[res.Tool(type=res.TOOL_TYPE_RETRIEVAL, function=res.FunctionDefinition(name="f"))]),
        True,
    ),
    "parameters": (
        "CreateRun",
        _create(tools=[_function("f", {"type": "object", "maxItems": 3, "x": 0.5})]),
        False,
    ),
    "NaN in parameters": (
        "CreateRun",
        _create(tools=[_function("f", {"properties": {"n": {"maximum": math.nan}}})]),
        True,
    ),
    "Infinity in parameters": ("CreateRun", _create(tools=[_function("f", {"enum": [1, -math.inf]})]), True),
    "empty optional strings": (
        "CreateRun",
        _create(model="", instructions="", additional_instructions="x" * 10_000),
        False,
    ),
    "no tool outputs": ("SubmitToolOutputs", _outputs(**_ids), True),
    "no tool_call_id": (
        "SubmitToolOutputs",
        _outputs(**_ids, tool_outputs=[pb.ToolOutput(output="42")]),
        True,
    ),
    "long tool output": (
        "SubmitToolOutputs",
        _outputs(**_ids, tool_outputs=[pb.ToolOutput(tool_call_id="call/1", output="x" * 100_000)]),
        False,
    ),
}
"""Requests on either side of each documented limit, with the verdict the documentation gives: the fuzzing
above reaches these edges only now and then, and they check the oracle as much as the gateway."""


@pytest.mark.parametrize(("rpc", "request_", "refused"), EDGES.values(), ids=EDGES.keys())
def test_core_at_the_documented_edges(rpc: str, request_: Message, refused: bool) -> None:
    assert bool(refusals(rpc, request_)) == refused
    check_core(rpc, request_, pages=2)


# --- Request metadata over real gRPC, with a real HTTP upstream on loopback --------------------------

FORWARDED = (
    "authorization",
    "openai-organization",
    "openai-project",
    "idempotency-key",
    "traceparent",
    "tracestate",
)
"""The README's allow-list of request metadata forwarded as headers."""
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
"""What gRPC itself accepts in a metadata value (a client refuses anything else before sending)."""
VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def metadata_refused(name: str, value: str) -> bool:
    """Whether the README's metadata rules refuse `value` for the forwarded key `name`."""
    if not 1 <= len(value) <= 4096 or not all(" " <= char <= "~" for char in value):
        return True  # "values must be 1-4096 printable ASCII characters"
    if value != value.strip(" "):
        return True  # "not a valid header": RFC 9110 5.5, a field value neither starts nor ends with a space
    if name == "traceparent":
        return TRACEPARENT.fullmatch(value) is None  # "version-traceid-parentid-flags in lower-case hex"
    if name == "idempotency-key":
        return IDEMPOTENCY_KEY.fullmatch(value) is None  # "1-255 visible ASCII characters"
    return False


def _hex(size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=size, max_size=size)


traceparents = st.builds("-".join, st.tuples(_hex(2), _hex(32), _hex(16), _hex(2)))
malformed_traceparents = st.one_of(
    traceparents.map(str.upper),
    traceparents.map(lambda tp: tp[:-1]),
    traceparents.map(lambda tp: tp + "-01"),
    traceparents.map(lambda tp: tp.replace("-", "_", 1)),
    traceparents.map(lambda tp: "0" + tp),
)
# Values with leading or trailing spaces are included: the oracle says they are refused.
forwarded_values = st.one_of(
    st.text(PRINTABLE, max_size=40),
    st.builds(lambda key: f"Bearer sk-{key}", st.text(ID_CHARS, min_size=1, max_size=40)),
    traceparents,
    malformed_traceparents,
    st.builds(lambda char, size: char * size, VISIBLE, st.integers(250, 260)),
    st.just(""),
    st.text(PRINTABLE, max_size=10).map(lambda value: f" {value}"),
)
VALUES_OF = {
    "traceparent": weighted((3, traceparents), (2, malformed_traceparents), (1, forwarded_values)),
    "idempotency-key": weighted((3, st.text(VISIBLE, min_size=1, max_size=64)), (1, forwarded_values)),
}
"""Values for the keys with a format of their own: mostly well-formed, else as any other key."""
long_values = st.builds(lambda char, size: char * size, VISIBLE, st.integers(4090, 4100))
"""Around the 4096-character cap; at most one per call (see metadata_lists)."""
SENSITIVE_KEYS = (
    "cookie",
    "host",
    "user-agent",
    "openai-beta",
    "x-forwarded-for",
    "x-forwarded-host",
    "proxy-authorization",
    "x-api-key",
    "x-internal-token",
    "authorization-override",
    "openai-organization-id",
)
other_keys = st.one_of(
    st.sampled_from(SENSITIVE_KEYS),
    st.from_regex(r"[a-z][a-z0-9_.-]{0,15}", fullmatch=True).filter(
        # Names gRPC reserves for itself, and binary (-bin) keys whose values are bytes.
        lambda key: (
            key not in FORWARDED
            and key not in ("te", "content-type")
            and not key.startswith("grpc-")
            and not key.endswith("-bin")
        )
    ),
)


@st.composite
def metadata_lists(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Client metadata: some forwarded keys once each, some other keys, in any order; at most one value
    near the 4096 cap, so the whole stays under gRPC's own 8 KiB metadata limit (see
    test_metadata_over_grpcs_size_limit_is_resource_exhausted_from_grpc_itself)."""
    forwarded = draw(st.lists(st.sampled_from(FORWARDED), unique=True, max_size=len(FORWARDED)))
    others = draw(st.lists(other_keys, unique=True, max_size=4))
    pairs = [(key, draw(VALUES_OF.get(key, forwarded_values))) for key in forwarded]
    pairs += [(key, draw(st.text(PRINTABLE, max_size=40))) for key in others]
    if pairs and draw(st.integers(0, 3)) == 0:
        index = draw(st.integers(0, len(pairs) - 1))
        pairs[index] = (pairs[index][0], draw(long_values))
    return list(draw(st.permutations(pairs)))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received: list[tuple[str, str, list[tuple[str, str]]]] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between them
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = [(name.lower(), value) for name, value in self.headers.items()]
        with self.server.lock:
            self.server.received.append((self.command, self.path, headers))
        is_list = self.command == "GET" and self.path.partition("?")[0].endswith("/runs")
        body = json.dumps(rest_page([rest_run()], False) if is_list else rest_run()).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log lines on stderr


class LoopbackUpstream:
    """A REST upstream on 127.0.0.1:<free port> (the stdlib's HTTP/1.1 server in a thread): answers a run,
    or a one-page list of runs, and records each request's method, path and headers."""

    def __enter__(self) -> LoopbackUpstream:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="upstream", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def take(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """The requests received since the last take."""
        with self._server.lock:
            received, self._server.received = self._server.received, []
        return received


METADATA_RPCS = ("GetRun", "CancelRun", "ListRuns")
"""A read, a write without a body, and a stream: the three ways a call reaches the upstream."""


@dataclass(frozen=True)
class Served:
    """A stub to the gateway, its loopback upstream, and the headers each of METADATA_RPCS sends upstream
    when the client sends no metadata."""

    stub: pb_grpc.RunsServiceStub
    upstream: LoopbackUpstream
    baseline: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The gateway (its real `serve()`) in a thread, over the loopback upstream."""
    with LoopbackUpstream() as upstream:
        # No retries: a failing example then fails in milliseconds, not after a backoff.
        settings_ = Settings(
            listen="127.0.0.1:0",
            base_url=upstream.base_url,
            api_key=API_KEY,
            max_retries=0,
            log_level="ERROR",
        )
        with GatewayThread(settings_) as target, grpc.insecure_channel(target) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            baseline = {}
            for rpc in METADATA_RPCS:
                assert call(stub, rpc, ()) == Code.OK
                [(_, _, headers)] = upstream.take()
                baseline[rpc] = dict(headers)
                assert baseline[rpc]["authorization"] == f"Bearer {API_KEY}"
            yield Served(stub, upstream, baseline)


def call(stub: pb_grpc.RunsServiceStub, rpc: str, metadata: Sequence[tuple[str, str]]) -> Code:
    """Make `rpc` with `metadata` (reading a stream to its end); its status code."""
    try:
        if rpc == "ListRuns":
            list(stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"), metadata=metadata, timeout=10))
        elif rpc == "GetRun":
            stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), metadata=metadata, timeout=10)
        else:
            stub.CancelRun(
                pb.CancelRunRequest(thread_id="thread_1", run_id="run_1"), metadata=metadata, timeout=10
            )
    except grpc.RpcError as error:
        return cast(grpc.Call, error).code()
    return Code.OK


def check_metadata(served: Served, rpc: str, metadata: Sequence[tuple[str, str]]) -> None:
    """The metadata property for one call: INVALID_ARGUMENT and no REST call when the README's rules refuse
    a forwarded value; else OK, with exactly the gateway's own headers and the forwarded values upstream."""
    refused = any(key in FORWARDED and metadata_refused(key, value) for key, value in metadata)
    # A forwarded key sent twice is refused (gRPC core itself keeps only the last traceparent).
    keys = [key for key, _ in metadata if key in FORWARDED and key != "traceparent"]
    refused = refused or len(keys) != len(set(keys))
    code = call(served.stub, rpc, metadata)
    received = served.upstream.take()
    if refused:
        assert (code, received) == (Code.INVALID_ARGUMENT, [])
        return
    assert code == Code.OK
    [(_, _, headers)] = received
    forwarded = {key: value for key, value in metadata if key in FORWARDED}
    # No other client key arrives, and none replaces a header of the gateway's own (host, user-agent...).
    assert dict(headers) == {**served.baseline[rpc], **forwarded}
    assert len(headers) == len(dict(headers))


def test_request_metadata_is_forwarded_by_allow_list_or_refused(served: Served) -> None:
    @settings(FUZZ, max_examples=METADATA_EXAMPLES)
    @given(rpc=st.sampled_from(METADATA_RPCS), metadata=metadata_lists())
    def forwarded_or_refused(rpc: str, metadata: list[tuple[str, str]]) -> None:
        refused = any(key in FORWARDED and metadata_refused(key, value) for key, value in metadata)
        event("refused" if refused else "forwarded")
        check_metadata(served, rpc, metadata)

    forwarded_or_refused()
    assert call(served.stub, "GetRun", ()) == Code.OK  # and the gateway keeps serving
    served.upstream.take()


TRACEPARENT_EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
METADATA_EDGES: dict[str, list[tuple[str, str]]] = {
    "value of 4096": [("openai-organization", "o" * 4096)],
    "value of 4097": [("openai-organization", "o" * 4097)],
    "empty authorization": [("authorization", "")],
    "inner spaces": [("authorization", "Bearer  sk-x"), ("tracestate", "a=1, b=2")],
    "idempotency-key of 255": [("idempotency-key", "k" * 255)],
    "idempotency-key of 256": [("idempotency-key", "k" * 256)],
    "idempotency-key with a space": [("idempotency-key", "a b")],
    "traceparent": [("traceparent", TRACEPARENT_EXAMPLE), ("tracestate", "rojo=00f067aa0ba902b7")],
    "traceparent in upper case": [("traceparent", TRACEPARENT_EXAMPLE.upper())],
    "traceparent with a field more": [("traceparent", TRACEPARENT_EXAMPLE + "-01")],
    "other keys": [
        ("cookie", "session=1"),
        ("host", "internal.example"),
        ("user-agent", "evil"),
        ("openai-beta", "assistants=v2"),
        ("x-forwarded-for", "10.0.0.1"),
        ("proxy-authorization", "Basic eDp5"),
    ],
}
"""Metadata on either side of each documented rule (README "Credentials, metadata and deadlines")."""


@pytest.mark.parametrize("metadata", METADATA_EDGES.values(), ids=METADATA_EDGES.keys())
def test_request_metadata_at_the_documented_edges(served: Served, metadata: list[tuple[str, str]]) -> None:
    for rpc in METADATA_RPCS:
        check_metadata(served, rpc, metadata)


def test_metadata_over_grpcs_size_limit_is_resource_exhausted_from_grpc_itself(served: Served) -> None:
    # The one code other than OK and INVALID_ARGUMENT: gRPC's own limit on the size of all request metadata
    # (16 KiB hard, 8 KiB soft by default, where it refuses some calls at random) refuses the call before the
    # gateway sees it, so five values within the gateway's 4096-character cap can be refused.
    metadata = [
        (key, "v" * 4096) for key in ("openai-organization", "openai-project", "tracestate", "x-a", "x-b")
    ]
    assert call(served.stub, "GetRun", metadata) == Code.RESOURCE_EXHAUSTED
    assert served.upstream.take() == []
    assert call(served.stub, "GetRun", ()) == Code.OK
    served.upstream.take()


# --- Examples of the gateway bugs fuzzing found (fixed) ---------------------------------------------------


# A forwarded value with leading or trailing spaces is not a valid HTTP field value (RFC 9110 5.5): h11
# would refuse to send it, so the gateway refuses it first, naming metadata[<key>].
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("authorization", "Bearer sk-client-key "),
        ("authorization", " Bearer sk-client-key"),
        ("openai-organization", " "),
        ("openai-project", "proj_1 "),
        ("tracestate", " vendor=1"),
    ],
)
def test_forwarded_value_with_surrounding_spaces_is_invalid_argument(
    served: Served, key: str, value: str
) -> None:
    assert metadata_refused(key, value)
    check_metadata(served, "GetRun", [(key, value)])


# A forwarded key sent twice: which value was meant is not the gateway's to guess, so it is refused. Not
# for traceparent: gRPC core itself keeps only the last value of that key, before the gateway sees the call.
@pytest.mark.parametrize(
    "metadata",
    [
        [("idempotency-key", "two words"), ("idempotency-key", "key-1")],
        [("openai-project", "proj_1"), ("openai-project", "proj_2")],
    ],
)
def test_a_repeated_forwarded_key_is_invalid_argument(
    served: Served, metadata: list[tuple[str, str]]
) -> None:
    check_metadata(served, "GetRun", metadata)


def test_watch_refuses_what_the_rest_api_would_and_polls_only_the_run() -> None:
    """WatchRun: refused with INVALID_ARGUMENT before any call exactly when an id is not one (README), else
    it polls the documented GET of the run (and lists its steps, oldest first in pages of 100, when asked)
    until the run is terminal: here at once."""

    @settings(FUZZ, max_examples=EXAMPLES_PER_FIELD * 2)
    @given(thread=mixed_ids, run=mixed_ids, steps=st.booleans())
    def refused_or_polled(thread: str, run: str, steps: bool) -> None:
        request = pb.WatchRunRequest(thread_id=thread, run_id=run, include_steps=steps)
        refused = {name for name in ("thread_id", "run_id") if not ID.fullmatch(getattr(request, name))}
        sent: list[httpx.Request] = []

        def answer(rest: httpx.Request) -> httpx.Response:
            sent.append(rest)
            return httpx.Response(
                200, json=rest_page([], False) if rest.url.path.endswith("/steps") else rest_run()
            )

        outcome = asyncio.run(_watch(request, answer))
        if isinstance(outcome, InvalidArgument):
            assert outcome.field in refused
            assert sent == []
            return
        assert not refused
        path = f"/v1/threads/{thread}/runs/{run}"
        assert [(r.method, r.url.path) for r in sent] == [("GET", path), *[("GET", path + "/steps")] * steps]
        if steps:
            assert dict(sent[1].url.params) == {"limit": "100", "order": "asc"}
        assert [m.WhichOneof("change") for m in outcome] == ["run"]

    refused_or_polled()


async def _watch(
    request: pb.WatchRunRequest, answer: Callable[[httpx.Request], httpx.Response]
) -> list[Message] | InvalidArgument:
    gateway = Gateway(Upstream(BASE_URL, API_KEY, transport=httpx.MockTransport(answer)))
    try:
        return [
            message async for message in gateway.stream(method_path(V1, "WatchRun"), request, CallOptions())
        ]
    except InvalidArgument as error:
        return error
    finally:
        await gateway.upstream.aclose()
