"""Every dialect end to end over real sockets: a gRPC client → the gateway (`--dialect NAME`) → the emulator
behaving as that server (`EmulatorConfig.dialect`), a real HTTP server on loopback.

For each server: a v2 run with a function tool through requires_action and back (WatchRun), every unary
RPC, the page streams with pages of one, a streamed run through requires_action and its streamed submit,
and what the gateway sent (the api-version on every request, the credential in the server's header, no
OpenAI-Beta where the server picks its version otherwise, static headers). open-assistant's float
timestamps on every RPC of both versions. A base URL's own query kept on every request. Entra ID tokens
from a credential object that issues and expires them: one refresh for many concurrent calls, a refusal
when the credential fails. No timing bounds: the emulator's runs advance at once (`step_seconds=0`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from loopback import serving
from runs_gateway.assistants.v1 import runs_service_pb2 as v1
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as v1_grpc
from runs_gateway.assistants.v2 import resources_pb2 as res
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer, forms
from emulator.entra import FOUNDRY_AUDIENCE, entra_token
from gateway.auth import TokenCredential
from gateway.config import Settings
from gateway.server import build_server

Code = grpc.StatusCode
KEY = "sk-dialect-key-0123456789"
ASTRA_TOKEN = "AstraCS:dialect-token-0123456789"
FUNCTION = {
    "type": "function",
    "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}},
}


@dataclass
class Token:
    """What azure-identity's `get_token` returns: the token and when it expires (epoch seconds)."""

    token: str
    expires_on: int


class Credential:
    """A credential object as azure-identity's: it issues tokens for the audience of the scope asked,
    each valid for `lifetime` seconds, after `delay` seconds (so that calls overlap), or fails."""

    def __init__(self, *, lifetime: float = 3600, delay: float = 0.0, fail: bool = False) -> None:
        self.lifetime, self.delay, self.fail = lifetime, delay, fail
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str) -> Token:
        self.scopes.extend(scopes)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("ManagedIdentityCredential: no identity endpoint found\nsecond line")
        audience = scopes[0].removesuffix("/.default")
        expires = int(time.time() + self.lifetime)
        return Token(entra_token(audience, expires), expires)


@dataclass(frozen=True)
class Server:
    """How a dialect's server is called over REST (to make assistants and threads, which the gateway does
    not front), and the gateway settings that point at it."""

    dialect: str
    headers: dict[str, str]
    params: dict[str, str]
    settings: dict[str, Any]


def servers() -> dict[str, Server]:
    return {
        "openai": Server(
            "openai", {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}, {}, {}
        ),
        "azure-foundry": Server(
            "azure-foundry",
            {"Authorization": f"Bearer {entra_token(FOUNDRY_AUDIENCE)}"},
            {"api-version": "v1"},
            {"api_key": None},
        ),
        "azure-openai": Server("azure-openai", {"api-key": KEY}, {"api-version": "2024-05-01-preview"}, {}),
        "open-assistant": Server("open-assistant", {}, {}, {}),
        "astra": Server(
            "astra",
            {
                "astra-api-token": ASTRA_TOKEN,
                "Authorization": f"Bearer {KEY}",
                "OpenAI-Beta": "assistants=v2",
            },
            {},
            {"upstream_headers": {"astra-api-token": ASTRA_TOKEN}},
        ),
    }


@contextmanager
def emulated(dialect: str, **config: Any) -> Iterator[tuple[EmulatorServer, httpx.Client, httpx.Client]]:
    """The emulator as `dialect`, a REST client of it, and its admin API."""
    server = servers()[dialect]
    keys = frozenset({KEY}) if dialect in ("openai", "azure-openai") else None
    if dialect == "astra":
        keys = frozenset({ASTRA_TOKEN})
    with (
        EmulatorServer(EmulatorConfig(step_seconds=0, dialect=dialect, api_keys=keys, **config)) as emulator,
        httpx.Client(base_url=emulator.base_url, headers=server.headers, params=server.params) as rest,
        httpx.Client(base_url=f"{emulator.root_url}/_emulator") as admin,
    ):
        yield emulator, rest, admin


