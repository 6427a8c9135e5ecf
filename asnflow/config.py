"""rules.yaml: the default rule files, the asn_type -> calibration table, the naming profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from asnflow.calib.base import Route, parse_routes
from asnflow.errors import RuleError

PACKAGE_DIR = Path(__file__).resolve().parent


def default_config_path() -> Path:
    """rules.yaml inside the installed package, or at the top of a source checkout."""
    for candidate in (PACKAGE_DIR / "rules.yaml", PACKAGE_DIR.parent / "rules.yaml"):
        if candidate.is_file():
            return candidate
    raise RuleError("the default rules.yaml is missing from this installation")


@dataclass(frozen=True)
class Config:
    path: Path
    rule_files: tuple[Path, ...]
    definition_files: tuple[Path, ...] = ()
    registries: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, tuple[Route, ...]] = field(default_factory=dict)  # asn_type -> routes, first match wins
    naming_profile: str = "jwst-3.0"
    pool_columns: tuple[str, ...] | None = None  # declared pool columns rules may read (None: not declared)


def load_config(path: str | Path | None = None) -> Config:
    """Read a rules.yaml (the shipped one by default) into a :class:`Config`."""
    import yaml  # deferred: only the commands that need the config pay for it

    config_path = Path(path) if path is not None else default_config_path()
    from asnflow.fsread import CONFIG_LIMIT, read_text

    text = read_text(config_path, "configuration file", error=RuleError, limit=CONFIG_LIMIT)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            path=str(config_path),
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    if not isinstance(data, dict):
        raise RuleError("expected a mapping at the top level", path=str(config_path))
    base = PACKAGE_DIR if config_path.parent in (PACKAGE_DIR, PACKAGE_DIR.parent) else config_path.parent
    rule_files = tuple((base / entry).resolve() for entry in data.get("rules", []) or [])
    definition_files = tuple((base / entry).resolve() for entry in data.get("definitions", []) or [])
    naming = data.get("naming") or {}
    columns = data.get("pool_columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise RuleError("pool_columns must be a list of column names", path=str(config_path))
    return Config(
        path=config_path,
        rule_files=rule_files,
        definition_files=definition_files,
        registries=dict(data.get("registries") or {}),
        calibration=_calibration_table(data.get("calibration"), config_path),
        naming_profile=str(naming.get("profile", "jwst-3.0")),
        pool_columns=tuple(columns) if columns is not None else None,
    )


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
