"""`runs-gateway-healthcheck` against TLS and mTLS gateways, run the way a container runs it: a process of its
own whose environment is the gateway's, so that it probes with the TLS settings the gateway serves with.

Each gateway is built from an environment alone (`Settings.load`) and served for real on loopback. The
certificates are `test_sidecar.Pki`'s: a throwaway CA that signed a server certificate for 127.0.0.1 and
localhost and a client certificate (CN "client", no alternative names), neither with an extended key usage.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import GatewayThread
from test_sidecar import Pki, free_port

from gateway.config import Settings

# Generous: a check that fails, fails at once (the connection is refused or its handshake fails).
PROBE = [sys.executable, "-m", "gateway.healthcheck", "--timeout", "30"]
# The gateway needs an upstream to start; health checks never call it (port 9: discard).
UPSTREAM = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
Env = dict[str, str]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def tls(pki: Pki) -> Env:
    """The gateway's variables for TLS with the server certificate."""
    return {"RUNS_GATEWAY_TLS_CERT": str(pki.server_cert), "RUNS_GATEWAY_TLS_KEY": str(pki.server_key)}


def mtls(pki: Pki) -> Env:
    """The gateway's variables for mTLS: TLS, and client certificates signed by the CA."""
    return {**tls(pki), "RUNS_GATEWAY_TLS_CLIENT_CA": str(pki.ca_pem)}


def client(cert: Path, key: Path) -> Env:
    """The probe's variables for its client certificate."""
    return {"RUNS_GATEWAY_HEALTHCHECK_CERT": str(cert), "RUNS_GATEWAY_HEALTHCHECK_KEY": str(key)}


