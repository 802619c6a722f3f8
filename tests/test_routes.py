"""The route tables and each version's RunsService descriptor agree both ways, and every request field is
used; v2 differs from v1 only where its REST API does."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import MethodDescriptor
from runs_gateway.assistants.v1 import runs_service_pb2
from runs_gateway.assistants.v2 import runs_service_pb2 as v2_pb

from gateway.core import BINDINGS, method_path, service
from gateway.routes import APIS, EVENTS_V2, ROUTES, ROUTES_V2, V1, V2, Api, query_field

ROUTED = [(api, rpc) for api in APIS for rpc in sorted(api.routes)]
ROUTED_IDS = [f"{api.version}-{rpc}" for api, rpc in ROUTED]


def methods(api: Api) -> dict[str, MethodDescriptor]:
    return {m.name: m for m in service(api).methods}


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.version)
def test_every_rpc_has_a_route_or_a_watch_and_every_route_an_rpc(api: Api) -> None:
    assert not set(api.routes) & set(api.watches)
    assert set(api.routes) | set(api.watches) == set(methods(api))
    assert {path for path in BINDINGS if path.startswith(f"/{api.service}/")} == {
        method_path(api, name) for name in methods(api)
    }


def test_v2_serves_every_rpc_of_v1_and_its_streamed_runs() -> None:
    assert set(methods(V2)) == set(methods(V1)) | {"CreateRunStream", "SubmitToolOutputsStream"}
    assert (V1.beta, V2.beta) == ("assistants=v1", "assistants=v2")
    for rpc in ROUTES:
        assert (ROUTES_V2[rpc].method, ROUTES_V2[rpc].path) == (ROUTES[rpc].method, ROUTES[rpc].path)


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.version)
def test_a_watch_polls_a_get_route_and_lists_its_parts(api: Api) -> None:
    watch = api.watches["WatchRun"]
    assert (watch.poll.method, watch.poll.path) == ("GET", "/threads/{thread_id}/runs/{run_id}")
    assert (watch.parts.method, watch.parts.path) == ("GET", "/threads/{thread_id}/runs/{run_id}/steps")
    method = methods(api)["WatchRun"]
    assert {f.name for f in method.input_type.fields} == {*watch.poll.path_params, "include_steps"}
    assert method.server_streaming
    assert [f.name for f in method.output_type.oneofs_by_name["change"].fields] == ["run", "run_step"]


@pytest.mark.parametrize(("api", "rpc"), ROUTED, ids=ROUTED_IDS)
def test_route_uses_every_request_field_exactly_once(api: Api, rpc: str) -> None:
    route = api.routes[rpc]
    request_fields = [f.name for f in methods(api)[rpc].input_type.fields]
    used = [*route.path_params, *map(query_field, route.query), *route.body]
    assert sorted(used) == sorted(request_fields)
    assert {path.split(".")[0] for path in route.always} <= set(route.body)
    for path in route.always:  # a nested one names a field at each step, the last a list or a map
        message, *parents, last = [methods(api)[rpc].input_type, *path.split(".")]
        for name in parents:
            message = message.fields_by_name[name].message_type
        assert message.fields_by_name[last].is_repeated, path
    for name in route.query:  # `include[]`: one parameter per value of a repeated field
        assert (
            name.endswith("[]") == methods(api)[rpc].input_type.fields_by_name[query_field(name)].is_repeated
        )


@pytest.mark.parametrize(("api", "rpc"), ROUTED, ids=ROUTED_IDS)
def test_route_result_names_the_response_field(api: Api, rpc: str) -> None:
    route, method = api.routes[rpc], methods(api)[rpc]
    output = method.output_type
    if route.events:
        # A streamed run: a message per server-sent event, its name and the field its data fills.
        assert method.server_streaming
        assert route.result is None
        assert output.fields[0].name == "event"
        assert {f.name for f in output.oneofs_by_name["data"].fields} == {*api.events.values(), "data_json"}
    elif route.result is None:
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
        ("CreateRunStream", "POST", "/threads/{thread_id}/runs"),
        ("SubmitToolOutputsStream", "POST", "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"),
    ],
)
def test_rest_endpoint_of_each_rpc(rpc: str, method: str, path: str) -> None:
    assert (ROUTES_V2[rpc].method, ROUTES_V2[rpc].path) == (method, path)
    if rpc in ROUTES:
        assert (ROUTES[rpc].method, ROUTES[rpc].path) == (method, path)


def test_only_the_streamed_runs_answer_events_and_they_carry_what_their_unary_twin_sends() -> None:
    assert {rpc for rpc, route in ROUTES_V2.items() if route.events} == {
        "CreateRunStream",
        "SubmitToolOutputsStream",
    }
    assert not any(route.events for route in ROUTES.values())
    for streamed, unary in (
        ("CreateRunStream", "CreateRun"),
        ("SubmitToolOutputsStream", "SubmitToolOutputs"),
    ):
        assert ROUTES_V2[streamed].body == ROUTES_V2[unary].body
        assert ROUTES_V2[streamed].query == ROUTES_V2[unary].query
        # Same field names and numbers: a unary request's bytes parse as its streamed twin's.
        fields = {(f.name, f.number) for f in methods(V2)[unary].input_type.fields}
        assert {(f.name, f.number) for f in methods(V2)[streamed].input_type.fields} == fields


def test_every_event_of_the_v2_description_has_its_field() -> None:
    # RunStreamEvent (10), RunStepStreamEvent (7) and MessageStreamEvent (5) of the v2 description.
    assert len(EVENTS_V2) == 22
    assert EVENTS_V2["thread.run.requires_action"] == "run"
    assert EVENTS_V2["thread.run.step.delta"] == "run_step_delta"
    assert EVENTS_V2["thread.message.delta"] == "message_delta"
    output = v2_pb.CreateRunStreamResponse.DESCRIPTOR
    assert set(EVENTS_V2.values()) <= set(output.fields_by_name)


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.version)
def test_list_rpcs_stream_and_page_rpcs_do_not(api: Api) -> None:
    streaming = {name for name, m in methods(api).items() if m.server_streaming}
    events = {name for name, route in api.routes.items() if route.events}
    assert streaming == {"ListRuns", "ListRunSteps", "WatchRun", *events}
    assert not any(m.client_streaming for m in methods(api).values())
    pb = runs_service_pb2 if api is V1 else v2_pb
    for message, field, item in (
        (pb.ListRunsResponse, "runs", "Run"),
        (pb.ListRunStepsResponse, "run_steps", "RunStep"),
    ):
        # A message per page: the stream's items come in the repeated field its route names.
        assert message.DESCRIPTOR.fields_by_name[field].message_type.name == item
        assert message.DESCRIPTOR.fields_by_name[field].is_repeated
        assert [f.name for f in message.DESCRIPTOR.fields] == [field]


@pytest.mark.parametrize("api", APIS, ids=lambda api: api.version)
def test_streams_ask_for_the_largest_page_unless_the_client_chose(api: Api) -> None:
    routes = api.routes
    assert dict(routes["ListRuns"].defaults) == dict(routes["ListRunSteps"].defaults) == {"limit": 100}
    assert routes["ListRunsPage"].defaults == routes["ListRunStepsPage"].defaults == ()
