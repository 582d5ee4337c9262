"""Publish the JSON Schemas of the report models.

``python -m spectralntk.reports.schema`` rewrites ``spectralntk/reports/schemas/
<type>.schema.json`` for every report type (``--check`` only compares and exits 1 on a
difference; a folder argument writes elsewhere). A test keeps the committed files equal to
:func:`report_schemas`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from spectralntk.reports.models import MODELS, REPORT_SCHEMA_VERSION, REPORT_TYPES

__all__ = ["SCHEMA_DIR", "report_schemas", "schema_text", "write_schemas"]

#: Where the published schemas live in the package.
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def report_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of each report type, by type."""
    out = {}
    for name in REPORT_TYPES:
        schema = MODELS[name].model_json_schema(mode="validation")
        out[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://spectralntk.invalid/schemas/{name}-v{REPORT_SCHEMA_VERSION}.json",
            **schema,
        }
    return out


def schema_text(schema: dict[str, Any]) -> str:
    """The file text of one schema (stable: indented, key order of the model)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: str | Path = SCHEMA_DIR) -> list[Path]:
    """Write ``<type>.schema.json`` for every report type into ``folder``."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in report_schemas().items():
        path = root / f"{name}.schema.json"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(schema_text(schema), encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``[--check] [FOLDER]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    folder = Path(args[0]) if args else SCHEMA_DIR
    if check:
        stale = [
            name
            for name, schema in report_schemas().items()
            if not (folder / f"{name}.schema.json").is_file()
            or (folder / f"{name}.schema.json").read_text(encoding="utf-8") != schema_text(schema)
        ]
        for name in stale:
            print(f"{folder / (name + '.schema.json')} is out of date", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(folder):
        print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
