"""Sidecar readiness over real sockets: health, reflection, UDS, TLS and mTLS, metrics, logs, bad flags, and
graceful shutdown of a real `runs-gateway` process on SIGTERM.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from conftest import GatewayThread
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer
from gateway.config import Settings

KEY = "sk-sidecar-secret-key-0123456789"
SERVICE = "runs_gateway.assistants.v1.RunsService"
SERVICE_V2 = "runs_gateway.assistants.v2.RunsService"
Code = grpc.StatusCode


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(step_seconds=0.0, api_keys=frozenset({KEY}))) as server:
        yield server


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(emulator: EmulatorServer, **overrides: Any) -> Settings:
    return Settings(**{"listen": "127.0.0.1:0", "base_url": emulator.base_url, "api_key": KEY, **overrides})


def not_found(channel: grpc.Channel) -> grpc.RpcError:
    """Call GetRun for a thread that does not exist: a full round trip through the upstream."""
    with pytest.raises(grpc.RpcError) as error:
        pb_grpc.RunsServiceStub(channel).GetRun(
            pb.GetRunRequest(thread_id="thread_none", run_id="run_x"), timeout=10
        )  # type: ignore[no-untyped-call]
    return error.value


def test_health_reports_serving_and_reflection_lists_the_service(emulator: EmulatorServer) -> None:
    with GatewayThread(settings(emulator)) as target, grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE):
            response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as error:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert error.value.code() == Code.NOT_FOUND  # type: ignore[attr-defined]

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = iter([
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
        ])  # fmt: skip
        listed, described = list(reflection.ServerReflectionInfo(requests, timeout=5))
        names = {s.name for s in listed.list_services_response.service}
        expected = {SERVICE, SERVICE_V2, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}
        assert names == expected
        assert described.file_descriptor_response.file_descriptor_proto  # the service's file, serialized


def test_a_unix_domain_socket_serves_rpcs(emulator: EmulatorServer, tmp_path: Path) -> None:
    path = tmp_path / "gateway.sock"
    with (
        GatewayThread(settings(emulator, listen="", uds=str(path))),
        grpc.insecure_channel(f"unix:{path}") as channel,
    ):
        error = not_found(channel)
        assert (error.code(), error.details()) == (Code.NOT_FOUND, "No thread found with id 'thread_none'.")  # type: ignore[attr-defined]


class Pki:
    """A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, as PEM files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_key, self.ca = self._certificate("test CA", None, ca=True)
        self.ca_pem = self._write("ca.pem", self.ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self._issue("server", san=True)
        self.client_cert, self.client_key = self._issue("client", san=False)

    def _certificate(
        self, name: str, issuer: tuple[Any, x509.Certificate] | None, *, ca: bool = False, san: bool = False
    ) -> tuple[Any, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        signer_key, signer = issuer if issuer else (key, None)
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(signer.subject if signer else subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )  # fmt: skip
        if san:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return key, builder.sign(signer_key, hashes.SHA256())

    def _issue(self, name: str, *, san: bool) -> tuple[Path, Path]:
        key, cert = self._certificate(name, (self.ca_key, self.ca), san=san)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())  # fmt: skip
        return self._write(f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM)), self._write(
            f"{name}.key", key_pem
        )

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def test_tls(emulator: EmulatorServer, pki: Pki) -> None:
    tls = settings(emulator, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key))
    with GatewayThread(tls) as target:
        credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca_pem.read_bytes())
        with grpc.secure_channel(target, credentials) as channel:
            assert not_found(channel).code() == Code.NOT_FOUND  # type: ignore[attr-defined]
        with grpc.insecure_channel(target) as plaintext:
            assert not_found(plaintext).code() == Code.UNAVAILABLE  # type: ignore[attr-defined]


