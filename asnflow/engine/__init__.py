"""Association generation: passes over a pool, the association index and guards, finalize, prune, parallel runs."""
