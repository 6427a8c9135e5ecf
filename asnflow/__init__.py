"""asnflow: JWST associations from declarative rules, DMS naming, and calibration dispatch."""

__version__ = "0.1.0"
