"""`runs-gateway-healthcheck`: exit 0 when a gateway's health service reports SERVING, 1 otherwise.

For container HEALTHCHECKs and Kubernetes exec probes, which run inside the gateway's network namespace and
so reach it on loopback even when it listens on loopback only. The address is the first argument, else
RUNS_GATEWAY_LISTEN (a wildcard host is reached on loopback), else the default listen address; `unix:PATH`
addresses a Unix domain socket. Plaintext only: probe a TLS gateway over its Unix socket.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.config import DEFAULT_LISTEN

WILDCARDS = ("0.0.0.0", "[::]", "::")


def probe_address(listen: str) -> str:
    """Where to reach a gateway that listens on `listen`."""
    host, _, port = listen.rpartition(":")
    return f"127.0.0.1:{port}" if host in WILDCARDS else listen


def main(argv: Sequence[str] | None = None) -> None:
    """Check the health service once; the exit status is the answer."""
    parser = argparse.ArgumentParser(prog="runs-gateway-healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("address", nargs="?", default=os.environ.get("RUNS_GATEWAY_LISTEN") or DEFAULT_LISTEN)
    parser.add_argument("--service", default="", help="the service to ask about (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait (default 3)")
    args = parser.parse_args(argv)
    with grpc.insecure_channel(probe_address(args.address)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as error:
            sys.exit(f"unhealthy: {error.code().name}")
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        sys.exit(f"unhealthy: {status}")
    print(status)


if __name__ == "__main__":
    main()
