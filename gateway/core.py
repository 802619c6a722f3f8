"""The gateway core: turns an RPC's request message into its REST call and the answer into response messages.

It knows the route tables of every version of the API (`routes.APIS`), the converter, the upstream client
and pagination, and nothing of gRPC: the servicer hands it an RPC's method path
(`/runs_gateway.assistants.v2.RunsService/GetRun`), a request message and `CallOptions`, and maps what it
raises to a status. One machinery serves every version; what differs between them is data.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from runs_gateway.assistants.v1 import runs_service_pb2 as _v1  # noqa: F401  (registers the v1 service)
from runs_gateway.assistants.v2 import runs_service_pb2 as _v2  # noqa: F401  (registers the v2 service)

from gateway import convert, pagination, validate
from gateway.errors import (
    ResponseTooLarge,
    StreamBroken,
    UpstreamError,
    UpstreamProtocolError,
    VersionNotServed,
)
from gateway.routes import APIS, LARGEST_PAGE, UNKNOWN_EVENT_FIELD, Api, Route, Watch, query_field
from gateway.upstream import CallOptions, RestClient
from gateway.watch import CREDENTIALS, Target, Watches


def service(api: Api) -> ServiceDescriptor:
    """The gRPC service descriptor of a version of the API."""
    return descriptor_pool.Default().FindServiceByName(api.service)


def method_path(api: Api, rpc: str) -> str:
    """The gRPC method path of an RPC of a version: `/runs_gateway.assistants.v1.RunsService/GetRun`."""
    return f"/{api.service}/{rpc}"


@dataclass(frozen=True, slots=True)
class Binding:
    """An RPC of one version bound to its route (or watch), its response class and its version's headers."""

    api: Api
    route: Route
    response: type[Message]
    streaming: bool
    headers: Mapping[str, str]
    watch: Watch | None = None


def _bind(api: Api, method: MethodDescriptor) -> Binding:
    watch = api.watches.get(method.name)
    route = watch.poll if watch is not None else api.routes[method.name]
    headers = {"openai-beta": api.beta}
    return Binding(api, route, GetMessageClass(method.output_type), method.server_streaming, headers, watch)


BINDINGS: dict[str, Binding] = {
    method_path(api, method.name): _bind(api, method) for api in APIS for method in service(api).methods
}
"""gRPC method path → its binding, for every method of every version's RunsService."""
STEPS_PAGE: dict[str, str | int] = {**dict(LARGEST_PAGE), "order": "asc"}
"""How a watch lists a run's steps: the largest pages, oldest first."""


VERSIONS = frozenset(api.version for api in APIS)
"""Every version of the API the gateway serves."""
STATUSES = {api.version: api.statuses for api in APIS}
"""Per version, the last words of event names that name a status."""
RUN_EVENTS = "thread.run"
"""The family of a run's own events (`thread.run.completed`), whose name follows the run's status."""
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""gRPC's default maximum message size, which every client enforces unless configured otherwise."""


