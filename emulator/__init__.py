"""An in-memory server of the OpenAI Assistants v1 and v2 REST APIs (assistants, threads, runs, steps).

The default upstream of the demo, the end-to-end tests and the benchmarks: `store` holds the model and the
run lifecycle, `app` the HTTP side (Starlette) with an admin API for fault injection, `server` serves it with
uvicorn.
"""

from emulator.app import EmulatorConfig, create_app
from emulator.server import EmulatorServer

__all__ = ["EmulatorConfig", "EmulatorServer", "create_app"]
