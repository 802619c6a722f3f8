"""Start-up: from starting the gateway's process to its health service answering SERVING.

The gateway prints its "listening on" line just after it reports SERVING (it is started on port 0, so the
line is also how the port is learnt); a health Check on a new channel then confirms it. To say where the
time goes, the interpreter's own start (`python -c pass`) and the imports (`python -c "import
gateway.server"`) are timed apart.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

from bench.harness import is_serving, launch_gateway
from bench.sizes import Sizes


@dataclass(frozen=True)
class StartupResult:
    """Seconds per repetition: to health SERVING, to the announce line, and the parts measured apart."""

    serving_s: list[float]  # process start -> a health Check answered SERVING
    announced_s: list[float]  # process start -> "listening on" read (printed right after SERVING is set)
    interpreter_s: list[float]  # `python -c pass`
    imports_s: list[float]  # `python -c "import gateway.server"`, interpreter start included


def run(upstream: str, sizes: Sizes) -> StartupResult:
    """Start the gateway `sizes.startup_repetitions` times, each time until health answers SERVING."""
    serving, announced = [], []
    for _ in range(sizes.startup_repetitions):
        started = time.perf_counter()
        running = launch_gateway(upstream)
        try:
            announced.append(time.perf_counter() - started)
            if not is_serving(running.target):
                raise RuntimeError("the gateway announced its port but is not SERVING")
            serving.append(time.perf_counter() - started)
        finally:
            running.stop()
    interpreter = [_time_python("pass") for _ in range(sizes.startup_repetitions)]
    imports = [_time_python("import gateway.server") for _ in range(sizes.startup_repetitions)]
    return StartupResult(serving, announced, interpreter, imports)


def _time_python(code: str) -> float:
    started = time.perf_counter()
    subprocess.run((sys.executable, "-c", code), check=True)
    return time.perf_counter() - started
