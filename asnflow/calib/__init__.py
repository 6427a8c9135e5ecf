"""Calibration modules keyed by asn_type, and reference-data providers.

- :mod:`.base`: the contract with the graph and the dispatcher (Node,
  RunContext, CalibrationModule, module_for).
- Native modules (``MODULE`` objects): :mod:`.detector1` (raw ramp → rate),
  :mod:`.image2` (rate → cal), :mod:`.image3` (cal → crf, i2d, catalog,
  segmentation map); their array work is in :mod:`.algorithms`.
- :mod:`.jwst_adapter`: jwst's own pipelines for every other asn_type.
- :mod:`.refs`: reference providers (offline CRDS cache, in-memory arrays);
  :mod:`.crds_cache` writes a small CRDS cache; :mod:`.modelio` reads inputs
  and writes reproducible products.
"""
