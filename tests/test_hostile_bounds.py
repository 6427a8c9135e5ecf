"""Hostile input that asks for unbounded work: refused in one line, quickly, with nothing left behind.

Every case runs ``python -m asnflow`` in a fresh temporary folder with a hard
timeout (a hang fails the test instead of blocking the suite) and checks the
exit status, that stderr is exactly one line, and that no traceback is shown.
Classes: the parsed-rules cache, regular expressions in rule files, fragment
expansion and nesting depth, association files, rules.yaml types,
``generate -j`` workers and signals, and naming/candidate tracebacks.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SMALL_POOL = DATA / "compat" / "pools" / "cover_imgbkg_pool.csv"
EXPOSURE = "jw01239001001_02101_00001_mirimage_uncal.fits"  # a row of SMALL_POOL
TIMEOUT = 120  # seconds: generous for a loaded machine; a hang still fails


@pytest.fixture(scope="module")
def rule_cache(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-rule-cache")
    folder.chmod(0o700)
    return folder


@pytest.fixture
def cli(rule_cache, tmp_path):
    """Run ``python -m asnflow ARGS`` in a fresh folder (``tmp_path``)."""

    def run(*args: str, cache: Path | None = None, timeout: float = TIMEOUT, **popen) -> subprocess.CompletedProcess:
        env = dict(os.environ, ASNFLOW_CACHE_DIR=str(cache if cache is not None else rule_cache))
        return subprocess.run([sys.executable, "-m", "asnflow", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False, **popen)

    return run


def refused(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit status 2, exactly one stderr line holding every fragment, no traceback; returns the line."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rule(body: str, name: str = "R") -> str:
    return f"rule {name} {{\n  level 3\n  asn_type image3\n{body}\n}}\n"


# ----------------------------------------------------------------------------- the parsed-rules cache
def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("rules-*.json"))


def test_cache_is_json_data_and_a_planted_pickle_is_never_run(cli, tmp_path):
    cache = tmp_path / "cache"
    assert cli("rules", "list", cache=cache).returncode == 0
    entries = _entries(cache)
    assert entries and not list(cache.glob("*.pickle"))
    for entry in entries:
        json.loads(entry.read_text(encoding="utf-8").partition("\n")[2])  # plain JSON data
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for entry in entries:  # a pickle under every entry's name, and beside it under the old name
        entry.write_bytes(pickle.dumps(Evil()))
        entry.with_suffix(".pickle").write_bytes(pickle.dumps(Evil()))
    proc = cli("rules", "list", cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    for entry in entries:  # replaced by a good entry again
        json.loads(entry.read_text(encoding="utf-8").partition("\n")[2])


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "other-key"])
def test_cache_damaged_entry_is_ignored_and_replaced(cli, tmp_path, damage):
    cache = tmp_path / "cache"
    good = cli("rules", "show", "Asn_Lv3Image", cache=cache)
    assert good.returncode == 0
    for entry in _entries(cache):
        text = entry.read_text(encoding="utf-8")
        if damage == "truncate":
            text = text[: len(text) // 2]
        elif damage == "flip":  # same length, body no longer matches its digest
            text = text.replace('"pin"', '"pon"', 1).replace("Asn_Lv3Image", "Asn_Lv3Imagf")
        elif damage == "empty":
            text = ""
        else:
            header, _, body = text.partition("\n")
            text = header.replace('"key": "', '"key": "0', 1) + "\n" + body
        entry.write_text(text, encoding="utf-8")
    again = cli("rules", "show", "Asn_Lv3Image", cache=cache)
    assert again.returncode == 0, again.stderr
    assert again.stdout == good.stdout


def test_cache_folder_others_may_write_is_not_used(cli, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    proc = cli("rules", "list", cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert list(cache.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a folder away")
def test_cache_folder_of_another_user_is_not_used(cli, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    os.chown(cache, 65534, 65534)
    proc = cli("rules", "list", cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert list(cache.iterdir()) == []


def test_cache_new_folder_is_private(cli, tmp_path):
    cache = tmp_path / "deeper" / "cache"
    assert cli("rules", "list", cache=cache).returncode == 0
    assert cache.stat().st_mode & 0o077 == 0


def test_cache_write_failing_leaves_no_temporary_files(cli, tmp_path):
    # A file size limit makes every write of a cache entry fail part-way, as a full disk does.
    cache = tmp_path / "cache"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    for _ in range(3):
        proc = cli("rules", "list", cache=cache, preexec_fn=small_files)
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) == []


# ----------------------------------------------------------------------------- regular expressions
@pytest.mark.parametrize("pattern, says", [
    ("(a+)+$", "exponential"),
    ("(a|ab)+", "exponential"),
    ("(x*y?)*z", "exponential"),
    ("(.{1,9}){2,}", "exponential"),
    (".*.*.*.*x", "unbounded repeats"),
    ("a{99999999999}", "repetition number is too large"),
])
def test_regex_that_cannot_finish_is_refused_where_written(cli, tmp_path, pattern, says):
    rules = write(tmp_path, "my.rules", rule(f'  pin exp_type = exp_type ~ "{pattern}"'))
    shutil.copy(SMALL_POOL, tmp_path / "pool.csv")
    line = refused(cli("generate", "pool.csv", "-r", "my.rules", "-p", "out"), "my.rules:4:", says)
    assert line.startswith("my.rules:4:")
    assert not (tmp_path / "out").exists()
    check = cli("rules", "check", str(rules))
    assert check.returncode == 2 and says in check.stderr + check.stdout and "Traceback" not in check.stderr


def test_regex_from_a_list_joined_with_bars_is_checked_too(cli, tmp_path):
    write(tmp_path, "my.rules", 'list bad = "(a+)+" b\n' + rule("  pin exp_type = exp_type ~ bad"))
    shutil.copy(SMALL_POOL, tmp_path / "pool.csv")
    refused(cli("generate", "pool.csv", "-r", "my.rules", "-p", "out"), "my.rules:5:", "exponential")


def test_regex_with_shapes_the_shipped_rules_use_is_accepted(cli, tmp_path):
    write(tmp_path, "my.rules", rule('  pin exp_type = exp_type ~ ".+image.*"\n'
                                     '  match _ = filter ~ ["f(770|1800)w", "f[0-9]+[wmn]2?"]\n'
                                     '  match _ = subarray ~ "(full|sub(64|128)p?)"'))
    shutil.copy(SMALL_POOL, tmp_path / "pool.csv")
    proc = cli("generate", "pool.csv", "-r", "my.rules", "--ignore-default", "-p", "out", "-q")
    assert proc.returncode == 0, proc.stderr
    assert any((tmp_path / "out").glob("*_image3_*_asn.json"))


@pytest.mark.parametrize("pattern", [
    "nrc_image|mir_image", "f(770|1800)w", "(full|sub(64|128)p)", "[a-z_]", r"\.fits", r"a\{2\}",
    "((((((nested))))))", r"\d\w", "",
])
def test_a_pattern_without_repeats_gets_the_verdict_of_the_full_walk(pattern):
    """Patterns holding no repeat character skip the walk over their parse: the walk must find
    nothing in them, so the verdict is the one it would give."""
    import re
    from re import _parser

    from asnflow.assoc_rules import regex_safety

    anchored = "^" + pattern + "$"
    assert regex_safety._walk(_parser.parse(anchored, re.IGNORECASE).state,
                              list(_parser.parse(anchored, re.IGNORECASE))) == (None, 0)
    assert regex_safety.compile_problem(pattern) is None


@pytest.mark.parametrize("pattern, says", [("(a", "missing )"), ("a)", "unbalanced parenthesis"), ("[z-a]", "bad")])
def test_a_pattern_without_repeats_that_does_not_compile_is_refused(pattern, says):
    from asnflow.assoc_rules.regex_safety import compile_problem

    assert says in compile_problem(pattern) and "not a valid regular expression" in compile_problem(pattern)


# ----------------------------------------------------------------------------- fragments and nesting
def _doubling_fragments(levels: int) -> str:
    text = [f"fragment f{i} {{\n  use f{i + 1}, f{i + 1}\n}}" for i in range(levels)]
    text.append(f'fragment f{levels} {{\n  match _ = exp_type ~ "mir_image"\n}}')
    return "\n".join(text) + "\n" + rule("  use f0")


def _nested_groups(depth: int) -> str:
    return rule("all {\n" * depth + '  match _ = exp_type ~ "mir_image"\n' + "}\n" * depth)


def _fragment_chain(length: int) -> str:
    text = [f"fragment g{i} {{ use g{i + 1} }}" for i in range(length)]
    text.append(f'fragment g{length} {{ match _ = exp_type ~ "mir_image" }}')
    return "\n".join(text) + "\n" + rule("  use g0")


def _predicate_chain(length: int, reads: str = "p{n}") -> str:
    text = [f"predicate p{i} = " + reads.format(n=i + 1) for i in range(length)]
    text.append(f'predicate p{length} = exp_type == "mir_image"')
    return "\n".join(text) + "\n" + rule("  check p0")


HOSTILE_RULES = {
    "doubling-fragments-40": (_doubling_fragments(40), "grows to"),
    "doubling-predicates-25": (_predicate_chain(25, "p{n} or p{n}"), "grows to"),
    "nested-groups-500": (_nested_groups(500), "levels deep"),
    "nested-groups-400": (_nested_groups(400), "levels deep"),
    "fragment-chain-3000": (_fragment_chain(3000), "levels deep"),
    "predicate-chain-3000": (_predicate_chain(3000), "levels deep"),
    "not-chain-3000": (rule("  check " + "not " * 3000 + 'exp_type == "x"'), "levels deep"),
    "nested-groups-and-fragments": ("\n".join(
        f"fragment h{i} {{ all {{ all {{ use h{i + 1} }} }} }}" for i in range(40))
        + '\nfragment h40 { match _ = exp_type ~ "x" }\n' + rule("  use h0"), "levels deep"),
}


# Every case through generate and rules check; three of them through show and explain too
# (all commands load rules through the same parser and compiler).
RULE_RUNS = [(case, command) for case in sorted(HOSTILE_RULES) for command in ("generate", "check")] + [
    (case, command) for case in ("doubling-fragments-40", "nested-groups-500", "fragment-chain-3000")
    for command in ("show", "explain")]


@pytest.mark.parametrize("case, command", RULE_RUNS)
def test_unbounded_rule_files_are_refused_at_their_place(cli, tmp_path, case, command):
    text, says = HOSTILE_RULES[case]
    write(tmp_path, "my.rules", text)
    shutil.copy(SMALL_POOL, tmp_path / "pool.csv")
    args = {
        "generate": ["generate", "pool.csv", "-r", "my.rules", "-p", "out"],
        "check": ["rules", "check", "my.rules"],
        "show": ["rules", "show", "R", "-r", "my.rules"],
        "explain": ["explain", "pool.csv", EXPOSURE, "-r", "my.rules"],
    }[command]
    proc = cli(*args)
    if command == "check":  # rules check shows each finding with its source line
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "my.rules:" in proc.stderr + proc.stdout and says in proc.stderr + proc.stdout
        assert "1 error" in proc.stderr + proc.stdout
    else:
        refused(proc, "my.rules:", says)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["doc", "list"])
def test_rules_doc_and_list_refuse_deep_rule_files(cli, tmp_path, command):
    write(tmp_path, "my.rules", _nested_groups(500))
    refused(cli("rules", command, "-r", "my.rules"), "my.rules:", "levels deep")


def test_nesting_within_the_limits_still_generates(cli, tmp_path):
    write(tmp_path, "my.rules", "\n".join(f"fragment k{i} {{ all {{ use k{i + 1} }} }}" for i in range(25))
          + '\nfragment k25 { pin _ = exp_type ~ "mir_image" }\n' + rule("  use k0"))
    shutil.copy(SMALL_POOL, tmp_path / "pool.csv")
    proc = cli("generate", "pool.csv", "-r", "my.rules", "--ignore-default", "-p", "out", "-q")
    assert proc.returncode == 0, proc.stderr
    assert any((tmp_path / "out").glob("*_image3_*_asn.json"))


# ----------------------------------------------------------------------------- association files
ASSOCIATION = {
    "asn_type": "image3", "asn_rule": "candidate_Asn_Lv3Image", "version_id": None, "code_version": "0.1.0",
    "degraded_status": "No known degraded exposures in association.", "program": "01239",
    "constraints": "none", "asn_id": "o001", "target": "t001", "asn_pool": "pool.csv",
    "products": [{"name": "jw01239-o001_t001_miri_f1800w", "members": [
        {"expname": "jw01239001001_02102_00001_mirimage_cal.fits", "exptype": "science"}]}],
}


def _alias_bomb() -> str:
    text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, 10):
        text += f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]\n"
    return text + "asn_type: image3\nproducts: *a9\n"


def _mutated(**changes) -> str:
    data = json.loads(json.dumps(ASSOCIATION))
    for path, value in changes.items():
        target = data
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return json.dumps(data, indent=1)


ASSOCIATION_FILES = {
    "alias-bomb.yaml": (_alias_bomb(), "aliases"),
    "big-int.json": (json.dumps(ASSOCIATION).replace('"01239"', "1" * 5000), "digits"),
    "big-int.yaml": ("asn_type: image3\nprogram: " + "7" * 4400 + "\nproducts: []\n", "digits"),
    "deep.json": ('{"products": ' + "[" * 5000 + "]" * 5000 + "}", "nested"),
    "deep.yaml": ("products: " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
    "products-text.json": (_mutated(products="x"), "$.products"),
    "member-text.json": (_mutated(**{"products.0.members.0": "x"}), "$.products[0].members[0]"),
    "expname-number.json": (_mutated(**{"products.0.members.0.expname": 5}), "expname"),
    "exptype-list.json": (_mutated(**{"products.0.members.0.exptype": ["science"]}), "exptype"),
    "name-number.json": (_mutated(**{"products.0.name": 12}), "$.products[0].name"),
    "asn-type-list.json": (_mutated(asn_type=["image3"]), "asn_type"),
    "version-id-object.json": (_mutated(version_id={}), "version_id"),
    "top-level-list.json": (json.dumps([ASSOCIATION]), "mapping"),
}


# Every file through graph; the unbounded ones and one of each kind of wrong type through run, edit and gather.
ASSOCIATION_RUNS = [(name, "graph") for name in sorted(ASSOCIATION_FILES)] + [
    (name, command) for name in ("alias-bomb.yaml", "big-int.json", "deep.yaml", "expname-number.json",
                                 "products-text.json") for command in ("run", "edit", "gather")]


@pytest.mark.parametrize("name, command", ASSOCIATION_RUNS)
def test_hostile_association_files_are_refused_quickly(cli, tmp_path, name, command):
    text, says = ASSOCIATION_FILES[name]
    write(tmp_path, name, text)
    (tmp_path / "data").mkdir()
    args = {
        "graph": ["graph", name],
        "run": ["run", "--data", "data", "--dry-run", name],
        "edit": ["edit", name, "add", "jw01239001001_02102_00002_mirimage_cal.fits", "-o", "edited.json"],
        "gather": ["gather", name, "-o", "gathered"],
    }[command]
    refused(cli(*args, timeout=60), name, says)
    assert not (tmp_path / "edited.json").exists() and not (tmp_path / "gathered").exists()
    assert (tmp_path / name).read_text(encoding="utf-8") == text


# ----------------------------------------------------------------------------- rules.yaml given with --config
CONFIGS = {
    "rules-number": ("rules: 5\n", "rules must be a list"),
    "rules-text": ("rules: level3.rules\n", "rules must be a list"),
    "definitions-numbers": ("definitions:\n  - 5\n", "definitions must be a list"),
    "naming-list": ("naming: [jwst-3.0]\n", "naming must be a mapping"),
    "profile-list": ("naming:\n  profile: [a]\n", "naming must be a mapping"),
    "calibration-list": ("calibration: [image2]\n", "calibration must be a mapping"),
    "pool-columns-mapping": ("pool_columns: {a: 1}\n", "pool_columns must be a list"),
    "alias": ("rules: &r [a.rules]\ndefinitions: *r\n", "aliases"),
    "big-int": ("pool_columns: " + "9" * 4400 + "\n", "digits"),
}


CONFIG_RUNS = [(case, "rules-check") for case in sorted(CONFIGS)] + [
    (case, "graph") for case in ("calibration-list", "naming-list", "alias")]


@pytest.mark.parametrize("case, command", CONFIG_RUNS)
def test_rules_yaml_of_wrong_types_is_one_line_naming_the_key(cli, tmp_path, case, command):
    text, says = CONFIGS[case]
    write(tmp_path, "rules.yaml", text)
    write(tmp_path, "a.json", json.dumps(ASSOCIATION))
    args = ["rules", "check", "--config", "rules.yaml"] if command == "rules-check" else [
        "graph", "--config", "rules.yaml", "a.json"]
    refused(cli(*args), "rules.yaml:", says)


# ----------------------------------------------------------------------------- generate -j: workers and signals
def _busy_pool(folder: Path, observations: int) -> Path:
    """SMALL_POOL repeated with other observation numbers: many candidates, many passes."""
    lines = SMALL_POOL.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line for line in lines[1:] if line and not line.startswith("#")]
    out = [header]
    for obs in range(1, observations + 1):
        for row in rows:
            out.append(row.replace("jw01239001", f"jw01239{obs:03d}").replace("jw01239002", f"jw01239{obs:03d}")
                       .replace("'o001'", f"'o{obs:03d}'").replace("'o002'", f"'o{obs:03d}'")
                       .replace("'c1000'", f"'c{1000 + obs}'"))
    path = folder / "busy_pool.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _start(tmp_path: Path, rule_cache: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, ASNFLOW_CACHE_DIR=str(rule_cache))
    return subprocess.Popen([sys.executable, "-m", "asnflow", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_workers(proc: subprocess.Popen, deadline: float = 300) -> set[int]:
    end = time.monotonic() + deadline
    while time.monotonic() < end and proc.poll() is None:
        workers = _children(proc.pid)
        if workers:
            time.sleep(0.3)  # let them get to work
            return _children(proc.pid)
        time.sleep(0.05)
    return set()


@needs_proc
def test_jobs_are_capped_by_cpus_and_by_the_work(cli, tmp_path, rule_cache):
    pool = _busy_pool(tmp_path, 60)
    proc = _start(tmp_path, rule_cache, "generate", pool.name, "-p", "many", "-j", "300", "-q")
    most = 0
    try:
        while proc.poll() is None:
            most = max(most, len(_children(proc.pid)))
            time.sleep(0.02)
        _out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert most <= _cpus()
    serial = cli("generate", pool.name, "-p", "one", "-q")
    assert serial.returncode == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    # a pool of a single pass runs here, with no worker at all
    shutil.copy(SMALL_POOL, tmp_path / "small.csv")
    small = _start(tmp_path, rule_cache, "generate", "small.csv", "-p", "small", "-j", "300", "-q", "-i", "o001")
    seen = 0
    while small.poll() is None:
        seen = max(seen, len(_children(small.pid)))
        time.sleep(0.02)
    assert small.wait(timeout=TIMEOUT) == 0 and seen == 0


@needs_proc
@pytest.mark.skipif(_cpus() < 2, reason="-j needs two CPUs to start workers")
@pytest.mark.parametrize("signum, status, says", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_signal_stops_generate_promptly_with_one_line_and_no_debris(tmp_path, rule_cache, signum, status, says):
    pool = _busy_pool(tmp_path, 999)
    proc = _start(tmp_path, rule_cache, "generate", pool.name, "-p", "out", "-j", "2", "-q")
    try:
        workers = _wait_for_workers(proc)
        assert workers, "the run ended before its workers could be seen"
        sent = time.monotonic()
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert err.splitlines() == [f"asnflow: {says}" + (" (SIGTERM)" if signum == signal.SIGTERM else "")]
    assert took < 2.5, took
    time.sleep(0.5)
    assert not [pid for pid in workers if _alive(pid)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [pool.name]


@needs_proc
@pytest.mark.skipif(_cpus() < 2, reason="-j needs two CPUs to start workers")
def test_workers_die_with_a_killed_parent(tmp_path, rule_cache):
    pool = _busy_pool(tmp_path, 999)
    proc = _start(tmp_path, rule_cache, "generate", pool.name, "-p", "out", "-j", "2", "-q")
    try:
        workers = _wait_for_workers(proc)
        assert workers
        proc.kill()
        proc.wait(timeout=30)
        end = time.monotonic() + 5
        while time.monotonic() < end and any(_alive(pid) for pid in workers):
            time.sleep(0.05)
    finally:
        proc.kill()
    assert not [pid for pid in workers if _alive(pid)]


# ----------------------------------------------------------------------------- tracebacks turned into one line
def _pool_with_candidate(folder: Path, cell: str) -> Path:
    lines = SMALL_POOL.read_text(encoding="utf-8").splitlines()
    columns = lines[0].split("|")
    at = columns.index("ASN_CANDIDATE")
    row = lines[1].split("|")
    row[at] = cell
    path = folder / "pool.csv"
    path.write_text("\n".join([lines[0], "|".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    return path


# jwst puts a candidate id into a regular expression unescaped: one that is a pattern is refused too.
BAD_CANDIDATE_IDS = {
    "[('', 'observation')]": "empty candidate id",
    "[('o001', 'observation'), ('  ', 'background')]": "empty candidate id",
    "[('o(1', 'observation')]": "reads as part of a pattern",
    "[('o001', 'observation'), ('c1000+', 'background')]": "reads as part of a pattern",
    "[('a[', 'group')]": "reads as part of a pattern",
    "[('o001?', 'observation')]": "reads as part of a pattern",
}


@pytest.mark.parametrize(("cell", "says"), BAD_CANDIDATE_IDS.items(), ids=BAD_CANDIDATE_IDS.keys())
@pytest.mark.parametrize("command", ["generate", "explain"])
def test_bad_candidate_id_is_one_line(cli, tmp_path, cell, says, command):
    _pool_with_candidate(tmp_path, cell)
    args = ["generate", "pool.csv", "-p", "out"] if command == "generate" else ["explain", "pool.csv", EXPOSURE]
    refused(cli(*args), "pool.csv:2:", says)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("template, says", [
    ("x{source_id:>99999999999}", "width"),
    ("x{source_id:>99999999999999999999999999}", "width"),
    ("x{slit_name:0<9999999}", "width"),
    ("x{source_id:.99999999999}", "precision"),
    ("x{source_id:{source_id}}", "nested"),
    ("x{source_id.__class__}", "plain name"),
    ("x{source_id", "malformed"),
])
def test_name_fill_hostile_format_specs(cli, template, says):
    refused(cli("name", "fill", template, "--source-id", "5", timeout=60), says)


@pytest.mark.parametrize("source_id", ["9" * 5000, "-" + "9" * 5000])
def test_name_fill_huge_source_id(cli, source_id):
    refused(cli("name", "fill", "x_{source_id}", "--source-id", source_id, timeout=60), "digits")
