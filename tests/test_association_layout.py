"""Associations keep CPython's compact attribute layout, made here or received from a worker.

Past ATTRIBUTES_AT_MOST attribute names for the class, every association
gets a dict of its own (five times the memory): a million-row pool's peak went
from 3.3 GB to 4.6 GB when three attributes were added.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from asnflow.engine import generate as generation
from asnflow.engine import parallel
from asnflow.engine.association import ATTRIBUTES_AT_MOST
from asnflow.engine.generate import Options
from asnflow.engine.passes import run_cache
from asnflow.engine.session import rule_set
from asnflow.pool.read import read_pool

POOL = Path(__file__).parent / "data" / "compat" / "pools" / "mega_pool.csv"


def _made_and_received():
    """Associations of a pool's passes, and the same sent through the -j pickling: (made, received, rows)."""
    rules = rule_set()
    pool = read_pool(POOL)
    columns, rows = generation.bind_rows(pool, rules)
    steps = generation.plan(rows, Options(), pool.name)
    run = parallel._run_state(rules, pool.name, tuple(pool.columns))
    cache = run_cache(rules, columns, run, len(rows))
    made = [asn for unit in steps.units for asn in generation.run_unit(unit, rules, rows, columns, run, cache=cache)]
    received, _ = parallel._loads(parallel._dumps(made, []), rows, {})
    for asn in received:
        asn.attach(rules.rules[asn.rule_index], run)
    return made, received, rows


def test_associations_use_few_enough_attribute_names():
    made, received, _ = _made_and_received()
    names = {name for asn in made + received for name in vars(asn)}
    assert len(names) <= ATTRIBUTES_AT_MOST, sorted(names)


def test_a_received_association_takes_no_dict_of_its_own():
    made, _, rows = _made_and_received()
    blob = parallel._dumps(made, [])
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        again, _ = parallel._loads(blob, rows, {})
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # What setting the attributes allocated (association.py's __setstate__): nothing while they
    # fit the object, a dict each once they do not.
    setting = sum(stat.size_diff for stat in after.compare_to(before, "filename")
                  if stat.traceback[0].filename.endswith("association.py"))
    assert setting / len(again) < 600  # about 1,300 bytes each with one name too many


def test_the_state_sent_names_every_attribute_but_the_run_bound_ones():
    """An attribute added to Association but not to TRAVELLING would silently stay behind."""
    made, received, _ = _made_and_received()
    from asnflow.engine.association import Association

    assert set(vars(made[0])) == set(Association.TRAVELLING) | set(Association._RUN_BOUND)
    assert not set(Association.TRAVELLING) & set(Association._RUN_BOUND)


def test_a_received_association_holds_what_was_sent():
    made, received, _ = _made_and_received()
    from asnflow.engine.association import Association

    assert len(received) == len(made) > 100
    for sent, got in zip(made, received, strict=True):
        assert got.rule_index == sent.rule.index
        assert got.rule is sent.rule  # attach() joined this process's rule again
        for name in Association.TRAVELLING:
            if name == "products":
                continue
            assert getattr(got, name) == getattr(sent, name), name
        assert [(p.name, [dict(m) for m in p.members], [m.item for m in p.members]) for p in got.products] == \
               [(p.name, [dict(m) for m in p.members], [m.item for m in p.members]) for p in sent.products]
