"""Write realistic raw NIRCam/NIRISS imaging programs and their complete synthetic CRDS cache.

    python benchmarks/calib_parity/make_data.py DATA [--instruments nircam niriss] [--size 64] [--ngroups 8]

DATA receives, per instrument, a pool and six ``_uncal`` exposures (two
filters, three dithers), and one ``crds/`` cache holding every reference
jwst 3.0.0 selects for them (use it with ``CRDS_PATH=DATA/crds``). Files
already there are kept, so a second call is a no-op; use a new folder after
changing options. ``--size 2048`` writes full frames (about 70 MB per raw
exposure and a multi-GB cache with darks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from asnflow.demo.inputs import write_program_inputs
from asnflow.demo.instruments import SETUPS
from asnflow.demo.raw import Program

PROGRAM_IDS = {"nircam": "09998", "niriss": "09999"}


def programs(instruments: list[str], size: int, ngroups: int) -> list[Program]:
    return [Program(SETUPS[name](ngroups), size, program=PROGRAM_IDS[name]) for name in instruments]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="folder to write (created if missing)")
    parser.add_argument("--instruments", nargs="+", choices=sorted(SETUPS), default=sorted(SETUPS))
    parser.add_argument("--size", type=int, default=64, help="frame size: 64 (default), 128/160/256/400, or 2048")
    parser.add_argument("--ngroups", type=int, default=8)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        made = write_program_inputs(args.data, programs(args.instruments, args.size, args.ngroups))
    except ValueError as exc:
        print(f"make_data: {exc}", file=sys.stderr)
        return 2
    print(f"{len(made.raw)} raw exposures and {made.crds_cache} in {time.monotonic() - started:.1f} s ({made.written} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
