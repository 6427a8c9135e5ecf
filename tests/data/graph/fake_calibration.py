"""Stand-in calibration modules for dispatcher tests.

``WRITER`` checks that every input is in the data folder (so a node that runs
before its producers fails), then writes each declared output into its
scratch folder; the content depends on the node and on its inputs' content,
so two runs agree exactly when they computed the same thing. Options steer
failures: ``fail`` (node ids that raise CalibrationError), ``crash`` (node ids
that raise an unexpected exception), ``partial`` (node ids that write one
output, then fail), ``nested`` (node ids that
start their own process pool, as stcal does with maximum_cores > 1), ``sleep`` (seconds before each output is written, to
kill a run midway) and ``flaky_dir`` (each node fails on its first attempt,
remembered by a marker file there). Only ``variant`` (written into every
output) changes what the module makes, so only it is a parameter for reruns
(``result_options``); ``version`` is the module version provenance records
(``WRITER_V2`` is the same module at version 2.0). With ``read_flat`` and a
provider (such as :class:`FileRefs`), a node also reads a ``flat`` reference
and folds its content into its outputs.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from pathlib import Path

from asnflow.calib.base import PLACEHOLDER, ConventionalModule, Node, RunContext
from asnflow.calib.refs import Reference
from asnflow.errors import CalibrationError


class FileRefs:
    """A reference provider handing out ``<reftype>.fits`` files of one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def fetch(self, model, reftypes):
        return {t: Reference(t, f"file://{t}.fits", path=str(self.folder / f"{t}.fits")) for t in reftypes}


class FakeWriter(ConventionalModule):
    name = "fake-writer"
    version = "1.0"
    result_options = ("variant",)

    def run(self, node: Node, ctx: RunContext) -> None:
        options = ctx.options
        digest = hashlib.sha256(node.node_id.encode())
        for name in self.inputs(node):
            path = ctx.data_dir / name
            if not path.is_file():
                raise CalibrationError(f"input {name} is not in the data folder")
            digest.update(path.read_bytes())
        if ctx.provider is not None and options.get("read_flat"):
            for reference in ctx.provider.fetch(None, ["flat"]).values():
                digest.update(Path(reference.path).read_bytes())
        if node.node_id in options.get("fail", ()):
            raise CalibrationError(f"{node.node_id} was told to fail")
        if node.node_id in options.get("crash", ()):
            raise ValueError(f"{node.node_id} crashed")
        if node.node_id in options.get("nested", ()):
            # What stcal does with maximum_cores > 1: a process pool inside the node.
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                if pool.map(abs, [-1, -2]) != [1, 2]:
                    raise CalibrationError("nested pool gave a wrong answer")
        flaky_dir = options.get("flaky_dir")
        if flaky_dir:
            marker = Path(flaky_dir) / node.node_id.replace(":", "-")
            if not marker.exists():
                marker.write_text("failed once\n")
                raise CalibrationError("flaky: first attempt fails")
        outputs = self.outputs(node)
        for number, name in enumerate(outputs):
            time.sleep(float(options.get("sleep", 0)))
            concrete = PLACEHOLDER.sub("s000000001", name)
            variant = f"variant {options['variant']}\n" if "variant" in options else ""
            (ctx.workdir / concrete).write_text(f"{node.node_id}\n{name}\n{digest.hexdigest()}\n{variant}")
            if number == 0 and node.node_id in options.get("partial", ()):
                raise CalibrationError("wrote one output, then failed")
        (ctx.workdir / "undeclared_scratch.tmp").write_text("scratch\n")


WRITER = FakeWriter()
WRITER_V2 = FakeWriter()
WRITER_V2.version = "2.0"
