"""DMS names: exposures, level-2/3 products, association files, candidate ids, source ids."""
