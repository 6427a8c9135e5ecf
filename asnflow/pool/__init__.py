"""Association pools: reading the pipe-separated table, and the candidates it lists."""
