"""`runs-gateway-healthcheck`: exit 0 when a gateway's health service reports SERVING, 1 otherwise.

For container HEALTHCHECKs and Kubernetes exec probes, which run inside the gateway's container with its
environment, and so reach it on loopback and see how it is configured. Flags win over variables.

Address: the argument, else RUNS_GATEWAY_LISTEN (a wildcard host is probed on 127.0.0.1), else the
socket RUNS_GATEWAY_UDS when RUNS_GATEWAY_LISTEN='' turns TCP off, else the default listen address.
`unix:PATH` is a Unix domain socket, probed in plaintext: the gateway never serves TLS on its socket.

TLS: over TCP the probe uses TLS when the gateway does (RUNS_GATEWAY_TLS_CERT is set) or when --ca is
given. It verifies the gateway's certificate against --ca, by default the gateway's own certificate file:
gRPC takes every certificate of that file as a trust anchor, a CA-issued leaf alone included, so the probe
trusts exactly what the gateway serves. The name checked is the address's host (127.0.0.1 for a wildcard)
unless --server-name names another: set it when the certificate names neither 127.0.0.1 nor localhost.

mTLS: when RUNS_GATEWAY_TLS_CLIENT_CA is set the gateway demands a client certificate signed by that CA:
give the probe one with --cert and --key. There is no default: the gateway's own certificate serves only if
that CA issued it and its extended key usage allows clientAuth (or it has none); point --cert and --key at
it if so. A setting the probe lacks or cannot read exits 1 with a message naming it; a failed check prints
the gRPC status, its details and how the gateway was probed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway import config

WILDCARDS = ("0.0.0.0", "[::]", "::")
GATEWAY_VARIABLES = {name: variable for name, variable, _, _ in config.FLAGS}
"""The environment variable of each gateway setting: the probe reads the gateway's own."""

FLAGS: tuple[tuple[str, str, str, str], ...] = (
    (
        "tls_cert",
        "FILE",
        GATEWAY_VARIABLES["tls_cert"],
        "the gateway's PEM certificate chain: probe with TLS",
    ),
    (
        "tls_client_ca",
        "FILE",
        GATEWAY_VARIABLES["tls_client_ca"],
        "the gateway's client CA bundle: when set the gateway demands client certificates (mTLS)",
    ),
    (
        "ca",
        "FILE",
        "RUNS_GATEWAY_HEALTHCHECK_CA",
        "PEM certificates to trust (default: --tls-cert); implies TLS",
    ),
    (
        "server_name",
        "NAME",
        "RUNS_GATEWAY_HEALTHCHECK_SERVER_NAME",
        "the name the certificate must carry (default: the address's host)",
    ),
    ("cert", "FILE", "RUNS_GATEWAY_HEALTHCHECK_CERT", "the probe's PEM client certificate, for mTLS"),
    ("key", "FILE", "RUNS_GATEWAY_HEALTHCHECK_KEY", "the PEM private key of --cert"),
)
"""The probe's TLS settings: destination, metavar, environment variable, help."""


@dataclass(frozen=True, slots=True)
class Probe:
    """Where and how to reach the gateway (plaintext when `credentials` is None), and how to say so."""

    target: str
    description: str
    credentials: grpc.ChannelCredentials | None = None
    options: tuple[tuple[str, Any], ...] = ()


def probe_address(listen: str) -> str:
    """Where to reach a gateway that listens on `listen`."""
    host, _, port = listen.rpartition(":")
    return f"127.0.0.1:{port}" if host in WILDCARDS else listen


def default_address(environ: Mapping[str, str]) -> str:
    """The gateway's TCP address in `environ`, or its Unix socket when TCP is turned off."""
    listen = environ.get(GATEWAY_VARIABLES["listen"], config.DEFAULT_LISTEN)
    uds = environ.get(GATEWAY_VARIABLES["uds"])
    if not listen and uds:
        return f"unix:{uds}"
    return listen or config.DEFAULT_LISTEN


