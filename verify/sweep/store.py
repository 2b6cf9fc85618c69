"""The sweep folder: the stored spec, one record per finished task.

``DIR/sweep.json`` holds the canonical spec; a different spec in a folder that already holds
finished tasks is refused (a folder without any, e.g. left by a spec whose every task failed,
takes the corrected spec; records of the old spec's points are then simply not part of it). A
spec that differs only in how it runs (``batch_training``) is taken: it changes no stored number.
``DIR/tasks/<hash>.json`` holds one record per finished task, written atomically.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toyforge.core.errors import CorruptFile, InvalidParameter
from toyforge.core.fileio import atomic_path
from toyforge.core.serde import to_jsonable
from toyforge.verify.sweep.hashing import SCHEMA_VERSION, canonical_json
from toyforge.verify.sweep.spec import EXECUTION_KEYS, SweepSpec

__all__ = ["prepare_folder", "read_records", "read_stored", "stored_spec", "write_record"]

logger = logging.getLogger(__name__)


def _stored_form(spec: SweepSpec) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "spec": spec.to_dict()}


def _identity(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored form without the execution-only keys (which change no stored number)."""
    spec = {
        key: value for key, value in stored.get("spec", {}).items() if key not in EXECUTION_KEYS
    }
    return {**stored, "spec": spec}


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [key for key in keys if old.get(key) != new.get(key)]


def _has_results(out_dir: Path) -> bool:
    """Whether any task of the folder finished (failed records are no results to protect)."""
    return any(record.get("status") == "done" for record in read_records(out_dir).values())


def _check_same_spec(spec: SweepSpec, out_dir: Path, source: Path | None) -> bool:
    """Whether ``out_dir/sweep.json`` must be (re)written; refuse a different spec when the
    folder holds finished tasks."""
    stored_path = out_dir / "sweep.json"
    if not stored_path.exists():
        return True
    new = _stored_form(spec)
    old = read_stored(out_dir)
    if old == json.loads(canonical_json(new)):
        return False
    if _identity(old) == _identity(json.loads(canonical_json(new))):
        return True  # only how it runs changed (batch_training): keep the records
    if not _has_results(out_dir):
        logger.info("%s holds no finished task: it takes the new spec", out_dir)
        return True
    differing = _differences(old.get("spec", {}), new["spec"])
    if old.get("schema_version") != SCHEMA_VERSION:
        differing.append("schema_version")
    raise InvalidParameter(
        "spec",
        str(source) if source else spec.name,
        f"the spec stored in {stored_path} (they differ in {differing}); "
        "use a new --out folder or the original spec",
    )


def prepare_folder(spec: SweepSpec, out_dir: Path, source: Path | None) -> None:
    """Create ``out_dir`` with the spec, or check that the spec already there is the same."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidParameter("--out", str(out_dir), "a folder (this is a file)")
    write = _check_same_spec(spec, out_dir, source) if out_dir.is_dir() else True
    (out_dir / "tasks").mkdir(parents=True, exist_ok=True)
    if write:
        text = json.dumps(_stored_form(spec), indent=2, allow_nan=False) + "\n"
        with atomic_path(out_dir / "sweep.json") as temp:
            temp.write_text(text, encoding="utf-8")
    if source is not None:
        copy = out_dir / f"spec{source.suffix.lower()}"
        if write or not copy.exists():
            with atomic_path(copy) as temp:
                temp.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    if spec.save_models:
        (out_dir / "models").mkdir(exist_ok=True)


def read_stored(out_dir: Path) -> dict[str, Any]:
    """The parsed ``out_dir/sweep.json``."""
    path = out_dir / "sweep.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidParameter("DIR", str(out_dir), "a sweep folder (with sweep.json)") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise CorruptFile(f"{path}: not valid JSON ({error})") from error
    except RecursionError as error:
        raise CorruptFile(f"{path}: nested too deeply to be a stored sweep spec") from error
    if not isinstance(stored, dict) or not isinstance(stored.get("spec"), dict):
        raise CorruptFile(f"{path}: not a stored sweep spec (no 'spec' table)")
    return stored


def stored_spec(out_dir: str | os.PathLike[str]) -> SweepSpec:
    """The spec stored in a sweep folder."""
    return SweepSpec.from_dict(read_stored(Path(out_dir))["spec"])


def read_records(out_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Every readable task record in ``out_dir/tasks``: hash -> record.

    Temporary files of interrupted writes are ignored; an unreadable record is logged and
    skipped (its task counts as pending and reruns).
    """
    records = {}
    for path in sorted((Path(out_dir) / "tasks").glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            records[record["hash"]] = record
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring unreadable task record %s (%s)", path, error)
    return records


def write_record(out_dir: Path, record: Mapping[str, Any]) -> None:
    """Write one record atomically (temp file + rename: a kill never leaves half a record)."""
    text = json.dumps(to_jsonable(record), indent=1, allow_nan=False)
    with atomic_path(out_dir / "tasks" / f"{record['hash']}.json") as temp:
        temp.write_text(text + "\n", encoding="utf-8")
