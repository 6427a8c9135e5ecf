"""The Markdown rule catalogue (``asnflow rules doc``, committed as docs/rules.md).

Everything comes from the rule files and the hooks' doc strings: for each
rule its description, level, asn_type and calibration module, what it
selects, what must be equal across members, what it excludes, what extra
members it attaches, its validity checks, finalize steps and product name
template, then the full rule with fragments expanded. Shared fragments,
lists, tables, predicates and hooks follow. The output depends only on the
rule set, so a test can check that the committed file is current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.compile import CompiledRule, RuleSet
from asnflow.assoc_rules.show import (
    Piece,
    display_path,
    expr_text,
    references,
    settings,
    show_rule,
    value_text,
)
from asnflow.routes import describe_routes

NON_SCIENCE_TYPES = ("target_acquisition", "background", "imprint", "psf", "direct_image")


@dataclass
class RuleDigest:
    """What a rule does, in short phrases."""

    selects: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    attaches: list[str] = field(default_factory=list)


def _add(target: list[str], text: str) -> None:
    if text not in target:
        target.append(text)


def _leaf_condition(leaf: ast.LeafStmt) -> str:
    sources = " | ".join(leaf.sources)
    if leaf.undefined:
        return f"`{sources}` empty"
    if leaf.value is None:
        return f"`{sources}` set"
    return f"`{sources}` ~ `{value_text(leaf.value)}`"


def formula(piece: Piece) -> str:
    """A condition written out in words and rule syntax (for exclusions)."""
    statement = piece.statement
    if isinstance(statement, ast.LeafStmt):
        return _leaf_condition(statement)
    if isinstance(statement, ast.CheckStmt):
        return f"`{expr_text(statement.expr)}`"
    if isinstance(statement, (ast.SetStmt, ast.UnmatchedStmt)):
        return ""
    if isinstance(statement, ast.NeverStmt):
        return "never"
    parts = [p for p in (formula(child) for child in piece.children) if p]
    reduce = piece.reduce
    joiner = " or " if reduce in ("any", "none") else " and "
    text = joiner.join(parts)
    if reduce in ("none", "notall"):
        return f"not ({text})" if len(parts) > 1 else f"not {text}"
    return f"({text})" if len(parts) > 1 else text


def digest(rule: CompiledRule, rule_set: RuleSet) -> RuleDigest:
    from asnflow.assoc_rules.show import expand

    found = RuleDigest()
    _digest(expand(rule.source, rule_set), found)
    return found


def _digest(piece: Piece, found: RuleDigest) -> None:
    for child in piece.children:
        statement = child.statement
        if isinstance(statement, ast.GroupStmt):
            if statement.reduce in ("none", "notall"):
                joiner = " or " if statement.reduce == "none" else " and "
                parts = [p for p in (formula(c) for c in child.children) if p]
                _add(found.excludes, joiner.join(parts))
                continue
            if statement.reprocess is not None:
                _add(found.attaches, f"{_group_label(child)}: offered again to {statement.reprocess.category} "
                     f"associations on {statement.reprocess.when}")
            _digest(child, found)
        elif isinstance(statement, ast.LeafStmt):
            _digest_leaf(statement, found)
        elif isinstance(statement, ast.CheckStmt):
            _digest_check(statement, found)
        elif isinstance(statement, ast.NeverStmt):
            _add(found.attaches, f"`never {statement.name}`: the exposure is offered again to "
                 f"{statement.reprocess.category} associations"
                 f"{' of every rule' if statement.reprocess.all_rules else ''}")
        elif child.kind in ("use", "body", "frame"):
            _digest(child, found)


def _group_label(piece: Piece) -> str:
    statement = piece.statement
    if isinstance(statement, ast.GroupStmt) and statement.name:
        return statement.name
    leaves = [c.statement for c in piece.children if isinstance(c.statement, ast.LeafStmt)]
    if leaves:
        return ", ".join(f"{leaf.name or '_'} (`{' | '.join(leaf.sources)}`)" for leaf in leaves)
    return "a group"


def _digest_leaf(leaf: ast.LeafStmt, found: RuleDigest) -> None:
    sources = " | ".join(leaf.sources)
    optional = " (optional)" if leaf.optional else ""
    onlyif = f" when `{expr_text(leaf.onlyif)}`" if leaf.onlyif is not None else ""
    if leaf.reprocess:
        _add(found.attaches, f"{leaf.name or '_'} (`{sources}`): offered again to {leaf.reprocess} associations")
    if "exp_type" in leaf.sources and leaf.value is not None:
        _add(found.selects, f"{_leaf_condition(leaf)}{optional}")
    elif leaf.value is not None or leaf.undefined:
        _add(found.requires, f"{_leaf_condition(leaf)}{optional}{onlyif}")
    elif leaf.kind == "pin" and leaf.name is not None:
        shown = leaf.name if leaf.sources == (leaf.name,) else f"{leaf.name} (`{sources}`)"
        _add(found.pinned, f"{shown}{optional}{onlyif}")
    elif leaf.kind == "match" and not leaf.reprocess:
        _add(found.requires, f"`{sources}` set{optional}")


def _digest_check(check: ast.CheckStmt, found: RuleDigest) -> None:
    text = f"`{expr_text(check.expr)}`"
    expr = check.expr
    if (isinstance(expr, ast.Compare) and expr.op == "==" and isinstance(expr.left, ast.Ref)
            and expr.left.name in ("exptype", "base_exptype") and isinstance(expr.right, ast.Str)
            and expr.right.value in NON_SCIENCE_TYPES):
        _add(found.attaches, f"{expr.right.value} exposures ({text})")
        return
    if check.reprocess is not None:
        _add(found.attaches, f"{text}: offered again to {check.reprocess.category} associations on "
             f"{check.reprocess.when}")
        return
    _add(found.requires, text)


# ---------------------------------------------------------------------- Markdown
def _sentence(text: str) -> str:
    """A hook's doc string as a phrase inside a list (no closing full stop)."""
    return text.rstrip().removesuffix(".")


