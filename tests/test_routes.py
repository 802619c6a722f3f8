"""The route table and the RunsService descriptor agree both ways, and every request field is used."""

from __future__ import annotations

import pytest
from runs_gateway.assistants.v1 import runs_service_pb2

from gateway.core import BINDINGS, SERVICE
from gateway.routes import ROUTES, WATCHES

METHODS = {m.name: m for m in SERVICE.methods}


def test_every_rpc_has_a_route_or_a_watch_and_every_route_an_rpc() -> None:
    assert not set(ROUTES) & set(WATCHES)
    assert set(ROUTES) | set(WATCHES) == set(METHODS)
    assert set(BINDINGS) == set(ROUTES)


def test_a_watch_polls_a_get_route_and_lists_its_parts() -> None:
    watch = WATCHES["WatchRun"]
    assert (watch.poll.method, watch.poll.path) == ("GET", "/threads/{thread_id}/runs/{run_id}")
    assert (watch.parts.method, watch.parts.path) == ("GET", "/threads/{thread_id}/runs/{run_id}/steps")
    request_fields = {f.name for f in METHODS["WatchRun"].input_type.fields}
    assert request_fields == {*watch.poll.path_params, "include_steps"}
    output = METHODS["WatchRun"].output_type
    assert METHODS["WatchRun"].server_streaming
    assert [f.name for f in output.oneofs_by_name["change"].fields] == ["run", "run_step"]


@pytest.mark.parametrize("rpc", sorted(ROUTES))
def test_route_uses_every_request_field_exactly_once(rpc: str) -> None:
    route = ROUTES[rpc]
    request_fields = [f.name for f in METHODS[rpc].input_type.fields]
    used = [*route.path_params, *route.query, *route.body]
    assert sorted(used) == sorted(request_fields)
    assert set(route.always) <= set(route.body)


@pytest.mark.parametrize("rpc", sorted(ROUTES))
def test_route_result_names_the_response_field(rpc: str) -> None:
    route, method = ROUTES[rpc], METHODS[rpc]
    output = method.output_type
    if route.result is None:
        # A page: the response mirrors the REST list object.
        assert {f.name for f in output.fields} == {"data", "first_id", "last_id", "has_more"}
        assert not method.server_streaming
    else:
        assert [f.name for f in output.fields] == [route.result]


@pytest.mark.parametrize(
    ("rpc", "method", "path"),
    [
        ("CreateRun", "POST", "/threads/{thread_id}/runs"),
        ("GetRun", "GET", "/threads/{thread_id}/runs/{run_id}"),
        ("ModifyRun", "POST", "/threads/{thread_id}/runs/{run_id}"),
        ("ListRuns", "GET", "/threads/{thread_id}/runs"),
        ("ListRunsPage", "GET", "/threads/{thread_id}/runs"),
        ("CancelRun", "POST", "/threads/{thread_id}/runs/{run_id}/cancel"),
        ("SubmitToolOutputs", "POST", "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"),
        ("GetRunStep", "GET", "/threads/{thread_id}/runs/{run_id}/steps/{step_id}"),
        ("ListRunSteps", "GET", "/threads/{thread_id}/runs/{run_id}/steps"),
        ("ListRunStepsPage", "GET", "/threads/{thread_id}/runs/{run_id}/steps"),
    ],
)
def test_rest_endpoint_of_each_rpc(rpc: str, method: str, path: str) -> None:
    assert (ROUTES[rpc].method, ROUTES[rpc].path) == (method, path)


def test_list_rpcs_stream_and_page_rpcs_do_not() -> None:
    streaming = {name for name, m in METHODS.items() if m.server_streaming}
    assert streaming == {"ListRuns", "ListRunSteps", "WatchRun"}
    assert not any(m.client_streaming for m in METHODS.values())
    for message, field, item in (
        (runs_service_pb2.ListRunsResponse, "runs", "Run"),
        (runs_service_pb2.ListRunStepsResponse, "run_steps", "RunStep"),
    ):
        # A message per page: the stream's items come in the repeated field its route names.
        assert message.DESCRIPTOR.fields_by_name[field].message_type.name == item
        assert message.DESCRIPTOR.fields_by_name[field].is_repeated
        assert [f.name for f in message.DESCRIPTOR.fields] == [field]


def test_streams_ask_for_the_largest_page_unless_the_client_chose() -> None:
    assert dict(ROUTES["ListRuns"].defaults) == dict(ROUTES["ListRunSteps"].defaults) == {"limit": 100}
    assert ROUTES["ListRunsPage"].defaults == ROUTES["ListRunStepsPage"].defaults == ()