def test_mtls_requires_a_client_certificate_from_the_ca(emulator: EmulatorServer, pki: Pki) -> None:
    mtls = settings(
        emulator, tls_cert=str(pki.server_cert), tls_key=str(pki.server_key), tls_client_ca=str(pki.ca_pem)
    )
    root = pki.ca_pem.read_bytes()
    with GatewayThread(mtls) as target:
        with_cert = grpc.ssl_channel_credentials(
            root, pki.client_key.read_bytes(), pki.client_cert.read_bytes()
        )
        with grpc.secure_channel(target, with_cert) as channel:
            assert not_found(channel).code() == Code.NOT_FOUND  # type: ignore[attr-defined]
        with grpc.secure_channel(target, grpc.ssl_channel_credentials(root)) as anonymous:
            assert not_found(anonymous).code() == Code.UNAVAILABLE  # type: ignore[attr-defined]


def test_metrics_count_a_finished_rpc_with_its_code(emulator: EmulatorServer) -> None:
    port = free_port()
    with (
        GatewayThread(settings(emulator, metrics_listen=f"127.0.0.1:{port}")) as target,
        grpc.insecure_channel(target) as channel,
    ):
        not_found(channel)
        not_found(channel)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    labels = f'grpc_method="GetRun",grpc_service="{SERVICE}",grpc_type="unary"'
    assert f"grpc_server_started_total{{{labels}}} 2.0" in text
    assert f'grpc_server_handled_total{{grpc_code="NOT_FOUND",{labels}}} 2.0' in text
    assert f"grpc_server_handling_seconds_count{{{labels}}} 2.0" in text
    route = "/threads/{thread_id}/runs/{run_id}"
    assert f'runs_gateway_upstream_requests_total{{method="GET",route="{route}",status="404"}} 2.0' in text
    assert f'runs_gateway_upstream_request_seconds_count{{method="GET",route="{route}"}} 2.0' in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "soon"], "argument --timeout: invalid float value: 'soon'"),
        (["--listen", "nowhere"], "--listen must be HOST:PORT, got 'nowhere'"),
        (["--upstream", "ftp://example.com"], "--upstream must be an http(s) URL"),
        (
            ["--tls-cert", "/no/such.pem", "--tls-key", "/no/such.key"],
            "--tls-cert names no such file: /no/such.pem",
        ),
        (["--tls-cert", __file__], "--tls-cert and --tls-key go together"),
        (["--log-level", "LOUD"], "--log-level must be one of DEBUG, INFO, WARNING, ERROR"),
        (["--listen", ""], "nothing to listen on"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--max-retries", "-1"], "--max-retries must be 0-10, got -1"),
        (["--max-message-bytes", "1000"], "--max-message-bytes must be at least 65536"),
    ],
)
def test_a_bad_flag_exits_non_zero_with_a_message(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_help_documents_every_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    flags = ["--listen", "--uds", "--upstream", "--timeout", "--grace", "--max-connections", "--log-level"]
    flags += ["--tls-cert", "--tls-key", "--tls-client-ca", "--metrics-listen", "OPENAI_API_KEY"]
    flags += ["--max-retries", "--max-message-bytes"]
    for flag in flags:
        assert flag in done.stdout


def test_sigterm_drains_in_flight_rpcs_and_exits_zero(emulator: EmulatorServer) -> None:
    rest = httpx.Client(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
    )
    thread = rest.post("/threads", json={}).json()["id"]
    admin = emulator.base_url.removesuffix("/v1") + "/_emulator"
    rest.close()
    environment = {**os.environ, "OPENAI_API_KEY": KEY}
    command = [
        sys.executable,
        "-m",
        "gateway",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        emulator.base_url,
        "--grace",
        "10",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    try:
        assert process.stdout is not None
        target = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        with grpc.insecure_channel(target) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=SERVICE), timeout=30
            )
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            # An RPC in flight when SIGTERM arrives: its upstream answers after 2 s.
            httpx.post(
                f"{admin}/faults", json={"path": f"/threads/{thread}/runs/run_x$", "delay": 2}
            ).raise_for_status()
            slow: dict[str, Any] = {}
            caller = threading.Thread(target=lambda: slow.setdefault("error", not_found_in(channel, thread)))
            caller.start()
            # In flight: wait until the upstream has it (not a fixed time, which a loaded machine may exceed).
            assert arrived(admin, f"/threads/{thread}/runs/run_x"), "the GetRun never reached the upstream"
            process.send_signal(signal.SIGTERM)
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.RunsServiceStub(channel).GetRun(
                    pb.GetRunRequest(thread_id="t", run_id="r"), timeout=30
                )  # type: ignore[no-untyped-call]
            assert refused.value.code() == Code.UNAVAILABLE  # type: ignore[attr-defined]
            caller.join(60)
            assert not caller.is_alive()
            # The in-flight RPC finished normally: the upstream's own answer (thread_x has no run_x).
            assert slow["error"].code() == Code.NOT_FOUND
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    [access] = [
        e
        for e in lines
        if e["logger"] == "gateway.access" and e["method"].endswith("/GetRun") and e["code"] == "NOT_FOUND"
    ]
    assert access["upstream_status"] == 404
    assert access["upstream_request_id"].startswith("req_")
    assert access["upstream_attempts"] == 1
    assert access["duration_ms"] >= 1500
    assert KEY not in stderr
    assert [e["message"] for e in lines if e["logger"] == "gateway"] == ["serving", "stopping", "stopped"]


