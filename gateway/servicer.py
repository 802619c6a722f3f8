"""The gRPC servicer of each version of RunsService: a thin adapter over `Gateway`, which knows no gRPC.

Its handlers are built from the service descriptor, one per RPC, so a version of the API needs no code
here: a unary RPC awaits the core's answer, a server-streaming RPC is an async generator over the core's
messages, as grpc.aio expects. Each hands the core its method path, the request, the client's metadata and
remaining time, and `errors.translate` turns whatever the core raises into the RPC's rich status. The
upstream's response metadata (request id, processing time, rate limits) goes back as trailing metadata of
every RPC, when the whole answer is known. A client that cancels cancels the handler task, which cancels
the REST request in flight (or closes the upstream's event stream).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, contextmanager
from typing import Any, cast

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from gateway.core import Gateway, method_path, service
from gateway.errors import InvalidArgument, Overloaded, ShuttingDown, translate
from gateway.routes import Api
from gateway.upstream import CallOptions, Exchange, current_exchange

Context = grpc.aio.ServicerContext[Message, Message]


class Admission:
    """The RPCs of RunsService in flight, against the most the gateway serves at once; beyond it a call is
    refused at once with RESOURCE_EXHAUSTED and RetryInfo (health and reflection are never).

    At shutdown, `drain` gives them the grace period, then ends those still running with UNAVAILABLE
    (`SHUTTING_DOWN`), each logged as any RPC, rather than leave gRPC to cancel them unlogged (a client
    would read CANCELLED, as if it had cancelled)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0
        self.closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @contextmanager
    def serving(self) -> Iterator[None]:
        """An RPC's body, admitted (or refused with Overloaded); a cancel that is the shutdown's becomes
        ShuttingDown, any other goes on as it came."""
        if len(self._tasks) >= self.limit:
            self.refused += 1
            raise Overloaded(self.limit)
        # The task itself, not looked up again at the end: a stream dropped unfinished is closed by asyncio's
        # finalizer, in another task.
        task = cast("asyncio.Task[Any]", asyncio.current_task())
        self._tasks.add(task)
        self._idle.clear()
        try:
            yield
        except asyncio.CancelledError:
            if not self.closing:
                raise
            task.uncancel()
            raise ShuttingDown(
                "the gateway is shutting down and its grace period is over; call again"
            ) from None
        finally:
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for the RPCs in flight, then end the others."""
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            self.closing = True
            for task in list(self._tasks):
                task.cancel()
            await asyncio.wait_for(self._idle.wait(), 5)


class RunsServicer:
    """Implements every RPC of one version's RunsService by proxying to the REST API."""

    def __init__(self, gateway: Gateway, api: Api, admission: Admission | None = None) -> None:
        self._gateway = gateway
        self.api = api
        self.name = api.service
        self._admission = admission or Admission(1 << 62)

    def handlers(self) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
        """RPC name → its gRPC method handler, for every method of the service."""
        return {method.name: self._handler(method) for method in service(self.api).methods}

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the service on `server`, as the generated `add_*Servicer_to_server` functions do."""
        handlers = self.handlers()
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.name, handlers),))
        server.add_registered_method_handlers(self.name, handlers)  # type: ignore[attr-defined]

    def _handler(self, method: MethodDescriptor) -> grpc.RpcMethodHandler[Any, Any]:
        path = method_path(self.api, method.name)
        request = _decoder(GetMessageClass(method.input_type))
        response: Callable[[Message], bytes] = GetMessageClass(method.output_type).SerializeToString
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._streamer(path), request, response)
        return grpc.unary_unary_rpc_method_handler(self._caller(path), request, response)

    def _caller(self, path: str) -> Callable[[Message, Context], Any]:
        async def unary(request: Message, context: Context) -> Message:
            exchange = _exchange()
            async with translate(context, exchange):
                _check_decoded(request)
                with self._admission.serving():
                    message = await self._gateway.call(path, request, _options(context))
                # Trailing, not initial: grpc.aio sends initial metadata set by hand as a write of its own
                # (about a sixth of a GetRun's CPU); trailers go out in one batch with the response.
                context.set_trailing_metadata(exchange.metadata)
                return message
            raise AssertionError("unreachable: translate() aborts the RPC")

        return unary

    def _streamer(self, path: str) -> Callable[[Message, Context], AsyncIterator[Message]]:
        async def stream(request: Message, context: Context) -> AsyncIterator[Message]:
            exchange = _exchange()
            async with translate(context, exchange):
                _check_decoded(request)
                with self._admission.serving():
                    async with aclosing(self._gateway.stream(path, request, _options(context))) as messages:
                        async for message in messages:
                            yield message
                context.set_trailing_metadata(exchange.metadata)

        return stream


class Undecodable(Message):
    """What a request that protobuf could not decode (malformed bytes, invalid UTF-8 in a string, nesting
    beyond the decoder's limit) arrives as: the handler refuses it with INVALID_ARGUMENT, logged and
    counted as any RPC, instead of grpc.aio answering UNKNOWN with a traceback in the log."""

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type


def _decoder(message_class: type[Message]) -> Callable[[bytes], Message]:
    name = message_class.DESCRIPTOR.full_name

    def decode(data: bytes) -> Message:
        try:
            return message_class.FromString(data)
        except (DecodeError, RecursionError):
            return Undecodable(name)

    return decode


def _check_decoded(request: Message) -> None:
    if isinstance(request, Undecodable):
        raise InvalidArgument(
            "request",
            f"is not a valid {request.message_type} (malformed protobuf, a string that is not UTF-8, or "
            "messages nested too deep)",
        )


def _exchange() -> Exchange:
    # The observer binds one to the RPC for its access log; without it, the servicer does.
    exchange = current_exchange.get()
    if exchange is None:
        exchange = Exchange()
        current_exchange.set(exchange)
    return exchange


def _options(context: Context) -> CallOptions:
    # Binary (`-bin`) metadata is bytes and never forwarded; the rest is str.
    metadata = [(k.lower(), v) for k, v in context.invocation_metadata() or () if isinstance(v, str)]
    return CallOptions.from_metadata(metadata, context.time_remaining())