@asynccontextmanager
async def gateway(
    base_url: str, dialect: str, credential: TokenCredential | None = None, **fields: Any
) -> AsyncIterator[grpc.aio.Channel]:
    """The gateway in `dialect` in front of `base_url`, on a loopback port, and a channel to it."""
    given = {"api_key": KEY, **servers()[dialect].settings, **fields}
    settings = Settings(listen="127.0.0.1:0", base_url=base_url, dialect=dialect, timeout=30, **given)
    async with (
        serving(build_server(settings, credential=credential or Credential())) as target,
        grpc.aio.insecure_channel(target) as channel,
    ):
        yield channel


def start(rest: httpx.Client) -> tuple[str, str]:
    assistant = rest.post(
        "/assistants", json={"model": "gpt-4o", "instructions": "Help.", "tools": [FUNCTION]}
    )
    thread = rest.post("/threads", json={})
    assert assistant.status_code == thread.status_code == 200, assistant.text + thread.text
    return assistant.json()["id"], thread.json()["id"]


def api_requests(admin: httpx.Client) -> list[dict[str, Any]]:
    """What the emulator received from the gateway (the REST client's own requests left out)."""
    return [r for r in admin.get("/requests").json() if "/runs" in r["path"]]


async def watch_to_rest(
    stub: pb_grpc.RunsServiceStub, thread: str, run: str, *, action: bool = True
) -> res.Run:
    """The run's last state once WatchRun ends it, or (with `action`) once it requires action. (A watch
    joining another's poll loop may first see the state that loop saw last.)"""
    last = res.Run()
    async for change in stub.WatchRun(pb.WatchRunRequest(thread_id=thread, run_id=run), timeout=30):
        if change.WhichOneof("change") == "run":
            last = change.run
            if action and last.status == res.RUN_STATUS_REQUIRES_ACTION:
                return last
    return last


def outputs(run: res.Run) -> list[pb.ToolOutput]:
    calls = run.required_action.submit_tool_outputs.tool_calls
    return [pb.ToolOutput(tool_call_id=call.id, output='{"sum": 3}') for call in calls]


async def drive(stub: pb_grpc.RunsServiceStub, thread: str, assistant: str) -> res.Run:
    """A run with a function tool: created, watched to requires_action, answered, watched to its end."""
    created = await stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=30)
    waiting = await watch_to_rest(stub, thread, created.run.id)
    assert waiting.status == res.RUN_STATUS_REQUIRES_ACTION
    await stub.SubmitToolOutputs(
        pb.SubmitToolOutputsRequest(thread_id=thread, run_id=waiting.id, tool_outputs=outputs(waiting)),
        timeout=30,
    )
    return await watch_to_rest(stub, thread, waiting.id, action=False)


async def stream(call: Any) -> list[pb.StreamRunResponse]:
    return [event async for event in call]


DIALECT_NAMES = ["openai", "azure-foundry", "azure-openai", "open-assistant", "astra"]
NO_STEPS = {"astra"}  # its server has no ModifyRun, CancelRun or run steps


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
async def test_a_v2_client_works_unchanged_against_each_server(dialect: str) -> None:
    with emulated(dialect) as (emulator, rest, admin):
        assistant, thread = start(rest)
        async with gateway(emulator.base_url, dialect) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            await exercise_v2(stub, thread, assistant, dialect)
        check_what_went_up(api_requests(admin), dialect)