def plan(args: argparse.Namespace) -> Probe:
    """The probe `args` ask for; a ValueError names a setting that is missing or cannot be used."""
    target = probe_address(args.address)
    if target.startswith("unix:"):
        return Probe(target, f"probed {target} in plaintext, as the gateway serves its Unix socket")
    if args.tls_cert or args.ca:
        return Probe(target, _describe(target, args), _credentials(args), _name_override(args))
    for name in ("tls_client_ca", "server_name", "cert", "key"):
        if getattr(args, name):
            raise ValueError(f"{setting(name)} needs TLS: set {setting('tls_cert')} or {setting('ca')}")
    return Probe(
        target, f"probed {target} in plaintext: if the gateway serves TLS, set {setting('tls_cert')} here too"
    )


def _credentials(args: argparse.Namespace) -> grpc.ChannelCredentials:
    """TLS trusting --ca (else the gateway's certificate file), with the client certificate if any."""
    if bool(args.cert) != bool(args.key):
        raise ValueError(f"{setting('cert')} and {setting('key')} go together")
    if args.tls_client_ca and not args.cert:
        raise ValueError(
            f"the gateway demands a client certificate ({GATEWAY_VARIABLES['tls_client_ca']} is set: mTLS): "
            f"give the probe one that CA signed with {setting('cert')} and {setting('key')}"
        )
    trusted = _read("ca", args.ca) if args.ca else _read("tls_cert", args.tls_cert)
    if not args.cert:
        return grpc.ssl_channel_credentials(trusted)
    return grpc.ssl_channel_credentials(trusted, _read("key", args.key), _read("cert", args.cert))


def _name_override(args: argparse.Namespace) -> tuple[tuple[str, Any], ...]:
    return (("grpc.ssl_target_name_override", args.server_name),) if args.server_name else ()


def _describe(target: str, args: argparse.Namespace) -> str:
    """How a TLS probe went about it and which settings change that: for the message of a failure."""
    client = f"as {args.cert}" if args.cert else "without a client certificate"
    name = args.server_name or target.rpartition(":")[0]
    return (
        f"probed {target} with TLS {client}, trusting the certificates in {args.ca or args.tls_cert} and "
        f"checking the name {name}; {setting('ca')} and {setting('server_name')} change them"
    )


def setting(name: str) -> str:
    """How to give the probe's setting `name`: its environment variable and its flag."""
    [variable] = [variable for dest, _, variable, _ in FLAGS if dest == name]
    return f"{variable} (--{name.replace('_', '-')})"


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"{setting(name)}: cannot read {path}: {error.strerror}") from error


def check(probe: Probe, service: str, timeout: float) -> str:
    """The status the health service reports for `service` ('' for the server); raises grpc.RpcError."""
    if probe.credentials is None:
        channel = grpc.insecure_channel(probe.target)
    else:
        channel = grpc.secure_channel(probe.target, probe.credentials, options=probe.options)
    with channel:
        request = health_pb2.HealthCheckRequest(service=service)
        response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=timeout)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The command line, its defaults read from `environ`."""
    parser = argparse.ArgumentParser(
        prog="runs-gateway-healthcheck",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    address_help = "HOST:PORT or unix:PATH (default: where the gateway's variables say it listens)"
    parser.add_argument("address", nargs="?", default=default_address(environ), help=address_help)
    parser.add_argument("--service", default="", help="the service to ask about (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait (default 3)")
    for name, metavar, variable, text in FLAGS:
        # An empty variable is unset, as for the gateway: RUNS_GATEWAY_TLS_CERT='' serves plaintext.
        default = environ.get(variable) or None
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, dest=name, metavar=metavar, default=default, help=f"{text}; env {variable}")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Check the health service once: exit 0 when SERVING, else 1 (Docker's "unhealthy") with a message."""
    args = _parser(os.environ).parse_args(argv)
    try:
        probe = plan(args)
    except ValueError as error:
        sys.exit(f"cannot probe: {error}")
    try:
        status = check(probe, args.service, args.timeout)
    except grpc.RpcError as error:
        code, details = (error.code().name, error.details()) if isinstance(error, grpc.Call) else ("?", error)
        sys.exit(f"unhealthy: {code}: {details}\n{probe.description}")
    if status != "SERVING":
        sys.exit(f"unhealthy: {status}")
    print(status)


if __name__ == "__main__":
    main()
