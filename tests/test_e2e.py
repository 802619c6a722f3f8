"""End to end over real loopback sockets: a gRPC client → the gateway → the emulator (a real HTTP server).

The gateway runs its own `serve()` in a background thread; the clients are plain synchronous grpcio, as an
application would use. The emulator's admin API injects faults and shows which REST requests arrived.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from conftest import GatewayThread
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer
from examples import call
from gateway.config import Settings

Code = grpc.StatusCode
KEY = "sk-e2e-valid-key-0123456789"
FUNCTION_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Looks a thing up.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}},
    },
}


class Admin:
    """The emulator's REST side: its admin API, and assistants and threads to start from."""

    def __init__(self, base_url: str) -> None:
        root = base_url.removesuffix("/v1")
        self.rest = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
        )
        self.admin = httpx.Client(base_url=f"{root}/_emulator")

    def assistant(self, *tools: dict[str, Any]) -> str:
        response = self.rest.post(
            "/assistants", json={"model": "gpt-4", "instructions": "Help.", "tools": list(tools)}
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def thread(self) -> str:
        response = self.rest.post("/threads", json={})
        response.raise_for_status()
        return str(response.json()["id"])

    def fault(self, **fault: Any) -> None:
        self.admin.post("/faults", json=fault).raise_for_status()

    def requests(self, path_part: str = "") -> list[dict[str, Any]]:
        return [r for r in self.admin.get("/requests").json() if path_part in r["path"]]

    def clear(self) -> None:
        self.admin.delete("/faults").raise_for_status()
        self.admin.delete("/requests").raise_for_status()


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with EmulatorServer(EmulatorConfig(step_seconds=0.0, api_keys=frozenset({KEY}))) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def admin(emulator: str) -> Iterator[Admin]:
    admin = Admin(emulator)
    yield admin
    admin.rest.close()
    admin.admin.close()


@pytest.fixture(autouse=True)
def _clean(admin: Admin) -> Iterator[None]:
    admin.clear()
    yield
    admin.clear()


@pytest.fixture(scope="module")
def stub(emulator: str) -> Iterator[pb_grpc.RunsServiceStub]:
    settings = Settings(listen="127.0.0.1:0", base_url=emulator, api_key=KEY, timeout=10)
    with GatewayThread(settings) as target, grpc.insecure_channel(target) as channel:
        yield pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]


def get(stub: pb_grpc.RunsServiceStub, run: res.Run) -> res.Run:
    return stub.GetRun(pb.GetRunRequest(thread_id=run.thread_id, run_id=run.id), timeout=10).run


