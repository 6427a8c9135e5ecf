"""``asnflow demo``: a synthetic NIRISS imaging program taken from raw ramps to mosaics.

Steps, all in one flat data folder:

1. write the program's pool, raw ``_uncal`` ramps and a small CRDS cache
   (only what is missing: see :mod:`asnflow.demo.inputs`);
2. generate the associations from the pool with asnflow's rules (only files
   whose content changed are rewritten, so timestamps stay put);
3. build the dependency graph (detector1 per exposure → image2 → image3) and
   draw it (text; a PNG too with matplotlib);
4. run it with the dispatcher on two workers, references from the CRDS cache
   used offline; nodes whose outputs are up to date are skipped with the
   reason, so a second run — or a run after a kill — resumes;
5. print the summary and where the products are, write a PNG preview of
   each ``_i2d`` mosaic (with matplotlib) and the HTML report
   (``asnflow-report.html``), and print its path.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from asnflow.demo import program
from asnflow.demo.inputs import STAGING_PREFIX, write_inputs
from asnflow.errors import AsnflowError

if TYPE_CHECKING:
    from asnflow.workflow.dispatch import RunSummary

# (file name, file text) of every association, from the pool file.
Associate = Callable[[Path], Sequence[tuple[str, str]]]

GRAPH_PICTURE = "asnflow-demo-graph.png"
EXECUTORS = ("serial", "process", "dask")


@dataclass(frozen=True)
class DemoResult:
    folder: Path
    associations: tuple[Path, ...]
    summary: RunSummary
    products: tuple[Path, ...]  # the level-3 products (_i2d, _cat.ecsv, _segm)
    pictures: tuple[Path, ...]  # graph picture and previews (empty without matplotlib)
    report: Path | None = None  # the HTML report

    @property
    def exit_status(self) -> int:
        return self.summary.exit_status


def generate_associations(pool: Path) -> list[tuple[str, str]]:
    """The pool's associations as (file name, JSON text), from asnflow's own rules."""
    import asnflow
    from asnflow.asnfile.files import dumps, file_names, validate

    generate = getattr(asnflow, "generate", None)
    if generate is not None:  # the package-level API
        associations = list(generate(pool))
    else:  # what ``asnflow generate`` runs
        from asnflow.engine.generate import Options
        from asnflow.engine.session import generate_documents, rule_set
        from asnflow.pool.read import read_pool

        associations = list(generate_documents(read_pool(pool), rule_set(), Options()).documents)
    names = file_names(associations, "json")
    out = []
    for association, name in zip(associations, names, strict=True):
        validate(association, source=name)
        out.append((name, dumps(association, "json")))
    return out


def _write_if_changed(path: Path, content: str | bytes) -> bool:
    """Atomically (re)write ``path`` only when its content differs; True if written.

    Unchanged files keep their timestamps, so the dispatcher still sees the
    nodes that read them as up to date. The temporary name carries the demo's
    staging prefix, so a run killed mid-write leaves nothing the next run
    does not clear.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_file() and path.read_bytes() == data:
        return False
    temporary = path.with_name(f"{STAGING_PREFIX}{path.name}")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return True


def run_demo(
    folder: str | Path,
    *,
    executor: str = "process",
    workers: int = 2,
    quiet: bool = False,
    out: TextIO | None = None,
    associate: Associate | None = None,
    pictures: bool = True,
) -> DemoResult:
    """Run the demo in ``folder`` (created if needed) and report on ``out``.

    ``associate`` replaces the association step (tests use fixed files);
    ``pictures=False`` skips the PNG files even when matplotlib is there.
    """
    from asnflow.calib.refs import CrdsRefs
    from asnflow.report import REPORT_NAME, write_report
    from asnflow.report.preview import matplotlib_available, render_preview
    from asnflow.workflow.draw import render
    from asnflow.workflow.graph import build_graph

    out = out if out is not None else sys.stdout
    if executor not in EXECUTORS:
        raise AsnflowError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if workers < 1:
        raise AsnflowError(f"--workers must be at least 1, not {workers}")
    folder = Path(folder).resolve()
    if folder.exists() and not folder.is_dir():
        raise AsnflowError("the demo folder exists and is not a folder", path=str(folder))
    started = time.monotonic()

    def say(text: str = "") -> None:
        print(text, file=out)

    inputs = write_inputs(folder)
    exposures = program.exposures()
    filters = sorted({e.filter.element for e in exposures})
    demo = program.DEMO
    say(f"asnflow demo: NIRISS imaging program {demo.program}, observation {demo.observation}, in {folder}")
    say(
        f"  {len(exposures)} raw ramps ({demo.size}x{demo.size} pixels, "
        f"{demo.setup.filters[0].readout.ngroups} groups) "
        f"in {', '.join(filters)}; pool {inputs.pool.name}; CRDS cache {inputs.crds_cache.name}/"
        + ("" if inputs.written else " (all inputs already there)")
    )

    files = (associate or generate_associations)(inputs.pool)
    association_paths = []
    for name, text in files:
        path = folder / name
        _write_if_changed(path, text)
        association_paths.append(path)
    say(f"  {len(association_paths)} associations: " + ", ".join(p.name for p in association_paths))

    graph = build_graph(association_paths, data_dir=folder)
    say()
    say("dependency graph:")
    say(str(render(graph, "text")).rstrip("\n"))

    drawn: list[Path] = []
    draw = pictures and matplotlib_available()
    if draw:
        picture = folder / GRAPH_PICTURE
        _write_if_changed(picture, render(graph, "png"))
        drawn.append(picture)

    say()
    say(f"running {len(graph)} nodes with the {executor} executor on {workers} workers ...")
    summary = _run(graph, folder, executor, workers, CrdsRefs(inputs.crds_cache), quiet)
    _print_results(say, summary)

    products = []
    for path in sorted(folder.glob("*_i2d.fits")):
        stem = path.name[: -len("_i2d.fits")]
        products += [p for p in (path, folder / f"{stem}_cat.ecsv", folder / f"{stem}_segm.fits") if p.is_file()]
        if draw:
            preview = folder / f"{stem}_i2d.png"
            catalog = folder / f"{stem}_cat.ecsv"
            _write_if_changed(preview, render_preview(path, catalog if catalog.is_file() else None))
            drawn.append(preview)

    report = write_report(folder, folder / REPORT_NAME, pools=[inputs.pool], previews=draw)

    say()
    say(f"{summary.line()} in {time.monotonic() - started:.1f} s; run log {summary.log_path}")
    say(f"products in {folder}:")
    for path in products:
        say(f"  {path.name}")
    if drawn:
        say("pictures: " + ", ".join(p.name for p in drawn))
    elif pictures:
        say("pictures: none (pip install 'asnflow[plot]' for the graph picture and mosaic previews)")
    say(f"report: {report}")
    return DemoResult(folder, tuple(association_paths), summary, tuple(products), tuple(drawn), report)


def _run(graph, folder: Path, executor: str, workers: int, provider, quiet: bool) -> RunSummary:
    from asnflow.workflow.dispatch import run_graph

    return run_graph(
        graph,
        folder,
        executor=executor,
        workers=workers,
        provider=provider,
        options={"maximum_cores": "1"},
        progress=not quiet,
    )


def _print_results(say: Callable[[str], None], summary: RunSummary) -> None:
    width = max((len(r.node_id) for r in summary.results), default=0)
    for result in summary.results:
        took = f"{result.duration:5.1f} s" if result.duration else "       "
        say(f"  {result.status:<9}  {result.node_id:<{width}}  {took}  {result.reason}")
