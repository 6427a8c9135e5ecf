"""Pure array functions used by the native calibration modules.

Each public function takes and returns plain numpy arrays (plus scalars), does
no I/O and keeps no state, so it can be tested on small hand-made arrays and
reused outside the modules that call it.
"""
