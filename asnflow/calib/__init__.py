"""Calibration modules keyed by asn_type, and reference-data providers."""
