"""Regenerate the protobuf/gRPC Python code from proto/ into the client package.

    python scripts/gen_proto.py          # write clients/ipam_client/_pb/
    python scripts/gen_proto.py --check  # exit 1 when the committed code is stale

protoc names the generated modules after the proto package (`ipam.v1`), which would clash with
the server package `ipam`; the imports are rewritten to live under `ipam_client._pb`.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "clients" / "ipam_client" / "_pb"
PACKAGE_PREFIX = "ipam_client._pb."


def generate(into: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={into}",
        f"--pyi_out={into}",
        f"--grpc_python_out={into}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for path in into.rglob("*.py*"):
        text = path.read_text()
        path.write_text(text.replace("from ipam.v1 import", f"from {PACKAGE_PREFIX}ipam.v1 import"))
    for package in {p.parent for p in into.rglob("*.py")} | {into}:
        while package != into.parent:
            (package / "__init__.py").touch()
            package = package.parent


def differences(a: Path, b: Path) -> list[str]:
    names_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    names_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    changed = [n for n in names_a & names_b if not filecmp.cmp(a / n, b / n, shallow=False)]
    return sorted(str(n) for n in (names_a ^ names_b) | set(changed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the generated code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_pb"
        fresh.mkdir()
        generate(fresh)
        if args.check:
            stale = differences(fresh, OUT_DIR) if OUT_DIR.exists() else ["(missing)"]
            if stale:
                print("generated protobuf code is stale; run: python scripts/gen_proto.py", file=sys.stderr)
                for name in stale:
                    print(f"  {name}", file=sys.stderr)
                return 1
            print("generated protobuf code is up to date")
            return 0
        shutil.rmtree(OUT_DIR, ignore_errors=True)
        shutil.copytree(fresh, OUT_DIR)
    print(f"wrote {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