def test_every_rpc_through_requires_action_to_completed(stub: pb_grpc.RunsServiceStub, admin: Admin) -> None:
    assistant = admin.assistant(FUNCTION_TOOL, {"type": "code_interpreter"}, {"type": "retrieval"})
    thread = admin.thread()
    created = stub.CreateRun(
        pb.CreateRunRequest(thread_id=thread, assistant_id=assistant, metadata={"k": "v"})
    ).run
    assert (created.status, created.thread_id, created.assistant_id) == (
        res.RUN_STATUS_QUEUED,
        thread,
        assistant,
    )
    assert dict(created.metadata) == {"k": "v"}
    assert [t.type for t in created.tools] == [
        res.TOOL_TYPE_FUNCTION,
        res.TOOL_TYPE_CODE_INTERPRETER,
        res.TOOL_TYPE_RETRIEVAL,
    ]
    assert created.tools[0].function.parameters["properties"]["n"]["type"] == "integer"
    assert not created.HasField("usage")
    assert not created.HasField("completed_at")

    waiting = get(stub, created)
    assert waiting.status == res.RUN_STATUS_REQUIRES_ACTION
    [call] = waiting.required_action.submit_tool_outputs.tool_calls
    assert (call.type, call.function.name) == (res.TOOL_TYPE_FUNCTION, "lookup")
    assert set(json.loads(call.function.arguments)) == {"q", "n"}

    outputs = [pb.ToolOutput(tool_call_id=call.id, output="found it")]
    resumed = stub.SubmitToolOutputs(
        pb.SubmitToolOutputsRequest(thread_id=thread, run_id=created.id, tool_outputs=outputs)
    ).run
    assert resumed.status == res.RUN_STATUS_QUEUED
    assert not resumed.HasField("required_action")
    done = get(stub, created)
    assert done.status == res.RUN_STATUS_COMPLETED
    assert done.HasField("completed_at")
    assert done.usage.total_tokens > 0

    modified = stub.ModifyRun(
        pb.ModifyRunRequest(thread_id=thread, run_id=created.id, metadata={"stage": "done"})
    ).run
    assert dict(modified.metadata) == {"stage": "done"}

    page = stub.ListRunsPage(pb.ListRunsPageRequest(thread_id=thread))
    assert ([r.id for r in page.data], page.first_id, page.last_id, page.has_more) == (
        [created.id],
        created.id,
        created.id,
        False,
    )

    steps = [
        step
        for page in stub.ListRunSteps(
            pb.ListRunStepsRequest(thread_id=thread, run_id=created.id, order=pb.LIST_ORDER_ASC)
        )
        for step in page.run_steps
    ]
    kinds = {s.step_details.type for s in steps}
    assert kinds == {res.RUN_STEP_TYPE_TOOL_CALLS, res.RUN_STEP_TYPE_MESSAGE_CREATION}
    calls = [c for s in steps for c in s.step_details.tool_calls]
    by_kind = {c.type: c for c in calls}
    assert by_kind[res.TOOL_TYPE_FUNCTION].function.output == "found it"
    outputs_kinds = [o.type for o in by_kind[res.TOOL_TYPE_CODE_INTERPRETER].code_interpreter.outputs]
    assert outputs_kinds == [res.CODE_INTERPRETER_OUTPUT_TYPE_LOGS, res.CODE_INTERPRETER_OUTPUT_TYPE_IMAGE]
    assert by_kind[res.TOOL_TYPE_RETRIEVAL].WhichOneof("call") == "retrieval"
    assert all(s.run_id == created.id and s.status == res.RUN_STEP_STATUS_COMPLETED for s in steps)
    message_step = next(s for s in steps if s.type == res.RUN_STEP_TYPE_MESSAGE_CREATION)
    assert message_step.step_details.message_creation.message_id.startswith("msg_")

    one = stub.GetRunStep(
        pb.GetRunStepRequest(thread_id=thread, run_id=created.id, step_id=steps[0].id)
    ).run_step
    assert one == steps[0]
    step_page = stub.ListRunStepsPage(
        pb.ListRunStepsPageRequest(thread_id=thread, run_id=created.id, limit=1, order=pb.LIST_ORDER_ASC)
    )
    assert ([s.id for s in step_page.data], step_page.has_more) == ([steps[0].id], len(steps) > 1)


def test_cancel_run(stub: pb_grpc.RunsServiceStub, admin: Admin) -> None:
    thread, assistant = admin.thread(), admin.assistant(FUNCTION_TOOL)
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant)).run
    cancelling = stub.CancelRun(pb.CancelRunRequest(thread_id=thread, run_id=run.id)).run
    assert cancelling.status == res.RUN_STATUS_CANCELLING
    cancelled = get(stub, run)
    assert cancelled.status == res.RUN_STATUS_CANCELLED
    assert cancelled.HasField("cancelled_at")
    with pytest.raises(grpc.RpcError) as error:
        stub.CancelRun(pb.CancelRunRequest(thread_id=thread, run_id=run.id))
    assert error.value.code() == Code.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "Cannot cancel run with status 'cancelled'" in error.value.details()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def long_thread(stub: pb_grpc.RunsServiceStub, admin: Admin) -> tuple[str, list[str]]:
    """A thread with 260 runs, all created through the gateway; their ids in creation order."""
    thread, assistant = admin.thread(), admin.assistant()
    ids = [
        stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant)).run.id
        for _ in range(260)
    ]
    return thread, ids


