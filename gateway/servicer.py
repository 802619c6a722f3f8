"""The gRPC servicer of RunsService: a thin adapter over `Gateway`, which knows nothing of gRPC.

Each RPC hands its request, the client's metadata and remaining time to the core, and `errors.translate`
turns whatever the core raises into the RPC's rich status. The upstream's response metadata (request id,
processing time, rate limits) goes back as trailing metadata of every RPC, when the whole answer is known.
The streaming RPCs are async generators, as grpc.aio expects. A client that cancels cancels the handler
task, which cancels the REST request in flight.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TypeVar, cast

import grpc
from google.protobuf.message import Message
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from gateway.core import Gateway
from gateway.errors import translate
from gateway.upstream import CallOptions, Exchange, current_exchange

R = TypeVar("R", bound=Message)
Context = grpc.aio.ServicerContext[Message, Message]


class RunsServicer(pb_grpc.RunsServiceServicer):
    """Implements every RPC of RunsService by proxying to the REST API."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def CreateRun(self, request: pb.CreateRunRequest, context: Context) -> pb.CreateRunResponse:
        return await self._unary("CreateRun", request, context, pb.CreateRunResponse)

    async def GetRun(self, request: pb.GetRunRequest, context: Context) -> pb.GetRunResponse:
        return await self._unary("GetRun", request, context, pb.GetRunResponse)

    async def ModifyRun(self, request: pb.ModifyRunRequest, context: Context) -> pb.ModifyRunResponse:
        return await self._unary("ModifyRun", request, context, pb.ModifyRunResponse)

    async def ListRuns(
        self, request: pb.ListRunsRequest, context: Context
    ) -> AsyncIterator[pb.ListRunsResponse]:
        async for item in self._stream("ListRuns", request, context, pb.ListRunsResponse):
            yield item

    async def ListRunsPage(
        self, request: pb.ListRunsPageRequest, context: Context
    ) -> pb.ListRunsPageResponse:
        return await self._unary("ListRunsPage", request, context, pb.ListRunsPageResponse)

    async def CancelRun(self, request: pb.CancelRunRequest, context: Context) -> pb.CancelRunResponse:
        return await self._unary("CancelRun", request, context, pb.CancelRunResponse)

    async def SubmitToolOutputs(
        self, request: pb.SubmitToolOutputsRequest, context: Context
    ) -> pb.SubmitToolOutputsResponse:
        return await self._unary("SubmitToolOutputs", request, context, pb.SubmitToolOutputsResponse)

    async def GetRunStep(self, request: pb.GetRunStepRequest, context: Context) -> pb.GetRunStepResponse:
        return await self._unary("GetRunStep", request, context, pb.GetRunStepResponse)

    async def ListRunSteps(
        self, request: pb.ListRunStepsRequest, context: Context
    ) -> AsyncIterator[pb.ListRunStepsResponse]:
        async for item in self._stream("ListRunSteps", request, context, pb.ListRunStepsResponse):
            yield item

    async def ListRunStepsPage(
        self, request: pb.ListRunStepsPageRequest, context: Context
    ) -> pb.ListRunStepsPageResponse:
        return await self._unary("ListRunStepsPage", request, context, pb.ListRunStepsPageResponse)

    async def WatchRun(
        self, request: pb.WatchRunRequest, context: Context
    ) -> AsyncIterator[pb.WatchRunResponse]:
        async for item in self._stream("WatchRun", request, context, pb.WatchRunResponse):
            yield item

    async def _unary(self, rpc: str, request: Message, context: Context, response: type[R]) -> R:
        exchange = _exchange()
        async with translate(context, exchange):
            message = await self._gateway.call(rpc, request, _options(context))
            # Trailing, not initial: grpc.aio sends initial metadata set by hand as a write of its own (about
            # a sixth of a GetRun's CPU); trailers go out in one batch with the response and the status.
            context.set_trailing_metadata(exchange.metadata)
            return cast(R, message)
        raise AssertionError("unreachable: translate() aborts the RPC")

    async def _stream(self, rpc: str, request: Message, context: Context, item: type[R]) -> AsyncIterator[R]:
        exchange = _exchange()
        async with translate(context, exchange):
            async with aclosing(self._gateway.stream(rpc, request, _options(context))) as messages:
                async for message in messages:
                    yield cast(R, message)
            context.set_trailing_metadata(exchange.metadata)


def _exchange() -> Exchange:
    # The observing interceptor binds one to the RPC for its access log; without it, the servicer does.
    exchange = current_exchange.get()
    if exchange is None:
        exchange = Exchange()
        current_exchange.set(exchange)
    return exchange


def _options(context: Context) -> CallOptions:
    # Binary (`-bin`) metadata is bytes and never forwarded; the rest is str.
    metadata = [(k.lower(), v) for k, v in context.invocation_metadata() or () if isinstance(v, str)]
    return CallOptions.from_metadata(metadata, context.time_remaining())