def _anchor(name: str) -> str:
    return name.lower()


def _rule_section(rule: CompiledRule, rule_set: RuleSet, calibration: Mapping[str, Any]) -> list[str]:
    found = digest(rule, rule_set)
    lines = [f"### {rule.name}", ""]
    if rule.description:
        lines += [rule.description, ""]
    entry = calibration.get(rule.asn_type)
    calibrated = describe_routes(entry) if entry is not None else None
    lines.append(f"- **asn_type** `{rule.asn_type}`, level {rule.level}"
                 + (f", calibrated by `{calibrated}`" if calibrated else "")
                 + f"; defined in `{display_path(rule.path)}:{rule.source.pos.line}`")
    if found.selects:
        lines.append(f"- **Selects** {'; '.join(found.selects)}")
    if found.requires:
        lines.append(f"- **Requires** {'; '.join(found.requires)}")
    if found.pinned:
        lines.append(f"- **Equal for all members** {', '.join(found.pinned)}")
    if found.excludes:
        lines.append(f"- **Excludes exposures with** {'; '.join(found.excludes)}")
    if found.attaches:
        lines.append(f"- **Attaches** {'; '.join(found.attaches)}")
    by_key: dict[str, list] = {}
    for setting in settings(rule, calibration):
        by_key.setdefault(setting.key, []).append(setting)
    policy = by_key["exposure_types"][0]
    lines.append(f"- **Member types** `{policy.value}`: {_sentence(policy.note.removeprefix('(default) '))}")
    lines.append("- **Valid when** " + "; ".join(f"`{s.value}`: {_sentence(s.note)}" for s in by_key["valid"]))
    if "finalize" in by_key:
        lines.append("- **Finalize** " + "; ".join(f"`{s.value}`: {_sentence(s.note)}" for s in by_key["finalize"]))
    product = by_key["product"][0]
    lines.append(f"- **Product name** `{product.value}`: {_sentence(product.note)}")
    lines += ["", "<details><summary>The rule with its fragments expanded</summary>", "", "```text",
              show_rule(rule, rule_set, calibration, display_path).rstrip("\n"), "```", "", "</details>", ""]
    return lines


def _users(rule_set: RuleSet) -> dict[tuple[str, str], list[str]]:
    """(kind, name) -> the rules that use a fragment, frame, list, table or predicate."""
    from asnflow.assoc_rules.show import expand, walk_pieces

    users: dict[tuple[str, str], list[str]] = {}
    for rule in rule_set.rules:
        root = expand(rule.source, rule_set)
        names: set[tuple[str, str]] = set()
        if root.kind == "frame" and root.name is not None:  # (frame and use pieces are always named)
            names.add(("frame", root.name))
        for piece, _ in walk_pieces(root):
            if piece.kind == "use" and piece.name is not None:
                names.add(("fragment", piece.name))
        for kind, found in references(root, rule_set).items():
            names.update((kind, name) for name in found)
        for key in names:
            users.setdefault(key, []).append(rule.name)
    return users


def _used_by(users: dict, kind: str, name: str) -> str:
    from asnflow.constraints.vocabulary import VOCABULARY_LISTS, VOCABULARY_TABLES

    names = users.get((kind, name), [])
    if names:
        return "used by " + ", ".join(f"[{rule}](#{_anchor(rule)})" for rule in names)
    if name in (VOCABULARY_LISTS if kind == "list" else VOCABULARY_TABLES if kind == "table" else ()):
        return "read by the engine"
    return "not used by any rule"


