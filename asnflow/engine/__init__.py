"""Pool reading, association generation, finalize/prune, output, graph and dispatch."""
