"""Reading an association pool: a ``|``-separated text table, one row per exposure.

The cells come out exactly as jwst's ``AssociationPool.read`` gives them (an
astropy ascii read with a lower-casing string converter, then
``table.filled("null")``): every value a whitespace-trimmed, lower-cased
string, ``"..."`` quoting honoured, numbers kept as text. Column names are
lower-cased. This module does it with plain string splitting (and the csv
module for quoted lines) so a pool of 100,000 rows reads in well under a
second, and it refuses malformed pools with one clear error instead of
handing half-understood rows to the engine.
"""

from __future__ import annotations

import ast
import csv
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import field
from pathlib import Path

from asnflow.errors import PoolError
from asnflow.pathnames import check_name, check_relative_path
from asnflow.records import record

NULL = "null"

# Columns every pool must have; the engine reads them for every row.
REQUIRED_COLUMNS = ("filename", "program", "exp_type", "asn_candidate")

_QUOTE = '"'
# Physical line breaks, the ones an editor shows (universal newlines).
_PHYSICAL_BREAK = re.compile(r"\r\n|\r|\n")
_PHYSICAL_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
# Characters str.splitlines() also breaks on, which astropy (and so jwst)
# honours as line ends; lines are still numbered by physical breaks.
_OTHER_BREAK_CHARS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_BREAK_NAMES = {
    "\x0b": "a vertical tab (\\x0b)",
    "\x0c": "a form feed (\\x0c)",
    "\x85": "a next-line character (U+0085)",
    "\u2028": "a line separator (U+2028)",
    "\u2029": "a paragraph separator (U+2029)",
}
# The usual ASN_CANDIDATE spelling, parsed without ast: [('o001', 'observation'), ...].
# Blanks are only those Python's tokenizer skips, so this accepts nothing
# that ast.literal_eval would refuse.
_PAIR = r"\([ \t]*'([^'\\]*)'[ \t]*,[ \t]*'([^'\\]*)'[ \t]*,?[ \t]*\)"
_PAIR_LIST = re.compile(rf"\[[ \t]*(?:{_PAIR}[ \t]*,[ \t]*)*(?:{_PAIR}[ \t]*)?\]")
_PAIR_ITEM = re.compile(_PAIR)
_SHOWN_CHARS = 60
# a pool names exposures beside it; make-pool writes a path as it was given
FILENAME_OUTSIDE_HINT = ("name the exposure relative to the pool's folder; "
                         "asnflow make-pool --names-only writes bare names")
# FILENAME values that need no closer look (cells are lower-cased by now).
_PLAIN_FILENAME = re.compile(r"[a-z0-9_+-][a-z0-9_.+-]{0,190}")
# PROGRAM goes into every association file name; real ones have five digits.
_PROGRAM_DIGITS = 32


@record(frozen=True, repr=False)
class Pool:
    """An association pool as read from a file: header, rows of strings, comments."""

    path: Path
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]
    comments: tuple[str, ...]
    _positions: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_positions", {name: i for i, name in enumerate(self.columns)})

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:  # the rows would drown a traceback
        return f"Pool({str(self.path)!r}, {len(self.columns)} columns, {len(self.rows)} rows)"

    def index(self, column: str) -> int | None:
        """Position of ``column`` (any case) in :attr:`columns`, or None if the pool lacks it."""
        return self._positions.get(column.lower())

    def column(self, name: str) -> list[str]:
        """All values of one column, in row order; KeyError if the pool has no such column."""
        position = self.index(name)
        if position is None:
            raise KeyError(f"pool {self.name} has no column {name!r}")
        return [row[position] for row in self.rows]

    @property
    def exp_types(self) -> frozenset[str]:
        """The exposure types among the rows."""
        position = self.index("exp_type")
        return frozenset(row[position] for row in self.rows) if position is not None else frozenset()

    def shape(self) -> PoolShape:
        """What a summary of the run says about this pool, without its rows."""
        return PoolShape(self.name, len(self.rows), self.columns, self.exp_types)


