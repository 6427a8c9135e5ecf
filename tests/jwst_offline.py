"""A script that runs one of jwst's pipelines offline on a synthetic CRDS cache, for tests marked ``jwst``.

Run as ``python -c SCRIPT CRDS_CACHE INPUT OUTPUT_DIR`` in a fresh process:
crds reads its environment when first imported and keeps state for the life
of a process, so each comparison gets its own.
"""

from __future__ import annotations


def pipeline_script(pipeline: str) -> str:
    return f"""
import os, sys
os.environ["CRDS_PATH"] = sys.argv[1]
os.environ["CRDS_SERVER_URL"] = "https://jwst-serverless-mode.stsci.edu"
os.environ["CRDS_MODE"] = "local"
from jwst.pipeline import {pipeline}
{pipeline}.call(sys.argv[2], save_results=True, output_dir=sys.argv[3])
"""