async def exercise_v2(stub: pb_grpc.RunsServiceStub, thread: str, assistant: str, dialect: str) -> None:
    """Every RPC of the v2 service, as a client of any server calls them: two runs driven through
    requires_action to their end, ListRuns in pages, a streamed run and its streamed submit, ModifyRun, the
    steps three ways, a CancelRun. `assistant` has a function tool; `thread` is the server's thread."""
    done = await drive(stub, thread, assistant)
    assert done.status == res.RUN_STATUS_COMPLETED
    got = await stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=done.id), timeout=30)
    assert got.run.id == done.id
    assert got.run.created_at > 1_700_000_000
    assert got.run.created_at < 10_000_000_000  # seconds, whatever unit the server writes
    await drive(stub, thread, assistant)
    pages = [
        [run.id for run in page.runs]
        async for page in stub.ListRuns(pb.ListRunsRequest(thread_id=thread, limit=1), timeout=30)
    ]
    assert [len(page) for page in pages] == [1, 1]
    first = (
        await stub.CreateRunStream(
            pb.CreateRunStreamRequest(thread_id=thread, assistant_id=assistant), timeout=30
        )
        .__aiter__()
        .__anext__()
    )
    assert first.event == "thread.run.created"
    await check_streamed_run(stub, thread, assistant)
    await check_steps_and_the_rest(stub, thread, assistant, done.id, dialect)


async def check_streamed_run(stub: pb_grpc.RunsServiceStub, thread: str, assistant: str) -> None:
    events = await stream(
        stub.CreateRunStream(pb.CreateRunStreamRequest(thread_id=thread, assistant_id=assistant), timeout=30)
    )
    names = [event.event for event in events]
    assert names[-1] == "thread.run.requires_action"
    assert "thread.run.completed" not in names  # never told the run ended while it waits for outputs
    waiting = events[-1].run
    rest = await stream(
        stub.SubmitToolOutputsStream(
            pb.SubmitToolOutputsStreamRequest(
                thread_id=thread, run_id=waiting.id, tool_outputs=outputs(waiting)
            ),
            timeout=30,
        )
    )
    texts = [event for event in rest if event.event == "thread.message.delta"]
    assert texts, [event.event for event in rest]
    for event in rest:
        if event.event == "thread.message.completed":
            assert event.message.status == res.MESSAGE_STATUS_COMPLETED
        if event.WhichOneof("data") == "run" and event.event.endswith(".completed"):
            assert event.run.status == res.RUN_STATUS_COMPLETED


async def check_steps_and_the_rest(
    stub: pb_grpc.RunsServiceStub, thread: str, assistant: str, run: str, dialect: str
) -> None:
    calls = {
        "ModifyRun": stub.ModifyRun(pb.ModifyRunRequest(thread_id=thread, run_id=run, metadata={"k": "v"})),
        "ListRunStepsPage": stub.ListRunStepsPage(pb.ListRunStepsPageRequest(thread_id=thread, run_id=run)),
    }
    for name, call in calls.items():
        if dialect in NO_STEPS:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == Code.UNIMPLEMENTED, name
            continue
        answer = await call
        if name == "ListRunStepsPage":
            assert answer.data
            step = await stub.GetRunStep(
                pb.GetRunStepRequest(thread_id=thread, run_id=run, step_id=answer.data[0].id), timeout=30
            )
            assert step.run_step.id == answer.data[0].id
            steps = [
                s
                async for page in stub.ListRunSteps(pb.ListRunStepsRequest(thread_id=thread, run_id=run))
                for s in page.run_steps
            ]
            assert len(steps) == len(answer.data)
    if dialect in NO_STEPS:
        return
    created = await stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=30)
    cancelled = await stub.CancelRun(pb.CancelRunRequest(thread_id=thread, run_id=created.run.id), timeout=30)
    assert cancelled.run.id == created.run.id