def catalogue(rule_set: RuleSet, config) -> str:
    """The whole Markdown catalogue of a rule set."""
    from asnflow.assoc_rules.show import definition_text, statement_text

    calibration = dict(config.calibration)
    rules = rule_set.rules
    files = sorted({display_path(rule.path) for rule in rules} | {display_path(f.path) for f in rule_set.files})
    levels = {level: [r for r in rules if r.level == level] for level in ("2b", "3")}
    out = [
        "# Association rules",
        "",
        "<!-- Generated by `asnflow rules doc -o docs/rules.md` from the rule files; do not edit by hand. -->",
        "",
        f"The default rule set: {len(rules)} rules ({len(levels['2b'])} at level 2b, {len(levels['3'])} at "
        f"level 3) from {', '.join(f'`{f}`' for f in files)}. Every exposure of a pool is offered to the rules "
        "in the order below (level 2b first, alphabetical within a file, as jwst does); "
        "`asnflow rules show NAME` prints one rule, `asnflow explain POOL EXPOSURE` says why an exposure "
        "did or did not end up in each rule's associations.",
        "",
        "How to read a rule: *Selects* are the exposure types it takes; *Requires* the other values an "
        "exposure must have; *Equal for all members* the values the first member pins; *Excludes* what it "
        "never takes; *Attaches* the extra members (backgrounds, imprints, target acquisitions, direct "
        "images) it takes besides its science; then the hooks that decide member types, validity, "
        "finalize steps and the product name.",
        "",
        "| rule | level | asn_type | description |",
        "|---|---|---|---|",
    ]
    for rule in rules:
        out.append(f"| [{rule.name}](#{_anchor(rule.name)}) | {rule.level} | {rule.asn_type} | {rule.description} |")
    out.append("")
    for level, title in (("2b", "Level 2b rules"), ("3", "Level 3 rules")):
        if not levels[level]:
            continue
        out += [f"## {title}", ""]
        for rule in levels[level]:
            out += _rule_section(rule, rule_set, calibration)

    users = _users(rule_set)
    out += ["## Frames and fragments", "",
            "Named pieces of constraints rules take with `frame NAME` or `use NAME`.", ""]
    for kind, table in (("frame", rule_set.frames), ("fragment", rule_set.fragments)):
        for name, item in table.items():
            out += [f"### {kind} {name}", "",
                    f"Defined in `{display_path(item.pos.path)}:{item.pos.line}`; {_used_by(users, kind, name)}.",
                    "", "```text"]
            out += _definition_body(item.body, statement_text)
            out += ["```", ""]
    out += ["## Lists, tables and predicates", ""]
    for kind, definitions in (("list", rule_set.lists), ("table", rule_set.tables),
                              ("predicate", rule_set.predicates)):
        for name in definitions:
            text, pos = definition_text(kind, name, rule_set)
            out.append(f"- `{text}` (`{display_path(pos.path)}:{pos.line}`); {_used_by(users, kind, name)}")
        out.append("")
    out += ["## Hooks", "", "Names rules give to settings and values; each is a Python function in "
            "`asnflow/hooks/`, with the constraints it reads and the parameters it takes "
            "(see docs/language.md).", ""]
    out += hook_catalogue()
    return "\n".join(out).rstrip("\n") + "\n"


LANGUAGE_HOOKS_BEGIN = "<!-- hooks: generated from the hook registry; do not edit by hand -->"
LANGUAGE_HOOKS_END = "<!-- end of hooks -->"


def with_hook_reference(text: str) -> str:
    """The language reference ``text`` with its generated hook list made current.

    The list sits between two marker comments; ValueError when they are missing.
    """
    begin = text.find(LANGUAGE_HOOKS_BEGIN)
    end = text.find(LANGUAGE_HOOKS_END)
    if begin < 0 or end < begin:
        raise ValueError(f"the file has no {LANGUAGE_HOOKS_BEGIN} ... {LANGUAGE_HOOKS_END} section")
    block = "\n".join(["", *(line.replace("### ", "#### ", 1) for line in hook_catalogue()), ""])
    return text[: begin + len(LANGUAGE_HOOKS_BEGIN)] + "\n" + block.strip("\n") + "\n\n" + text[end:]


def hook_catalogue() -> list[str]:
    """One Markdown section per hook table: each hook, what it does, reads and takes."""
    from asnflow import hooks

    out = []
    for table in hooks.ALL_TABLES:
        out += [f"### {table.kind}", ""]
        for name in sorted(table):
            hook = table[name]
            contract = hook.contract()
            out.append(f"- `{name}`: {hook.doc}" + (f" ({contract})" if contract else ""))
        out.append("")
    return out


def _definition_body(statements, statement_text, depth: int = 0) -> list[str]:
    lines = []
    for statement in statements:
        lines.append("    " * depth + statement_text(statement))
        if isinstance(statement, ast.GroupStmt):
            lines += _definition_body(statement.children, statement_text, depth + 1)
            lines.append("    " * depth + "}")
    return lines
