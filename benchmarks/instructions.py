#!/usr/bin/env python3
"""Count the instructions `asnflow generate` executes, for this checkout and (--base) another revision.

Wall times on a shared machine move by a third from minute to minute; the
number of instructions a run executes moves by well under a tenth of a
percent. It is the measure of what a change to the code did (it does not see
memory stalls: a change that only touches memory differently shows in the
wall times of run.py, not here).

Each count is one whole process, `python -m asnflow generate POOL... -p OUT -q`
under valgrind (cachegrind without its cache model: some twenty times slower
than a normal run), with PYTHONHASHSEED=0 so set and dict orders do not
vary, the bytecode compiled and the rule cache filled beforehand (by a run
that is not counted), as an installed asnflow runs. The workloads are the
scaled pools (by default 800 rows) and every pool of the parity corpus in
one command.

    python benchmarks/instructions.py                         # this checkout
    python benchmarks/instructions.py --base HEAD~3           # and HEAD~3, compared
    python benchmarks/instructions.py --sizes 800,10000 --no-corpus

Exit status: 0 when every count was taken; 1 when a run failed; 2 when
valgrind, git or the pool maker is missing. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_parallel import corpus_pools, default_corpus
from run import DEFAULT_POOL_MAKER, REPO, SetupError, _sizes, make_pool

_REFS = re.compile(r"^==(\d+)== I\s+refs:\s+([\d,]+)$", re.MULTILINE)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        return count(args)
    except SetupError as error:
        print(f"instructions.py: {error}", file=sys.stderr)
        return 2


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", metavar="REV", help="also count at this git revision, and compare")
    parser.add_argument("--sizes", type=_sizes, default=(800,), help="scaled pool sizes in rows (default: 800)")
    parser.add_argument("--no-corpus", action="store_true", help="leave out the parity corpus in one command")
    parser.add_argument("--corpus", type=Path, help="the pools run together (default: as run.py)")
    parser.add_argument("--pool-maker", type=Path, default=DEFAULT_POOL_MAKER, help="the scaled pool maker")
    return parser.parse_args(argv)


def count(args: argparse.Namespace) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SetupError("valgrind is not installed (apt-get install valgrind)")
    if not args.pool_maker.is_file():
        raise SetupError(f"the scaled pool maker is not at {args.pool_maker} (give one with --pool-maker)")
    workroot = Path(tempfile.mkdtemp(prefix="asnflow-instructions-"))
    trees = {"this checkout": REPO}
    try:
        workloads = {f"{size:,} rows": [make_pool(args.pool_maker, size, workroot, _quiet)[0]] for size in args.sizes}
        if not args.no_corpus:
            corpus = (args.corpus or default_corpus(REPO)).resolve()
            pools = corpus_pools(corpus)
            if not pools:
                raise SetupError(f"no pools in {corpus} (give a folder with --corpus, or --no-corpus)")
            workloads[f"corpus, {len(pools)} pools"] = list(pools)
        if args.base:
            trees = {args.base: _worktree(args.base, workroot / "base"), **trees}
        counts = {(tree, name): _count(valgrind, path, pools, workroot)
                  for tree, path in trees.items() for name, pools in workloads.items()}
    finally:
        if args.base and (workroot / "base").exists():
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(workroot / "base")],
                           capture_output=True)
        shutil.rmtree(workroot, ignore_errors=True)
    print(_table(list(trees), list(workloads), counts))
    return 0 if all(value is not None for value in counts.values()) else 1


def _worktree(revision: str, where: Path) -> Path:
    done = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), revision],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SetupError(f"cannot check out {revision}: {done.stderr.strip() or 'git failed'}")
    return where


def _count(valgrind: str, tree: Path, pools: list[Path], workroot: Path) -> int | None:
    """The instructions of one run of `asnflow generate` from ``tree`` (None when it failed)."""
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree),
               ASNFLOW_CACHE_DIR=str(workroot / "cache"))  # the rule cache: filled by the first run
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "asnflow")], env=env, capture_output=True)
    command = [sys.executable, "-m", "asnflow", "generate", *map(str, pools), "-q", "-p"]
    warm = subprocess.run([*command, str(_fresh(workroot / "out"))], env=env, cwd=tree, capture_output=True)
    if warm.returncode != 0:
        return None
    counted = subprocess.run([valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                              *command, str(_fresh(workroot / "out"))],
                             env=env, cwd=tree, capture_output=True, text=True)
    found = _REFS.findall(counted.stderr)
    if counted.returncode != 0 or not found:
        return None
    first = min(found, key=lambda pid_count: int(pid_count[0]))  # the command itself, not a worker it forked
    return int(first[1].replace(",", ""))


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def _table(trees: list[str], workloads: list[str], counts: dict) -> str:
    def billions(value: int | None) -> str:
        return "failed" if value is None else f"{value / 1e9:.3f}"

    width = max(len(name) for name in workloads)
    header = f"{'workload':<{width}}  " + "  ".join(f"{tree:>14}" for tree in trees)
    lines = ["instructions, billions (valgrind, whole process)", header + ("  change" if len(trees) == 2 else "")]
    for name in workloads:
        values = [counts[(tree, name)] for tree in trees]
        line = f"{name:<{width}}  " + "  ".join(f"{billions(value):>14}" for value in values)
        if len(values) == 2 and None not in values:
            line += f"  {(values[1] - values[0]) / values[0]:+.1%}"
        lines.append(line)
    return "\n".join(lines)


def _quiet(text: str, end: str = "\n", prefix: str = "") -> None:
    pass


if __name__ == "__main__":
    sys.exit(main())
