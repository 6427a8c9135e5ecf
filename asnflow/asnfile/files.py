"""Association files: serialise, validate, read and write (JSON or YAML).

The JSON text is byte-for-byte what jwst writes (four-space indent, keys in
insertion order, no trailing newline), so files from either tool compare
equal. YAML is offered as a readable alternative of the same mapping and is
read wherever JSON is read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import field
from functools import cache
from json.encoder import encode_basestring_ascii as _encode_string
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from asnflow.asnfile import shapes
from asnflow.errors import AsnflowError, AssociationFileError, InputError
from asnflow.fsutil import open_folder, os_error, staged_folders
from asnflow.naming.asn_names import asn_file_stem
from asnflow.pathnames import NAME_MAX, check_names
from asnflow.records import record

# What counts as an association file in a folder (given as input, or written by an earlier run).
ASSOCIATION_NAME_ENDINGS = ("_asn.json", "_asn.yaml", "_asn.yml")

FORMATS = ("json", "yaml")
EXTENSIONS = {"json": ".json", "yaml": ".yaml"}
YAML_SUFFIXES = (".yaml", ".yml")

# Associations are a few levels deep; far deeper documents are refused before validation walks them.
MAX_DEPTH = 32

_LEVEL_FROM_TYPE = re.compile(r"([23])$")
_LEVEL2_RULE = re.compile(r"lv2|level2", re.IGNORECASE)
_LEVEL3_RULE = re.compile(r"lv3|level_?3", re.IGNORECASE)


# --------------------------------------------------------------------------- dumps


def dumps(asn: Mapping, fmt: str = "json") -> str:
    """The text of an association file in ``fmt`` ("json" or "yaml").

    JSON is ``json.dumps(asn, indent=4, separators=(",", ": "))``, exactly as
    jwst writes it; YAML is block style with the keys in the same order.
    """
    fmt = _check_format(fmt)
    if fmt == "json":
        return _json_text(asn, "")
    from asnflow.asnfile.yaml_text import yaml_text  # deferred: PyYAML is only needed for YAML

    return yaml_text(_plain(asn))


def _json_text(value: Any, indent: str) -> str:
    """``json.dumps(value, indent=4, separators=(",", ": "))``, byte for byte, much faster.

    With an indent the standard library falls back to its pure-Python
    encoder; here the C string encoder does the escaping and the layout is
    assembled directly. Anything unusual goes through ``json.dumps``.
    """
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if value is None:
        return "null"
    if kind is dict or isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = indent + "    "
        parts = []
        keys = _ENCODED_KEYS
        for key, item in value.items():
            encoded = keys.get(key)
            if encoded is None:
                if type(key) is not str:
                    return _json_fallback(value, indent)
                encoded = _encode_string(key)
                if len(keys) < ENCODED_KEYS_KEPT:
                    keys[key] = encoded
            # Most values are strings: encoded here rather than through a call.
            parts.append(f"{inner}{encoded}: {_encode_string(item) if type(item) is str else _json_text(item, inner)}")
        return "{\n" + ",\n".join(parts) + "\n" + indent + "}"
    if kind is list or isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = indent + "    "
        return "[\n" + ",\n".join([inner + _json_text(item, inner) for item in value]) + "\n" + indent + "]"
    return _json_fallback(value, indent)


# Keys, JSON-encoded: documents repeat the same dozen or so thousands of times.
# Only the first few hundred distinct keys are kept (a document may have any).
ENCODED_KEYS_KEPT = 256
_ENCODED_KEYS: dict[str, str] = {}


def json_value(value: Any, indent: str) -> str:
    """The JSON text of one value inside a document, its lines indented by ``indent`` (as
    :func:`dumps` writes it there): for writers that lay out a document's keys themselves."""
    return _encode_string(value) if type(value) is str else _json_text(value, indent)