def check_what_went_up(requests: list[dict[str, Any]], dialect: str) -> None:
    assert requests
    for request in requests:
        headers, query = request["headers"], request["query"]
        if dialect in ("azure-foundry", "azure-openai"):
            assert "api-version" in query, request["path"]
            assert "openai-beta" not in headers
        else:
            assert "api-version" not in query
            assert headers.get("openai-beta") == "assistants=v2"
        if dialect == "azure-openai":
            assert headers["api-key"] == KEY
            assert "authorization" not in headers
        if dialect == "azure-foundry":
            assert headers["authorization"].startswith("Bearer ey")
        if dialect == "astra":
            assert headers["astra-api-token"] == ASTRA_TOKEN
        if dialect in ("openai", "astra", "open-assistant"):
            assert headers["authorization"] == f"Bearer {KEY}"
        assert headers["accept"] in ("application/json", "text/event-stream")


@pytest.mark.parametrize("dialect", ["azure-foundry", "azure-openai"])
async def test_a_version_the_server_does_not_serve_is_refused_before_any_rest_call(dialect: str) -> None:
    with emulated(dialect) as (emulator, _, admin):
        async with gateway(emulator.base_url, dialect) as channel:
            stub = v1_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetRun(v1.GetRunRequest(thread_id="thread_1", run_id="run_1"), timeout=30)
        assert api_requests(admin) == []
    assert refused.value.code() == Code.UNIMPLEMENTED
    assert "runs_gateway.assistants.v2.RunsService" in (refused.value.details() or "")


def v1_calls(thread: str, assistant: str, run: str, step: str) -> dict[str, Any]:
    return {
        "GetRun": v1.GetRunRequest(thread_id=thread, run_id=run),
        "ModifyRun": v1.ModifyRunRequest(thread_id=thread, run_id=run, metadata={"k": "v"}),
        "ListRunsPage": v1.ListRunsPageRequest(thread_id=thread),
        "ListRunStepsPage": v1.ListRunStepsPageRequest(thread_id=thread, run_id=run),
        "GetRunStep": v1.GetRunStepRequest(thread_id=thread, run_id=run, step_id=step),
    }


async def test_float_timestamps_are_read_on_every_rpc_of_both_versions() -> None:
    with emulated("open-assistant") as (emulator, rest, _):
        assistant, thread = start(rest)
        async with gateway(emulator.base_url, "open-assistant") as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            done = await drive(stub, thread, assistant)
            steps = await stub.ListRunStepsPage(pb.ListRunStepsPageRequest(thread_id=thread, run_id=done.id))
            assert done.completed_at >= done.created_at > 0
            old = v1_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            for name, request in v1_calls(thread, assistant, done.id, steps.data[0].id).items():
                answer = await getattr(old, name)(request, timeout=30)
                assert answer.ByteSize() > 0, name
            listed = [
                r async for page in old.ListRuns(v1.ListRunsRequest(thread_id=thread)) for r in page.runs
            ]
            assert listed[0].created_at == done.created_at
            created = await old.CreateRun(v1.CreateRunRequest(thread_id=thread, assistant_id=assistant))
            await old.CancelRun(v1.CancelRunRequest(thread_id=thread, run_id=created.run.id))
            watched = [c async for c in old.WatchRun(v1.WatchRunRequest(thread_id=thread, run_id=done.id))]
            assert watched[-1].run.completed_at == done.completed_at
        raw = rest.get(f"/threads/{thread}/runs/{done.id}").json()
    assert type(raw["created_at"]) is float  # as the server wrote it
    assert raw["created_at"] == done.created_at


async def test_a_base_url_query_is_kept_on_every_request() -> None:
    with emulated("azure-openai", api_version="2025-05-01") as (emulator, rest, admin):
        rest.params = httpx.QueryParams({"api-version": "2025-05-01"})
        assistant, thread = start(rest)
        base = f"{emulator.base_url}?api-version=2025-05-01&tenant=t1"
        async with gateway(base, "azure-openai") as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            done = await drive(stub, thread, assistant)
            runs = [
                r
                async for page in stub.ListRuns(pb.ListRunsRequest(thread_id=thread, limit=1))
                for r in page.runs
            ]
            assert [r.id for r in runs] == [done.id]
        sent = api_requests(admin)
    assert sent
    for request in sent:
        assert request["query"]["api-version"] == "2025-05-01"
        assert request["query"]["tenant"] == "t1"
        assert request["path"].startswith("/openai/threads/")


