"""What happened to the associations of a run: written, dropped by finalize, pruned, merged.

Read from the run's :class:`~asnflow.engine.generate.Result`, for explain and orphans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asnflow.assoc_rules.compile import CompiledRule
from asnflow.engine.association import Association
from asnflow.engine.generate import Result


@dataclass(frozen=True)
class Membership:
    """One written association holding the exposure."""

    file_name: str
    rule: str
    asn_id: str
    asn_type: str
    exptype: str
    product: str


@dataclass(frozen=True)
class Fate:
    """An association that held the exposure and is not written, or was written without it."""

    rule: str
    asn_id: str
    asn_type: str
    what: str
    exptype: str | None = None  # the exposure's member type there, if still listed


class Outcomes:
    """The written associations of a run and the fate of every association made on the way."""

    def __init__(self, result: Result, fmt: str = "json") -> None:
        self.result = result
        self.suffix = ".yaml" if fmt == "yaml" else ".json"
        written: dict[str, Association] = {}
        self.replaced: dict[int, Association] = {}
        self.invalid: list = []
        for asn in result.associations:
            if not asn.is_valid:
                self.invalid.append(asn)
                continue
            stem = asn.file_stem()
            if stem in written:
                self.replaced[id(written[stem])] = asn
            written[stem] = asn
        self.written = list(written.values())
        self._lineage: dict[int, list] = {}
        for asn in self.written:
            self._lineage.setdefault(self._family(asn), []).append(asn)
        self._dropped = {id(asn): why for asn, why in result.dropped}
        self._pruned = {self._family(asn): (asn, kept, why) for asn, kept, why in result.pruned}
        self._members: dict[str, list[tuple[Any, str]]] = {}  # filename -> (association, exptype)
        for asn in self.written:
            for product in asn.products:
                for member in product["members"]:
                    item = getattr(member, "item", None)
                    if item is not None:
                        self._members.setdefault(item.filename, []).append((asn, member["exptype"]))

    @staticmethod
    def _family(asn) -> int:
        # Finalize splits an association into copies that share its state
        # list; the list's identity ties the copies to the association made.
        return id(asn.states)

    def file_name(self, asn) -> str:
        return asn.file_stem() + self.suffix

    def memberships(self, filename: str) -> list[Membership]:
        found = []
        for asn, exptype in self._members.get(filename, []):
            product = asn.products[0]["name"] if asn.products else ""
            found.append(Membership(self.file_name(asn), asn.rule.name, asn.acid.id, asn.asn_type, exptype,
                                    product or ""))
        return found

    def is_orphan(self, filename: str) -> bool:
        return filename not in self._members

    def fates(self, filename: str, rule: CompiledRule | None = None) -> list[Fate]:
        """What happened to associations that held ``filename`` and do not hold it in the output."""
        out: list[Fate] = []
        held = {id(asn) for asn, _ in self._members.get(filename, [])}
        for asn in self.result.created:
            if rule is not None and asn.rule.name != rule.name:
                continue
            if filename not in asn.filenames:
                continue
            family = self._lineage.get(self._family(asn), [])
            if any(id(w) in held for w in family):
                continue
            what = self._what_happened(asn, family)
            listed = [m["exptype"] for product in asn.products for m in product["members"]
                      if getattr(m, "item", None) is not None and m.item.filename == filename]
            fate = Fate(asn.rule.name, asn.acid.id, asn.asn_type, what, listed[0] if listed else None)
            if fate not in out:
                out.append(fate)
        return out

    def _what_happened(self, asn, family: list) -> str:
        steps = ", ".join(asn.rule.finalize) or "finalize"
        if family:
            names = ", ".join(self.file_name(w) for w in family)
            return f"was written as {names} without it (finalize: {steps})"
        if id(asn) in self._dropped:
            why = self._dropped[id(asn)]
            return f"was {why}" if why.startswith("dropped") else f"was dropped: {why}"
        pruned = self._pruned.get(self._family(asn))
        if pruned is not None:
            _, kept, why = pruned
            if kept is not None:
                return f"was pruned ({why}); kept instead: {self.file_name(kept)} ({kept.rule.name})"
            return f"was pruned ({why})"
        container = self.result.merged_into.get(id(asn))
        if container is not None:
            return f"was merged into {self.file_name(container)}"
        if id(asn) in self.replaced:
            return f"was replaced by a later association with the same file name ({self.file_name(asn)})"
        if any(a is asn for a in self.invalid):
            failed = [name for name, ok in asn.validity.items() if not ok]
            return "was not written: not valid" + (f" ({', '.join(failed)})" if failed else "")
        return "was removed as a duplicate of a candidate association (discovery)"