def streamed(stub: pb_grpc.RunsServiceStub, **request: Any) -> list[str]:
    return [run.id for run in itertools.chain(*paged(stub, **request))]


def paged(stub: pb_grpc.RunsServiceStub, **request: Any) -> list[list[res.Run]]:
    """The runs of each message of a ListRuns stream."""
    return [list(m.runs) for m in stub.ListRuns(pb.ListRunsRequest(**request), timeout=30)]


@pytest.mark.parametrize("limit", [0, 7, 100])
def test_streamed_list_of_260_runs_in_both_orders(
    stub: pb_grpc.RunsServiceStub, admin: Admin, long_thread: tuple[str, list[str]], limit: int
) -> None:
    thread, ids = long_thread
    messages = paged(stub, thread_id=thread, limit=limit, order=pb.LIST_ORDER_ASC)
    page_size = limit or 100  # unset, the stream asks for the largest page
    assert [[run.id for run in page] for page in messages] == [
        ids[start : start + page_size] for start in range(0, len(ids), page_size)
    ]  # every run once, in order, a message per page
    pages = admin.requests(f"/threads/{thread}/runs")
    assert len(pages) == -(-len(ids) // page_size)
    assert all(p["query"].get("limit") == str(page_size) for p in pages)
    assert streamed(stub, thread_id=thread, limit=limit, order=pb.LIST_ORDER_DESC) == ids[::-1]
    assert streamed(stub, thread_id=thread, limit=limit) == ids[::-1]  # the REST default order is desc


def test_streamed_list_with_after_and_before(
    stub: pb_grpc.RunsServiceStub, long_thread: tuple[str, list[str]]
) -> None:
    thread, ids = long_thread
    asc, desc = pb.LIST_ORDER_ASC, pb.LIST_ORDER_DESC
    assert streamed(stub, thread_id=thread, limit=50, order=asc, after=ids[9]) == ids[10:]
    assert streamed(stub, thread_id=thread, limit=50, order=asc, before=ids[200]) == ids[:200]
    assert streamed(stub, thread_id=thread, limit=50, order=asc, after=ids[9], before=ids[200]) == ids[10:200]
    assert streamed(stub, thread_id=thread, limit=50, order=desc, after=ids[250]) == ids[:250][::-1]
    assert (
        streamed(stub, thread_id=thread, limit=50, order=desc, after=ids[250], before=ids[3])
        == ids[4:250][::-1]
    )


def test_a_mid_stream_error_arrives_after_the_items_sent(
    stub: pb_grpc.RunsServiceStub, admin: Admin, long_thread: tuple[str, list[str]]
) -> None:
    thread, ids = long_thread
    # The third page fails on its first try and on both retries.
    admin.fault(method="GET", path=f"/v1/threads/{thread}/runs$", skip=2, times=3, status=500)
    received: list[str] = []
    with pytest.raises(grpc.RpcError) as error:
        for message in stub.ListRuns(pb.ListRunsRequest(thread_id=thread, limit=10, order=pb.LIST_ORDER_ASC)):
            received.extend(run.id for run in message.runs)
    assert error.value.code() == Code.INTERNAL  # type: ignore[attr-defined]
    assert received == ids[:20]
    assert len(admin.requests(f"/threads/{thread}/runs")) == 5  # pages 1, 2, then page 3 three times


def test_a_page_that_fails_once_is_retried_without_losing_or_repeating_items(
    stub: pb_grpc.RunsServiceStub, admin: Admin, long_thread: tuple[str, list[str]]
) -> None:
    thread, ids = long_thread
    admin.fault(method="GET", path=f"/v1/threads/{thread}/runs$", skip=2, times=1, status=503)
    request = pb.ListRunsRequest(thread_id=thread, limit=50, order=pb.LIST_ORDER_ASC)
    assert [run.id for message in stub.ListRuns(request) for run in message.runs] == ids
    pages = -(-len(ids) // 50)
    assert len(admin.requests(f"/threads/{thread}/runs")) == pages + 1


def test_a_client_cancel_stops_the_stream_and_its_fetching(
    stub: pb_grpc.RunsServiceStub, admin: Admin, long_thread: tuple[str, list[str]]
) -> None:
    thread, ids = long_thread
    # The second page takes 3 s: the client cancels while it is in flight (milliseconds after it arrived).
    delay = 3.0
    admin.fault(method="GET", path=f"/v1/threads/{thread}/runs$", skip=1, times=1, delay=delay)
    call = stub.ListRuns(pb.ListRunsRequest(thread_id=thread, limit=10, order=pb.LIST_ORDER_ASC))
    first = next(call)
    assert [run.id for run in first.runs] == ids[:10]
    # The gateway fetches page 2 ahead: wait until the upstream has it (not a fixed time), then cancel.
    give_up = time.monotonic() + 30
    while len(admin.requests(f"/threads/{thread}/runs")) < 2 and time.monotonic() < give_up:
        time.sleep(0.02)
    assert len(admin.requests(f"/threads/{thread}/runs")) == 2, "page 2 was not fetched ahead"
    call.cancel()
    assert call.code() == Code.CANCELLED  # type: ignore[attr-defined]
    # No page after the cancel: a gateway that went on fetching would ask for page 3 once page 2 answered,
    # less than `delay` from now, so wait past that.
    time.sleep(delay + 0.5)
    assert len(admin.requests(f"/threads/{thread}/runs")) == 2


def test_a_deadline_shorter_than_a_slow_upstream(stub: pb_grpc.RunsServiceStub, admin: Admin) -> None:
    thread, assistant = admin.thread(), admin.assistant()
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant)).run
    admin.fault(method="GET", path=f"/runs/{run.id}$", delay=60)
    deadline = 0.5
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as error:
        stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=run.id), timeout=deadline)
    assert error.value.code() == Code.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    # Ended by the deadline, however late a loaded machine fires it: long before the upstream's 60 s.
    assert time.monotonic() - started < 10 * deadline


