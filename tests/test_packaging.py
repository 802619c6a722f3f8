"""The container image's Python side, built here as its Dockerfile builds it (no Docker engine here): a fresh
venv, the locked runtime with its hashes, then the gateway from only the files the Dockerfile copies. Every
command the distribution installs must run there, and nothing that cannot (the emulator is not shipped)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKED = ["pip", "install", "--require-hashes", "-r", "requirements/runtime.txt"]
PROJECT = ["pip", "install", "--no-deps", "--no-build-isolation", "."]


def dockerfile_steps() -> tuple[list[list[str]], list[str]]:
    """The Dockerfile's RUN commands (each split at `&&`) and the sources of its COPY lines."""
    runs, copies = [], []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("RUN "):
            runs.extend(shlex.split(part) for part in line.removeprefix("RUN ").split("&&"))
        elif line.startswith("COPY "):
            copies.extend(shlex.split(line)[1:-1])
    return runs, copies


def test_the_dockerfile_installs_the_locked_runtime_then_the_gateway_alone() -> None:
    runs, copies = dockerfile_steps()
    assert runs[:2] == [LOCKED, PROJECT]
    assert copies == ["requirements/runtime.txt", "pyproject.toml", "README.md", "gateway", "stubs"]


@pytest.mark.timeout(600)
def test_what_the_image_installs_runs(tmp_path: Path) -> None:
    _, copies = dockerfile_steps()
    app = tmp_path / "app"
    for source in copies:
        target = app / source
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / source, target)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    for command in (LOCKED, PROJECT):
        done = subprocess.run(
            [str(python), "-m", *command, "--quiet", "--disable-pip-version-check"],
            cwd=app,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "runs-emulator" not in scripts
    for script in scripts:
        done = subprocess.run(
            [str(environment / "bin" / script), "--help"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{script}: {done.stderr}"
    imported = subprocess.run(
        [str(python), "-c", "import emulator"], cwd=tmp_path, capture_output=True, timeout=60, check=False
    )
    assert imported.returncode != 0, "the emulator is a tool of the repository, not of the image"
    # What production may turn on is in the image: a PostgreSQL store, Entra ID, traces.
    extras = "import asyncpg, azure.identity, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc"
    imported = subprocess.run(
        [str(python), "-c", extras], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert imported.returncode == 0, imported.stderr