@record(frozen=True)
class PoolShape:
    """What the summary of a run needs of a pool read elsewhere (by a worker): its name, how many
    rows it has, its columns and the exposure types among its rows."""

    name: str
    rows: int
    columns: tuple[str, ...]
    exp_types: frozenset[str]

    def __len__(self) -> int:
        return self.rows


def read_pool(path: str | os.PathLike[str], delimiter: str = "|") -> Pool:
    """Read and check the pool at ``path``; raise :class:`PoolError` if it is not a usable pool.

    Plain and gzip-compressed files are accepted (recognised by content), as
    are a UTF-8 byte-order mark and CRLF line ends. Lines whose first
    non-blank character is ``#`` are comments wherever they are; blank lines
    are skipped.
    """
    return parse_pool(read_pool_bytes(path, delimiter), path, delimiter)


def read_pool_bytes(path: str | os.PathLike[str], delimiter: str = "|") -> bytes:
    """The bytes :func:`parse_pool` reads: the pool file's, gunzipped, within the size limit
    (with the delimiter checked first, as :func:`read_pool` does)."""
    where = str(path)
    _check_delimiter(delimiter, where)
    return _read_bytes(Path(path), where)


def parse_pool(data: bytes, path: str | os.PathLike[str], delimiter: str = "|") -> Pool:
    """The pool the file at ``path`` holds, from its bytes read by :func:`read_pool_bytes` (maybe
    in another process, on another machine): everything :func:`read_pool` checks but the file."""
    where = str(path)
    _check_delimiter(delimiter, where)
    text = _decode(data, where)
    try:
        reader = _TableReader(text, delimiter, where)
    except _ShapeError:
        if delimiter != "\t":
            raise
        # astropy guesses the format: when trimming blanks (which also eats
        # trailing tabs, so a last empty cell) breaks the table, jwst reads a
        # tab-separated pool again with its tab reader, which keeps blanks.
        reader = _TableReader(text, delimiter, where, keep_blanks=True)
    return Pool(
        path=Path(path),
        name=Path(path).name,
        columns=reader.columns,
        rows=reader.rows,
        lines=reader.lines,
        comments=tuple(reader.comments),
    )


def parse_candidates(cell: str) -> tuple[tuple[str, str], ...]:
    """The ``(id, type)`` pairs of an ASN_CANDIDATE cell, read as data (never evaluated).

    ``[('o001', 'observation'), ('c1000', 'background')]`` gives those pairs; a
    bare non-negative integer such as ``1000`` gives ``(("1000", "unknown"),)``
    as in jwst; ``null`` or an empty cell gives ``()``. Anything else raises
    :class:`PoolError` (without a location; :func:`read_pool` adds it).
    """
    text = cell.strip()
    # The prefixes of "null" are what jwst fills empty cells with in narrow
    # columns (see _fill_empty_cells); "asn_candidate" is the repeated-header
    # row of jwst's test pools. jwst finds no candidates in any of them.
    if text.lower() in _NO_CANDIDATES:
        return ()
    if _PAIR_LIST.fullmatch(text):
        return _named_pairs(text, tuple(_PAIR_ITEM.findall(text)))
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _bad_candidates(text) from None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0 or value.bit_length() > 64:
            raise _bad_candidates(text)
        return ((str(value), "unknown"),)
    if isinstance(value, (list, tuple)) and all(_is_pair(item) for item in value):
        return _named_pairs(text, tuple((item[0], item[1]) for item in value))
    raise _bad_candidates(text)