def test_upstream_404_400_401_arrive_as_mapped_codes(stub: pb_grpc.RunsServiceStub, admin: Admin) -> None:
    thread = admin.thread()
    with pytest.raises(grpc.RpcError) as error:
        stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id="run_doesnotexist"))
    assert (error.value.code(), error.value.details()) == (
        Code.NOT_FOUND,
        "No run found with id 'run_doesnotexist'.",
    )  # type: ignore[attr-defined]

    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=admin.assistant())).run
    with pytest.raises(grpc.RpcError) as error:
        stub.SubmitToolOutputs(
            pb.SubmitToolOutputsRequest(
                thread_id=thread,
                run_id=run.id,
                tool_outputs=[pb.ToolOutput(tool_call_id="call_x", output="1")],
            )
        )
    assert error.value.code() == Code.INVALID_ARGUMENT  # type: ignore[attr-defined]

    wrong_key = "sk-wrong-key-abcdefghijklmnop"
    with pytest.raises(grpc.RpcError) as error:
        stub.GetRun(
            pb.GetRunRequest(thread_id=thread, run_id=run.id),
            metadata=(("authorization", f"Bearer {wrong_key}"),),
        )
    assert error.value.code() == Code.UNAUTHENTICATED  # type: ignore[attr-defined]
    assert wrong_key not in error.value.details()  # type: ignore[attr-defined]
    assert admin.requests(f"/runs/{run.id}")[-1]["headers"]["authorization"] == f"Bearer {wrong_key}"


@pytest.mark.parametrize("bad", ["../x", "thread_1/runs", "%2E%2E", "a?after=b", ""])
def test_a_path_unsafe_id_is_refused_and_never_reaches_the_upstream(
    stub: pb_grpc.RunsServiceStub, admin: Admin, bad: str
) -> None:
    with pytest.raises(grpc.RpcError) as error:
        stub.GetRun(pb.GetRunRequest(thread_id=bad, run_id="run_1"))
    assert error.value.code() == Code.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert admin.requests() == []


