"""Generate the Python stubs of protos/ into a directory (stubs/ by default).

One command for `make stubs` and for the drift test, so both generate exactly the same files: messages
(`_pb2.py`), type stubs (`_pb2.pyi`) and gRPC glue (`_pb2_grpc.py`), plus the `__init__.py` of each package.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE = "runs_gateway"


def generate(out: Path) -> None:
    """Regenerate `out/runs_gateway` from every .proto under protos/, removing what was there."""
    shutil.rmtree(out / PACKAGE, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    # grpc_tools ships the well-known types (google/protobuf/struct.proto) as package data.
    well_known = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for proto in protos:
        package = (out / proto).parent
        while package != out:
            (package / "__init__.py").touch()
            package = package.parent


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "stubs")
