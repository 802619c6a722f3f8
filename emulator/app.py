"""The emulator's HTTP side: a Starlette app serving the Assistants v1 and v2 REST APIs from a `Store`.

It checks what OpenAI checks before anything else (a Bearer key, the `OpenAI-Beta: assistants=v1|v2`
header, which also picks the shape of the objects answered: `versions.render`),
answers errors with OpenAI's error body (an unknown path or method too: `Invalid URL (GET /v1/x)`), and has
an admin API under `/_emulator` (no auth, not part of OpenAI's API) that tests and benchmarks use: fault
injection, the log of requests received (with each body as it arrived), bulk seeding of runs, the added
latency, and a reset. In v2, `"stream": true` on creating a run or submitting tool outputs answers
server-sent events (`stream.py`); stream faults and the count of clients that left mid-stream
(`GET /_emulator/streams`) serve the tests.
`EmulatorConfig.versions` says which Assistants API versions it serves; without v1 it answers v1 as OpenAI
has since December 2024 (400 `invalid_beta`), so a gateway can be tried against a server that dropped v1.
`EmulatorConfig.latency` (or `POST /_emulator/latency`) delays every API request by that many seconds before
it is handled, as a distant upstream would; the admin API is never delayed.
`EmulatorConfig.dialect` makes it behave as another server of the protocol (`dialects`): its base path, the
`api-version` query and credentials it requires, its error bodies, timestamps and stream, the operations it
lacks; the route table is the same, read under the dialect's base path. The admin API stays where it is.
The Responses and Conversations routes (`responses.routes.ROUTES`) are mounted beside the Assistants ones,
wrapped the same way but reading no `OpenAI-Beta` header; their state is `Emulator.responses`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from emulator import stream
from emulator.checks import a_boolean
from emulator.dialects import DIALECTS, Dialect
from emulator.model import JSON, ApiError, Refusal, RunState, list_page, new_id
from emulator.responses.routes import ROUTES as RESPONSES_API
from emulator.responses.store import ResponsesStore
from emulator.store import Store
from emulator.versions import INCLUDABLE, render

Handler = Callable[[Request, "Emulator"], Awaitable[Any]]
NO_FAULT = stream.StreamFault()


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves: seconds per run transition, the accepted keys (None: any key), the
    versions of the Assistants API it serves (`OpenAI-Beta: assistants=<version>`), the seconds added
    to every API request (`latency`: a round trip to a distant upstream), and how many
    `thread.message.delta` events write the assistant's reply (`reply_deltas`)."""

    step_seconds: float = 0.05
    api_keys: frozenset[str] | None = None
    versions: frozenset[str] = frozenset({"v1", "v2"})
    poll_after_ms: int | None = None
    """When set, every answer about a run carries `openai-poll-after-ms` with it, as OpenAI's did."""
    latency: float = 0.0
    reply_deltas: int = 0
    """The reply is written in this many deltas, its text lengthened as needed; 0: one delta per word of
    the emulator's short reply (8 for a run without tools)."""
    dialect: str = "openai"
    """The server to behave as, a name of `dialects.DIALECTS`."""
    api_version: str | None = None
    """The `api-version` query value accepted, for a dialect that requires one (None: the dialect's own)."""
    coarse_order: bool = False
    """Lists ordered by whole seconds of `created_at` and paged by position, as open-assistant-api's are
    (`model.Listing.coarse_page`); off unless asked, in any dialect."""

    def __post_init__(self) -> None:
        if self.reply_deltas < 0:
            raise ValueError(f"reply_deltas must be 0 or more, got {self.reply_deltas}")
        if self.dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {self.dialect!r}: one of {', '.join(DIALECTS)}")
        if self.api_version is not None and self.profile.api_version is None:
            raise ValueError(f"the {self.dialect} dialect reads no api-version query")

    @property
    def profile(self) -> Dialect:
        """The dialect this config names."""
        return DIALECTS[self.dialect]

    def new_store(self) -> Store:
        """An empty store that behaves as this config says."""
        return Store(self.step_seconds, reply_deltas=self.reply_deltas, coarse_order=self.coarse_order)

    def new_responses(self) -> ResponsesStore:
        """An empty store of responses and conversations that behaves as this config says."""
        return ResponsesStore(self.step_seconds, reply_deltas=self.reply_deltas)


