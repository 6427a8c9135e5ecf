"""What passes share: candidate passes their rules' roots, pools with one header what the rules ask of them."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from collections import OrderedDict
from pathlib import Path

from asnflow.asnfile.files import dumps
from asnflow.engine import passes
from asnflow.engine.association import RunState
from asnflow.engine.generate import CANDIDATE_REGISTRY, Options, bind_rows, generate, plan, run_unit
from asnflow.engine.session import generate_documents, rule_set
from asnflow.pool.read import read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"


def test_a_pool_with_hundreds_of_candidates_builds_each_rules_candidate_constraint_once(monkeypatch):
    built: list[str] = []
    made = passes.candidate_test

    def counted(rule):
        built.append(rule.name)
        return made(rule)

    monkeypatch.setattr(passes, "candidate_test", counted)
    rules = rule_set()
    result = generate(read_pool(POOLS / "mega_pool.csv"), rules)
    assert len(result.candidates) > 100
    assert sorted(built) == sorted(rule.name for rule in rules.rules)


def test_every_candidate_association_is_named_for_the_candidate_of_its_pass():
    result = generate(read_pool(POOLS / "mega_pool.csv"), rule_set(), Options(keep_duplicates=True))
    made = [asn for asn in result.associations if asn.registry == CANDIDATE_REGISTRY]
    assert len({asn.pass_candidate for asn in made}) > 100
    assert all(asn.acid.id == asn.pass_candidate for asn in made)


def test_a_pool_made_without_the_reader_has_its_candidate_ids_matched_as_text():
    """The reader refuses ids jwst would read as patterns; a pool built another way reaches the
    engine with one, and its id is then looked for as written (jwst's "^" here never matches)."""
    pool = read_pool(POOLS / "cover_imgbkg_pool.csv")
    at = pool.index("asn_candidate")
    odd = "o^1"
    rows = tuple(row[:at] + (row[at].replace("'o001'", f"'{odd}'"),) + row[at + 1:] for row in pool.rows)
    assert any(odd in row[at] for row in rows)
    result = generate(dataclasses.replace(pool, rows=rows), rule_set())
    assert (odd, "observation") in result.candidates
    assert any(asn.acid.id == odd for asn in result.associations)


def test_each_candidate_pass_reads_the_rows_whose_cell_holds_its_id_in_pool_order():
    """jwst's substring selection ("1000" is also in c1000), made once per distinct cell by the plan."""
    rules = rule_set()
    checked = 0
    for path in sorted(POOLS.glob("*.csv")):
        _, rows = bind_rows(read_pool(path), rules)
        for unit in plan(rows, Options()).units:
            if unit.candidate is None:
                assert unit.row_positions is None and unit.items == len(rows)
                continue
            cid = unit.candidate[0]
            assert unit.row_positions == tuple(i for i, row in enumerate(rows) if cid in row["asn_candidate"])
            assert unit.items == len(unit.row_positions)
            checked += 1
    assert checked > 300  # the mega pool's candidates among them


def test_a_candidate_pass_made_without_its_rows_finds_them_when_it_runs():
    pool = read_pool(POOLS / "mega_pool.csv")
    rules = rule_set()
    columns, rows = bind_rows(pool, rules)
    units = [unit for unit in plan(rows, Options()).units if unit.candidate is not None][:40]
    assert any(len({row["asn_candidate"] for row in (rows[i] for i in unit.row_positions)}) > 1 for unit in units)

    def made(unit):
        run = RunState(vocab=rules.vocab, pool_name=pool.name, code_version="test", columns=tuple(pool.columns))
        return [(asn.rule.name, asn.acid.id, tuple(asn.filenames))
                for asn in run_unit(unit, rules, rows, columns, run)]

    for unit in units:
        assert made(dataclasses.replace(unit, row_positions=None)) == made(unit)


def test_the_candidate_pattern_is_the_id_as_text():
    assert passes._candidate_pattern("o001") == ".+(o001).+"
    assert passes._candidate_pattern("(.*.*.*)+x") == r".+(\(\.\*\.\*\.\*\)\+x).+"


# ---------------------------------------------------------------- what a process keeps from pool to pool
ALL_POOLS = sorted(POOLS.glob("*.csv"))


def _files(pool: Path, rules) -> dict[str, str]:
    outcome = generate_documents(read_pool(pool), rules, Options())
    return {name: dumps(document) for name, document in zip(outcome.names("json"), outcome.documents, strict=True)}


def test_a_pool_gives_the_same_files_whatever_pools_the_process_generated_before():
    """Each pool alone (a new rule set: nothing kept) against all of them in turn, twice over,
    with one rule set (its conditions kept, the run caches of earlier pools with the header)."""
    alone = {pool.name: _files(pool, rule_set()) for pool in ALL_POOLS}
    shared = rule_set()
    for pool in [*reversed(ALL_POOLS), *ALL_POOLS]:
        assert _files(pool, shared) == alone[pool.name], pool.name
    assert shared.derived["fresh conditions"]


def test_a_run_cache_serves_the_next_pool_with_the_same_header_until_it_has_seen_enough_rows(monkeypatch):
    monkeypatch.setattr(passes, "_RUN_CACHES", OrderedDict())
    monkeypatch.setattr(passes, "RUN_CACHE_ROWS", 100)
    rules = rule_set()
    header = {"filename": 0, "asn_candidate": 1}

    def run(columns):
        return RunState(vocab=rules.vocab, pool_name="p", code_version="x", columns=tuple(columns))

    first = passes.run_cache(rules, header, run(header), 60)
    assert passes.run_cache(rules, dict(header), run(header), 40) is first  # 100 rows: still within
    assert passes.run_cache(rules, header, run(header), 1) is not first  # one row more: made afresh
    other = {"asn_candidate": 0, "filename": 1}
    assert passes.run_cache(rules, other, run(other), 1) is not passes.run_cache(rules, header, run(header), 1)
    assert passes.run_cache(rule_set(), header, run(header), 1) is not passes.run_cache(rules, header, run(header), 1)


def test_the_process_keeps_a_few_run_caches(monkeypatch):
    monkeypatch.setattr(passes, "_RUN_CACHES", OrderedDict())
    rules = rule_set()
    for width in range(passes.RUN_CACHES_KEPT + 3):
        header = {f"column{i}": i for i in range(width + 1)}
        passes.run_cache(rules, header, RunState(vocab=rules.vocab, pool_name="p", code_version="x",
                                                 columns=tuple(header)), 1)
    assert len(passes._RUN_CACHES) == passes.RUN_CACHES_KEPT


def test_the_conditions_kept_with_a_rule_set_stay_bounded(monkeypatch):
    monkeypatch.setattr(passes, "FRESH_CONDITIONS_KEPT", 50)
    rules = rule_set()
    for pool in ALL_POOLS[:6]:
        generate(read_pool(pool), rules)
        assert 0 < len(rules.derived["fresh conditions"]) <= 50


# ---------------------------------------------------------------- which rules an exposure could start
def test_every_pool_gives_the_same_files_when_each_new_cell_combination_is_worked_out_anew(monkeypatch):
    """An exposure with new cells is looked up again by the answers its cells give the conditions
    that read one column alone; working every new combination out (as before) changes no file."""
    rules = rule_set()
    looked_up = {pool.name: _files(pool, rules) for pool in ALL_POOLS}
    monkeypatch.setattr(passes._Starts, "_answer", lambda self, row, presence: self._evaluate(row))
    worked_out = rule_set()
    for pool in ALL_POOLS:
        assert _files(pool, worked_out) == looked_up[pool.name], pool.name


def test_cells_that_give_the_same_answers_share_the_rules_worked_out(monkeypatch):
    """The mega pool's discovery pass reads ASN_CANDIDATE for one pattern, and its cells differ
    from exposure to exposure: most new combinations need no working out."""
    made: list = []
    build = passes._Starts.__init__

    def kept(self, *args, **kwargs):
        build(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(passes._Starts, "__init__", kept)
    generate(read_pool(POOLS / "mega_pool.csv"), rule_set())
    combinations = sum(len(starts._answers) for starts in made)
    worked_out = sum(len(starts._class_answers) for starts in made)
    assert combinations > 1000
    assert worked_out < combinations / 2
    assert any(tests is not None for starts in made for _, tests in starts._parts)


def test_runs_in_two_threads_never_share_a_run_cache(monkeypatch):
    """A cache tests exposures on one stand-in association; two runs at once would overwrite its
    current exposure. Each thread gets its own; one thread gets its own back."""
    monkeypatch.setattr(passes, "_RUN_CACHES", OrderedDict())
    rules = rule_set()
    header = {"filename": 0, "asn_candidate": 1}
    run = RunState(vocab=rules.vocab, pool_name="p", code_version="x", columns=tuple(header))
    here = passes.run_cache(rules, header, run, 1)
    there: list = []
    thread = threading.Thread(target=lambda: there.append(passes.run_cache(rules, header, run, 1)))
    thread.start()
    thread.join()
    assert there[0] is not here
    assert passes.run_cache(rules, header, run, 1) is here


def test_pools_generated_in_threads_at_once_give_the_files_of_a_serial_run():
    pools = [POOLS / name for name in ("pool_002_image_miri.csv", "pool_004_wfs.csv", "pool_013_coron_nircam.csv")]
    rules = rule_set()
    serial = {pool.name: _files(pool, rules) for pool in pools}
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as threads:
        at_once = list(threads.map(lambda pool: (pool.name, _files(pool, rules)), pools * 3))
    assert len(at_once) == 9
    assert all(files == serial[name] for name, files in at_once)
