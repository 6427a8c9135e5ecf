"""From association files to products: the dependency graph, its drawing, dispatch to the calibration
modules, and the provenance store that says what made every product and what must run again."""
