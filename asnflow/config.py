"""rules.yaml: the default rule files, the asn_type -> calibration table, the naming profile."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path

from asnflow.errors import RuleError
from asnflow.records import record
from asnflow.routes import Route, parse_routes

PACKAGE_DIR = Path(__file__).resolve().parent


def default_config_path() -> Path:
    """rules.yaml inside the installed package, or at the top of a source checkout."""
    for candidate in (PACKAGE_DIR / "rules.yaml", PACKAGE_DIR.parent / "rules.yaml"):
        if candidate.is_file():
            return candidate
    raise RuleError("the default rules.yaml is missing from this installation")


@record(frozen=True)
class Config:
    path: Path
    rule_files: tuple[Path, ...]
    definition_files: tuple[Path, ...] = ()
    calibration: dict[str, tuple[Route, ...]] = field(default_factory=dict)  # asn_type -> routes, first match wins
    naming_profile: str = "jwst-3.0"
    pool_columns: tuple[str, ...] | None = None  # declared pool columns rules may read (None: not declared)


def load_config(path: str | Path | None = None) -> Config:
    """Read a rules.yaml (the shipped one by default) into a :class:`Config`."""
    from asnflow.file_cache import cached_data
    from asnflow.fsread import CONFIG_LIMIT, read_text

    config_path = Path(path) if path is not None else default_config_path()
    text = read_text(config_path, "configuration file", error=RuleError, limit=CONFIG_LIMIT)
    # The checked data is remembered by the file's bytes: a run that finds it needs no PyYAML.
    data = cached_data(config_path, text.encode("utf-8"), lambda: _checked_data(text, config_path))
    base = PACKAGE_DIR if config_path.parent in (PACKAGE_DIR, PACKAGE_DIR.parent) else config_path.parent
    rule_files = tuple((base / entry).resolve() for entry in data.get("rules") or [])
    definition_files = tuple((base / entry).resolve() for entry in data.get("definitions") or [])
    naming = data.get("naming") or {}
    columns = data.get("pool_columns")
    return Config(
        path=config_path,
        rule_files=rule_files,
        definition_files=definition_files,
        calibration=_calibration_table(data.get("calibration"), config_path),
        naming_profile=str(naming.get("profile", "jwst-3.0")),
        pool_columns=tuple(columns) if columns is not None else None,
    )


def _checked_data(text: str, config_path: Path) -> dict:
    """The YAML text's data, refused in one line when it is not YAML or a value has the wrong type."""
    import yaml  # deferred: only a config not seen before (or not cached) pays for PyYAML

    from asnflow import safe_yaml

    try:
        data = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        problem, line, column = safe_yaml.problem_and_place(exc)
        raise RuleError(f"not valid YAML: {problem}", path=str(config_path), line=line, column=column) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RuleError("expected a mapping at the top level", path=str(config_path))
    _check_types(data, config_path, text)
    return data


def _calibration_table(table: object, config_path: Path) -> dict[str, tuple[Route, ...]]:
    """The ``calibration:`` mapping: asn_type -> a spec, a mapping, or a list of routes."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise RuleError("calibration must be a mapping of asn_type to module", path=str(config_path))
    try:
        return {str(asn_type): parse_routes(str(asn_type), entry) for asn_type, entry in table.items()}
    except ValueError as exc:
        raise RuleError(str(exc), path=str(config_path)) from None


# What each key of rules.yaml holds: "names" a list of strings, "naming" a
# mapping with a string profile.
_KEY_KINDS = {"rules": "names", "definitions": "names", "pool_columns": "names",
              "naming": "naming"}  # calibration: see _calibration_table
_KIND_TEXT = {"names": "a list of names", "naming": "a mapping with a `profile` name"}


def _check_types(data: dict, config_path: Path, text: str) -> None:
    """Refuse a value of the wrong type in one line naming its key (and its line)."""
    for key, kind in _KEY_KINDS.items():
        value = data.get(key)
        if value is None:
            continue
        if kind == "names":
            good = isinstance(value, list) and all(isinstance(item, str) and item for item in value)
        else:
            good = isinstance(value, dict) and isinstance(value.get("profile", ""), str)
        if not good:
            line = next((number for number, content in enumerate(text.splitlines(), 1)
                         if content.startswith(f"{key}:")), None)
            raise RuleError(f"{key} must be {_KIND_TEXT[kind]}", path=str(config_path), line=line)
