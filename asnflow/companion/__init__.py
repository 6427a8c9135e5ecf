"""Companion tools around the generator: associations from a list of files,
pools from FITS headers, gathering an association's files, editing members."""
