"""The Python API: associations as plain dicts, without going through files.

    import asnflow
    asns = asnflow.generate("jw01234_pool.csv")            # what `asnflow generate` makes
    asns = asnflow.generate(pool, ids=["o001"], rules=["my.rules"])
    asnflow.write(asns, "out")                            # the same files the CLI writes
    asn = asnflow.load("out/jw01234-o001_image3_00001_asn.json")

Each association is a ``dict`` (what jwst's pipelines accept as an
association) with a ``name`` attribute: the file stem it is written under.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from asnflow.engine.documents import AssociationDict


def generate(
    pool,
    *,
    ids: Iterable[str] | None = None,
    discover: bool = False,
    all_candidates: bool = False,
    version_id: str | bool | None = None,
    finalize: bool = True,
    merge: bool = False,
    dms: bool = False,
    rules: Iterable[str | os.PathLike[str]] = (),
    ignore_default: bool = False,
    delimiter: str = "|",
) -> list[AssociationDict]:
    """Associations of a pool, exactly as ``asnflow generate`` (and jwst's asn_generate) make them.

    ``pool`` is a path or a :class:`asnflow.pool.read.Pool`. The options are
    those of the command line: ``ids`` (-i), ``discover``, ``all_candidates``,
    ``version_id`` (True: a timestamp), ``finalize`` (False: --no-finalize),
    ``merge``, ``dms`` (--DMS), extra ``rules`` files (-r) and ``ignore_default``.
    """
    from asnflow.engine.generate import Options
    from asnflow.engine.session import generate_documents, rule_set
    from asnflow.pathnames import check_name
    from asnflow.pool.read import Pool, read_pool

    if isinstance(version_id, str):
        check_name(version_id, "version_id")
    if not isinstance(pool, Pool):
        pool = read_pool(pool, delimiter=delimiter)
    ids = tuple(ids) if ids is not None else None
    if sum(bool(x) for x in (ids is not None, discover, all_candidates)) > 1:
        raise ValueError("ids, discover and all_candidates are mutually exclusive")
    options = Options(ids=ids, discover=discover, all_candidates=all_candidates, version_id=version_id,
                      finalize=finalize, merge=merge, dms=dms)
    ruleset = rule_set([str(p) for p in rules], ignore_default)
    return list(generate_documents(pool, ruleset, options).documents)


def write(asns: Iterable[Mapping], folder: str | os.PathLike[str], fmt: str = "json") -> list[Path]:
    """Write associations into ``folder`` (all or nothing); returns the paths written."""
    from asnflow.asnfile.files import write as write_files

    return write_files(asns, folder, fmt)


def load(path: str | os.PathLike[str]) -> AssociationDict:
    """Read one association file (JSON or YAML), validated against its schema.

    The result is the type :func:`generate` returns: a ``dict`` whose
    ``name`` is the file's stem, so ``write([asnflow.load(p)], folder)``
    writes it under the same name.
    """
    from asnflow.asnfile.files import load as load_file

    data = load_file(path)
    rule = str(data.get("asn_rule", ""))
    for registry in ("candidate_", "discover_"):
        rule = rule.removeprefix(registry)
    return AssociationDict(data, Path(path).stem, rule)
