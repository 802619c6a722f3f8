"""The gateway core: turns an RPC's request message into its REST call and the answer into response messages.

It knows the route table, the converter, the upstream client and pagination, and nothing of gRPC: the
servicer hands it an RPC name, a request message and `CallOptions`, and maps what it raises to a status.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from runs_gateway.assistants.v1 import runs_service_pb2

from gateway import convert, pagination, validate
from gateway.errors import ResponseTooLarge, UpstreamError, UpstreamProtocolError
from gateway.routes import LARGEST_PAGE, ROUTES, WATCHES, Route
from gateway.upstream import CallOptions, Upstream
from gateway.watch import CREDENTIALS, Target, Watches

SERVICE = runs_service_pb2.DESCRIPTOR.services_by_name["RunsService"]


@dataclass(frozen=True, slots=True)
class Binding:
    """A route bound to the message class its RPC answers with."""

    route: Route
    response: type[Message]
    streaming: bool


def _bind(method: MethodDescriptor) -> Binding:
    return Binding(ROUTES[method.name], GetMessageClass(method.output_type), method.server_streaming)


BINDINGS: dict[str, Binding] = {
    method.name: _bind(method) for method in SERVICE.methods if method.name in ROUTES
}
"""RPC name → its route and response class, for every method of RunsService that calls one route."""
STEPS_PAGE: dict[str, str | int] = {**dict(LARGEST_PAGE), "order": "asc"}
"""How a watch lists a run's steps: the largest pages, oldest first."""


MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""gRPC's default maximum message size, which every client enforces unless configured otherwise."""


class Gateway:
    """Serves the RPCs of RunsService by calling the REST API through `upstream`.

    A response message larger than `max_message_bytes` is refused with a message saying what to do
    instead, rather than left to fail in the client's receive limit with no hint.
    """

    def __init__(
        self, upstream: Upstream, *, max_message_bytes: int = MAX_MESSAGE_BYTES, watch_interval: float = 1.0
    ) -> None:
        self.upstream = upstream
        self.max_message_bytes = max_message_bytes
        self.watches = Watches(self._poll, self._watched, watch_interval)

    async def call(self, rpc: str, request: Message, options: CallOptions) -> Message:
        """Serve a unary RPC: one REST call (retries aside), its answer as the response message."""
        binding = BINDINGS[rpc]
        route = binding.route
        path, params, body = _prepare(route, request)
        with _addressing(route, request):
            data = await self.upstream.request(
                route.method, path, options, params=params, content=body, route=route.path
            )
        return self._checked(self._response(binding, data))

    async def stream(self, rpc: str, request: Message, options: CallOptions) -> AsyncGenerator[Message, None]:
        """Serve a server-streaming RPC. A list: every item of every page, in order, a message per page (a
        page too large for one message as several). A watch: the resource as it changes, until it ends."""
        if rpc in WATCHES:
            async with aclosing(self._watch(rpc, request, options)) as changes:
                async for change in changes:
                    yield change
            return
        binding = BINDINGS[rpc]
        route = binding.route
        path, params, _ = _prepare(route, request)

        async def fetch(after: str | None) -> dict[str, Any]:
            page_params = params if after is None else {**params, "after": after}
            return await self.upstream.request(
                route.method, path, options, params=page_params, route=route.path
            )

        pages = pagination.prefetched(pagination.pages(fetch, getattr(request, "after") or None))
        # aclosing: when the client goes away, the page in flight is cancelled now, not when collected.
        async with aclosing(pages):
            with _addressing(route, request):
                async for items in pagination.fresh(pages):
                    for message in self._split(self._response(binding, items), route.result or ""):
                        yield message

    async def _watch(self, rpc: str, request: Message, options: CallOptions) -> AsyncGenerator[Message, None]:
        watch = WATCHES[rpc]
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
        watch = WATCHES[target.rpc]
        resource = await self.upstream.request("GET", target.path, options, route=watch.poll.path)
        if target.parts is None:
            return resource, None
        parts_path = target.parts

        async def fetch(after: str | None) -> dict[str, Any]:
            params = STEPS_PAGE if after is None else {**STEPS_PAGE, "after": after}
            return await self.upstream.request(
                "GET", parts_path, options, params=params, route=watch.parts.path
            )

        return resource, [item async for page in pagination.fresh(pagination.pages(fetch)) for item in page]

    @staticmethod
    def _watched(target: Target, kind: str, rest: dict[str, Any]) -> Message:
        response = GetMessageClass(SERVICE.methods_by_name[target.rpc].output_type)
        try:
            return convert.to_message({kind: rest}, response)
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


def _prepare(route: Route, request: Message) -> tuple[str, dict[str, str | int], bytes | None]:
    """Validate `request`, then build its REST path, query parameters and JSON body (None: no body)."""
    validate.validate(route, request)
    body = convert.encode(convert.to_rest(request, route.body, route.always)) if route.body else None
    return _path(route, request), _query(route, request), body


def _path(route: Route, request: Message) -> str:
    # Ids were validated against an allow-list; quoting is a second line of defence, not the first.
    values = {name: quote(getattr(request, name), safe="") for name in route.path_params}
    return route.path.format(**values)


def _query(route: Route, request: Message) -> dict[str, str | int]:
    params: dict[str, str | int] = dict(route.defaults)
    for name in route.query:
        value = getattr(request, name)
        if not value:
            continue  # proto3 zero values mean "not set": the upstream default applies
        field = request.DESCRIPTOR.fields_by_name[name]
        params[name] = convert.enum_to_rest(field.enum_type, value) if field.enum_type else value
    return params
