"""The lock: every package the project installs, pinned with its hashes, in `requirements/*.txt`.

`pyproject.toml` keeps the ranges a library user installs against; the lock files say exactly what `make
demo`, `make test`, `make bench` and the Dockerfile install, so that a clone passes its tests on any day,
not only on the day they were written. pip-tools writes them (hashes, no index or host names, the build
backend included for `--no-build-isolation` installs):

- `python tools/lock.py` (`make lock`): after a change to pyproject.toml's dependencies, refresh the locks,
  keeping every pin that still fits;
- `python tools/lock.py --upgrade` (`make lock-upgrade`): move every pin to the newest release, on purpose;
- `python tools/lock.py --check` (in `make lint`): offline, fail when a lock and pyproject.toml disagree.

`dev` is compiled first and the others are held to its pins, so one package has one version everywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK_DIR = "requirements"
DIGEST_PREFIX = "# pyproject-inputs-sha256: "
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


@dataclass(frozen=True)
class Lock:
    """One lock file: the extras of pyproject.toml it holds, and what installs from it."""

    name: str
    extras: tuple[str, ...]
    purpose: str

    @property
    def path(self) -> str:
        return f"{LOCK_DIR}/{self.name}.txt"


LOCKS = (
    Lock("dev", ("dev",), "make test, make bench, make lock: the runtime, the emulator and every dev tool"),
    Lock("demo", ("emulator",), "make demo, make emulator, make gateway: the runtime and the emulator"),
    Lock(
        "runtime",
        ("postgresql", "azure", "otel"),
        "the Dockerfile: the runtime and what production may turn on (PostgreSQL, Entra ID, traces)",
    ),
)
SUPERSET = LOCKS[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="fail when a lock and pyproject.toml disagree")
    action.add_argument("--upgrade", action="store_true", help="move every pin to the newest release")
    args = parser.parse_args(argv)
    project = read_project(ROOT / "pyproject.toml")
    if args.check:
        problems = check(project, ROOT)
        for problem in problems:
            print(f"lock: {problem}", file=sys.stderr)
        if not problems:
            print(f"lock: {', '.join(lock.path for lock in LOCKS)} agree with pyproject.toml")
        return 1 if problems else 0
    for lock in LOCKS:
        write(project, lock, upgrade=args.upgrade)
    return 0


# --- What pyproject.toml asks for ------------------------------------------------------------------------


def read_project(path: Path) -> dict[str, object]:
    """pyproject.toml, parsed."""
    with path.open("rb") as file:
        return tomllib.load(file)


def inputs(project: dict[str, object], lock: Lock) -> list[str]:
    """The requirements `lock` is made from: the runtime's, its extras' (a self-reference such as
    `runs-gateway[test]` expanded), and the build backend's, each once, sorted."""
    table = _table(project, "project")
    name = canonicalize_name(str(table["name"]))
    extras = _table(table, "optional-dependencies")
    found: set[str] = set(_strings(_table(project, "build-system").get("requires", [])))
    pending, seen = list(lock.extras), set()
    found.update(_strings(table.get("dependencies", [])))
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in _strings(extras.get(extra, [])):
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == name:
                pending.extend(requirement.extras)
            else:
                found.add(str(requirement))
    return sorted(found)


def digest(requirements: Iterable[str]) -> str:
    """What a lock records of its inputs, so that any change to them shows."""
    return hashlib.sha256(json.dumps(sorted(requirements)).encode()).hexdigest()


# --- Writing ---------------------------------------------------------------------------------------------


def write(project: dict[str, object], lock: Lock, *, upgrade: bool) -> None:
    """Compile `lock` with pip-tools, then leave out the project itself and record the inputs' digest."""
    command = [
        *(sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe"),
        *("--all-build-deps", "--no-emit-index-url", "--no-emit-find-links", "--strip-extras"),
        *(argument for extra in lock.extras for argument in ("--extra", extra)),
        *(("-c", SUPERSET.path) if lock is not SUPERSET else ()),
        *(("--upgrade",) if upgrade else ()),
        *("--output-file", lock.path, "pyproject.toml"),
    ]
    print(f"lock: {lock.path} ({lock.purpose})", flush=True)
    environment = {**os.environ, "CUSTOM_COMPILE_COMMAND": "make lock"}
    subprocess.run(command, cwd=ROOT, env=environment, check=True)
    path = ROOT / lock.path
    text = _without_project(path.read_text(), str(_table(project, "project")["name"]))
    lines = text.splitlines(keepends=True)
    size = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    record = f"{DIGEST_PREFIX}{digest(inputs(project, lock))}\n# for: {lock.purpose}\n#\n"
    path.write_text("".join(lines[:size]) + record + "".join(lines[size:]))


def _without_project(text: str, name: str) -> str:
    """The lock without the project's own line (and the warning pip-tools writes above it): the project is
    installed from the work tree, after the lock (`pip install --no-deps -e .`)."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith(("# WARNING: pip install will require", "# Consider using")):
            continue
        if canonicalize_name(line.split(" @ ")[0]) == canonicalize_name(name) and " @ " in line:
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept) + "\n"


# --- Checking --------------------------------------------------------------------------------------------


def pins(text: str) -> dict[str, str]:
    """The versions a lock file pins, by canonical name."""
    return {canonicalize_name(m[1]): m[2] for line in text.splitlines() if (m := PIN.match(line))}


def check(project: dict[str, object], root: Path) -> list[str]:
    """What disagrees between pyproject.toml and the locks under `root` (nothing: they agree)."""
    problems: list[str] = []
    texts = {lock.name: _read(root / lock.path) for lock in LOCKS}
    superset = pins(texts[SUPERSET.name] or "")
    for lock in LOCKS:
        text = texts[lock.name]
        if text is None:
            problems.append(f"{lock.path} is missing: run `make lock`")
            continue
        wanted = inputs(project, lock)
        if f"{DIGEST_PREFIX}{digest(wanted)}" not in text.splitlines():
            problems.append(
                f"{lock.path} was not made from pyproject.toml as it is now: run `make lock` and commit both"
            )
        pinned = pins(text)
        problems.extend(f"{lock.path}: {problem}" for problem in _unmet(wanted, pinned))
        problems.extend(
            f"{lock.path} pins {name}=={version} but {SUPERSET.path} pins {superset.get(name)}: "
            "run `make lock`"
            for name, version in sorted(pinned.items())
            if lock is not SUPERSET and superset.get(name) != version
        )
    return problems


def _unmet(requirements: Iterable[str], pinned: dict[str, str]) -> list[str]:
    """The requirements (of this platform) that the pinned versions leave unmet."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():  # this platform's
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement} is not pinned: run `make lock`")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} does not satisfy {requirement}: run `make lock`")
    return problems


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def _table(data: dict[str, object], key: str) -> dict[str, object]:
    value = data.get(key, {})
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


if __name__ == "__main__":
    sys.exit(main())
