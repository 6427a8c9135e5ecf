"""One node, in a worker: run its module in a private scratch folder, then publish.

The declared outputs move into the data folder with ``os.replace`` only after
the module succeeded, so a run killed at any moment leaves no half-written
product.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asnflow.calib.base import Node, RunContext, module_for_node
from asnflow.dask_clients import ANOTHER_ASNFLOW, ANOTHER_ASNFLOW_HINT, code_digest
from asnflow.errors import AsnflowError, DispatchError
from asnflow.workflow.dispatch.folder import matching_files
from asnflow.workflow.dispatch.outcomes import FAILED, SUCCEEDED, NodeResult


@dataclass(frozen=True)
class NodeTask:
    """Everything a worker needs to run one node; picklable."""

    node: Node
    calibration: Mapping[str, Any]
    data_dir: Path
    scratch_dir: Path
    outputs: tuple[str, ...]
    options: Mapping[str, Any]
    provider: Any = None
    record_references: bool = True  # hand modules a provider that notes the reference files they read
    optional: tuple[str, ...] = ()  # declared outputs the module may leave unwritten
    code: str | None = None  # the digest of the sending command's asnflow code (dask_clients.code_digest)


def execute_node(task: NodeTask) -> NodeResult:
    """Run one node in its scratch folder and publish its outputs; never raises.

    This is the function executors run (it is importable, so process pools and
    Dask workers can unpickle it). Only declared outputs are moved into the
    data folder; anything else the module leaves in the scratch folder goes
    with it.
    """
    node = task.node
    start = time.monotonic()
    workdir = task.scratch_dir / scratch_name(node.node_id)
    try:
        if task.code is not None and task.code != code_digest():
            raise DispatchError(ANOTHER_ASNFLOW, hint=ANOTHER_ASNFLOW_HINT)
        shutil.rmtree(workdir, ignore_errors=True)  # a retry starts clean
        workdir.mkdir()  # not parents: the run's scratch folder must still exist
        module = module_for_node(node, task.calibration)
        provider = task.provider
        if provider is not None and task.record_references and not module.name.startswith("jwst:"):
            # jwst's pipelines look references up themselves and need the provider as it is.
            provider = RecordingProvider(provider)
        module.run(node, RunContext(task.data_dir, workdir, provider, dict(task.options)))
        produced = _collect_outputs(task.outputs, workdir, task.optional)
        for file_name in produced:
            if os.path.islink(task.data_dir / file_name):
                raise DispatchError(f"output {file_name} in the data folder is a symbolic link; not replacing it")
        for file_name in produced:  # same file system: each move is an atomic rename
            os.replace(workdir / file_name, task.data_dir / file_name)
        used = tuple(sorted(provider.used.items())) if isinstance(provider, RecordingProvider) else ()
        return NodeResult(
            node.node_id, SUCCEEDED, f"{len(produced)} outputs", time.monotonic() - start, 1,
            outputs=tuple(produced), references=used,
        )
    except AsnflowError as exc:
        return NodeResult(node.node_id, FAILED, one_line(str(exc)), time.monotonic() - start, 1)
    except Exception as exc:  # a module's bug must fail its node, not the run
        return NodeResult(
            node.node_id,
            FAILED,
            one_line(f"{type(exc).__name__}: {exc}"),
            time.monotonic() - start,
            1,
            traceback.format_exc(),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class RecordingProvider:
    """A reference provider that notes which reference files it handed out."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.used: dict[str, str] = {}  # reftype -> file path (or source when there is no file)

    def fetch(self, model: Any, reftypes: Any) -> Any:
        found = self.inner.fetch(model, reftypes)
        for reftype, reference in found.items():
            self.used[str(reftype)] = str(getattr(reference, "path", "") or getattr(reference, "source", ""))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def scratch_name(node_id: str) -> str:
    """A folder name for a node id (``detector1:x`` -> ``detector1--x``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", node_id.replace(":", "--"))


def _collect_outputs(declared: tuple[str, ...], workdir: Path, optional: tuple[str, ...] = ()) -> list[str]:
    written = frozenset(entry.name for entry in os.scandir(workdir) if entry.is_file())
    produced: list[str] = []
    absent: list[str] = []
    for name in declared:
        found = matching_files(name, written)
        if found:
            produced.extend(f for f in found if f not in produced)
        elif name not in optional:
            absent.append(name)
    if absent:
        more = f" and {len(absent) - 3} more" if len(absent) > 3 else ""
        raise DispatchError(f"the module did not write its declared output {', '.join(absent[:3])}{more}")
    return produced


def one_line(text: str) -> str:
    return " ".join(text.split())