def _json_fallback(value: Any, indent: str) -> str:
    text = json.dumps(value, indent=4, separators=(",", ": "))
    return text.replace("\n", "\n" + indent) if indent else text


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise AsnflowError(f"unknown association file format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


def _plain(value: Any) -> Any:
    """Plain dicts, lists and scalars (YAML's safe dumper refuses subclasses)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value




# ------------------------------------------------------------------------ validate


@cache
def _schema(level: str) -> dict:
    """One of the association schemas shipped with asnflow, as a mapping."""
    text = (Path(__file__).with_name("schemas") / f"{level}.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(level: str):
    """The compiled Draft 4 validator for one schema (built once per process, when first needed)."""
    import jsonschema

    schema = _schema(level)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def schema_level(asn: Mapping) -> str:
    """Which schema an association is checked against: "level2b" or "level3".

    The asn_type decides (image2, tso-spec2, ... end in 2; image3, coron3, ...
    in 3); when it does not (``"None"`` from a list, ``user_built``), the rule
    name does (DMSLevel2bBase, Asn_Lv2Image, DMS_Level3_Base, ...); otherwise
    the more lenient level-2b schema is used, as jwst accepts a file that any
    of its schemas accepts.
    """
    if not isinstance(asn, Mapping):
        return "level2b"
    return schema_level_of(asn.get("asn_type"), asn.get("asn_rule"))


def schema_level_of(asn_type: Any, asn_rule: Any) -> str:
    """:func:`schema_level` from a document's ``asn_type`` and ``asn_rule`` values."""
    if isinstance(asn_type, str):
        found = _LEVEL_FROM_TYPE.search(asn_type.strip())
        if found:
            return "level2b" if found.group(1) == "2" else "level3"
    if isinstance(asn_rule, str):
        if _LEVEL3_RULE.search(asn_rule):
            return "level3"
        if _LEVEL2_RULE.search(asn_rule):
            return "level2b"
    return "level2b"


def json_path(parts: Iterable[str | int]) -> str:
    """``$.products[0].members[2].exptype`` from a sequence of keys and indexes."""
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def validate(asn: Mapping, *, source: str | None = None) -> None:
    """Check an association against its schema (see :func:`schema_level`).

    Raises :class:`AssociationFileError` naming ``source`` (the file, when
    there is one) and the JSON path of the first problem found.
    """
    if not isinstance(asn, Mapping):
        raise AssociationFileError(
            f"an association must be a mapping at the top level, not {_kind(asn)}", path=source
        )
    level = schema_level(asn)
    structural = _structural(level)
    summary = shapes.shape(asn) if structural else None
    if structural and _shape_valid(level, summary):
        return
    error = _first_error(_validator(level), asn)
    if error is None:
        if structural:
            _VALID_SHAPES.add((level, summary))
        return
    where = json_path(error.absolute_path)
    raise AssociationFileError(
        f"not a valid {level} association: at {where}: {_describe(error)}",
        path=source,
        hint=_hint(error),
    )


def validate_shaped(level: str, summary: Any, document: Callable[[], Mapping], *, source: str | None = None) -> None:
    """:func:`validate` for a document whose schema level and shape (``shapes.shape``) the caller
    worked out without making it: ``document()`` is made and checked in full only when the
    shape is not known to be valid."""
    if _structural(level) and _shape_valid(level, summary):
        return
    validate(document(), source=source)


def _shape_valid(level: str, summary: Any) -> bool:
    """Whether every document of this shape is valid under the (structural) schema of ``level``;
    False also when the shape check cannot tell."""
    if (level, summary) in _VALID_SHAPES:
        return True
    if shapes.surely_valid(_schema(level), summary):
        _VALID_SHAPES.add((level, summary))
        return True
    return False


# Shapes already found valid, by schema level (large pools write hundreds of
# thousands of look-alike files).
_VALID_SHAPES: set = set()


@cache
def _structural(level: str) -> bool:
    return shapes.is_structural(_schema(level))


def _first_error(validator, instance):
    """The error nearest the top of the document, first in document order."""
    errors = list(validator.iter_errors(instance))
    if not errors:
        return None
    return min(errors, key=lambda e: (len(e.absolute_path), [_order(p) for p in e.absolute_path]))


def _order(part: str | int) -> tuple[int, int, str]:
    return (0, part, "") if isinstance(part, int) else (1, 0, str(part))


def _describe(error) -> str:
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required key {missing!r}"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, found {_kind(error.instance)} {_short(error.instance)}"
    return error.message


def _hint(error) -> str | None:
    if error.validator == "required" and "exptype" in error.message:
        return "every member needs an exptype such as science, background or imprint"
    return None


def _kind(value: Any) -> str:
    return {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = (
        json.dumps(value) if not isinstance(value, (dict, list)) else ("{...}" if isinstance(value, dict) else "[...]")
    )
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------- load


def loads(text: str, *, source: str | None = None) -> dict:
    """Parse and validate association text (JSON or YAML, told apart by content).

    A ``source`` ending in .json is JSON; otherwise text that starts with
    ``{`` is JSON, read strictly (a trailing comma is an error, not a YAML
    fallback as in old jwst) unless ``source`` ends in .yaml/.yml; anything
    else is YAML.
    """
    text = text.removeprefix("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        raise AssociationFileError("the association file is empty", path=source)
    suffix = Path(source).suffix.lower() if source is not None else ""
    # A .json file is JSON whatever it starts with: read as YAML, a corrupt one
    # would pass as a string and be reported as a wrong type.
    if suffix == ".json" or (stripped[0] in "{[" and suffix not in YAML_SUFFIXES):
        data = _parse_json(text, source)
    else:
        data = _parse_yaml(text, source)
    validate(data, source=source)
    return data


def load(path: str | os.PathLike[str]) -> dict:
    """Read an association file (JSON or YAML), validated, as a plain dict."""
    from asnflow.fsread import ASSOCIATION_LIMIT, read_text

    source = os.fspath(path)
    text = read_text(source, "association file", error=AssociationFileError, limit=ASSOCIATION_LIMIT)
    return loads(text, source=source)


def _parse_json(text: str, source: str | None) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AssociationFileError(
            f"not valid JSON: {exc.msg}", path=source, line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise AssociationFileError("not valid JSON: nested too deeply", path=source) from None
    except ValueError:  # an integer beyond Python's conversion limit (the only other ValueError)
        from asnflow import safe_yaml

        line, column = _long_number_place(text)
        raise AssociationFileError(f"a number of more than {safe_yaml.MAX_INTEGER_DIGITS} digits", path=source,
                                   line=line, column=column) from None
    _check_depth(data, source)
    return data


def _long_number_place(text: str) -> tuple[int | None, int | None]:
    from asnflow import safe_yaml

    found = re.search(rf"[0-9]{{{safe_yaml.MAX_INTEGER_DIGITS + 1},}}", text)
    if found is None:
        return None, None
    line = text.count("\n", 0, found.start()) + 1
    return line, found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1


def _parse_yaml(text: str, source: str | None) -> Any:
    import yaml

    from asnflow import safe_yaml

    try:
        data = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        problem, line, column = safe_yaml.problem_and_place(exc)
        raise AssociationFileError(f"not valid JSON or YAML: {problem}", path=source, line=line,
                                   column=column) from None
    _check_depth(data, source)
    return data


def _check_depth(data: Any, source: str | None) -> None:
    """Refuse documents nested deeper than any association (validation and walkers recurse)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise AssociationFileError(f"nested more than {MAX_DEPTH} levels deep", path=source)
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


# --------------------------------------------------------------------------- write


def default_file_stem(asn: Mapping, sequence: int) -> str:
    """jwst's association file stem, from the association's own content."""
    program = str(asn.get("program", "noprogram"))
    acid = str(asn.get("asn_id", "a3001"))
    asn_type = str(asn.get("asn_type", "None"))
    stamp = asn.get("version_id")
    return asn_file_stem(program, acid, asn_type, sequence, str(stamp) if stamp else None)


def file_names(asns: Iterable[Mapping], fmt: str = "json") -> list[str]:
    """The file name each association is written under (see :func:`write`).

    A sequence that knows its documents' names without making them (the
    engine's lazily made documents) gives them as its ``stems``.
    """
    extension = EXTENSIONS[_check_format(fmt)]
    stems = getattr(asns, "stems", None)
    if stems is None:
        stems = []
        counters: Counter[tuple[str, str]] = Counter()
        for asn in asns:
            stem = getattr(asn, "name", None)
            if not stem:
                key = (str(asn.get("asn_id")), str(asn.get("asn_type")))
                counters[key] += 1
                stem = default_file_stem(asn, counters[key])
            stems.append(stem)
    names = [stem if stem.endswith(extension) else stem + extension for stem in map(str, stems)]
    check_names(names, "association file name", limit=NAME_MAX)
    if len(set(names)) != len(names):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise AsnflowError(f"two associations would be written to the same file {name}")
            seen.add(name)
    return names


class FolderPaths(Sequence[Path]):
    """The paths of files in one folder, each made when asked for.

    A million-row pool writes about as many files; their Path objects,
    held all at once, were half a gigabyte.
    """

    def __init__(self, folder: Path, names: Sequence[str]) -> None:
        self.folder = folder
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.folder / name for name in self.names[index]]
        return self.folder / self.names[index]

    def __repr__(self) -> str:
        return f"FolderPaths({str(self.folder)!r}, {len(self.names)} files)"


@record
class WriteReport:
    """What writing a set of associations into a folder did to it."""

    folder: Path
    names: Sequence[str] = ()  # every association file of this run, in order
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # left untouched: same bytes, same modification time
    stale: list[str] = field(default_factory=list)  # association files in the folder this run did not make
    removed: list[str] = field(default_factory=list)  # stale files deleted (remove_stale)

    def line(self) -> str:
        text = f"{len(self.new)} new, {len(self.changed)} changed, {len(self.unchanged)} unchanged"
        if self.removed:
            text += f"; {len(self.removed)} files from earlier runs removed"
        elif self.stale:
            text += (
                f"; {len(self.stale)} files in the folder from earlier runs were not made by this run "
                "(listed with -v; --remove-stale deletes them)"
            )
        return text

    @property
    def paths(self) -> FolderPaths:
        """Every association file of this run, in order (see :class:`FolderPaths`)."""
        return FolderPaths(self.folder, self.names)


def write(asns: Iterable[Mapping], folder: str | os.PathLike[str], fmt: str = "json") -> list[Path]:
    """Validate and write associations into ``folder``, all or nothing.

    A file's stem is ``asn.name`` when the object has one, otherwise
    ``jw{program}-{asn_id}_{asn_type}_{n:05d}_asn`` with ``n`` counting per
    (asn_id, asn_type) in the order given. Returns the paths of all of them
    (files whose content is unchanged are left untouched).
    """
    return list(write_changes(asns, folder, fmt).paths)


def write_changes(
    asns: Iterable[Mapping], folder: str | os.PathLike[str], fmt: str = "json", *, remove_stale: bool = False
) -> WriteReport:
    """:func:`write`, saying which files are new, changed, unchanged, and stale.

    A file that already holds exactly the bytes to write is not rewritten
    (its modification time stays), so what reads the folder afterwards sees
    only real changes. Association files in the folder that this run does not
    make are *stale*; ``remove_stale`` deletes them once everything else is
    in place.
    """
    return write_folders([(asns, folder)], fmt, remove_stale=remove_stale)[0]


@record(frozen=True)
class Rendered:
    """Association files ready to be written: their names and bytes, in order.

    What a worker process sends back for a pool: bytes cost next to nothing
    to move between processes, the documents they come from do not.
    """

    names: list[str]
    payloads: list[bytes]

    def payload(self, index: int, _name: str) -> bytes:
        """The bytes of file ``index`` (as documents make theirs: by position and name)."""
        return self.payloads[index]


def render(asns: Iterable[Mapping], fmt: str = "json") -> Rendered:
    """Validate each association and serialise it under the name it is written as."""
    asns = asns if isinstance(asns, Sequence) else list(asns)
    names = file_names(asns, fmt)
    payload = _payload_maker(asns, fmt)
    return Rendered(names, [payload(index, name) for index, name in enumerate(names)])


@runtime_checkable
class SelfRendering(Protocol):
    """Documents that make their own JSON files (the engine's: see engine.documents)."""

    def json_payload(self, index: int, name: str) -> bytes:
        """The bytes of document ``index``'s JSON file ``name``, validated as :func:`validate` does."""
        ...


def _payload_maker(documents: Sequence[Mapping], fmt: str) -> Callable[[int, str], bytes]:
    """How file ``index`` (named ``name``) of ``documents`` is made."""
    if fmt == "json" and isinstance(documents, SelfRendering):
        return documents.json_payload
    return lambda index, name: _payload(documents[index], name, fmt)


def _payload(asn: Mapping, name: str, fmt: str) -> bytes:
    """The bytes of the file ``name``, once ``asn`` is found valid."""
    validate(asn, source=name)
    return dumps(asn, fmt).encode("utf-8")


def write_folders(batches: Iterable[tuple[Iterable[Mapping] | Rendered, str | os.PathLike[str]]],
                  fmt: str = "json", *, remove_stale: bool = False, jobs: int = 1) -> list[WriteReport]:
    """:func:`write_changes` for several folders at once: every file of every folder, or none.

    Each file goes to a staging folder as soon as it is validated and
    serialised (a million-row pool's files are not all held in memory at
    once); the staging folders are moved into place only when every file of
    every folder is there, so an invalid association or a bad destination
    leaves every folder as it was. Files already holding the bytes to write
    are left untouched. A batch may be given already :func:`render`-ed. With
    ``jobs`` > 1 a large folder's files are rendered and staged on that many
    processes (see :mod:`asnflow.asnfile.forked_write`).
    """
    batches = list(batches)
    with staged_write([folder for _, folder in batches], remove_stale=remove_stale) as staged:
        for index, (asns, _) in enumerate(batches):
            staged.record(index, *staged.put_batch(index, asns, fmt, jobs=jobs))
    return staged.reports


class StagedWrite:
    """Folders being written all or nothing (see :func:`staged_write`).

    Files are put into a folder's staging area by :meth:`put`, from this
    process or from processes forked while the write is open (they share its
    staging folders); :meth:`record` then says what the files of each folder
    turned out to be, in the order they are listed.
    """

    def __init__(self, folders: Sequence[Path], stagings: Sequence[Path], left: set[int] | None = None) -> None:
        self.reports = [WriteReport(folder) for folder in folders]
        self.left = left if left is not None else set()  # folders to leave as they were (see leave)
        self._positions = {Path(folder): index for index, folder in enumerate(folders)}
        self._stagings = list(stagings)
        self._earlier = [_association_files_in(folder) for folder in folders]
        # The staging folder files go into, opened once: creating a file by its name in an open
        # folder spares the kernel a path walk per file (tens of thousands per pool). One at a
        # time: several pools' writes run folder after folder, and a thousand pools must not
        # hold a thousand descriptors.
        self._held_staging: tuple[int, int] | None = None  # (folder index, descriptor)

    def put(self, index: int, name: str, payload: bytes) -> str:
        """Stage file ``name`` of folder ``index``: "new", "changed", or "unchanged" (then left as it is)."""
        report = self.reports[index]
        if name in self._earlier[index]:
            if _holds(report.folder / name, payload):
                return "unchanged"
            kind = "changed"
        else:
            kind = "new"
        try:
            if _BY_DESCRIPTOR:
                _write_new_file(name, payload, self._staging_descriptor(index))
            else:  # pragma: no cover - platforms whose os.open takes no dir_fd
                _write_new_file(os.path.join(self._stagings[index], name), payload, None)
        except OSError as exc:
            raise os_error(exc, "cannot write the output", report.folder / name) from None
        return kind

    def _staging_descriptor(self, index: int) -> int:
        if self._held_staging is None or self._held_staging[0] != index:
            self.close()
            self._held_staging = (index, open_folder(self._stagings[index]))
        return self._held_staging[1]

    def close(self) -> None:
        """Close the staging folder held open (a forked writer closes its own copy)."""
        if self._held_staging is not None:
            os.close(self._held_staging[1])
            self._held_staging = None

    def put_rendered(self, index: int, rendered: Rendered) -> list[str]:
        """:meth:`put` of every file of ``rendered``; what each turned out to be."""
        return [self.put(index, name, payload) for name, payload in zip(rendered.names, rendered.payloads,
                                                                          strict=True)]

    def put_batch(self, index: int, asns: Iterable[Mapping] | Rendered, fmt: str = "json", *,
                  jobs: int = 1) -> tuple[list[str], list[str]]:
        """:meth:`put` of every file of ``asns`` (documents, or already :func:`render`-ed), each
        validated and serialised only as its turn comes (on up to ``jobs`` processes, see
        :mod:`asnflow.asnfile.forked_write`): their names, and what each turned out to be."""
        from asnflow.asnfile.forked_write import put_all

        make: Callable[[int, str], bytes]
        if isinstance(asns, Rendered):
            names, make = asns.names, asns.payload
        else:
            documents = asns if isinstance(asns, Sequence) else list(asns)  # a Sequence may make each on access
            names, make = file_names(documents, fmt), _payload_maker(documents, fmt)

        def put(number: int) -> str:
            name = names[number]
            return self.put(index, name, make(number, name))

        return names, put_all(put, len(names), jobs)

    def index(self, folder: str | os.PathLike[str]) -> int:
        """The position of ``folder`` among this write's folders."""
        return self._positions[Path(folder)]

    def leave(self, index: int) -> None:
        """Leave folder ``index`` as it was: nothing moves into it, and it is not made if it did not
        exist (a pool its worker found empty). Only before the write closes."""
        self.left.add(index)

    def record(self, index: int, names: Sequence[str], kinds: Iterable[str]) -> None:
        """Fill folder ``index``'s report: its files (in order) and what each turned out to be."""
        report = self.reports[index]
        report.names = names
        for name, kind in zip(names, kinds, strict=True):
            getattr(report, kind).append(name)
        made = set(names)
        report.stale = sorted(name for name in self._earlier[index] if name not in made)


@contextlib.contextmanager
def staged_write(folders: Sequence[str | os.PathLike[str]], *, remove_stale: bool = False) -> Iterator[StagedWrite]:
    """Write association files into ``folders``, all or nothing: files put while this is open are
    moved into place when it closes without an error, and otherwise none is (see
    :func:`~asnflow.fsutil.staged_folders`). With ``remove_stale``, the association files the
    run did not make (its reports' ``stale``) are deleted once everything else is in place."""
    destinations = [Path(folder) for folder in folders]
    left: set[int] = set()
    with staged_folders(destinations, left=left) as stagings:
        staged = StagedWrite(destinations, stagings, left)
        try:
            yield staged
        finally:
            staged.close()
    if remove_stale:
        for report in staged.reports:
            _remove_stale(report)


def _remove_stale(report: WriteReport) -> None:
    for name in report.stale:
        try:
            (report.folder / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise AsnflowError(f"cannot remove a stale file: {exc.strerror}",
                               path=str(report.folder / name)) from None
        report.removed.append(name)


_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_BY_DESCRIPTOR = os.open in os.supports_dir_fd


def _write_new_file(name: str, payload: bytes, folder: int | None) -> None:
    """Create file ``name`` (in the open ``folder``, a descriptor, if not None) holding ``payload``."""
    # os-level writes: on large outputs Python file objects cost more than the disk
    handle = os.open(name, _NEW_FILE_FLAGS, 0o666, dir_fd=folder)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(handle, view):]
    finally:
        os.close(handle)


def _association_files_in(folder: Path) -> dict[str, os.DirEntry]:
    """Regular association files directly in ``folder`` (none when it does not exist yet)."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        raise AsnflowError(f"cannot read the output folder: {exc.strerror}", path=str(folder)) from None
    return {
        e.name: e
        for e in entries
        if e.name.endswith(ASSOCIATION_NAME_ENDINGS) and e.is_file(follow_symlinks=False)
    }


def _holds(path: Path, payload: bytes) -> bool:
    """True when ``path`` already holds exactly ``payload``."""
    try:
        if path.stat().st_size != len(payload):
            return False
        with open(path, "rb") as handle:
            return handle.read(len(payload) + 1) == payload
    except OSError:
        return False


def write_file(asn: Mapping, path: str | os.PathLike[str], fmt: str | None = None, *,
               option: str | None = None) -> Path:
    """Validate and write one association to ``path`` through an atomic rename.

    The format is ``fmt``, or taken from the extension (.yaml/.yml: YAML, else JSON).
    ``option`` names the command-line option that gave ``path``, for messages.
    """
    from asnflow.fsutil import atomic_write

    path = Path(path)
    if fmt is None:
        fmt = "yaml" if path.suffix.lower() in YAML_SUFFIXES else "json"
    validate(asn, source=str(path))
    return atomic_write(path, dumps(asn, fmt), option=option)


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format an existing association file is written in ("json" or "yaml")."""
    path = Path(path)
    if path.suffix.lower() in YAML_SUFFIXES:
        return "yaml"
    from asnflow.fsread import open_regular

    try:
        with os.fdopen(open_regular(path, "association file"), encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096).removeprefix("\ufeff").lstrip()
    except (OSError, AsnflowError):
        return "json"
    return "json" if not head or head[0] in "{[" else "yaml"


def association_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand PATHS: files are taken as given, folders give their ``*_asn.{json,yaml,yml}``."""
    found: dict[Path, Path] = {}  # resolved -> as given; a file named twice counts once
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(ASSOCIATION_NAME_ENDINGS))
            if not inside:
                raise InputError("no association files (*_asn.json, *_asn.yaml) in this folder", path=str(path))
            for file in inside:
                found.setdefault(file.resolve(), file)
        elif os.path.lexists(path):  # a file, or something the reader will name (a FIFO, a device...)
            found.setdefault(path.resolve(), path)
        else:
            raise InputError("no such file or folder", path=str(path))
    return list(found.values())