class Gateway:
    """Serves the RPCs of every version of RunsService by calling the REST API through `upstream` (the REST
    API itself, or an adapter that answers as it does: `responses.adapter`).

    A response message larger than `max_message_bytes` is refused with a message saying what to do
    instead, rather than left to fail in the client's receive limit with no hint.
    """

    def __init__(
        self,
        upstream: RestClient,
        *,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        watch_interval: float = 1.0,
        versions: frozenset[str] = VERSIONS,
    ) -> None:
        self.upstream = upstream
        self.max_message_bytes = max_message_bytes
        self.versions = versions
        """The versions of the API the upstream serves (its dialect says): another's calls never go up."""
        self.watches = Watches(self._poll, self._watched, watch_interval)

    async def call(self, rpc: str, request: Message, options: CallOptions) -> Message:
        """Serve a unary RPC (by its method path): one REST call (retries aside), its answer as the
        response message."""
        binding = self._binding(rpc)
        route = binding.route
        path, params, body = _prepare(route, request)
        with _addressing(route, request):
            data = await self.upstream.request(
                route.method,
                path,
                options,
                params=params,
                content=body,
                route=route.path,
                headers=binding.headers,
            )
        return self._checked(self._response(binding, data))

    async def stream(self, rpc: str, request: Message, options: CallOptions) -> AsyncGenerator[Message, None]:
        """Serve a server-streaming RPC (by its method path). A list: every item of every page, in order, a
        message per page (a page too large for one message as several). A watch: the resource as it
        changes, until it ends. A streamed run: a message per server-sent event, until the upstream's end."""
        binding = self._binding(rpc)
        if binding.watch is not None:
            changes = self._watch(rpc, binding, request, options)
        elif binding.route.events:
            changes = self._events(binding, request, options)
        else:
            changes = self._list(binding, request, options)
        async with aclosing(changes):
            async for change in changes:
                yield change

    def _binding(self, rpc: str) -> Binding:
        """The binding of an RPC whose version the upstream serves; VersionNotServed for another."""
        binding = BINDINGS[rpc]
        if binding.api.version not in self.versions:
            raise VersionNotServed(binding.api, [api for api in APIS if api.version in self.versions])
        return binding

    async def _list(
        self, binding: Binding, request: Message, options: CallOptions
    ) -> AsyncGenerator[Message, None]:
        route = binding.route
        path, params, _ = _prepare(route, request)

        async def fetch(after: str | None) -> dict[str, Any]:
            page_params = params if after is None else {**params, "after": after}
            return await self.upstream.request(
                route.method, path, options, params=page_params, route=route.path, headers=binding.headers
            )

        pages = pagination.prefetched(pagination.pages(fetch, getattr(request, "after") or None))
        # aclosing: when the client goes away, the page in flight is cancelled now, not when collected.
        async with aclosing(pages):
            with _addressing(route, request):
                async for items in pagination.fresh(pages):
                    for message in self._split(self._response(binding, items), route.result or ""):
                        yield message

    async def _events(
        self, binding: Binding, request: Message, options: CallOptions
    ) -> AsyncGenerator[Message, None]:
        route = binding.route
        path, params, body = _prepare(route, request)
        events = self.upstream.events(
            route.method,
            path,
            options,
            params=params,
            content=body,
            route=route.path,
            headers=binding.headers,
        )
        last = ""
        with _addressing(route, request):
            async with aclosing(events):
                try:
                    async for name, data in events:
                        event = self._event(binding, name, data)
                        agreed: str = getattr(event, "event")
                        if agreed != name and agreed == last:
                            continue  # the state just sent, announced again under another name
                        last = agreed
                        yield self._checked(event)
                except StreamBroken:
                    if last not in binding.api.resting:
                        raise
                    # Closed right after the run came to rest, only its `done` missing: the stream is whole.

    @staticmethod
    def _event(binding: Binding, name: str, data: str) -> Message:
        """The message of one server-sent event: its data converted into the field its name calls for, or,
        for an event this version does not know, as JSON text; its `event`, the name made to agree with
        its object.

        A server may name an event after one state and send the object in another (open-assistant-api
        sends `thread.run.completed` carrying a run that `requires_action`): the object is what the server
        holds, so the name follows it, and a client reading either is never told a run ended that did not.
        """
        field = binding.api.events.get(name)
        if field is None:
            return convert.to_message({"event": name, UNKNOWN_EVENT_FIELD: data}, binding.response)
        try:
            obj = convert.loads(data)
            agreed = _agreeing(binding.api, name, obj)
            return convert.to_message({"event": agreed, binding.api.events[agreed]: obj}, binding.response)
        except ValueError as exc:  # ConversionError is one, and so is a JSONDecodeError
            raise UpstreamProtocolError(f"upstream event {name} does not match the API: {exc}") from exc

    async def _watch(
        self, rpc: str, binding: Binding, request: Message, options: CallOptions
    ) -> AsyncGenerator[Message, None]:
        watch = cast(Watch, binding.watch)
        validate.validate(watch.poll, request)
        parts = _path(watch.parts, request) if getattr(request, "include_steps") else None
        credentials = tuple(options.headers.get(name) for name in CREDENTIALS)
        target = Target(rpc, _path(watch.poll, request), parts, credentials)
        with _addressing(watch.poll, request):
            async with aclosing(self.watches.watch(target, options)) as changes:
                async for change in changes:
                    yield self._checked(change)

    async def _poll(self, target: Target, options: CallOptions) -> tuple[dict[str, Any], list[Any] | None]:
        """One look at a watched resource: it, then the list of its parts when they are wanted."""
        binding = BINDINGS[target.rpc]
        watch, headers = cast(Watch, binding.watch), binding.headers
        resource = await self.upstream.request(
            "GET", target.path, options, route=watch.poll.path, headers=headers
        )
        if target.parts is None:
            return resource, None
        parts_path = target.parts

        async def fetch(after: str | None) -> dict[str, Any]:
            params = STEPS_PAGE if after is None else {**STEPS_PAGE, "after": after}
            return await self.upstream.request(
                "GET", parts_path, options, params=params, route=watch.parts.path, headers=headers
            )

        return resource, [item async for page in pagination.fresh(pagination.pages(fetch)) for item in page]

    @staticmethod
    def _watched(target: Target, kind: str, rest: dict[str, Any]) -> Message:
        try:
            return convert.to_message({kind: rest}, BINDINGS[target.rpc].response)
        except convert.ConversionError as exc:
            raise UpstreamProtocolError(f"upstream object does not match the API: {exc}") from exc

    def _checked(self, message: Message) -> Message:
        size = message.ByteSize()
        if size > self.max_message_bytes:
            raise ResponseTooLarge(
                f"the response would be {size} bytes, over the {self.max_message_bytes}-byte gRPC message "
                "limit: ask for fewer items with `limit`, or use the streaming list RPC"
            )
        return message

    def _split(self, message: Message, field: str) -> Iterator[Message]:
        """`message` if it fits in one gRPC message, else its items `field` across as many as it takes."""
        if message.ByteSize() <= self.max_message_bytes:
            yield message
            return
        part, size = type(message)(), 0
        for item in getattr(message, field):
            cost = _framed_size(item)
            if cost > self.max_message_bytes:
                if size:
                    yield part  # the items before it, so the error comes after all that could be sent
                limit = self.max_message_bytes
                raise ResponseTooLarge(
                    f"one item of the list is {cost} bytes, over the {limit}-byte message limit"
                )
            if size + cost > self.max_message_bytes:
                yield part
                part, size = type(message)(), 0
            getattr(part, field).append(item)
            size += cost
        yield part

    @staticmethod
    def _response(binding: Binding, data: dict[str, Any] | list[Any]) -> Message:
        wrapped = {binding.route.result: data} if binding.route.result else cast(dict[str, Any], data)
        try:
            return convert.to_message(wrapped, binding.response)
        except convert.ConversionError as exc:
            raise UpstreamProtocolError(f"upstream object does not match the API: {exc}") from exc


