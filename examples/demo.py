"""The demo: the emulator and the gateway as separate processes on loopback, and a client driving a run.

Run it with `make demo`. It starts the REST emulator (the upstream), starts `runs-gateway` in front of it,
creates an assistant with a function tool and a thread over REST (the gateway fronts runs only), then, over
gRPC only: creates a run and follows it with WatchRun, printing each change of its status and of its steps
as it arrives, submitting the tool outputs when the run requires action; tags it with metadata, streams the
thread's runs and the run's steps, and reads one step. Exits 0 only if all of it worked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager

import grpc
import httpx
from google.protobuf import json_format
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from examples.client import all_steps, drive_run

API_KEY = "sk-demo-0123456789abcdef"
WATCH_INTERVAL = 0.1
"""Seconds between the gateway's polls of a watched run (its default is 1 s, the SDKs' own): the emulator's
runs move every 0.05 s, and a demo should not wait."""
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city"],
        },
    },
}


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """Run a child process for the duration of the block, then stop it (SIGTERM, then SIGKILL)."""
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def start_emulator(stack: ExitStack) -> str:
    port = free_port()
    stack.enter_context(
        process(
            sys.executable,
            "-m",
            "emulator",
            "--port",
            str(port),
            "--step-seconds",
            "0.05",
            "--api-key",
            API_KEY,
        )
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    wait_until_up(base_url)
    return base_url


def wait_until_up(base_url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(f"{base_url}/assistants/none", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"the emulator did not come up at {base_url}")


def start_gateway(stack: ExitStack, base_url: str) -> str:
    gateway = stack.enter_context(
        process(
            sys.executable,
            "-m",
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            base_url,
            "--log-level",
            "WARNING",
            "--watch-interval",
            str(WATCH_INTERVAL),
            env={"OPENAI_API_KEY": API_KEY},
        )
    )
    assert gateway.stdout is not None
    line = gateway.stdout.readline()  # "runs-gateway listening on 127.0.0.1:PORT"
    if "listening on" not in line:
        raise SystemExit(f"the gateway did not start: {line!r}")
    return line.rsplit(" ", 1)[-1].strip()


def create_assistant_and_thread(base_url: str) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "assistants=v1"}
    with httpx.Client(base_url=base_url, headers=headers) as rest:
        assistant = rest.post(
            "/assistants", json={"model": "gpt-4", "name": "Weather bot", "tools": [WEATHER_TOOL]}
        )
        thread = rest.post("/threads", json={})
        assistant.raise_for_status()
        thread.raise_for_status()
        return assistant.json()["id"], thread.json()["id"]


def answer(call: res.FunctionCall) -> str:
    arguments = json.loads(call.arguments)
    print(f"  tool call  {call.name}({arguments}) -> answering")
    return json.dumps({"city": arguments.get("city"), "forecast": "sunny", "celsius": 21})


def show(run: res.Run) -> None:
    print(f"  run  {run.id}  {res.RunStatus.Name(run.status)}")


def show_step(step: res.RunStep) -> None:
    kind, status = res.RunStepType.Name(step.type), res.RunStepStatus.Name(step.status)
    print(f"  step {step.id}  {kind}  {status}")


def main() -> None:
    with ExitStack() as stack:
        print("starting the REST emulator ...", flush=True)
        base_url = start_emulator(stack)
        print(f"emulator   {base_url}")
        print("starting runs-gateway in front of it ...", flush=True)
        target = start_gateway(stack, base_url)
        print(f"gateway    {target} (gRPC) -> {base_url}, polling watched runs every {WATCH_INTERVAL} s")
        assistant_id, thread_id = create_assistant_and_thread(base_url)
        print(f"assistant  {assistant_id}\nthread     {thread_id}\n")
        with grpc.insecure_channel(target) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            print("CreateRun, then WatchRun until the run ends (SubmitToolOutputs when it requires action):")
            run = drive_run(stub, thread_id, assistant_id, answer, on_status=show, on_step=show_step)
            if run.status != res.RUN_STATUS_COMPLETED:
                raise SystemExit(f"the run ended {res.RunStatus.Name(run.status)}")
            tagged = stub.ModifyRun(
                pb.ModifyRunRequest(thread_id=thread_id, run_id=run.id, metadata={"demo": "yes"})
            )
            print(f"\nModifyRun  metadata={dict(tagged.run.metadata)}")
            for _ in range(2):  # two more runs, so the list has something to page through
                drive_run(stub, thread_id, assistant_id, answer)
            print("\nListRuns (streamed a message per page, page size 2, oldest first):")
            request = pb.ListRunsRequest(thread_id=thread_id, limit=2, order=pb.LIST_ORDER_ASC)
            for number, page in enumerate(stub.ListRuns(request, timeout=60), 1):
                print(f"  message {number}:")
                for listed in page.runs:
                    status = res.RunStatus.Name(listed.status)
                    print(f"    {listed.id}  {status}  created_at={listed.created_at}")
            print(f"\nListRunSteps of {run.id}:")
            steps = list(all_steps(stub, thread_id, run.id))
            for step in steps:
                print(
                    f"  {step.id}  {res.RunStepType.Name(step.type)}  {res.RunStepStatus.Name(step.status)}"
                )
            one = stub.GetRunStep(
                pb.GetRunStepRequest(thread_id=thread_id, run_id=run.id, step_id=steps[0].id)
            )
            details = json_format.MessageToDict(one.run_step.step_details, preserving_proto_field_name=True)
            print(f"\nGetRunStep {steps[0].id}: {json.dumps(details)}")
    print("\ndemo finished: every call went through the gateway")


if __name__ == "__main__":
    main()