def arrived(admin: str, path_end: str) -> bool:
    """Whether the emulator received a request whose path ends with `path_end`, waiting up to 30 s for it."""
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        if any(r["path"].endswith(path_end) for r in httpx.get(f"{admin}/requests").json()):
            return True
        time.sleep(0.02)
    return False


def not_found_in(channel: grpc.Channel, thread: str) -> grpc.RpcError:
    try:
        pb_grpc.RunsServiceStub(channel).GetRun(
            pb.GetRunRequest(thread_id=thread, run_id="run_x"), timeout=20
        )  # type: ignore[no-untyped-call]
    except grpc.RpcError as error:
        return error
    raise AssertionError("GetRun of a run that does not exist succeeded")


def test_the_healthcheck_command(emulator: EmulatorServer) -> None:
    command = [sys.executable, "-m", "gateway.healthcheck"]
    with GatewayThread(settings(emulator)) as target:
        port = target.rpartition(":")[2]
        serving = subprocess.run([*command, target], capture_output=True, text=True, timeout=30)
        assert (serving.returncode, serving.stdout) == (0, "SERVING\n")
        # A wildcard listen address is probed on loopback, as inside a container.
        environment = {**os.environ, "RUNS_GATEWAY_LISTEN": f"0.0.0.0:{port}"}
        wildcard = subprocess.run(command, capture_output=True, text=True, timeout=30, env=environment)
        assert wildcard.returncode == 0
    down = subprocess.run(
        [*command, f"127.0.0.1:{free_port()}", "--timeout", "1"], capture_output=True, text=True, timeout=30
    )
    assert down.returncode == 1
    assert down.stderr.startswith("unhealthy: ")


ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_and_manifest_use_what_the_project_defines() -> None:
    """The container files are not built here; this keeps their commands and variables from rotting."""
    import tomllib

    import yaml

    from gateway.config import FLAGS

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    variables = {variable for _, variable, _, _ in FLAGS} | {"OPENAI_API_KEY"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["runs-gateway"]' in dockerfile
    assert 'CMD ["runs-gateway-healthcheck"]' in dockerfile
    assert "USER 10001" in dockerfile
    assert {"runs-gateway", "runs-gateway-healthcheck"} <= set(scripts)
    documents = list(yaml.safe_load_all((ROOT / "deploy/kubernetes/sidecar.yaml").read_text()))
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    [gateway] = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "runs-gateway"
    ]
    env = {e["name"]: e.get("value") for e in gateway["env"]}
    assert set(env) <= variables
    assert env["RUNS_GATEWAY_LISTEN"] == "127.0.0.1:50051"
    grace = float(env["RUNS_GATEWAY_GRACE"])
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace
    for probe in ("readinessProbe", "livenessProbe"):
        assert gateway[probe]["exec"]["command"][0] in scripts
