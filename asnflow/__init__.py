"""asnflow: JWST associations from declarative rules, DMS naming, and calibration dispatch.

The Python API (imported on first use, so ``import asnflow`` stays light):
``asnflow.generate(pool, ...)``, ``asnflow.load(path)``, ``asnflow.write(asns, folder)``,
``asnflow.from_list(members, ...)``.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "generate", "load", "write", "from_list", "Association"]


def __getattr__(name: str):
    if name in ("generate", "load", "write"):
        from asnflow import api

        return getattr(api, name)
    if name == "from_list":
        from asnflow.companion.from_list import from_list

        return from_list
    if name == "Association":
        from asnflow.engine.documents import AssociationDict

        return AssociationDict
    raise AttributeError(f"module 'asnflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The API is imported on first use, so without this dir() (and completion
    # in IPython/Jupyter) would not show it.
    return sorted(set(globals()) | set(__all__))