@dataclass
class Fault:
    """A scripted misbehaviour for requests matching `method` and the `path` regex."""

    path: re.Pattern[str]
    method: str | None = None
    status: int | None = None
    body: str | None = None
    delay: float = 0.0
    skip: int = 0
    times: int = 1
    stream_fault: stream.StreamFault = NO_FAULT
    """What to do to a streamed answer (no effect on others)."""

    def matches(self, request: Request) -> bool:
        return (self.method in (None, request.method)) and bool(self.path.search(request.url.path))


@dataclass
class Emulator:
    """The state behind the app: the store, the faults to inject, the request log and the added latency
    (the config's until the admin API changes it)."""

    config: EmulatorConfig
    store: Store
    dialect: Dialect
    faults: list[Fault] = field(default_factory=list)
    log: list[JSON] = field(default_factory=list)
    latency: float = 0.0
    streams: dict[str, int] = field(default_factory=lambda: {"open": 0, "finished": 0, "disconnected": 0})
    """Streamed answers: open now, sent to their end, and left by their client before it."""
    responses: ResponsesStore = field(default_factory=ResponsesStore)
    """The Responses and Conversations side (`emulator.responses`)."""

    def take_fault(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.matches(request):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None


def api(operation: str, handler: Handler, beta: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """Wrap the API handler of `operation`: add the latency, log, inject faults, admit the request as the
    dialect's server does (`Dialect.admit`; without `beta`, no `OpenAI-Beta` header is read, as for the
    Responses API), render JSON as it writes it, or its errors."""

    async def endpoint(request: Request) -> Response:
        emulator: Emulator = request.app.state.emulator
        if emulator.latency > 0:
            await asyncio.sleep(emulator.latency)
        try:
            request.state.entry = await _entry(request, emulator.dialect)
        except ClientDisconnect:  # the client left while its request was delayed: nobody to answer
            return Response(status_code=499)
        request.state.operation = operation
        emulator.log.append(request.state.entry)
        headers = {"x-request-id": new_id("req_")}  # as OpenAI does, on every answer
        if emulator.config.poll_after_ms is not None and "/runs" in request.url.path:
            headers["openai-poll-after-ms"] = str(emulator.config.poll_after_ms)
        fault = request.state.fault = emulator.take_fault(request)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                if fault.body is not None:
                    return Response(fault.body, fault.status, headers, media_type="text/html")
                error = ApiError(fault.status, f"Injected fault: HTTP {fault.status}.", type="server_error")
                return JSONResponse(error.body(), fault.status, headers)
        try:
            request.state.version = _admit(request, emulator, beta)
            request.state.headers = headers
            result = await handler(request, emulator)
            if isinstance(result, Response):
                return result
            return JSONResponse(emulator.dialect.answer(result), headers=headers)
        except Refusal as refusal:
            if isinstance(refusal.body, str):
                return PlainTextResponse(refusal.body, refusal.status, headers)
            return JSONResponse(refusal.body, refusal.status, headers)
        except ApiError as error:
            status, body = emulator.dialect.api_error(error)
            return JSONResponse(body, status, headers)

    return endpoint


async def _entry(request: Request, dialect: Dialect) -> JSON:
    """The request's entry in the log: method, path, query (parsed, and as sent), headers, the body as it
    arrived, and the model provider's credentials of a dialect that takes them in headers."""
    entry: JSON = {
        "method": request.method,
        "path": request.url.path,
        "query": dict(request.query_params),
        "query_string": request.url.query,
        "headers": dict(request.headers),
        "body": (await request.body()).decode("utf-8", "replace"),
    }
    if dialect.provider_headers:
        entry["provider_keys"] = dialect.provider_keys(request.headers)
    return entry


def _admit(request: Request, emulator: Emulator, beta: bool) -> str:
    config = emulator.config
    return emulator.dialect.admit(
        request.headers, request.query_params, config.api_keys, config.versions, config.api_version, beta
    )


async def invalid_url(request: Request, exc: Exception) -> Response:
    """The dialect's answer to a path it does not serve, or a method a path does not allow (OpenAI's:
    `Invalid URL (GET /v1/x)`)."""
    dialect: Dialect = request.app.state.emulator.dialect
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    status, body = dialect.no_route(request.method, request.url.path, status)
    return JSONResponse(body, status, {"x-request-id": new_id("req_")})


async def _body(request: Request) -> JSON:
    """The request's JSON body, read as the dialect's server reads it (`Dialect.read_body`)."""
    dialect: Dialect = request.app.state.emulator.dialect
    return dialect.read_body(await request.body(), request.state.operation)


def _page(items: list[JSON], has_more: bool, request: Request) -> JSON:
    return list_page([_show(request, item) for item in items], has_more)


def _p(request: Request, name: str) -> str:
    return str(request.path_params[name])


def _v(request: Request) -> str:
    return str(request.state.version)


def _include(request: Request) -> frozenset[str]:
    """The `include[]` query of a v2 request (v1 has none: its query parameters are not read)."""
    if _v(request) != "v2":
        return frozenset()
    include = frozenset(request.query_params.getlist("include[]"))
    for value in include - INCLUDABLE:
        raise ApiError(400, f"Invalid value for 'include[]': '{value}'.", param="include[]")
    return include


def _show(request: Request, obj: JSON) -> JSON:
    return render(obj, _v(request), _include(request))


async def create_assistant(request: Request, e: Emulator) -> JSON:
    return _show(request, e.store.create_assistant(await _body(request), _v(request)))


async def get_assistant(request: Request, e: Emulator) -> JSON:
    return _show(request, e.store.assistant(_p(request, "assistant_id")))


async def create_thread(request: Request, e: Emulator) -> JSON:
    return _show(request, e.store.create_thread(await _body(request)))


async def get_thread(request: Request, e: Emulator) -> JSON:
    return _show(request, e.store.thread(_p(request, "thread_id")).obj)


async def list_messages(request: Request, e: Emulator) -> JSON:
    return _page(*e.store.list_messages(_p(request, "thread_id"), dict(request.query_params)), request)


async def create_run(request: Request, e: Emulator) -> JSON | Response:
    body, include = await _body(request), _include(request)
    streamed = _stream_asked(body)
    state = e.store.create_run(_p(request, "thread_id"), body, _v(request), streamed)
    return _streamed(request, e, state, include) if streamed else _show(request, state.obj)


async def list_runs(request: Request, e: Emulator) -> JSON:
    return _page(*e.store.list_runs(_p(request, "thread_id"), dict(request.query_params)), request)


async def get_run(request: Request, e: Emulator) -> JSON:
    return _show(request, e.store.run(_p(request, "thread_id"), _p(request, "run_id")).obj)


async def modify_run(request: Request, e: Emulator) -> JSON:
    body = await _body(request)
    return _show(request, e.store.modify_run(_p(request, "thread_id"), _p(request, "run_id"), body))


async def cancel_run(request: Request, e: Emulator) -> JSON:
    return _show(request, e.store.cancel_run(_p(request, "thread_id"), _p(request, "run_id")))


async def submit_tool_outputs(request: Request, e: Emulator) -> JSON | Response:
    body, include = await _body(request), _include(request)
    streamed = _stream_asked(body)
    ids = _p(request, "thread_id"), _p(request, "run_id")
    state = e.store.submit_tool_outputs(*ids, body, _v(request), streamed)
    return _streamed(request, e, state, include) if streamed else _show(request, state.obj)


async def list_steps(request: Request, e: Emulator) -> JSON:
    query = dict(request.query_params)
    return _page(*e.store.list_steps(_p(request, "thread_id"), _p(request, "run_id"), query), request)


async def get_step(request: Request, e: Emulator) -> JSON:
    step = e.store.step(_p(request, "thread_id"), _p(request, "run_id"), _p(request, "step_id"))
    return _show(request, step)


def _stream_asked(body: JSON) -> bool:
    # v1 refuses `stream` with the other fields it does not know (the store's check), before this matters.
    value = body.get("stream")
    return value is not None and a_boolean(value, "stream")


def _streamed(request: Request, e: Emulator, state: RunState, include: frozenset[str]) -> Response:
    """The run's events as server-sent events, counted in `e.streams` and in the request's log entry."""
    return stream.counted(
        request,
        e.streams,
        lambda fault, sent: stream.events(e.store, state, include, fault, sent, e.dialect.stream),
    )


async def admin_add_fault(request: Request) -> Response:
    """`POST /_emulator/faults` with `{"path": regex, "method"?, "status"?, "body"?, "delay"?, "skip"?,
    "times"?, "stream_error_after"?, "stream_cut_after"?, "stream_unknown_after"?}` (see `Fault` and
    `stream.StreamFault`)."""
    spec = await request.json()
    fault = Fault(
        re.compile(spec["path"]),
        spec.get("method"),
        spec.get("status"),
        spec.get("body"),
        float(spec.get("delay", 0)),
        int(spec.get("skip", 0)),
        int(spec.get("times", 1)),
        stream.StreamFault(
            spec.get("stream_error_after"), spec.get("stream_cut_after"), spec.get("stream_unknown_after")
        ),
    )
    request.app.state.emulator.faults.append(fault)
    return JSONResponse({"faults": len(request.app.state.emulator.faults)})


async def admin_clear_faults(request: Request) -> Response:
    request.app.state.emulator.faults.clear()
    return JSONResponse({"faults": 0})


async def admin_requests(request: Request) -> Response:
    return JSONResponse(request.app.state.emulator.log)


async def admin_clear_requests(request: Request) -> Response:
    request.app.state.emulator.log.clear()
    return JSONResponse({"requests": 0})


async def admin_seed(request: Request) -> Response:
    spec = await request.json()
    try:
        result = request.app.state.emulator.store.seed_runs(
            _p(request, "thread_id"), int(spec["count"]), spec.get("assistant_id")
        )
    except ApiError as error:
        return JSONResponse(error.body(), error.status)
    return JSONResponse(result)


async def admin_latency(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if request.method == "POST":
        seconds = (await request.json()).get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 60:
            error = ApiError(400, "'seconds' must be a number from 0 to 60.", param="seconds")
            return JSONResponse(error.body(), 400)
        emulator.latency = float(seconds)
    return JSONResponse({"seconds": emulator.latency})


async def admin_streams(request: Request) -> Response:
    return JSONResponse(request.app.state.emulator.streams)


async def admin_reset(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    emulator.store = emulator.config.new_store()
    emulator.responses = emulator.config.new_responses()
    emulator.faults.clear()
    emulator.log.clear()
    emulator.latency = emulator.config.latency
    emulator.streams.update(finished=0, disconnected=0)
    return JSONResponse({"reset": True})


THREAD = "/threads/{thread_id}"
RUN = THREAD + "/runs/{run_id}"
API: list[tuple[str, str, str, Handler]] = [
    ("CreateAssistant", "POST", "/assistants", create_assistant),
    ("GetAssistant", "GET", "/assistants/{assistant_id}", get_assistant),
    ("CreateThread", "POST", "/threads", create_thread),
    ("GetThread", "GET", THREAD, get_thread),
    ("ListMessages", "GET", THREAD + "/messages", list_messages),
    ("CreateRun", "POST", THREAD + "/runs", create_run),
    ("ListRuns", "GET", THREAD + "/runs", list_runs),
    ("GetRun", "GET", RUN, get_run),
    ("ModifyRun", "POST", RUN, modify_run),
    ("CancelRun", "POST", RUN + "/cancel", cancel_run),
    ("SubmitToolOutputs", "POST", RUN + "/submit_tool_outputs", submit_tool_outputs),
    ("ListRunSteps", "GET", RUN + "/steps", list_steps),
    ("GetRunStep", "GET", RUN + "/steps/{step_id}", get_step),
]
"""The REST API: (operation, method, path under the dialect's base path, handler)."""
ADMIN = [
    Route("/_emulator/faults", admin_add_fault, methods=["POST"]),
    Route("/_emulator/faults", admin_clear_faults, methods=["DELETE"]),
    Route("/_emulator/requests", admin_requests, methods=["GET"]),
    Route("/_emulator/requests", admin_clear_requests, methods=["DELETE"]),
    Route("/_emulator/threads/{thread_id}/runs:seed", admin_seed, methods=["POST"]),
    Route("/_emulator/latency", admin_latency, methods=["GET", "POST"]),
    Route("/_emulator/streams", admin_streams, methods=["GET"]),
    Route("/_emulator/reset", admin_reset, methods=["POST"]),
]


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """The emulator as an ASGI app: the REST API under the dialect's base path, less the operations it
    does not serve, and the admin API."""
    config = config or EmulatorConfig()
    dialect = config.profile
    routes = [
        Route(dialect.base + path, api(operation, handler), methods=[method])
        for operation, method, path, handler in API
        if operation not in dialect.unsupported
    ]
    routes += [
        Route(dialect.base + path, api(operation, handler, beta=False), methods=[method])
        for operation, method, path, handler in RESPONSES_API
    ]
    app = Starlette(routes=[*routes, *ADMIN], exception_handlers={404: invalid_url, 405: invalid_url})
    app.state.emulator = Emulator(
        config, config.new_store(), dialect, latency=config.latency, responses=config.new_responses()
    )
    return app
