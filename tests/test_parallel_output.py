"""`generate -j N` and `--scheduler` write exactly the files a serial run writes.

Several pools in one command are run as whole pools in the workers; one pool
is run as candidate passes. Either way the bytes of every file, the file
names and the summary lines must not depend on where the work ran. Each run
has a hard timeout so that a hang fails instead of stalling the suite; there
are no timing assertions here (see benchmarks/).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

POOLS = Path(__file__).parent / "data" / "compat" / "pools"
# Pools of every kind (imaging, spectroscopy, TSO, WFS, nods, duplicates, many candidates).
SEVERAL = ["mega_pool.csv", "pool_004_wfs.csv", "pool_013_coron_nircam.csv", "pool_021_tso.csv",
           "pool_023_nirspec_msa_3nod.csv", "pool_duplicate.csv", "jw00632_dups.csv", "seed_fs2_pool.csv",
           "cover_nrcwfss_pool.csv", "pool_001_candidates.csv"]
RUN_TIMEOUT = 600  # seconds: a hang fails the test rather than stalling the suite


@pytest.fixture(scope="module")
def generate(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "rule-cache"

    def run(pools: list[str], out: Path, *options: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, ASNFLOW_CACHE_DIR=str(cache))
        proc = subprocess.run([sys.executable, "-m", "asnflow", "generate", *(str(POOLS / p) for p in pools),
                               "-p", str(out), *options], env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        return proc

    return run


@pytest.fixture(scope="module")
def scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_several_pools_give_the_same_files_and_lines_with_jobs_and_a_scheduler(generate, scheduler, tmp_path):
    serial = generate(SEVERAL, tmp_path / "serial", "-j", "1")
    expected = files_in(tmp_path / "serial")
    assert len({name.split("/")[0] for name in expected}) == len(SEVERAL)  # one folder per pool, none empty
    for label, options in (("jobs", ("-j", "2")), ("dask", ("--scheduler", scheduler))):
        proc = generate(SEVERAL, tmp_path / label, *options)
        assert files_in(tmp_path / label) == expected, label
        assert proc.stderr.replace(f"/{label}/", "/serial/") == serial.stderr, label


def test_one_pool_gives_the_same_files_with_jobs_and_a_scheduler(generate, scheduler, tmp_path):
    pool = ["mega_pool.csv"]  # many candidates: the passes are spread over the workers
    generate(pool, tmp_path / "serial", "-q")
    expected = files_in(tmp_path / "serial")
    assert len(expected) > 50
    for label, options in (("jobs", ("-j", "2")), ("dask", ("--scheduler", scheduler))):
        generate(pool, tmp_path / label, "-q", *options)
        assert files_in(tmp_path / label) == expected, label


def test_several_pools_dry_run_lists_the_same_paths_with_jobs(generate, tmp_path):
    serial = generate(SEVERAL[:4], tmp_path / "out", "--dry-run", "-q")
    parallel = generate(SEVERAL[:4], tmp_path / "out", "--dry-run", "-q", "-j", "2")
    assert parallel.stdout == serial.stdout
    assert len(serial.stdout.splitlines()) > 20
    assert not (tmp_path / "out").exists()


def test_several_pools_with_options_give_the_same_files_with_jobs(generate, tmp_path):
    options = ("--no-finalize", "--version-id", "r1", "-q")
    generate(SEVERAL[:5], tmp_path / "serial", *options)
    generate(SEVERAL[:5], tmp_path / "jobs", *options, "-j", "2")
    assert files_in(tmp_path / "jobs") == files_in(tmp_path / "serial")


def test_several_pools_rerun_with_jobs_report_and_remove_as_a_serial_run(generate, tmp_path):
    """The workers stage each pool's files themselves: a second run into the same folders
    leaves the unchanged files untouched and says so, and --remove-stale removes what the run
    did not make, as a serial run does."""
    pools = SEVERAL[:4]
    runs = {}
    for label, options in (("serial", ("-j", "1")), ("jobs", ("-j", "2"))):
        out = tmp_path / label
        generate(pools, out)
        stale = out / Path(pools[0]).stem / "jw99999-o001_image2_00001_asn.json"
        stale.write_text("{}", encoding="utf-8")  # made by no run: stale
        kept = sorted(out.rglob("*_asn.json"))[1]
        kept_time = kept.stat().st_mtime_ns
        changed = sorted(out.rglob("*_asn.json"))[2]
        changed.write_text("{}", encoding="utf-8")
        again = generate(pools, out, "--remove-stale", *options)
        assert not stale.exists(), label
        assert kept.stat().st_mtime_ns == kept_time, label  # same bytes: not rewritten
        assert changed.read_text(encoding="utf-8") != "{}", label
        runs[label] = (files_in(out), again.stderr.replace(f"/{label}/", "/serial/"))
    assert runs["jobs"] == runs["serial"]
    assert "3 new" not in runs["jobs"][1] and " 1 changed, " in runs["jobs"][1]
    assert "files from earlier runs removed" in runs["jobs"][1]


def test_a_failure_after_the_workers_staged_their_files_leaves_every_folder_as_it_was(tmp_path):
    """With several pools on processes the workers stage files before the run is known to
    succeed; --strict then refusing an idle rule must leave no folder, file or staging area."""
    rule = tmp_path / "idle.rules"
    rule.write_text('''rule Asn_Idle "Takes nothing from these pools" {
    level 2b
    asn_type image2
    exposure_types level2
    valid has_science, allowed_candidates
    product level2

    use base2, mode2, image_science2, not_tso
    pin _ = instrume ~ "nosuchinstrument"
    use single_science2
}
''', encoding="utf-8")
    out = tmp_path / "out"
    (out / Path(SEVERAL[1]).stem).mkdir(parents=True)  # one folder there before: left as it was
    before = files_in(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "asnflow", "generate", *(str(POOLS / p) for p in SEVERAL[:3]),
                           "-p", str(out), "-r", str(rule), "--strict", "-j", "2"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "rule Asn_Idle made no association" in proc.stderr
    assert files_in(tmp_path) == before
    assert sorted(path.name for path in out.rglob("*")) == [Path(SEVERAL[1]).stem]


@pytest.mark.parametrize("where", ["jobs", "dask"])
def test_each_pools_files_are_staged_as_it_is_done_and_only_their_names_come_back(where, request, monkeypatch,
                                                                                    tmp_path):
    """Forked workers stage their pools' files themselves; Dask workers, which need not share this
    machine's disks, send them, and this process stages each pool's as it arrives."""
    from asnflow.asnfile.files import StagedWrite, staged_write
    from asnflow.engine.generate import Options
    from asnflow.engine.parallel import Delivery, PoolFile, generate_pools
    from asnflow.engine.session import rendered_outcome, rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pools = [read_pool(POOLS / name) for name in SEVERAL[1:4]]
    folders = [tmp_path / Path(pool.name).stem for pool in pools]
    staged_here: list[int] = []
    put_rendered = StagedWrite.put_rendered

    def staging(self, index, rendered):
        staged_here.append(index)
        return put_rendered(self, index, rendered)

    monkeypatch.setattr(StagedWrite, "put_rendered", staging)  # forked workers inherit it, but report nothing here
    run_on = {"jobs": 2} if where == "jobs" else {"scheduler": request.getfixturevalue("scheduler")}
    with staged_write(folders) as staged:
        outcomes = generate_pools(pools, rules, Options(), Delivery(into=staged), **run_on)
        assert all(outcome.rendered is None for outcome in outcomes)
        assert sorted(staged_here) == ([] if where == "jobs" else [0, 1, 2])
        assert not any(folder.exists() for folder in folders)  # staged beside, moved in on closing
        for index, outcome in enumerate(outcomes):
            staged.record(index, outcome.file_names, outcome.staged)
    for pool, folder, report in zip(pools, folders, staged.reports, strict=True):
        expected = rendered_outcome(pool, rules, Options()).rendered
        assert report.new == expected.names
        assert [(folder / name).read_bytes() for name in expected.names] == expected.payloads
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(folder.name for folder in folders)
    if where == "dask":
        with pytest.raises(ValueError, match="Dask workers"):  # pools to read here, for workers that may be elsewhere
            generate_pools([PoolFile(str(POOLS / SEVERAL[1]))], rules, Options(), **run_on)


@pytest.fixture(scope="module")
def documents():
    from asnflow.engine.generate import Options
    from asnflow.engine.session import generate_documents, rule_set
    from asnflow.pool.read import read_pool

    return generate_documents(read_pool(POOLS / "mega_pool.csv"), rule_set(), Options()).documents


def test_files_written_by_worker_processes_are_those_written_here(documents, monkeypatch, tmp_path):
    from asnflow.asnfile import forked_write
    from asnflow.asnfile.files import write_folders

    monkeypatch.setattr(forked_write, "FORK_FROM", 10)  # split even this pool's files
    assert len(documents) > 20
    for fmt in ("yaml", "json"):
        here, = write_folders([(documents, tmp_path / fmt / "here")], fmt)
        there, = write_folders([(documents, tmp_path / fmt / "there")], fmt, jobs=2)
        assert files_in(tmp_path / fmt / "there") == files_in(tmp_path / fmt / "here")
        assert there.new == here.new == [path.name for path in here.paths]
    # Again into the same (JSON) folder, one file changed by hand: the report says so, in order.
    changed = tmp_path / "json" / "there" / here.new[-1]
    changed.write_text("{}", encoding="utf-8")
    again, = write_folders([(documents, tmp_path / "json" / "there")], "json", jobs=2)
    assert again.changed == [changed.name]
    assert again.unchanged == [name for name in here.new if name != changed.name]


def test_forked_writers_take_runs_of_documents_as_they_are_free(monkeypatch, tmp_path):
    """Each document is written once, by whichever process is free; the kinds come back in order.
    The first documents are made slow: a process stuck on them leaves the rest to the other."""
    import os
    import time

    from asnflow.asnfile import forked_write

    monkeypatch.setattr(forked_write, "RUN_LENGTH", 8)

    def put(index: int) -> str:
        if index < 8:
            time.sleep(0.05)
        (tmp_path / f"{index:04d}").write_text(str(os.getpid()))
        return "new" if index % 3 else "unchanged"

    kinds = forked_write.put_all(put, 2000, jobs=2)
    assert kinds == ["new" if index % 3 else "unchanged" for index in range(2000)]
    writers = [path.read_text() for path in sorted(tmp_path.iterdir())]
    assert len(writers) == 2000 and len(set(writers)) == 2
    assert writers.count(writers[0]) < 1000  # the one held up by the slow run wrote less than half


def test_an_invalid_document_written_by_a_worker_is_reported_as_here_and_nothing_is_written(
        documents, monkeypatch, tmp_path):
    from asnflow.asnfile import forked_write
    from asnflow.asnfile.files import write_folders
    from asnflow.engine.documents import AssociationDict
    from asnflow.errors import AssociationFileError

    monkeypatch.setattr(forked_write, "FORK_FROM", 10)
    broken = list(documents)
    last = broken[-1]  # in the worker's slice
    broken[-1] = AssociationDict({key: value for key, value in last.items() if key != "products"}, last.name)
    with pytest.raises(AssociationFileError, match="missing required key 'products'") as raised:
        write_folders([(broken, tmp_path / "out")], "json", jobs=2)
    assert raised.value.path == last.name + ".json"
    assert list(tmp_path.iterdir()) == []  # no folder, no staging left behind


def test_the_collector_is_paused_while_generating_and_resumes_after():
    import gc

    from asnflow.engine.collection import paused_collections

    assert gc.isenabled()
    with pytest.raises(KeyError), paused_collections():
        assert not gc.isenabled()
        raise KeyError("an error inside still resumes it")
    assert gc.isenabled()


def test_the_collector_resumes_when_the_last_of_overlapping_runs_ends():
    """Runs in two threads share one collector: the first run to end must not resume it under the
    other, and the last restores what was there before (here: paused by the caller)."""
    import gc
    import threading

    from asnflow.engine.collection import paused_collections

    first_inside, first_may_end, seen = threading.Event(), threading.Event(), []

    def first_run():
        with paused_collections():
            first_inside.set()
            first_may_end.wait(timeout=10)

    thread = threading.Thread(target=first_run)
    thread.start()
    assert first_inside.wait(timeout=10)
    with paused_collections():
        first_may_end.set()
        thread.join(timeout=10)
        seen.append(gc.isenabled())  # the first run has ended; this one still runs
    seen.append(gc.isenabled())
    gc.disable()
    try:
        with paused_collections():
            pass
        seen.append(gc.isenabled())  # paused before: stays paused
    finally:
        gc.enable()
    assert seen == [False, True, False]


def test_generate_on_the_command_line_leaves_the_collector_running_for_its_caller(tmp_path):
    import gc

    from asnflow.cli import main

    assert main(["generate", str(POOLS / "pool_004_wfs.csv"), "-p", str(tmp_path), "-q"]) == 0
    assert any(tmp_path.iterdir())
    assert gc.isenabled()


def test_a_dask_worker_generates_with_the_collector_paused_and_resumes_it(monkeypatch):
    """A Dask worker is a long-lived process with a large heap: each task of ours runs with the
    collector paused, as a local run does, and it runs again after the task (also after an error)."""
    import gc

    from asnflow.engine import parallel
    from asnflow.engine.generate import Options, Unit
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pool = read_pool(POOLS / "pool_004_wfs.csv")
    seen = []

    def outcome(*args):
        seen.append(gc.isenabled())
        return "whole pool"

    def unit(*args, **kwargs):
        seen.append(gc.isenabled())
        raise KeyError("a failing pass")

    monkeypatch.setattr(parallel, "_outcome_of", outcome)
    monkeypatch.setattr("asnflow.engine.generate.run_unit", unit)
    assert gc.isenabled()
    try:
        digest, payload = parallel._rules_shipped(rules)
        assert parallel._pool_remote(digest, payload, pool, Options(), parallel.Delivery()) == "whole pool"
        assert gc.isenabled()
        with pytest.raises(KeyError):
            parallel._run_remote(digest, payload, "test-digest", pickle.dumps(pool),
                                 Unit("discover", None, None, True, len(pool)))
        assert gc.isenabled()
    finally:
        parallel._RULES.clear()
        parallel._PREPARED.clear()
    assert seen == [False, False]


def test_a_dask_worker_keeps_only_the_pools_it_ran_last():
    """A standing cluster serves pool after pool: a worker keeps what it prepared for the last
    WORKER_KEEPS pools (rules, rows, caches), not for every pool it ever ran; a pool it let go
    is prepared again, and its passes give what a serial run gives."""
    from asnflow.engine import parallel
    from asnflow.engine.generate import Options, bind_rows, plan, run_unit
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    digest, payload = parallel._rules_shipped(rules)
    names = ["pool_002_image_miri.csv", "pool_004_wfs.csv", "pool_021_tso.csv", "pool_002_image_miri.csv"]
    parallel._PREPARED.clear()
    try:
        for name in names:
            pool = read_pool(POOLS / name)
            columns, rows = bind_rows(pool, rules)
            unit = plan(rows, Options(), pool.name).units[0]
            here, _ = parallel._loads(parallel._run_remote(digest, payload, name, pickle.dumps(pool), unit), rows, {})
            run = parallel._run_state(rules, pool.name, tuple(pool.columns))
            serial = run_unit(unit, rules, rows, columns, run)
            assert [[dict(m) for m in a.members] for a in here] == [[dict(m) for m in a.members] for a in serial]
            assert len(parallel._PREPARED) <= parallel.WORKER_KEEPS
            assert next(reversed(parallel._PREPARED)) == name  # the one just used is kept
        assert list(parallel._PREPARED) == ["pool_021_tso.csv", "pool_002_image_miri.csv"]
        assert list(parallel._RULES) == [digest]  # the rules were compiled once, for every pool
    finally:
        parallel._PREPARED.clear()
        parallel._RULES.clear()


def test_the_digest_naming_shipped_rules_is_the_same_in_every_process(tmp_path):
    """Dask workers keep compiled rules by this digest: it must not change with the process's string
    hashing (it did when the registering files went as a set), or a standing cluster compiles the
    same rules again for every other command. Files of other text are named otherwise."""
    script = ("import sys; from asnflow.engine.parallel import _rules_shipped; "
              "from asnflow.engine.session import rule_set; "
              "print(_rules_shipped(rule_set(sys.argv[1:], ignore_default=False))[0])")
    extra = tmp_path / "extra.rules"
    extra.write_text('rule Asn_Extra "one image3 per filter" {\n    level 3\n    asn_type image3\n'
                     "    pin program = program\n    pin opt_elem = filter\n}\n", encoding="utf-8")

    def digest(seed: int, *rule_files: Path) -> str:
        env = dict(os.environ, PYTHONHASHSEED=str(seed), ASNFLOW_CACHE_DIR=str(tmp_path / "cache"))
        proc = subprocess.run([sys.executable, "-c", script, *map(str, rule_files)], env=env,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT, check=True)
        return proc.stdout.strip()

    assert len({digest(seed) for seed in range(6)}) == 1
    assert len({digest(seed, extra) for seed in range(6)}) == 1
    assert digest(0) != digest(0, extra)


def test_a_dask_worker_compiles_the_shipped_rules_without_parsing_text(monkeypatch):
    """Rules travel parsed: a worker compiles them without building the lark parser (about half a
    second the first time), into the rule set this process has."""
    from asnflow.assoc_rules import parse
    from asnflow.engine import parallel
    from asnflow.engine.session import rule_set

    rules = rule_set()
    digest, payload = parallel._rules_shipped(rules)

    def no_parser():
        raise AssertionError("a worker built the rule parser")

    monkeypatch.setattr(parse, "_parser", no_parser)
    try:
        compiled = parallel._compiled(digest, payload)
        assert parallel._compiled(digest, payload) is compiled  # kept by its digest
    finally:
        parallel._RULES.clear()
    assert [rule.name for rule in compiled.rules] == [rule.name for rule in rules.rules]
    assert [rule.path for rule in compiled.rules] == [rule.path for rule in rules.rules]


def test_units_are_sent_in_groups_of_about_equal_exposures():
    from asnflow.engine.generate import Unit
    from asnflow.engine.parallel import GROUPS_PER_WORKER, unit_groups

    sizes = [837] + [3] * 300  # one discovery pass and many tiny candidates (the mega pool)
    units = [Unit("candidate", (f"c{i}", "observation"), None, True, n) for i, n in enumerate(sizes)]
    groups = unit_groups(units, 2)
    assert sorted(i for group in groups for i in group) == list(range(len(units)))  # each unit once
    assert len(groups) == 2 * GROUPS_PER_WORKER
    assert groups[0] == [0]  # the large unit alone, sent first
    loads = [sum(sizes[i] for i in group) for group in groups[1:]]
    assert max(loads) - min(loads) <= 3  # the small ones spread evenly
    assert unit_groups(units[:3], 2) == [[0], [1], [2]]  # fewer units than groups: one each


def test_associations_come_back_from_a_worker_with_the_same_members_and_rows():
    """What travels from a worker: every member's fields, and its row resolved to this process's row
    (a copy with the candidate's ASN_CANDIDATE cell for a row that is one)."""
    from asnflow.engine import parallel
    from asnflow.engine.association import Association
    from asnflow.engine.generate import Options, bind_rows, plan, run_unit
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pool = read_pool(POOLS / "mega_pool.csv")
    columns, rows = bind_rows(pool, rules)
    sent = []
    for unit in plan(rows, Options(), pool.name).units[:40]:
        run = parallel._run_state(rules, pool.name, tuple(pool.columns))
        sent.extend(run_unit(unit, rules, rows, columns, run))
    sent[0].products[0]["members"].append(Association.new_member({"expname": "catalog.ecsv", "exptype": "sci"}))
    # Members of a pass hold pool rows (see the next test); a copy made for a candidate travels too.
    member = sent[-1].products[0]["members"][0]
    member.item = member.item.replace("asn_candidate", "[('c9999', 'mosaic')]")
    received, _warnings = parallel._loads(parallel._dumps(sent, []), rows, {})
    assert len(received) == len(sent) > 40
    copies = 0
    for before, after in zip(sent, received, strict=True):
        assert [p["name"] for p in after.products] == [p["name"] for p in before.products]
        for product_before, product_after in zip(before.products, after.products, strict=True):
            assert product_after["members"] == product_before["members"]
            for member_before, member_after in zip(product_before["members"], product_after["members"],
                                                   strict=True):
                if member_before.item is None:
                    assert member_after.item is None
                    continue
                assert member_after.item.values == member_before.item.values
                index, cell = member_before.item.origin
                if cell is None:
                    assert member_after.item is rows[index]
                else:
                    copies += 1
                    assert member_after.item["asn_candidate"] == cell
    assert copies == 1  # the copy came back as a copy, with its own cell


def test_members_of_a_candidate_pass_hold_the_pools_rows_not_the_pass_copies():
    """A candidate pass offers copies of the rows with the candidate's ASN_CANDIDATE cell; its
    members keep the pool's own rows, so the copies are freed with the pass (as is what only
    adding needed), while each member's asn_candidate entry is still the cell the pass saw."""
    from asnflow.engine import parallel
    from asnflow.engine.generate import Options, bind_rows, plan, run_unit
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pool = read_pool(POOLS / "pool_001_candidates.csv")
    columns, rows = bind_rows(pool, rules)
    pool_rows = {id(row) for row in rows}
    candidate_passes = [unit for unit in plan(rows, Options(), pool.name).units if unit.candidate is not None]
    assert candidate_passes
    members = 0
    for unit in candidate_passes:
        run = parallel._run_state(rules, pool.name, tuple(pool.columns))
        for asn in run_unit(unit, rules, rows, columns, run):
            # What only adding needed is let go with the pass.
            assert asn.memo is None and asn.index_slot is None and not asn.member_keys
            for product in asn.products:
                for member in product["members"]:
                    members += 1
                    assert id(member.item) in pool_rows
                    if "asn_candidate" in member:  # level 3: the cell as the pass saw it
                        assert unit.candidate[0] in member["asn_candidate"]
    assert members


def test_this_process_runs_passes_too_and_every_pass_is_run_once(monkeypatch):
    """With ``-j 2`` on one pool this process and one forked worker claim groups of passes from a
    shared counter: every pass runs exactly once, in one place, and its associations are those of a
    serial run; only the worker's come back pickled."""
    from asnflow.engine import parallel
    from asnflow.engine.generate import Options, bind_rows, plan, run_unit
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pool = read_pool(POOLS / "mega_pool.csv")
    columns, rows = bind_rows(pool, rules)
    units = plan(rows, Options(), pool.name).units
    assert len(units) > 2 * parallel.GROUPS_PER_WORKER  # more groups than processes: both claim several

    pickled: list[int] = []
    loads = parallel._loads

    def counted_loads(blob, rows, copies):
        made, warnings = loads(blob, rows, copies)
        pickled.append(len(made))
        return made, warnings

    monkeypatch.setattr(parallel, "_loads", counted_loads)
    seen: list[int] = []
    outputs, _warnings = parallel.run_units(units, pool, rules, rows, 2, None,
                                            progress=lambda items: seen.append(items))
    assert sorted(seen) == sorted(unit.items for unit in units)  # each pass reported once
    # This process claims its first group before the worker has started; it never loses them all.
    assert len(pickled) < len(units)

    def members(asns):
        return [sorted(m["expname"] for p in a.products for m in p["members"]) for a in asns]

    for unit, made in zip(units, outputs, strict=True):
        run = parallel._run_state(rules, pool.name, tuple(pool.columns))
        assert members(made) == members(run_unit(unit, rules, rows, columns, run))


def test_this_process_takes_groups_from_the_back_and_the_worker_from_the_front(monkeypatch):
    """Groups are ordered largest first. This process, whose passes are not pickled, takes the
    last group left each time (small candidates, which make many small associations); the worker
    takes the first (the large passes): whatever the timing, this process runs a tail of the
    groups, back to front, and the worker the rest."""
    import os

    from asnflow.engine import generate, parallel
    from asnflow.engine.generate import Options, bind_rows, plan
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pool = read_pool(POOLS / "mega_pool.csv")
    _columns, rows = bind_rows(pool, rules)
    units = plan(rows, Options(), pool.name).units
    here = os.getpid()
    ran_here: list = []
    real_run_unit = generate.run_unit

    def recording(unit, *args, **kwargs):
        if os.getpid() == here:
            ran_here.append(units.index(unit))
        return real_run_unit(unit, *args, **kwargs)

    monkeypatch.setattr(generate, "run_unit", recording)
    parallel.run_units(units, pool, rules, rows, 2, None)
    groups = parallel.unit_groups(units, 2)
    taken = len({tuple(group) for group in groups if set(group) & set(ran_here)})
    assert 0 < taken < len(groups)
    assert ran_here == [index for group in reversed(groups[-taken:]) for index in group]


def test_pieces_are_claimed_once_from_both_ends_across_processes():
    import multiprocessing

    from asnflow.workers import claim_end, shared_ends

    context = multiprocessing.get_context("fork")
    ends = shared_ends()
    results = context.Queue()

    def claim_all(back: bool):
        mine = []
        while (piece := claim_end(ends, 500, back)) is not None:
            mine.append(piece)
        results.put((back, mine))

    workers = [context.Process(target=claim_all, args=(back,)) for back in (False, True, False)]
    for worker in workers:
        worker.start()
    claim_all(True)
    claimed = [results.get(timeout=60) for _ in range(4)]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(piece for _, mine in claimed for piece in mine) == list(range(500))
    front = sorted(piece for back, mine in claimed if not back for piece in mine)
    behind = sorted(piece for back, mine in claimed if back for piece in mine)
    assert front == list(range(len(front)))  # the front ones from the front, the rest from the back
    assert behind == list(range(len(front), 500))
    for back, mine in claimed:
        assert mine == sorted(mine, reverse=back)  # each claimer moves away from its end
    assert claim_end(ends, 500, back=False) is None and claim_end(ends, 500, back=True) is None


def test_each_group_is_claimed_once_across_processes():
    import multiprocessing

    from asnflow.workers import claim_next, shared_counter

    context = multiprocessing.get_context("fork")
    claimed = shared_counter()
    results = context.Queue()

    def claim_all():
        mine = []
        while (group := claim_next(claimed, 500)) is not None:
            mine.append(group)
        results.put(mine)

    workers = [context.Process(target=claim_all) for _ in range(3)]
    for worker in workers:
        worker.start()
    claim_all()
    everything = [group for _ in range(4) for group in results.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(everything) == list(range(500))


def test_a_candidate_pass_offers_queued_exposures_again_as_its_own_copies(monkeypatch):
    """Exposures a candidate pass queues again wait as pool rows and are offered as fresh copies
    carrying the candidate's cell, like the first time; the files do not change (parity)."""
    from asnflow.engine import parallel, passes
    from asnflow.engine.generate import Options, bind_rows, plan, run_unit
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pool = read_pool(POOLS / "pool_001_candidates.csv")
    columns, rows = bind_rows(pool, rules)
    offered: list[tuple] = []
    waiting: list = []
    offer, extend = passes.Pass._offer, passes.ProcessQueue.extend

    def recorded(self, row, allowed, work_over):
        offered.append((self.cell, work_over, row.base, row["asn_candidate"]))
        return offer(self, row, allowed, work_over)

    def queued(self, lists):
        lists = list(lists)
        waiting.extend(row for process_list in lists for row in process_list.items)
        return extend(self, lists)

    monkeypatch.setattr(passes.Pass, "_offer", recorded)
    monkeypatch.setattr(passes.ProcessQueue, "extend", queued)
    for unit in plan(rows, Options(), pool.name).units:
        if unit.candidate is not None:
            run_unit(unit, rules, rows, columns, parallel._run_state(rules, pool.name, tuple(pool.columns)))
    pool_rows = {id(row) for row in rows}
    assert waiting and all(id(row) in pool_rows for row in waiting)  # what waits is the pool's own row
    assert any(work_over != passes.BOTH for _cell, work_over, *_ in offered)  # offered again
    for cell, _work_over, base, candidate_cell in offered:
        assert cell is not None and candidate_cell == cell  # every offer carries the pass's own cell
        assert id(base) in pool_rows  # a copy of a pool row


def test_this_process_computes_passes_with_a_short_switch_interval_and_restores_it(monkeypatch):
    """While this process runs passes beside a worker, the pool's result thread must get the GIL
    soon after each chunk of a worker's result arrives (else the worker waits on the pipe): the
    interval is short during the passes and back to what it was afterwards, after a failure too."""
    from asnflow import workers
    from asnflow.engine import generate, parallel
    from asnflow.engine.generate import Options, bind_rows, plan
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rules = rule_set()
    pool = read_pool(POOLS / "mega_pool.csv")
    _columns, rows = bind_rows(pool, rules)
    units = plan(rows, Options(), pool.name).units
    seen: list[float] = []
    real_run_unit = generate.run_unit

    def recording(*args, **kwargs):
        seen.append(sys.getswitchinterval())
        return real_run_unit(*args, **kwargs)

    monkeypatch.setattr(generate, "run_unit", recording)
    before = sys.getswitchinterval()
    assert before > workers.PROMPT_SWITCH
    parallel.run_units(units, pool, rules, rows, 2, None)
    # the interpreter keeps the interval in whole microseconds
    assert seen and all(interval == pytest.approx(workers.PROMPT_SWITCH) for interval in seen)
    assert sys.getswitchinterval() == before

    def failing(*args, **kwargs):
        raise RuntimeError("a pass failed")

    monkeypatch.setattr(generate, "run_unit", failing)
    with pytest.raises(RuntimeError, match="a pass failed"):
        parallel.run_units(units, pool, rules, rows, 2, None)
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("pools", [["pool_004_wfs.csv"], ["pool_004_wfs.csv", "pool_021_tso.csv"]],
                         ids=["passes", "whole-pools"])
def test_dask_workers_running_other_asnflow_code_refuse_the_work_in_one_line(scheduler, pools, monkeypatch,
                                                                              tmp_path, capsys):
    """A standing cluster started from another checkout or version would make other associations, or
    send back what this command cannot read: the command stops with one line, and writes nothing."""
    from asnflow.cli import main
    from asnflow.engine import parallel

    shipped = parallel._rules_shipped

    def from_other_code(ruleset):  # what a command running other code would send
        files, registered, _ = pickle.loads(shipped(ruleset)[1])
        payload = pickle.dumps((files, registered, "other code"))
        return "digest of other code's rules", payload

    monkeypatch.setattr(parallel, "_rules_shipped", from_other_code)
    parallel._RULES.clear()
    try:
        status = main(["generate", *(str(POOLS / p) for p in pools), "-p", str(tmp_path / "out"),
                       "--scheduler", scheduler])
    finally:
        parallel._RULES.clear()
        parallel._PREPARED.clear()
    said = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(said) == 1 and "another asnflow" in said[0], said
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_code_digest_changes_with_any_python_file_of_the_package(monkeypatch, tmp_path):
    import shutil

    from asnflow.engine import parallel

    package = Path(parallel.__file__).resolve().parents[1]
    copy = tmp_path / "asnflow"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = "from asnflow.engine.parallel import code_digest; print(code_digest())"

    def digest_of(root: Path) -> str:
        env = dict(os.environ, PYTHONPATH=str(root))
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              check=True, timeout=RUN_TIMEOUT, cwd=root).stdout.strip()

    first = digest_of(tmp_path)
    assert digest_of(tmp_path) == first  # the same code: the same digest, in every process
    with open(copy / "naming" / "asn_names.py", "a") as module:
        module.write("\n# one more line\n")
    assert digest_of(tmp_path) != first


def _unusual_pools(folder: Path) -> dict[str, Path]:
    """A pool with a header and no rows, one that cannot be read, and one without INSTRUME."""
    lines = (POOLS / SEVERAL[1]).read_text(encoding="utf-8").splitlines()
    drop = [cell.strip().lower() for cell in lines[0].split("|")].index("instrume")
    made = {case: folder / f"{case}_pool.csv" for case in ("empty", "unreadable", "lacking")}
    made["empty"].write_text(lines[0] + "\n", encoding="utf-8")
    made["unreadable"].write_text("a|b\n1\n", encoding="utf-8")
    made["lacking"].write_text("".join("|".join(cell for i, cell in enumerate(line.split("|")) if i != drop) + "\n"
                                       for line in lines), encoding="utf-8")
    return made


@pytest.mark.parametrize("where", ["jobs", "dask"])
@pytest.mark.parametrize("case", ["empty", "unreadable", "lacking"])
def test_pools_read_by_their_workers_give_a_serial_runs_lines_and_folders(case, where, request, tmp_path):
    """With several pools on -j or Dask each worker reads its own pool (a Dask worker from the
    bytes sent to it): an empty pool is still said and gets no folder, a pool without a column
    the rules need still gets its warning, and a pool that cannot be read is still the one error,
    with nothing made (not even the new output folder)."""
    unusual = _unusual_pools(tmp_path)[case]
    pools = [str(POOLS / SEVERAL[1]), str(unusual), str(POOLS / SEVERAL[2])]
    parallel = ["-j", "2"] if where == "jobs" else ["--scheduler", request.getfixturevalue("scheduler")]
    runs = {}
    for label, options in (("serial", ["-j", "1"]), (where, parallel)):
        out = tmp_path / label / "new"
        proc = subprocess.run([sys.executable, "-m", "asnflow", "generate", *pools, "-p", str(out), *options],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
        assert "Traceback" not in proc.stderr
        runs[label] = (proc.returncode, proc.stderr.replace(str(out), "OUT"),
                       files_in(out) if out.exists() else None)
    assert runs[where] == runs["serial"]
    status, lines, files = runs[where]
    if case == "empty":
        assert status == 0 and lines.startswith("empty_pool.csv: the pool has a header and no rows")
        assert sorted({name.split("/")[0] for name in files}) == sorted(Path(p).stem for p in SEVERAL[1:3])
    elif case == "lacking":
        assert status == 0 and "lacking_pool.csv: warning: the pool has no column INSTRUME (needed by" in lines
    else:
        assert status == 2 and lines.count("\n") == 1 and lines.startswith(f"{unusual}:1: error:")
        assert files is None and not (tmp_path / where).exists()


def test_with_several_pools_on_jobs_only_the_workers_read_the_pools(monkeypatch, tmp_path):
    import asnflow.pool.read as pool_read
    from asnflow.cli import main

    readers = tmp_path / "readers"
    read_pool = pool_read.read_pool

    def recorded(path, *args, **kwargs):
        with open(readers, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
        return read_pool(path, *args, **kwargs)

    monkeypatch.setattr(pool_read, "read_pool", recorded)  # forked workers inherit it
    pools = [str(POOLS / name) for name in SEVERAL[1:5]]
    assert main(["generate", *pools, "-p", str(tmp_path / "out"), "-j", "2", "-q"]) == 0
    pids = readers.read_text(encoding="utf-8").split()
    assert len(pids) == len(pools) and str(os.getpid()) not in pids
    assert len(list((tmp_path / "out").iterdir())) == len(pools)


def test_a_pool_that_cannot_be_read_is_reported_before_one_that_failed_to_generate(monkeypatch, tmp_path):
    """As a serial run reads every pool before it generates any; a failure to generate, from a
    worker that stages files, is reported as it was raised and leaves nothing."""
    import asnflow.engine.session as session
    from asnflow.asnfile.files import staged_write
    from asnflow.engine.generate import Options
    from asnflow.engine.parallel import Delivery, PoolFile, generate_pools
    from asnflow.errors import AsnflowError

    failing = SEVERAL[2]
    rendered_outcome = session.rendered_outcome

    def fails_on_one(pool, *args, **kwargs):
        if pool.name == failing:
            raise AsnflowError("cannot generate this pool", path=pool.name)
        return rendered_outcome(pool, *args, **kwargs)

    monkeypatch.setattr(session, "rendered_outcome", fails_on_one)
    unreadable = _unusual_pools(tmp_path)["unreadable"]
    rules = session.rule_set()
    for later, expected in ((unreadable, f"{unreadable}:1: error: missing required columns"),
                            (POOLS / SEVERAL[1], f"{failing}: error: cannot generate this pool")):
        sources = [PoolFile(str(POOLS / failing)), PoolFile(str(later))]
        folders = [tmp_path / "out" / str(index) for index in range(len(sources))]
        with pytest.raises(AsnflowError) as raised, staged_write(folders) as staged:
            generate_pools(sources, rules, Options(), Delivery(into=staged), jobs=2)
        assert raised.value.one_line().startswith(expected)
        assert not (tmp_path / "out").exists()