def _framed_size(item: Message) -> int:
    """Bytes `item` takes as an element of a repeated field: its tag (one byte below field 16), its length
    (a varint of 7 bits a byte) and itself."""
    size = item.ByteSize()
    return 1 + max(1, (size.bit_length() + 6) // 7) + size


@contextmanager
def _addressing(route: Route, request: Message) -> Iterator[None]:
    """Name the resources the call addressed on an UpstreamError, for its NOT_FOUND details."""
    try:
        yield
    except UpstreamError as exc:
        values = {name: getattr(request, name) for name in route.path_params}
        exc.addressed = {kind: template.format(**values) for kind, template in route.resources}
        raise


def _agreeing(api: Api, name: str, obj: Any) -> str:
    """The event's name, made to agree with its object where the name says a status (`.completed`) and
    the object another.

    A run's status is what the server holds (open-assistant-api sends `thread.run.completed` carrying a
    run that `requires_action`): the name follows the run, so that a client reading either is never told
    a run ended that did not. A message's or a step's event is sent when it happens, while its object may
    be written carelessly (that server writes `in_progress` on every message): there the object's status
    follows the name."""
    family, _, state = name.rpartition(".")
    if state not in STATUSES[api.version] or not isinstance(obj, dict):
        return name
    status = obj.get("status")
    if status == state or status not in STATUSES[api.version]:
        return name  # agreeing, or a status this version does not know (it converts to UNSPECIFIED)
    if family != RUN_EVENTS:
        obj["status"] = state
        return name
    other = f"{family}.{status}"
    return other if other in api.events else name


def _prepare(route: Route, request: Message) -> tuple[str, dict[str, Any], bytes | None]:
    """Validate `request`, then build its REST path, query parameters and JSON body (None: no body)."""
    validate.validate(route, request)
    body = None
    if route.body:
        rest = convert.to_rest(request, route.body, route.always)
        body = convert.encode({**rest, "stream": True} if route.events else rest)
    return _path(route, request), _query(route, request), body


def _path(route: Route, request: Message) -> str:
    # Ids were validated against an allow-list; quoting is a second line of defence, not the first.
    values = {name: quote(getattr(request, name), safe="") for name in route.path_params}
    return route.path.format(**values)


def _query(route: Route, request: Message) -> dict[str, Any]:
    params: dict[str, Any] = dict(route.defaults)
    for name in route.query:
        value = getattr(request, query_field(name))
        if not value:
            continue  # proto3 zero values (and empty lists) mean "not set": the upstream default applies
        field = request.DESCRIPTOR.fields_by_name[query_field(name)]
        if field.is_repeated:
            params[name] = list(value)
        else:
            params[name] = convert.enum_to_rest(field.enum_type, value) if field.enum_type else value
    return params
