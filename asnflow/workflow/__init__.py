"""Running the dependency graph: what made each product and what must run again."""