def test_parameters_json_reaches_the_upstream_exactly_as_written(
    stub: pb_grpc.RunsServiceStub, admin: Admin
) -> None:
    # Key order, an integer beyond 2^53, 1.0 and the client's white space: all of it, byte for byte.
    written = (
        '{"type": "object", "required": ["q"],\n  "properties": {"q": {"type": "string"},'
        ' "n": {"type": "integer", "maximum": 18446744073709551617, "multipleOf": 1.0}}}'
    )
    function = res.FunctionDefinition(name="lookup", parameters_json=written)
    tool = res.Tool(type=res.TOOL_TYPE_FUNCTION, function=function)
    thread = admin.thread()
    run = stub.CreateRun(
        pb.CreateRunRequest(thread_id=thread, assistant_id=admin.assistant(), tools=[tool])
    ).run
    [sent] = admin.requests(f"/threads/{thread}/runs")
    assert f'"parameters":{written}' in sent["body"]
    # The run comes back with the same schema: as JSON text in the upstream's order, and as a Struct.
    [echoed] = get(stub, run).tools
    assert json.loads(echoed.function.parameters_json) == json.loads(written)
    assert list(json.loads(echoed.function.parameters_json)) == ["type", "required", "properties"]
    assert '"maximum":18446744073709551617,"multipleOf":1.0' in echoed.function.parameters_json
    assert echoed.function.parameters["type"] == "object"


def test_parameters_json_and_parameters_together_are_refused(
    stub: pb_grpc.RunsServiceStub, admin: Admin
) -> None:
    function = res.FunctionDefinition(name="lookup", parameters={"type": "object"}, parameters_json="{}")
    request = pb.CreateRunRequest(
        thread_id="thread_1",
        assistant_id="asst_1",
        tools=[res.Tool(type=res.TOOL_TYPE_FUNCTION, function=function)],
    )
    with pytest.raises(grpc.RpcError) as error:
        stub.CreateRun(request)
    assert error.value.code() == Code.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert error.value.details() == "tools[0].function: set `parameters` or `parameters_json`, not both"  # type: ignore[attr-defined]
    request.tools[0].function.ClearField("parameters")
    request.tools[0].function.parameters_json = "[1, 2]"
    with pytest.raises(grpc.RpcError) as error:
        stub.CreateRun(request)
    assert error.value.details() == "tools[0].function.parameters_json: must be JSON text of an object"  # type: ignore[attr-defined]
    assert admin.requests() == []


def test_a_spec_valid_answer_with_metadata_of_any_json_type_reaches_the_client(
    stub: pb_grpc.RunsServiceStub, admin: Admin
) -> None:
    # The v1 description types metadata as a free-form object: an upstream may answer numbers and booleans.
    thread = admin.thread()
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=admin.assistant())).run
    answer = admin.rest.get(f"/threads/{thread}/runs/{run.id}").json()
    answer["metadata"] = {"count": 3, "ok": True, "ratio": 0.5, "tags": ["a"], "name": "x", "none": None}
    admin.fault(path=f"/runs/{run.id}$", method="GET", status=200, body=json.dumps(answer))
    got = get(stub, run)
    assert dict(got.metadata) == {
        "count": "3",
        "ok": "true",
        "ratio": "0.5",
        "tags": '["a"]',
        "name": "x",
        "none": "null",
    }


def test_a_conversion_error_names_the_field_path(stub: pb_grpc.RunsServiceStub, admin: Admin) -> None:
    thread = admin.thread()
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=admin.assistant())).run
    answer = admin.rest.get(f"/threads/{thread}/runs/{run.id}").json()
    answer["usage"] = {"prompt_tokens": "many"}
    admin.fault(path=f"/runs/{run.id}$", method="GET", status=200, body=json.dumps(answer))
    with pytest.raises(grpc.RpcError) as error:
        get(stub, run)
    assert error.value.code() == Code.UNAVAILABLE  # type: ignore[attr-defined]
    assert error.value.details() == (  # type: ignore[attr-defined]
        "upstream object does not match the API: "
        "run.usage.prompt_tokens: expected an integer, got a JSON string"
    )


