"""What decides a node's outputs, and why a node must run again.

A node's :class:`~asnflow.workflow.provenance.Fingerprint` is the meaning of
its association (members, product names, asn_type, pool), the content hash
of each input, its module's name, version and parameters, and the reference
files and CRDS context it used. A node is up to date when the fingerprint
recorded with its outputs equals the one computed now (snakemake's rerun
triggers, Nextflow's resume); :func:`why_changed` says, in words, what
differs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asnflow.asnfile.compare import changes, meaning, meaning_from_json
from asnflow.calib.base import CalibrationModule, Node
from asnflow.workflow.provenance import Execution, Fingerprint, HashCache, canonical

# Options that change how a node runs, never what it writes.
EXECUTION_ONLY_OPTIONS = frozenset({"maximum_cores"})


def node_meaning(node: Node) -> str:
    """Canonical JSON of what the node is asked to make."""
    if node.kind != "association":
        return canonical({"products": sorted(node.wanted)})
    data = dict(meaning(node.association or {}).as_json())
    data.pop("asn_rule", None)  # which rule made it does not change the calibration
    data["asn_pool"] = str((node.association or {}).get("asn_pool", ""))
    return canonical(data)


def module_version(module: CalibrationModule) -> str:
    """The module's ``version``, else its distribution's (jwst for jwst pipelines, asnflow for native)."""
    declared = getattr(module, "version", None)
    if declared:
        return str(declared)
    name = str(getattr(module, "name", ""))
    package = "jwst" if name.startswith("jwst:") else type(module).__module__.split(".")[0]
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        if package == "asnflow":
            from asnflow import __version__

            return __version__
        return ""


def module_parameters(module: CalibrationModule, options: Mapping[str, Any]) -> str:
    """Canonical JSON of the options that can change the module's outputs.

    A module may name them in ``result_options``; otherwise every option
    except those that only steer execution (``maximum_cores``) counts.
    """
    named = getattr(module, "result_options", None)
    if named is not None:
        chosen = {k: v for k, v in options.items() if k in set(named)}
    else:
        chosen = {k: v for k, v in options.items() if k not in EXECUTION_ONLY_OPTIONS}
    return canonical(chosen)


def crds_context(provider: Any) -> str:
    """The CRDS context a provider selects from (its own, or its cache's latest); "" otherwise."""
    context = getattr(provider, "context", None)
    if context:
        return str(context)
    cache_path = getattr(provider, "cache_path", None)
    if cache_path is None:
        return ""
    try:
        config = Path(cache_path()) / "config" / "jwst" / "server_config"
        values = ast.literal_eval(config.read_text(encoding="utf-8"))
        return str(values.get("latest_context") or values.get("operational_context") or "")
    except Exception:  # no cache yet, or not a readable one: the node will say so when it runs
        return ""


class Fingerprinter:
    """Computes current fingerprints for a graph's nodes over one data folder."""

    def __init__(
        self,
        modules: Mapping[str, CalibrationModule],
        data_dir: Path,
        options: Mapping[str, Any],
        provider: Any,
        hashes: HashCache,
    ) -> None:
        self.modules = modules
        self.data_dir = data_dir
        self.options = options
        self.hashes = hashes
        self.context = crds_context(provider)
        self._static: dict[str, tuple[str, str, str]] = {}

    def _module_facts(self, asn_type: str) -> tuple[str, str, str]:
        if asn_type not in self._static:
            module = self.modules[asn_type]
            self._static[asn_type] = (module.name, module_version(module), module_parameters(module, self.options))
        return self._static[asn_type]

    def current(
        self,
        node: Node,
        inputs: tuple[str, ...],
        references: Mapping[str, str] | None = None,
        context: str | None = None,
    ) -> Fingerprint:
        """The fingerprint now; ``references`` (reftype -> path) are hashed as they are now."""
        name, version, parameters = self._module_facts(node.asn_type)
        hashed = {f: self.hashes.hash(self.data_dir / f) for f in inputs}
        refs = {t: (p, self.hashes.hash(Path(p)) if p else "") for t, p in (references or {}).items()}
        return Fingerprint(
            node_meaning(node), name, version, parameters, hashed, refs, self.context if context is None else context
        )


def why_changed(made: Execution, now: Fingerprint) -> str | None:
    """The first reason the recorded execution no longer matches, or None when it does."""
    if made.meaning != now.meaning:
        return "association changed: " + _meaning_change(made.meaning, now.meaning)
    if made.module != now.module:
        return f"module {made.module} -> {now.module}"
    if made.version != now.version:
        return f"module version {made.version or '?'} -> {now.version or '?'}"
    if made.parameters != now.parameters:
        return "parameters changed: " + _parameter_change(made.parameters, now.parameters)
    for name, digest in now.inputs.items():
        if not digest:
            continue  # not on disk (a raw file removed once its product exists): nothing to compare
        if name not in made.inputs:
            return f"input {name} added"
        if made.inputs[name] != digest:
            return f"input {name} changed"
    for name in made.inputs:
        if name not in now.inputs:
            return f"input {name} removed"
    for reftype, (path, digest) in now.references.items():
        recorded = made.references.get(reftype, ("", ""))[1]
        if path and recorded and digest != recorded:
            return f"reference {Path(path).name} ({reftype}) {'changed' if digest else 'is gone'}"
    if made.references and made.crds_context != now.crds_context:
        if not now.crds_context:
            return f"CRDS context {made.crds_context} -> unknown (no CRDS cache found: give --crds-cache DIR)"
        return f"CRDS context {made.crds_context or '?'} -> {now.crds_context}"
    return None


def _meaning_change(old_text: str, new_text: str) -> str:
    old, new = json.loads(old_text), json.loads(new_text)
    if (
        "products" in old
        and isinstance(old["products"], list)
        and old["products"]
        and isinstance(old["products"][0], str)
    ):
        return "products " + ", ".join(new.get("products", []))
    found = changes(meaning_from_json(old), meaning_from_json(new))
    if old.get("asn_pool") != new.get("asn_pool"):
        found.append(f"asn_pool {old.get('asn_pool')} -> {new.get('asn_pool')}")
    return "; ".join(found[:2]) + (f" (and {len(found) - 2} more)" if len(found) > 2 else "") if found else "content"


def _parameter_change(old_text: str, new_text: str) -> str:
    old, new = json.loads(old_text), json.loads(new_text)
    keys = sorted(set(old) | set(new))
    parts = [f"{k} {_short(old.get(k))} -> {_short(new.get(k))}" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(parts) or "content"


def _short(value: Any) -> str:
    if value is None:
        return "(unset)"
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
