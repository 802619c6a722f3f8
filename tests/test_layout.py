"""The suite runs the usual ways: `pytest FILE` from the venv as well as `python -m pytest`, from the root.

`python -m pytest` puts the working directory on sys.path and the `pytest` command does not; the tests that
import the project's top-level packages (bench, examples, tools) must collect either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTEST = Path(sys.executable).parent / "pytest"


@pytest.mark.skipif(not PYTEST.exists(), reason=f"no pytest command beside {sys.executable}")
@pytest.mark.parametrize(
    "test_file", ["tests/test_bench_smoke.py", "tests/test_client.py", "tests/test_stubs.py"]
)
def test_the_pytest_command_collects_a_file_that_imports_the_project(test_file: str) -> None:
    done = run_pytest(test_file, "--collect-only")
    assert " collected" in done.stdout


@pytest.mark.skipif(not PYTEST.exists(), reason=f"no pytest command beside {sys.executable}")
def test_the_stub_drift_check_is_not_skipped_where_grpcio_tools_is_installed() -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is a dev dependency: pip install -e .[dev]")
    done = run_pytest("tests/test_stubs.py", "-rs")
    assert "skipped" not in done.stdout


def run_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    """The `pytest` command, run from the project root with no PYTHONPATH, as a user types it; it passed."""
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    command = [str(PYTEST), *args, "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done
