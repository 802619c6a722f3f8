"""Benchmarks of runs-gateway (issue 4): the emulator and the gateway as separate processes on loopback,
measured side by side with a direct httpx client and the openai SDK. `make bench` / `make bench-quick`.

- `harness`: the processes (start, readiness, stop), seeding the emulator, what /proc says of a process.
- `measure`: timing a block (wall and CPU of every process), RSS sampling, the clients' turns.
- `unary`, `streaming`, `memory`, `startup`: the four scenarios, each a function of its `sizes.Sizes`
  returning plain data.
- `suite`: runs them all in one go (the CLI and the smoke test share it).
- `stats`, `report`, `plot`: medians, spreads and ratios; the printed report and README table; the PNG.
- `profiling`: where the gateway's time goes, under pyinstrument (`python -m bench.profiling`).
"""
