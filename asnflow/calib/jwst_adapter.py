"""Run jwst's own pipeline classes for the asn_types asnflow has no native module for.

rules.yaml maps e.g. ``spec3: jwst:Spec3Pipeline``; :func:`asnflow.calib.base.module_for`
turns that into ``JwstPipelineModule("Spec3Pipeline")``. jwst is an optional
extra (``pip install 'asnflow[jwst]'``): without it the node fails with a
one-line reason and everything else still runs. Inputs and outputs are jwst's
conventional file names (:class:`~asnflow.calib.base.ConventionalModule`).

The pipeline is called as ``CLASS.call(association, output_dir=<scratch>,
save_results=True)`` on a copy of the association (in the node's scratch
folder) whose members name their files in the data folder by full path. With a CRDS-cache
reference provider, CRDS_PATH points at that cache (offline) during the call.
Run options: ``jwst_steps`` (a mapping of step parameters passed as
``steps=``) and ``jwst_disable_crds_steppars`` (default true: no ``pars-*``
reference lookups, which a partial offline cache rarely holds).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from asnflow.calib.base import ConventionalModule, Node, RunContext
from asnflow.errors import CalibrationError

# Where each class lives; pipelines are in jwst.pipeline, single steps in jwst.step.
_PACKAGES = ("jwst.pipeline", "jwst.step")


def load_jwst_class(class_name: str) -> type:
    """jwst's pipeline or step class, or a CalibrationError saying why not."""
    try:
        importlib.import_module("jwst")
    except ImportError:
        raise CalibrationError(
            f"jwst is not installed: running {class_name} needs it (pip install 'asnflow[jwst]')"
        ) from None
    for package in _PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:
            continue
        found = getattr(module, class_name, None)
        if isinstance(found, type):
            return found
    raise CalibrationError(f"jwst has no pipeline or step class named {class_name}")


@contextlib.contextmanager
def _crds_environment(ctx: RunContext, disable_steppars: bool) -> Iterator[None]:
    from asnflow.calib.refs import CrdsRefs, offline_crds_environment

    saved = os.environ.get("STPIPE_DISABLE_CRDS_STEPPARS")
    if disable_steppars:
        os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"
    try:
        if isinstance(ctx.provider, CrdsRefs):
            with offline_crds_environment(ctx.provider.cache_path()):
                yield
        else:
            yield
    finally:
        if saved is None:
            os.environ.pop("STPIPE_DISABLE_CRDS_STEPPARS", None)
        else:
            os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = saved


def _with_member_paths(node: Node, ctx: RunContext) -> Path:
    """A copy of the association in the scratch folder whose members name files in the data folder.

    jwst's pipelines do not always resolve member names relative to the
    association file (Image2Pipeline opens them relative to the working
    directory), so the copy spells each member's full path.
    """
    source = Path(node.path)  # type: ignore[arg-type]
    if not source.is_file():
        raise CalibrationError(f"association file {source} is missing")
    association = copy.deepcopy(dict(node.association or {}))
    for product in association.get("products") or []:
        for member in product.get("members") or []:
            candidate = ctx.data_dir / Path(str(member.get("expname", ""))).name
            if candidate.is_file():
                member["expname"] = str(candidate)
    copied = ctx.workdir / source.with_suffix(".json").name
    copied.write_text(json.dumps(association, indent=4), encoding="utf-8")
    return copied


def _flag(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


class JwstPipelineModule(ConventionalModule):
    """One jwst pipeline (or step) class run on one association file."""

    def __init__(self, class_name: str) -> None:
        self.class_name = class_name
        self.name = f"jwst:{class_name}"

    def run(self, node: Node, ctx: RunContext) -> None:
        if node.kind != "association" or node.path is None:
            raise CalibrationError(f"{self.name} runs on association files, not on {node.node_id}")
        pipeline = load_jwst_class(self.class_name)
        association_file = _with_member_paths(node, ctx)
        steps = ctx.options.get("jwst_steps") or {}
        if not isinstance(steps, Mapping):
            raise CalibrationError("option jwst_steps must be a mapping of step name -> parameters")
        kwargs: dict[str, Any] = {"output_dir": str(ctx.workdir), "save_results": True}
        if steps:
            kwargs["steps"] = {str(k): dict(v) for k, v in steps.items()}
        with _crds_environment(ctx, _flag(ctx.options.get("jwst_disable_crds_steppars", True))):
            try:
                pipeline.call(str(association_file), **kwargs)
            except CalibrationError:
                raise
            except Exception as exc:  # jwst raises anything; the node fails with its message
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise CalibrationError(f"{self.class_name} failed: {type(exc).__name__}: {reason}") from None
