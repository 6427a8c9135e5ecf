"""``asnflow report``: one self-contained HTML page about a folder of associations and its run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

REPORT_NAME = "asnflow-report.html"


def write_report(
    folder: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    pools: Sequence[str | os.PathLike[str]] = (),
    rules: Sequence[str] = (),
    config: str | None = None,
    previews: bool = True,
) -> Path:
    """Write the report (atomically) and return its path: ``output``, or ``FOLDER/asnflow-report.html``.

    ``previews=False`` leaves the mosaic previews out (they cost a matplotlib drawing each).
    """
    from asnflow.fsutil import atomic_write_text
    from asnflow.report.collect import collect
    from asnflow.report.html import render_html

    facts = collect(folder, data_dir=data_dir, pools=pools, rules=rules, config=config, previews=previews)
    target = Path(output) if output is not None else Path(folder) / REPORT_NAME
    return atomic_write_text(target, render_html(facts))


__all__ = ["REPORT_NAME", "write_report"]