def _named_pairs(text: str, pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    # An empty id would name association files "jw01234-_image2..." and breaks
    # the ordering jwst's duplicate pruning relies on (the id's first letter).
    if any(not candidate_id.strip() for candidate_id, _ in pairs):
        raise PoolError(f"ASN_CANDIDATE {_shown(text)} has an empty candidate id",
                        hint="each pair is (id, type), such as ('o001', 'observation')")
    return pairs


# jwst writes a candidate id into a regular expression as it is (".+(ID).+"), so an id holding
# one of these would be a different test than the id itself: one that never matches, one that
# cannot be compiled (jwst stops with a traceback), or one that takes hours to fail.
_PATTERN_CHARACTERS = frozenset(".^$*+?{}[]|()\\")


def _check_candidate_id(candidate_id: str) -> None:
    special = sorted(set(candidate_id) & _PATTERN_CHARACTERS)
    if special:
        raise PoolError(f"candidate id {_shown(candidate_id)} holds {special[0]!r}, which jwst reads as part of "
                        "a pattern", hint="a candidate id is letters and digits, such as o001 or c1000")


_NO_CANDIDATES = frozenset({"", "n", "nu", "nul", NULL, "asn_candidate"})


def _is_pair(item: object) -> bool:
    return (
        isinstance(item, (list, tuple))
        and len(item) == 2
        and all(isinstance(part, str) for part in item)
    )


def _bad_candidates(text: str) -> PoolError:
    return PoolError(
        f"ASN_CANDIDATE {_shown(text)} is not a list of (id, type) pairs",
        hint="write it like [('o001', 'observation'), ('c1000', 'background')], "
        "a bare candidate number, or null",
    )


def _shown(text: str) -> str:
    """A cell quoted for a message, cut short if long."""
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    return repr(text)


def _check_delimiter(delimiter: str, where: str) -> None:
    if (
        not isinstance(delimiter, str)
        or len(delimiter) != 1
        or delimiter in (_QUOTE, "#")
        or delimiter.isalnum()
        or _PHYSICAL_BREAK.match(delimiter)
        or delimiter in _OTHER_BREAK_CHARS
    ):
        raise PoolError(
            f"cannot use {delimiter!r} as the column delimiter",
            path=where,
            hint="give one punctuation or blank character, such as '|' (the default), ',' or a tab",
        )


def _read_bytes(path: Path, where: str) -> bytes:
    from asnflow.fsread import POOL_LIMIT, read_bytes

    return read_bytes(path, "pool file", error=PoolError, limit=POOL_LIMIT, gunzip=True)


def _decode(data: bytes, where: str) -> str:
    """The file's text, refusing binary content with the line and column of the first bad byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PoolError(
            "UTF-16 text, not UTF-8",
            path=where,
            line=1,
            column=1,
            hint="the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8",
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _byte_position(data, nul)
        raise PoolError(
            "binary content (a NUL byte), not a text pool",
            path=where,
            line=line,
            column=column,
            hint="a pool is a text table; is this a FITS or other binary file?",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(data, exc.start)
        raise PoolError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02X} cannot start or continue a character)",
            path=where,
            line=line,
            column=column,
            hint="save the pool as UTF-8 text",
        ) from None
    if text.startswith("\ufeff"):  # a UTF-8 byte-order mark
        text = text[1:]
    return text


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based physical line and byte column of ``offset`` in ``data``."""
    line = 1
    line_start = 0
    for match in _PHYSICAL_BREAK_BYTES.finditer(data, 0, offset):
        line += 1
        line_start = match.end()
    return line, offset - line_start + 1


def _line_numbers(text: str, count: int) -> Iterable[int]:
    """The physical line number of each of ``text.splitlines()`` (``count`` of them).

    astropy splits with str.splitlines(), which also breaks at form feeds,
    U+2028 and a few more; we split the same way but number lines the way an
    editor does.
    """
    if not any(mark in text for mark in _OTHER_BREAK_CHARS):
        return range(1, count + 1)
    numbers: list[int] = []
    segments = _PHYSICAL_BREAK.split(text)
    for number, segment in enumerate(segments, start=1):
        last = number == len(segments)
        pieces = segment.splitlines() if last else (segment + "\n").splitlines()
        numbers.extend([number] * len(pieces))
    if len(numbers) != count:  # cannot happen; a wrong number would mislead the user
        raise AssertionError("line numbering out of step with str.splitlines()")
    return numbers


class _ShapeError(PoolError):
    """A row or header that does not split into the header's columns."""


class _TableReader:
    """One pass over the text: comments, header, rows, and the checks on them.

    ``keep_blanks`` reads the way astropy's tab-separated reader does: lines
    and data cells keep their blanks (header names are still trimmed).
    """

    def __init__(self, text: str, delimiter: str, where: str, *, keep_blanks: bool = False) -> None:
        self.delimiter = delimiter
        self.where = where
        self.keep_blanks = keep_blanks
        self.text = text
        # Whole-text lower-casing equals per-cell lower-casing for ASCII;
        # beyond ASCII str.lower() looks at neighbours (final sigma), so cells
        # are then lowered one by one, as jwst's converter does.
        self.ascii = text.isascii()
        source = text.lower() if self.ascii else text
        self.quoted = _QUOTE in text or delimiter == " "
        # Only a cell that starts or ends with a blank needs trimming, and then
        # a blank touches a delimiter (line ends are stripped whole). One scan
        # of the whole text usually shows that no line needs it. A blank the
        # text does not hold (pools hold no tabs, as a rule) has no edges to
        # look for: each pair looked for is a scan of the whole text, slow
        # with a delimiter every few characters, and one character is found fast.
        blanks = [blank for blank in " \t" if blank in text]
        self.blank_edges = tuple(
            edge
            for blank in blanks
            if blank != delimiter
            for edge in (blank + delimiter, delimiter + blank)
        )
        self.any_blank_edges = self._has_blank_edges(text)
        # In a quoted line a cell's edge can also touch a quote.
        self.quoted_blank_edges = self.blank_edges + tuple(
            edge for blank in blanks for edge in (blank + _QUOTE, _QUOTE + blank)
        )
        self.any_quoted_blank_edges = self.quoted and any(edge in text for edge in self.quoted_blank_edges)
        raw_lines = text.splitlines()
        numbered = zip(_line_numbers(text, len(raw_lines)), source.splitlines(), raw_lines, strict=False)

        self.comments: list[str] = []
        self.columns, self.header_line = self._find_header(numbered)
        at = {name: self.columns.index(name) for name in REQUIRED_COLUMNS}
        self.filename_at, self.program_at = at["filename"], at["program"]
        self.exp_type_at, self.candidate_at = at["exp_type"], at["asn_candidate"]
        self.good_candidates: set[str] = {"", NULL}
        self.good_programs: set[str] = set()
        rows: list[list[str] | tuple[str, ...]] = []
        row_lines: list[int] = []
        rows_with_empty: list[int] = []
        # Nearly every cell repeats one above it (instrument, filter, program,
        # ...): one string object per distinct value keeps a 100,000-row pool
        # in a fifth of the memory.
        distinct: dict[str, str] = {}
        shared = distinct.setdefault
        for number, line, stripped in self._content(numbered):
            cells = self._split(line if keep_blanks else stripped, number, trim=not keep_blanks)
            self._check_row(cells, number)
            if "" in cells:
                rows_with_empty.append(len(rows))
                rows.append(list(map(shared, cells, cells)))
            else:
                rows.append(tuple(map(shared, cells, cells)))
            row_lines.append(number)
        if rows_with_empty:
            _fill_empty_cells(rows, rows_with_empty, len(self.columns))
        self.rows: tuple[tuple[str, ...], ...] = tuple(rows)  # type: ignore[arg-type]
        self.lines = tuple(row_lines)

    def _content(self, numbered: Iterator[tuple[int, str, str]]) -> Iterator[tuple[int, str, str]]:
        """(line number, line, stripped line) of lines holding cells; comments are kept, blanks skipped."""
        for number, line, raw in numbered:
            stripped = line.strip()
            if not stripped:
                continue
            if stripped[0] == "#":
                self.comments.append(raw)
                continue
            yield number, line, stripped

    def _find_header(self, numbered: Iterator[tuple[int, str, str]]) -> tuple[tuple[str, ...], int]:
        """Consume comments up to the header line; return the column names and its line."""
        for number, line, stripped in self._content(numbered):
            cells = self._split(line if self.keep_blanks else stripped, number, trim=True)
            return self._header(cells, number), number
        problem = "has only comments, no header line" if self.comments else "is empty (no header line)"
        raise PoolError(
            f"the pool {problem}",
            path=self.where,
            hint="the first line that is not a comment must name the columns, such as "
            "FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE|...",
        )

    def _split(self, line: str, number: int, *, trim: bool) -> list[str]:
        """The cells of one line, lower-cased, and (if ``trim``) without edge blanks or tabs."""
        if self.quoted and (_QUOTE in line or self.delimiter == " "):
            cells = self._split_quoted(line, number, trim=trim)
        else:
            cells = line.split(self.delimiter)
            # A tab-separated header line was not stripped whole: always trim it.
            if trim and (self.keep_blanks or self.any_blank_edges and self._has_blank_edges(line)):
                cells = [cell.strip(" \t") for cell in cells]
        if not self.ascii:
            cells = [cell.lower() for cell in cells]
        return cells

    def _has_blank_edges(self, text: str) -> bool:
        return any(edge in text for edge in self.blank_edges)

    def _split_quoted(self, line: str, number: int, *, trim: bool) -> list[str]:
        # The csv dialect of astropy's readers, one line at a time.
        try:
            cells = next(
                csv.reader(
                    [line + "\n"],
                    delimiter=self.delimiter,
                    quotechar=_QUOTE,
                    doublequote=True,
                    skipinitialspace=trim,
                )
            )
        except csv.Error as exc:
            raise PoolError(f"cannot split the line: {exc}", path=self.where, line=number) from None
        # Only an open quote runs on into the line end we appended, and it
        # takes the rest of the line: the last cell.
        if cells and "\n" in cells[-1]:
            raise PoolError(
                "a quoted value is not closed on its line",
                path=self.where,
                line=number,
                column=len(cells),
                hint='close the quote ("..."); inside quotes write a literal quote as ""',
            )
        if trim and (
            self.keep_blanks
            or self.any_quoted_blank_edges
            and any(edge in line for edge in self.quoted_blank_edges)
        ):
            return [cell.strip(" \t") for cell in cells]
        return cells

    def _header(self, cells: list[str], number: int) -> tuple[str, ...]:
        seen: dict[str, int] = {}
        for position, name in enumerate(cells, start=1):
            if not name:
                raise _ShapeError(
                    f"column {position} of the header has no name",
                    path=self.where,
                    line=number,
                    column=position,
                    hint=f"remove a leading or trailing {self.delimiter!r}, or name the column",
                )
            if name in seen:
                raise PoolError(
                    f"duplicate column {name.upper()} (columns {seen[name]} and {position}; "
                    "names are compared ignoring case)",
                    path=self.where,
                    line=number,
                    column=position,
                )
            seen[name] = position
        missing = [name.upper() for name in REQUIRED_COLUMNS if name not in seen]
        if missing:
            hint = "a pool needs the columns " + ", ".join(n.upper() for n in REQUIRED_COLUMNS)
            if len(cells) == 1:
                hint = f"the header was read as a single column; is the delimiter really {self.delimiter!r}? (-d)"
            raise PoolError(
                f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                path=self.where,
                line=number,
                hint=hint,
            )
        return tuple(cells)

    def _hidden_break(self, number: int) -> str | None:
        """A hint when line ``number`` holds a character read as a line break that editors do not show."""
        if not any(char in self.text for char in _OTHER_BREAK_CHARS):
            return None
        physical = _PHYSICAL_BREAK.split(self.text)
        line = physical[number - 1] if 0 < number <= len(physical) else ""
        found = next((char for char in line if char in _OTHER_BREAK_CHARS), None)
        if found is None:
            return None
        return (f"the line holds {_BREAK_NAMES.get(found, repr(found))}, which is read as a line break "
                "(as jwst reads it); remove it")

    def _check_row(self, cells: list[str], number: int) -> None:
        if len(cells) != len(self.columns):
            raise _ShapeError(
                f"row has {len(cells)} cells but the header (line {self.header_line}) "
                f"has {len(self.columns)} columns",
                path=self.where,
                line=number,
                # the first cell too many, or where the first missing one would be
                column=min(len(cells), len(self.columns)) + 1,
                hint=self._hidden_break(number) or (
                    f'a {self.delimiter!r} inside a value must be quoted, like "a{self.delimiter}b"'
                    if len(cells) > len(self.columns)
                    else "every row needs a value, or NULL, in every column"
                ),
            )
        filename = cells[self.filename_at]
        if filename in ("", NULL):
            raise PoolError(
                "FILENAME is empty; every row needs the exposure's file name",
                path=self.where,
                line=number,
                column=self.filename_at + 1,
            )
        if not _PLAIN_FILENAME.fullmatch(filename):
            # Member names become file paths: nothing absolute, nothing climbing out with "..".
            check_relative_path(filename, "FILENAME", path=self.where, line=number, column=self.filename_at + 1,
                                error=PoolError, outside_hint=FILENAME_OUTSIDE_HINT)
        # jwst's test pools repeat the header as data rows (with FILENAME
        # "set acid" and a bare candidate number); jwst reads them as rows
        # that match no rule, and so do we.
        program = cells[self.program_at]
        echo = program == "program" and cells[self.exp_type_at] == "exp_type"
        if program not in self.good_programs and not echo:
            if not (program.isascii() and program.isdigit() and program.strip("0")) or len(program) > _PROGRAM_DIGITS:
                raise PoolError(
                    f"PROGRAM {_shown(program)} is not a positive integer of at most {_PROGRAM_DIGITS} digits",
                    path=self.where,
                    line=number,
                    column=self.program_at + 1,
                    hint="PROGRAM is the proposal number, such as 01234",
                )
            self.good_programs.add(program)
        candidates = cells[self.candidate_at]
        if candidates in self.good_candidates or (echo and candidates == "asn_candidate"):
            return
        try:
            if candidates in _NO_CANDIDATES:  # only parse_candidates's leniency, not valid input
                raise _bad_candidates(candidates)
            for candidate_id, _type in parse_candidates(candidates):
                check_name(candidate_id, "candidate id", error=PoolError)  # part of association file names
                _check_candidate_id(candidate_id)
        except PoolError as exc:
            raise PoolError(
                exc.message, path=self.where, line=number, column=self.candidate_at + 1, hint=exc.hint
            ) from None
        self.good_candidates.add(candidates)


def _fill_empty_cells(
    rows: list[list[str] | tuple[str, ...]], rows_with_empty: list[int], width: int
) -> None:
    """Replace empty cells by what jwst's ``table.filled("null")`` leaves in them.

    jwst quirk, reproduced: astropy stores each column as a fixed-width numpy
    string as wide as its longest value, so the fill value "null" is cut to
    that width: "n" in a column of one-letter values, "nu" beside two-letter
    ones. Only columns with empty cells pay for the width scan.
    """
    fills: dict[int, str] = {}
    for index in rows_with_empty:
        row = rows[index]
        for position in range(width):
            if row[position] == "" and position not in fills:
                longest = max(len(other[position]) for other in rows)
                fills[position] = NULL[: max(1, longest)]
    for index in rows_with_empty:
        row = rows[index]
        rows[index] = tuple(fills[i] if cell == "" else cell for i, cell in enumerate(row))
