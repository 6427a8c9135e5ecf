"""What two busy processes can gain on this machine at best: the ceiling for ``-j 2``.

A fixed piece of work like the generator's (dictionary lookups over a few
tens of MiB of strings: no I/O, much memory traffic) runs alone, then as two
copies at once, round after round, between the rounds of the parallel
comparison. On a machine with two real, idle CPUs and memory to spare the
pair finishes as fast as one copy and the ceiling is 2.0x; on a virtual
machine whose CPUs share a physical core or a busy host, or whose caches
are small, the slower copy of the pair lags and the ceiling is lower. A
``-j 2`` speed-up is read against it: no parallel code beats it there.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass

# Each copy times only its loop (not the interpreter's start, nor building its table) and prints the seconds.
_WORK = """\
import random
import time
table = {{str(i) * 3: i for i in range({entries})}}
keys = list(table)
random.Random(0).shuffle(keys)  # lookups all over the table, as the generator's are
start = time.perf_counter()
x = 0
for _ in range({sweeps}):
    for key in keys:
        x += table[key]
print(time.perf_counter() - start)
"""
ENTRIES, SWEEPS = 300_000, 8  # about 40 MiB a copy; about a second


@dataclass
class Ceiling:
    """The rounds measured so far (:func:`add_round` adds one)."""

    alone: list[float]  # seconds of one copy alone, per round
    together: list[float]  # seconds of the slower of two copies at once, per round

    @property
    def ratios(self) -> list[float]:
        """Per round: the speed-up two copies at once gave over one after the other."""
        return [2 * one / both for one, both in zip(self.alone, self.together, strict=True)]

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)


def add_round(ceiling: Ceiling) -> None:
    """One round: the work alone, then two copies at once."""
    ceiling.alone.append(_run_copies(1)[0])
    ceiling.together.append(max(_run_copies(2)))


def _run_copies(copies: int) -> list[float]:
    code = _WORK.format(entries=ENTRIES, sweeps=SWEEPS)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(copies)]
    seconds = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"the ceiling's work failed (exit status {proc.returncode})")
        seconds.append(float(out))
    return seconds


def ceiling_report(ceiling: Ceiling) -> str:
    low, high = min(ceiling.ratios), max(ceiling.ratios)
    return (f"{'two busy processes here, at best':<48} {ceiling.median:>7.2f}x  "
            f"ceiling for -j 2 (rounds: {low:.2f}x-{high:.2f}x)")
