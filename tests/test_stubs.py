"""The committed stubs are exactly what `make stubs` generates from protos/ (no drift, no hand edits)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("grpc_tools", reason="grpcio-tools is a dev dependency: pip install -e .[dev]")
from tools import gen_stubs  # needs grpc_tools, checked above

STUBS = Path(__file__).resolve().parent.parent / "stubs"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_stubs_match_protos(tmp_path: Path) -> None:
    gen_stubs.generate(tmp_path)
    fresh, committed = _files(tmp_path), _files(STUBS)
    assert sorted(fresh) == sorted(committed), "run `make stubs`: the set of generated files changed"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"run `make stubs`: these stubs differ from protos/: {stale}"


def test_stubs_do_not_clash_with_the_openai_sdk() -> None:
    # The SDK owns the top-level `openai` package; our generated modules live under `runs_gateway`.
    openai = pytest.importorskip("openai")
    from runs_gateway.assistants.v1 import runs_service_pb2

    assert openai.__name__ == "openai"
    assert hasattr(openai, "OpenAI")
    assert runs_service_pb2.__name__ == "runs_gateway.assistants.v1.runs_service_pb2"
    assert not any(p.name == "openai" for p in STUBS.rglob("*"))
