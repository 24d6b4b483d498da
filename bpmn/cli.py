"""`python -m bpmn check FILE...`: check BPMN files the way a deployment would."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bpmn.loader import LoadResult, load_model
from bpmn.xml import DEFAULT_MAX_BYTES, XmlLimits


def result_json(result: LoadResult) -> dict[str, object]:
    """The `--json` object of one file (a contract: other tools read it)."""
    definitions = result.definitions
    return {
        "file": result.source,
        "ok": result.ok,
        "processes": [] if definitions is None else [p.id for p in definitions.processes],
        "elements": {} if definitions is None else dict(definitions.element_counts),
        "diagnostics": [d.as_dict() for d in result.diagnostics],
    }


def _read(path: str, limits: XmlLimits) -> LoadResult:
    try:
        file = Path(path)
        size = file.stat().st_size
        if size > limits.max_bytes:
            # Do not even read a huge file into memory; load_model says the same for bytes.
            return load_model(b"", source=path) if size == 0 else _too_large(path, size, limits)
        data = file.read_bytes()
    except OSError as exc:
        from bpmn.diagnostics import error
        return LoadResult(path, None, (error("file.unreadable",
                                             f"cannot read file: {exc.strerror or exc}"),))
    return load_model(data, source=path, limits=limits)


def _too_large(path: str, size: int, limits: XmlLimits) -> LoadResult:
    from bpmn.diagnostics import error
    return LoadResult(path, None, (error(
        "xml.too-large", f"file is {size:,} bytes; the limit is {limits.max_bytes:,} bytes"),))


def check(paths: Sequence[str], *, as_json: bool, limits: XmlLimits, out: TextIO) -> int:
    failed = False
    for path in paths:
        result = _read(path, limits)
        failed = failed or not result.ok
        if as_json:
            out.write(json.dumps(result_json(result), ensure_ascii=False) + "\n")
            continue
        if not result.diagnostics:
            out.write(f"{path}: OK\n")
            continue
        for diagnostic in result.diagnostics:
            out.write(f"{diagnostic.format(path)} ({diagnostic.severity})\n")
        if result.ok:
            out.write(f"{path}: OK (with warnings)\n")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bpmn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check_cmd = commands.add_parser(
        "check", help="parse and validate BPMN files; exit 1 if any has an error")
    check_cmd.add_argument("files", nargs="+", metavar="FILE")
    check_cmd.add_argument("--json", action="store_true",
                           help="print one JSON object per file")
    check_cmd.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                           help="refuse files larger than this (default: 10 MB)")
    args = parser.parse_args(argv)
    return check(args.files, as_json=args.json, limits=XmlLimits(max_bytes=args.max_bytes),
                 out=sys.stdout)
