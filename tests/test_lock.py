"""The lock (requirements/*.txt) agrees with pyproject.toml, and the check that says so catches each way the
two can drift apart: a new dependency, a range the pin no longer meets, a lock edited by hand, one package at
two versions, a missing lock. The check reads files only: it runs offline, in `make lint`."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from tools import lock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project() -> dict[str, object]:
    return lock.read_project(ROOT / "pyproject.toml")


@pytest.fixture
def locks(tmp_path: Path) -> Path:
    """A copy of the committed lock files, to spoil."""
    shutil.copytree(ROOT / lock.LOCK_DIR, tmp_path / lock.LOCK_DIR)
    return tmp_path


def dependencies(project: dict[str, object]) -> list[str]:
    table = project["project"]
    assert isinstance(table, dict)
    values = table["dependencies"]
    assert isinstance(values, list)
    return values


def test_the_committed_locks_agree_with_pyproject(project: dict[str, object]) -> None:
    assert lock.check(project, ROOT) == []


def test_every_lock_pins_every_package_with_hashes_and_names_no_host() -> None:
    for each in lock.LOCKS:
        text = (ROOT / each.path).read_text()
        assert lock.pins(text), each.path
        assert "://" not in text, f"{each.path} names an index or a host"
        entries = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
        assert all("==" in entry and entry.endswith("\\") for entry in entries), each.path


def test_the_locks_hold_the_build_backend_and_the_stub_that_broke_ci() -> None:
    for each in lock.LOCKS:
        assert "setuptools" in lock.pins((ROOT / each.path).read_text()), each.path
    assert "types-protobuf" in lock.pins((ROOT / lock.SUPERSET.path).read_text())


def test_a_new_dependency_is_caught(project: dict[str, object], locks: Path) -> None:
    changed = copy.deepcopy(project)
    dependencies(changed).append("msgspec>=0.18")
    problems = lock.check(changed, locks)
    assert any("was not made from pyproject.toml" in problem for problem in problems)
    assert any("msgspec>=0.18 is not pinned" in problem for problem in problems)


def test_a_range_the_pin_does_not_meet_is_caught(project: dict[str, object], locks: Path) -> None:
    changed = copy.deepcopy(project)
    deps = dependencies(changed)
    deps[:] = ["httpx>=99" if d.startswith("httpx>=") else d for d in deps]
    problems = lock.check(changed, locks)
    assert any("does not satisfy httpx>=99" in problem for problem in problems)


def test_a_lock_edited_by_hand_is_caught(project: dict[str, object], locks: Path) -> None:
    path = locks / "requirements" / "demo.txt"
    pinned = lock.pins(path.read_text())["grpcio"]
    path.write_text(path.read_text().replace(f"grpcio=={pinned}", "grpcio==0.0.1"))
    problems = lock.check(project, locks)
    assert any("demo.txt pins grpcio==0.0.1 but requirements/dev.txt pins" in p for p in problems)
    assert any("grpcio==0.0.1 does not satisfy" in p for p in problems)


def test_a_missing_lock_is_caught(project: dict[str, object], locks: Path) -> None:
    (locks / "requirements" / "runtime.txt").unlink()
    assert lock.check(project, locks) == ["requirements/runtime.txt is missing: run `make lock`"]


def test_self_references_expand_and_the_build_backend_is_an_input(project: dict[str, object]) -> None:
    dev = lock.inputs(project, lock.SUPERSET)
    assert not any(item.startswith("runs-gateway") for item in dev)
    assert any(item.startswith("starlette") for item in dev)  # via test -> runs-gateway[emulator]
    assert any(item.startswith("setuptools") for item in lock.inputs(project, lock.LOCKS[-1]))
