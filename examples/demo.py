"""The demo: the emulator and the gateway as separate processes on loopback, and a client driving a run.

Run it with `make demo`. It starts the REST emulator (the upstream), starts `runs-gateway` in front of it,
creates an assistant with a function tool and a thread over REST (the gateway fronts runs only), then, over
gRPC only: creates a run and follows it with WatchRun, printing each change of its status and of its steps
as it arrives, submitting the tool outputs when the run requires action; tags it with metadata, streams the
thread's runs and the run's steps, and reads one step. Then, on Assistants v2 (its own assistant and thread),
streams a run's events with CreateRunStream, printing each as it arrives and the reply's text as it is
written, through requires_action and SubmitToolOutputsStream to the run's end. Exits 0 only if all of it
worked.
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
from runs_gateway.assistants.v2 import resources_pb2 as res_v2
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_v2_grpc

from examples.client import Event, all_steps, delta_text, drive_run, stream_run

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


def create_assistant_and_thread(base_url: str, version: str = "v1") -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": f"assistants={version}"}
    with httpx.Client(base_url=base_url, headers=headers) as rest:
        assistant = rest.post(
            "/assistants", json={"model": "gpt-4", "name": "Weather bot", "tools": [WEATHER_TOOL]}
        )
        thread = rest.post("/threads", json={})
        assistant.raise_for_status()
        thread.raise_for_status()
        return assistant.json()["id"], thread.json()["id"]


def answer(call: res.FunctionCall | res_v2.FunctionCall) -> str:
    arguments = json.loads(call.arguments)
    print(f"  tool call  {call.name}({arguments}) -> answering")
    return json.dumps({"city": arguments.get("city"), "forecast": "sunny", "celsius": 21})


def show(run: res.Run) -> None:
    print(f"  run  {run.id}  {res.RunStatus.Name(run.status)}")


def show_step(step: res.RunStep) -> None:
    kind, status = res.RunStepType.Name(step.type), res.RunStepStatus.Name(step.status)
    print(f"  step {step.id}  {kind}  {status}")


class ShowEvents:
    """Prints each event of a streamed run as it arrives, its name on a line of its own; a message's deltas
    share one line, on which their text is written as it comes (the reply appears as it is written)."""

    def __init__(self) -> None:
        self.deltas = 0

    def __call__(self, event: Event) -> None:
        if event.WhichOneof("data") == "message_delta":
            print(
                f"  {event.event}: " if self.deltas == 0 else "",
                delta_text(event),
                sep="",
                end="",
                flush=True,
            )
            self.deltas += 1
            return
        if self.deltas > 0:
            print(f"  ({self.deltas} deltas)")
            self.deltas = 0
        print(f"  {event.event}", flush=True)


def show_streamed_run(channel: grpc.Channel, base_url: str) -> None:
    """A run on v2, its events streamed: CreateRunStream, then SubmitToolOutputsStream when it requires
    action."""
    assistant_id, thread_id = create_assistant_and_thread(base_url, "v2")
    print(f"\nAssistants v2: assistant {assistant_id}, thread {thread_id}")
    print(
        "CreateRunStream, then SubmitToolOutputsStream when the run requires action, each event as it comes:"
    )
    stub = pb_v2_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    run = stream_run(stub, thread_id, assistant_id, answer, on_event=ShowEvents())
    print(f"  run  {run.id}  {res_v2.RunStatus.Name(run.status)}")
    if run.status != res_v2.RUN_STATUS_COMPLETED:
        raise SystemExit(f"the streamed run ended {res_v2.RunStatus.Name(run.status)}")


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
            print("\nTwo more runs on the thread, driven the same way, so that ListRuns has pages to stream:")
            for _ in range(2):
                extra = drive_run(stub, thread_id, assistant_id, answer)
                print(f"  run  {extra.id}  {res.RunStatus.Name(extra.status)}")
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
            show_streamed_run(channel, base_url)
    print("\ndemo finished: every call went through the gateway")


if __name__ == "__main__":
    main()
