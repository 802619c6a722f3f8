"""Benchmarks of runs-gateway: the emulator and the gateway as separate processes on
loopback, measured side by side with a direct httpx client and the openai SDKs, in Python and in Node.
`make bench` / `make bench-quick`.

- `harness`: the processes (start, readiness, stop), driving the emulator (seeding, its added latency),
  what /proc says of a process.
- `measure`: timing a block (wall and CPU of every process), RSS sampling, the clients' turns.
- `listing`: the list every client must read, and the check of what each pass read.
- `readers`: the Python clients that read a whole list; `nodeclient`: the Node ones (bench/node/list.js,
  a Node project of its own, run as one worker process).
- `unary`, `streaming`, `slow_upstream`, `memory`, `startup`, `watch`, `events` (streamed v2 runs, event by
  event): the scenarios, each a function of its `sizes.Sizes` returning plain data; `floor`: the limits
  measured beside the gateway, each a bare grpc.aio server process (gRPC alone with prebuilt messages, for
  GetRun, a list and a streamed run; a lean server doing the same REST call with aiohttp, for GetRun and a
  streamed run).
- `suite`: runs them all in one go (the CLI and the smoke test share it).
- `stats`, `report`, `plot`: medians, spreads and ratios; the printed report and README table; the PNG.
- `profiling`: where the gateway's time goes, under pyinstrument (`python -m bench.profiling`).
"""
