"""`python -m bench [--quick]`: run every benchmark, print the report (medians and spread, the ratios, each
target met or missed) and the README's results table, and write the results as JSON and the
latency-vs-concurrency plot.

The full run writes the committed plot, bench/latency_vs_concurrency.png; a quick run writes its plot, and
every run its JSON, under bench/results/ (git-ignored), unless told where.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench import report, suite
from bench.sizes import FULL, QUICK

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m bench` command."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes (< 2 minutes)")
    parser.add_argument("--json", type=Path, help="where to write the results (default: bench/results/)")
    parser.add_argument("--plot", type=Path, help="where to write the PNG (default: see above)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the plot (no matplotlib needed)")
    args = parser.parse_args(argv)
    mode, sizes = ("quick", QUICK) if args.quick else ("full", FULL)

    started = time.monotonic()

    def log(line: str) -> None:
        print(f"... {time.monotonic() - started:4.0f} s  {line}", file=sys.stderr, flush=True)

    results = suite.run_all(sizes, mode, log=log)
    log("done")
    print(report.text(results))
    stamp = results.meta.date.replace(":", "").replace("-", "")
    out = args.json or RESULTS / f"{stamp}-{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(suite.to_json(results), indent=1) + "\n")
    print(f"\nresults: {out}")
    if not args.no_plot:
        from bench.plot import plot

        default = HERE / "latency_vs_concurrency.png" if mode == "full" else RESULTS / f"{stamp}-{mode}.png"
        meta = results.meta
        title = f"GetRun, gateway vs direct: {mode} mode, {meta.date[:10]}, {meta.machine['cpus']} CPUs"
        print(f"plot: {plot(results.unary, args.plot or default, title)}")
    print("\nREADME table:\n" + report.markdown(results))


if __name__ == "__main__":
    main()