@pytest.fixture(scope="module")
def v1_retired() -> Iterator[str]:
    """An emulator that answers v1 as OpenAI has since December 2024."""
    config = EmulatorConfig(step_seconds=0.0, api_keys=frozenset({KEY}), versions=frozenset({"v2"}))
    with EmulatorServer(config) as server:
        yield server.base_url


@pytest.mark.parametrize("where", ["v1-retired", "base-url-without-v1", "base-url-elsewhere"])
def test_an_upstream_that_does_not_serve_v1_says_so(v1_retired: str, emulator: str, where: str) -> None:
    base_url = {
        "v1-retired": v1_retired,
        "base-url-without-v1": emulator.removesuffix("/v1"),
        "base-url-elsewhere": emulator.removesuffix("/v1") + "/api/v1",
    }[where]
    settings = Settings(listen="127.0.0.1:0", base_url=base_url, api_key=KEY, timeout=10)
    with GatewayThread(settings) as target, grpc.insecure_channel(target) as channel:
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as error:
            stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), timeout=10)
        with pytest.raises(grpc.RpcError) as listed:
            list(stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"), timeout=10))
    for failed in (error.value, listed.value):
        assert failed.code() == Code.UNIMPLEMENTED  # type: ignore[attr-defined]
        details = failed.details()  # type: ignore[attr-defined]
        if where == "v1-retired":  # a server of v2 only: the message says to call the v2 service
            assert details.startswith("the upstream does not serve `OpenAI-Beta: assistants=v1`")
            assert "(runs_gateway.assistants.v2.RunsService)" in details
        else:
            assert details.startswith("the upstream does not serve this API at the configured base URL")
        expected = (
            "The v1 Assistants API has been deprecated" if where == "v1-retired" else "Invalid URL (GET /"
        )
        assert expected in details


def test_the_json_command_line_client_calls_unary_and_streaming_rpcs(
    emulator: str, admin: Admin, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(listen="127.0.0.1:0", base_url=emulator, api_key=KEY, timeout=10)
    thread, assistant = admin.thread(), admin.assistant()
    with GatewayThread(settings) as target:
        created = json.dumps({"thread_id": thread, "assistant_id": assistant, "metadata": {"via": "cli"}})
        call.main(["CreateRun", created, "--target", target])
        run = json.loads(capsys.readouterr().out)["run"]
        assert (run["thread_id"], run["metadata"]) == (thread, {"via": "cli"})
        call.main(
            [
                "ListRuns",
                json.dumps({"thread_id": thread}),
                "--target",
                target,
                "-H",
                f"authorization:Bearer {KEY}",
            ]
        )
        [page] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [listed["id"] for listed in page["runs"]] == [run["id"]]
        with pytest.raises(SystemExit) as exited:
            call.main(["GetRun", json.dumps({"thread_id": thread, "run_id": "run_none"}), "--target", target])
        assert exited.value.code == "NOT_FOUND: No run found with id 'run_none'."
        with pytest.raises(SystemExit) as exited:
            call.main(["GetRun", '{"thread": 1}', "--target", target])
        assert str(exited.value.code).startswith("the request is not a GetRunRequest in JSON")
        # A streamed run (v2, the default): a line per event, the last one the run at rest.
        call.main(
            [
                "CreateRunStream",
                json.dumps({"thread_id": thread, "assistant_id": assistant}),
                "--target",
                target,
            ]
        )
        events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert events[0]["event"] == "thread.run.created"
        assert (events[-1]["event"], events[-1]["run"]["status"]) == (
            "thread.run.completed",
            "RUN_STATUS_COMPLETED",
        )
        # v1 on request; v1 has no streamed runs.
        call.main(
            [
                "GetRun",
                json.dumps({"thread_id": thread, "run_id": run["id"]}),
                "--target",
                target,
                "--api",
                "v1",
            ]
        )
        assert "temperature" not in json.loads(capsys.readouterr().out)["run"]
        with pytest.raises(SystemExit):
            call.main(["CreateRunStream", "{}", "--target", target, "--api", "v1"])
