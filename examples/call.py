"""Call any RPC of the gateway from a shell, JSON in and JSON out, with nothing but what the project installs.

What `grpcurl -d` does, for the gateway's services (v2 by default, `--api v1` for v1):

    .venv/bin/python -m examples.call GetRun '{"thread_id": "thread_abc", "run_id": "run_abc"}'
    .venv/bin/python -m examples.call ListRuns '{"thread_id": "thread_abc"}' --target 127.0.0.1:50051
    .venv/bin/python -m examples.call CreateRunStream '{"thread_id": "thread_abc", "assistant_id": "asst_a"}'

The request is the RPC's request message in protobuf's JSON form (field names as in the protos), each
response is printed as one JSON line (a stream: one line per message; a streamed run: one per event), and a
failed call prints its status and exits 1. `-H key:value` adds request metadata
(`-H "authorization:Bearer sk-..."`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import cast

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from runs_gateway.assistants.v1 import runs_service_pb2 as v1
from runs_gateway.assistants.v2 import runs_service_pb2 as v2

SERVICES: dict[str, ServiceDescriptor] = {
    "v1": v1.DESCRIPTOR.services_by_name["RunsService"],
    "v2": v2.DESCRIPTOR.services_by_name["RunsService"],
}


def call(
    target: str,
    rpc: str,
    request_json: str,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 30.0,
    api: str = "v2",
) -> Iterable[Message]:
    """The response messages of `rpc` of the `api` version's service called with the JSON request
    `request_json` (one for a unary RPC)."""
    service = SERVICES[api]
    method = service.methods_by_name[rpc]
    request_class = GetMessageClass(method.input_type)
    request = json_format.Parse(request_json, request_class())
    response_class = GetMessageClass(method.output_type)
    path = f"/{service.full_name}/{rpc}"
    with grpc.insecure_channel(target) as channel:
        kind = channel.unary_stream if method.server_streaming else channel.unary_unary
        invoke = kind(
            path,
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        answer = invoke(request, timeout=timeout, metadata=tuple(metadata))
        yield from cast(Iterable[Message], answer if method.server_streaming else [answer])


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: print each response as a JSON line; exit 1 with the status of a failed call."""
    parser = argparse.ArgumentParser(prog="python -m examples.call", description=__doc__.splitlines()[0])
    rpcs = sorted(SERVICES["v2"].methods_by_name)
    parser.add_argument("rpc", choices=rpcs, help="the RPC of RunsService to call")
    parser.add_argument("request", nargs="?", default="{}", help="the request message as JSON (default {})")
    parser.add_argument("--target", default="127.0.0.1:50051", help="the gateway (default 127.0.0.1:50051)")
    parser.add_argument("--timeout", type=float, default=30.0, help="the call's deadline in seconds")
    parser.add_argument("-H", dest="headers", action="append", default=[], help="metadata as key:value")
    parser.add_argument("--api", choices=sorted(SERVICES), default="v2", help="the API version (default v2)")
    args = parser.parse_args(argv)
    if args.rpc not in SERVICES[args.api].methods_by_name:
        parser.error(f"{args.rpc} is not an RPC of the {args.api} service")
    metadata = [
        (key.strip().lower(), value.strip()) for key, _, value in (h.partition(":") for h in args.headers)
    ]
    try:
        for message in call(args.target, args.rpc, args.request, metadata, args.timeout, args.api):
            print(json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True)))
    except grpc.RpcError as error:
        sys.exit(f"{error.code().name}: {error.details()}")
    except json_format.ParseError as error:
        sys.exit(f"the request is not a {args.rpc}Request in JSON: {error}")


if __name__ == "__main__":
    main()
