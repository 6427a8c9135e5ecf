"""Run jwst's own pipeline classes: per raw exposure (detector1) or per association.

rules.yaml routes a node to jwst with ``jwst:CLASS``, e.g. ``spec3: jwst:Spec3Pipeline``
or ``{module: "jwst:Image2Pipeline", steps: {resample: {pixfrac: 0.8}}}``;
:func:`asnflow.calib.base.resolve_route` turns that into
``JwstPipelineModule("Image2Pipeline", steps=...)``, so each route carries its
own step parameters. jwst is an optional extra (``pip install 'asnflow[jwst]'``):
without it :meth:`JwstPipelineModule.unavailable` says so and ``asnflow run``
refuses before any node runs. Inputs and outputs are jwst's conventional file
names (:class:`~asnflow.calib.base.ConventionalModule`); products jwst may or
may not write (a catalog for an empty field, image2's ``_i2d``, the other of
``_rate``/``_rateints``) are optional outputs: published when written.

An exposure node runs ``CLASS.call(<raw file>, ...)``; an association node runs
it on a copy of the association (in the node's scratch folder) whose members
name their files in the data folder by full path. Both pass
``output_dir=<scratch>, save_results=True``. With a CRDS-cache reference
provider, CRDS_PATH points at that cache (offline) during the call. Run option
``jwst_disable_crds_steppars`` (default true: no ``pars-*`` reference lookups,
which a partial offline cache rarely holds).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from asnflow.calib.base import (
    LEVEL2_IMAGE_TYPES,
    ConventionalModule,
    Node,
    RunContext,
    file_root,
    is_integrations,
    products,
    science_member,
)
from asnflow.errors import CalibrationError

# Where each class lives; pipelines are in jwst.pipeline, single steps in jwst.step.
_PACKAGES = ("jwst.pipeline", "jwst.step")


JWST_MISSING = "jwst is not installed (pip install 'asnflow[jwst]')"


def load_jwst_class(class_name: str) -> type[Any]:
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
    """One jwst pipeline (or step) class run on one raw exposure or one association file."""

    def __init__(self, class_name: str, steps: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.class_name = class_name
        self.name = f"jwst:{class_name}"
        self.steps = {str(k): dict(v) for k, v in (steps or {}).items()}

    def unavailable(self) -> str | None:
        return JWST_MISSING if importlib.util.find_spec("jwst") is None else None

    def outputs(self, node: Node) -> list[str]:
        return list(dict.fromkeys([*super().outputs(node), *self.optional_outputs(node)]))

    def optional_outputs(self, node: Node) -> list[str]:
        optional = list(super().optional_outputs(node))
        if node.kind == "exposure":
            # Detector1Pipeline writes both; consumers may list only one
            root = file_root(node.node_id.split(":", 1)[1] + ".fits")
            optional += [n for n in (f"{root}_rate.fits", f"{root}_rateints.fits") if n not in node.wanted]
        elif node.asn_type in LEVEL2_IMAGE_TYPES:
            # Image2Pipeline resamples 2-D images to an _i2d as well
            for product in products(node.association):
                if not is_integrations(science_member(product)):
                    optional.append(f"{product.get('name', '')}_i2d.fits")
        return optional

    def run(self, node: Node, ctx: RunContext) -> None:
        if "jwst_steps" in ctx.options:
            raise CalibrationError(
                "option jwst_steps is not read: set step parameters per module in rules.yaml "
                "(calibration: ASN_TYPE: {module: jwst:CLASS, steps: {...}})"
            )
        pipeline = load_jwst_class(self.class_name)
        if node.kind == "exposure":
            if node.path is None or not Path(node.path).is_file():
                raise CalibrationError(f"raw exposure {node.node_id.split(':', 1)[1]}.fits is missing")
            target = Path(node.path)
        elif node.path is not None:
            target = _with_member_paths(node, ctx)
        else:
            raise CalibrationError(f"{self.name} needs an association file for {node.node_id}")
        kwargs: dict[str, Any] = {"output_dir": str(ctx.workdir), "save_results": True}
        if self.steps:
            kwargs["steps"] = copy.deepcopy(self.steps)
        with _crds_environment(ctx, _flag(ctx.options.get("jwst_disable_crds_steppars", True))):
            try:
                pipeline.call(str(target), **kwargs)
            except CalibrationError:
                raise
            except Exception as exc:  # jwst raises anything; the node fails with its message
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise CalibrationError(
                    f"{self.class_name} on {target.name} failed: {type(exc).__name__}: {reason}"
                ) from None
