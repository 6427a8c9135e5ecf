"""Why exposures did or did not end up in associations: explain, orphans, missing columns, rule impact."""