async def test_one_entra_token_serves_many_concurrent_calls() -> None:
    credential = Credential(delay=0.2)
    with emulated("azure-foundry") as (emulator, rest, _):
        assistant, thread = start(rest)
        async with gateway(emulator.base_url, "azure-foundry", credential) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            created = await stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant))
            calls = [
                stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=created.run.id)) for _ in range(50)
            ]
            answers = await asyncio.gather(*calls)
    assert {answer.run.id for answer in answers} == {created.run.id}
    assert credential.scopes == ["https://ai.azure.com/.default"]  # one token for all of them


async def test_a_token_near_its_expiry_is_refreshed_before_it_is_refused() -> None:
    credential = Credential(lifetime=120)  # inside the 300 s margin: every call wants a fresh one
    with emulated("azure-foundry") as (emulator, rest, _):
        assistant, thread = start(rest)
        async with gateway(emulator.base_url, "azure-foundry", credential) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            created = await stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant))
            await stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=created.run.id))
    assert len(credential.scopes) == 2


async def test_a_credential_that_fails_is_unauthenticated_with_a_clear_message() -> None:
    with emulated("azure-foundry") as (emulator, _, admin):
        async with gateway(emulator.base_url, "azure-foundry", Credential(fail=True)) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
        assert api_requests(admin) == []
    assert refused.value.code() == Code.UNAUTHENTICATED
    details = refused.value.details() or ""
    assert "could not get a Microsoft Entra ID token for https://ai.azure.com/.default" in details
    assert "ManagedIdentityCredential: no identity endpoint found" in details
    assert "second line" not in details


async def test_an_expired_token_is_the_servers_unauthenticated() -> None:
    with emulated("azure-foundry") as (emulator, _, _admin):
        async with gateway(emulator.base_url, "azure-foundry", Credential(lifetime=-10)) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert refused.value.code() == Code.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("dialect", "form"),
    [("open-assistant", forms.open_assistant_validation), ("astra", forms.fastapi_default)],
)
async def test_a_validation_error_of_a_fastapi_server_names_its_fields(dialect: str, form: Any) -> None:
    errors = [
        {"type": "missing", "loc": ("body", "assistant_id"), "msg": "Field required", "input": {}},
        {
            "type": "int_parsing",
            "loc": ("body", "tools", 0, "n"),
            "msg": "Input should be an integer",
            "input": "x",
        },
    ]
    status, body = form(errors)  # the server's own 422, as the emulator writes it for that dialect
    with emulated(dialect) as (emulator, _, admin):
        admin.post(
            "/faults", json={"path": "/runs$", "status": status, "body": json.dumps(body)}
        ).raise_for_status()
        async with gateway(emulator.base_url, dialect) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.CreateRun(pb.CreateRunRequest(thread_id="thread_1", assistant_id="asst_1"))
    assert refused.value.code() == Code.INVALID_ARGUMENT
    status_details = rpc_status.from_call(refused.value)
    assert status_details is not None
    [bad] = [d for d in status_details.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    violations = error_details_pb2.BadRequest()
    bad.Unpack(violations)
    assert [(v.field, v.description) for v in violations.field_violations] == [
        ("assistant_id", "Field required"),
        ("tools[0].n", "Input should be an integer"),
    ]


@pytest.mark.parametrize("dialect", ["open-assistant", "azure-openai"])
async def test_a_base_url_without_the_api_path_is_unimplemented(dialect: str) -> None:
    with emulated(dialect) as (emulator, _, _admin):
        async with gateway(emulator.root_url + "/elsewhere", dialect) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert refused.value.code() == Code.UNIMPLEMENTED, refused.value.details()
