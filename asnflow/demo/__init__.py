"""``asnflow demo``: a small synthetic NIRISS imaging program run end to end.

See :mod:`asnflow.demo.program` for what the program contains and
:mod:`asnflow.demo.run` for what the demo does with it.
"""

from asnflow.demo.run import DemoResult, generate_associations, run_demo

__all__ = ["DemoResult", "generate_associations", "run_demo"]
