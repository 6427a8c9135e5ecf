"""Write realistic raw programs (NIRCam, NIRISS, FGS, NIRSpec) and their complete synthetic CRDS cache.

    python benchmarks/calib_parity/make_data.py DATA [--instruments nircam niriss fgs nirspec] [--size N]
        [--ngroups 8]

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

PROGRAM_IDS = {"nircam": "09998", "niriss": "09999", "fgs": "09997", "nirspec": "09996"}
DEFAULT_INSTRUMENTS = list(SETUPS)  # nircam, niriss, fgs, nirspec


def programs(instruments: list[str], size: int | None, ngroups: int) -> list[Program]:
    """One program per instrument, at ``size`` (None: each set-up's own default frame size)."""
    out = []
    for name in instruments:
        setup = SETUPS[name](ngroups)
        out.append(Program(setup, size or setup.default_size, program=PROGRAM_IDS[name]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="folder to write (created if missing)")
    parser.add_argument("--instruments", nargs="+", choices=sorted(SETUPS), default=DEFAULT_INSTRUMENTS)
    parser.add_argument(
        "--size",
        type=int,
        help="frame size (default: 64 for NIRCam/NIRISS, 128 for FGS, 32 for NIRSpec); "
        "NIRCam 64/160/400, NIRISS 64/128/256, FGS 32/128, NIRSpec 32; 2048 for all",
    )
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