def container_env(*parts: Mapping[str, str]) -> Env:
    """This process's environment without any RUNS_GATEWAY_ variable, then `parts` in order."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNS_GATEWAY_")}
    for part in parts:
        env.update(part)
    return env


@contextmanager
def gateway(environ: Mapping[str, str]) -> Iterator[Env]:
    """Serve the gateway configured by `environ`, over TCP on a free loopback port unless `environ` turns TCP
    off; yield `environ` with the address bound."""
    environ = {"RUNS_GATEWAY_LISTEN": "127.0.0.1:0", **UPSTREAM, **environ}
    with GatewayThread(Settings.load([], environ=environ)) as target:
        yield {**environ, "RUNS_GATEWAY_LISTEN": target} if environ["RUNS_GATEWAY_LISTEN"] else environ


Result = subprocess.CompletedProcess[str]


def probe(environ: Mapping[str, str], *args: str, command: tuple[str, ...] = tuple(PROBE)) -> Result:
    """Run the probe with exactly the environment `environ`."""
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, env=dict(environ))


def assert_serving(done: Result) -> None:
    assert (done.returncode, done.stdout) == (0, "SERVING\n"), done.stderr


def assert_fails(done: Result, *fragments: str) -> None:
    """Exit 1 (Docker's "unhealthy"; 2 is reserved) with every one of `fragments` in the message."""
    assert (done.returncode, done.stdout) == (1, "")
    for fragment in fragments:
        assert fragment in done.stderr


Vars = Callable[[Pki], Env]
SERVING: list[tuple[str, Vars, Vars]] = [
    # (id, the gateway's variables, the probe's own on top of them)
    ("tls-trusting-the-gateway-certificate", tls, lambda p: {}),
    ("tls-trusting-a-ca", tls, lambda p: {"RUNS_GATEWAY_HEALTHCHECK_CA": str(p.ca_pem)}),
    ("mtls-with-a-client-certificate", mtls, lambda p: client(p.client_cert, p.client_key)),
    # As documented: the gateway's own certificate serves as the probe's when the client CA issued it and it
    # has no extended key usage (or one that allows clientAuth).
    ("mtls-with-the-gateway-certificate", mtls, lambda p: client(p.server_cert, p.server_key)),
    # The client certificate names no host (its CN is "client"): served, it needs the name to check.
    (
        "tls-certificate-without-loopback-names",
        lambda p: {"RUNS_GATEWAY_TLS_CERT": str(p.client_cert), "RUNS_GATEWAY_TLS_KEY": str(p.client_key)},
        lambda p: {"RUNS_GATEWAY_HEALTHCHECK_SERVER_NAME": "client"},
    ),
]


@pytest.mark.parametrize(("served", "probe_vars"), [c[1:] for c in SERVING], ids=[c[0] for c in SERVING])
def test_a_tls_gateway_is_serving(pki: Pki, served: Vars, probe_vars: Vars) -> None:
    with gateway(served(pki)) as environ:
        assert_serving(probe(container_env(environ, probe_vars(pki))))


def test_the_container_healthcheck_command_sees_an_mtls_gateway(pki: Pki) -> None:
    """As the Dockerfile's HEALTHCHECK: `runs-gateway` and `runs-gateway-healthcheck`, one environment."""
    bin_dir = Path(sys.executable).parent
    environ = container_env(mtls(pki), client(pki.client_cert, pki.client_key))
    environ |= {"RUNS_GATEWAY_LISTEN": f"127.0.0.1:{free_port()}", **UPSTREAM}
    command = [bin_dir / "runs-gateway"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().startswith("runs-gateway listening on 127.0.0.1:")
        assert_serving(
            probe(environ, "--timeout", "30", command=(str(bin_dir / "runs-gateway-healthcheck"),))
        )
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert server.returncode == 0


def test_a_tls_gateway_probed_in_plaintext_says_what_to_set(pki: Pki) -> None:
    with gateway(tls(pki)) as environ:
        plaintext = {k: v for k, v in environ.items() if not k.startswith("RUNS_GATEWAY_TLS_")}
        done = probe(container_env(plaintext))
    assert_fails(
        done, "unhealthy: UNAVAILABLE: ", "in plaintext", "set RUNS_GATEWAY_TLS_CERT (--tls-cert) here too"
    )


def test_an_mtls_gateway_without_a_client_certificate_says_what_to_set(pki: Pki) -> None:
    with gateway(mtls(pki)) as environ:
        done = probe(container_env(environ))
    assert_fails(
        done,
        "cannot probe: the gateway demands a client certificate (RUNS_GATEWAY_TLS_CLIENT_CA is set: mTLS)",
        "RUNS_GATEWAY_HEALTHCHECK_CERT (--cert) and RUNS_GATEWAY_HEALTHCHECK_KEY (--key)",
    )


def test_an_mtls_gateway_refuses_a_client_certificate_from_another_ca(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = Pki(tmp_path_factory.mktemp("other"))
    with gateway(mtls(pki)) as environ:
        done = probe(container_env(environ, client(other.client_cert, other.client_key)))
    assert_fails(done, "unhealthy: UNAVAILABLE: ", f"with TLS as {other.client_cert}")


def test_a_wrong_ca_fails_and_a_flag_beats_the_variable(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = Pki(tmp_path_factory.mktemp("other"))
    with gateway(tls(pki)) as environ:
        wrong = container_env(environ, {"RUNS_GATEWAY_HEALTHCHECK_CA": str(other.ca_pem)})
        done = probe(wrong)
        assert_fails(
            done,
            "unhealthy: UNAVAILABLE: ",
            f"trusting the certificates in {other.ca_pem}",
            "RUNS_GATEWAY_HEALTHCHECK_CA (--ca)",
        )
        assert_serving(probe(wrong, "--ca", str(pki.ca_pem)))


def test_a_certificate_without_the_probed_name_says_what_to_set(pki: Pki) -> None:
    served = {"RUNS_GATEWAY_TLS_CERT": str(pki.client_cert), "RUNS_GATEWAY_TLS_KEY": str(pki.client_key)}
    with gateway(served) as environ:
        done = probe(container_env(environ))
    assert_fails(
        done,
        "unhealthy: UNAVAILABLE: ",
        "checking the name 127.0.0.1",
        "RUNS_GATEWAY_HEALTHCHECK_SERVER_NAME (--server-name)",
    )


def test_a_unix_socket_is_probed_in_plaintext_beside_tls_on_tcp(pki: Pki, tmp_path: Path) -> None:
    socket = tmp_path / "gateway.sock"
    with gateway({**mtls(pki), "RUNS_GATEWAY_UDS": str(socket)}) as environ:
        assert_serving(probe(container_env(environ), f"unix:{socket}"))
    # With TCP off, the probe goes to the socket by itself.
    with gateway({**mtls(pki), "RUNS_GATEWAY_UDS": str(socket), "RUNS_GATEWAY_LISTEN": ""}) as environ:
        assert_serving(probe(container_env(environ)))


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"RUNS_GATEWAY_TLS_CERT": "/no/such.pem"},
            "RUNS_GATEWAY_TLS_CERT (--tls-cert): cannot read /no/such.pem: No such file or directory",
        ),
        (
            {"RUNS_GATEWAY_HEALTHCHECK_CA": "/no/such/ca.pem"},
            "RUNS_GATEWAY_HEALTHCHECK_CA (--ca): cannot read /no/such/ca.pem",
        ),
        (
            {"RUNS_GATEWAY_HEALTHCHECK_CERT": "/c.pem", "RUNS_GATEWAY_HEALTHCHECK_KEY": "/c.key"},
            "RUNS_GATEWAY_HEALTHCHECK_CERT (--cert) needs TLS: set RUNS_GATEWAY_TLS_CERT (--tls-cert)",
        ),
        (
            {"RUNS_GATEWAY_TLS_CLIENT_CA": "/ca.pem"},
            "RUNS_GATEWAY_TLS_CLIENT_CA (--tls-client-ca) needs TLS: set RUNS_GATEWAY_TLS_CERT (--tls-cert)",
        ),
        (
            {"RUNS_GATEWAY_TLS_CERT": __file__, "RUNS_GATEWAY_HEALTHCHECK_CERT": __file__},
            "RUNS_GATEWAY_HEALTHCHECK_CERT (--cert) and RUNS_GATEWAY_HEALTHCHECK_KEY (--key) go together",
        ),
    ],
    ids=[
        "unreadable-tls-cert",
        "unreadable-ca",
        "client-cert-without-tls",
        "mtls-without-tls",
        "cert-without-key",
    ],
)
def test_a_setting_the_probe_cannot_use_exits_1_naming_it(variables: Env, message: str) -> None:
    done = probe(container_env({"RUNS_GATEWAY_LISTEN": f"127.0.0.1:{free_port()}"}, variables))
    assert_fails(done, message)
    assert done.stderr.startswith("cannot probe: ")


def test_help_documents_every_setting() -> None:
    done = subprocess.run([*PROBE, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    for setting in ["--tls-cert", "--tls-client-ca", "--ca", "--server-name", "--cert", "--key"]:
        assert setting in done.stdout
    for variable in ["RUNS_GATEWAY_TLS_CERT", "RUNS_GATEWAY_TLS_CLIENT_CA", "RUNS_GATEWAY_HEALTHCHECK_CA"]:
        assert variable in done.stdout
    for variable in ["SERVER_NAME", "CERT", "KEY"]:
        assert f"RUNS_GATEWAY_HEALTHCHECK_{variable}" in done.stdout
