"""From file names to written associations: the work behind ``asnflow generate``.

Loads the rule set (rules.yaml plus any ``-r`` files), reads the pool,
generates, and writes the documents all together into the output folder.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from asnflow.asnfile.files import Rendered, file_names, render
from asnflow.assoc_rules.compile import RuleSet, load_rule_set
from asnflow.config import load_config
from asnflow.dask_clients import DEFAULT_TIMEOUT
from asnflow.engine.documents import AssociationDict, Documents
from asnflow.engine.generate import Options, generate
from asnflow.errors import RuleError
from asnflow.records import record

log = logging.getLogger("asnflow")

# A diagnostic run on a generation's result before it is dropped:
# (pool, rules, options, result) -> anything picklable, kept in Outcome.diagnosis.
Diagnose = Callable[[Any, RuleSet, Options, Any], Any]


def rule_set(extra_rules: list[str] | None = None, ignore_default: bool = False, config_path=None,
             strict: bool = False) -> RuleSet:
    """The default rules (unless ignored) followed by user rule files.

    The shared definitions of the default set (lists, tables, fragments)
    stay available to user files even with ``ignore_default``. With
    ``strict``, a warning about a user rule file is raised as an error.
    """
    config = load_config(config_path)
    extra = [Path(p) for p in (extra_rules or [])]
    registered = ([] if ignore_default else list(config.rule_files)) + extra
    definitions = list(config.definition_files)
    if ignore_default:
        definitions += [p for p in config.rule_files if p not in extra]
    paths = definitions + [p for p in registered if p not in definitions]
    if not registered:
        raise RuleError("no rule files: --ignore-default leaves no rules", hint="give rule files with -r")
    if extra and ignore_default:
        from asnflow.assoc_rules import ast
        from asnflow.assoc_rules.cache import parsed_file

        if not any(isinstance(item, ast.RuleDef) for path in extra for item in parsed_file(path).items):
            raise RuleError("the rule files hold no rules", path=str(extra[-1]),
                            hint="with --ignore-default, the files given with -r need at least one `rule`")
    if extra:
        # User rule files are checked first, so a mistake is reported at its place, never as a traceback.
        from asnflow.assoc_rules.check import load_checked

        rules = load_checked(paths, rule_paths=registered, targets=extra, columns=config.pool_columns,
                             strict=strict)
    else:
        rules = load_rule_set(paths, rule_paths=registered)
    if not rules.rules:
        raise RuleError("the rule files hold no rules", path=str(registered[-1]),
                        hint="a file given with -r needs at least one `rule`")
    return rules


@record
class Outcome:
    documents: Sequence[AssociationDict]  # made one at a time on access (a Documents) unless a list
    written: Sequence[Path] = ()
    warnings: list[str] = field(default_factory=list)
    missing_ids: list[str] = field(default_factory=list)
    pool_rows: int = 0
    made: list[tuple[str, str]] = field(default_factory=list)  # (asn_type, rule name) of each document
    # Set by :func:`rendered_outcome`, which leaves ``documents`` empty:
    rendered: Rendered | None = None  # the files to write
    file_names: list[str] | None = None  # or only their names (a dry run, or files staged by a worker)
    staged: list[str] | None = None  # files a worker staged: what each turned out to be ("new", ...)
    diagnosis: Any = None  # what the ``diagnose`` function made of the run's result (e.g. its orphans)
    pool_shape: Any = None  # a PoolShape, when the worker that generated the pool read it too

    def counts(self) -> Counter:
        return Counter(asn_type for asn_type, _ in self.made)

    def names(self, fmt: str) -> list[str]:
        """The names of the files this outcome writes."""
        if self.rendered is not None:
            return self.rendered.names
        if self.file_names is not None:
            return self.file_names
        return file_names(self.documents, fmt)


def generate_documents(pool, rules: RuleSet, options: Options, progress=None, jobs: int = 1,
                       scheduler: str | None = None, on_plan=None, timeout: float = DEFAULT_TIMEOUT,
                       diagnose: Diagnose | None = None) -> Outcome:
    """The documents of ``pool``; with ``diagnose``, also what it makes of this run's result
    (diagnostics read the run they explain, never a second one)."""
    result = generate(pool, rules, options, progress=progress, jobs=jobs, scheduler=scheduler, on_plan=on_plan,
                      timeout=timeout)
    documents = Documents(result.associations)
    outcome = Outcome(documents, warnings=result.warnings, missing_ids=result.missing_ids, pool_rows=len(pool),
                      made=documents.kinds())
    if diagnose is not None:
        outcome.diagnosis = diagnose(pool, rules, options, result)
    return outcome


def rendered_outcome(pool, rules: RuleSet, options: Options, fmt: str = "json", files: bool = True,
                     diagnose: Diagnose | None = None) -> Outcome:
    """:func:`generate_documents` with the files rendered (validated, serialised) instead of the documents
    kept, or with ``files`` false only their names: what a worker process sends back for a whole pool."""
    outcome = generate_documents(pool, rules, options, diagnose=diagnose)
    if files:
        outcome.rendered = render(outcome.documents, fmt)
    else:
        outcome.file_names = file_names(outcome.documents, fmt)
    outcome.documents = []
    return outcome
