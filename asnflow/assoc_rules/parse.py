"""Parse rule files (grammar.lark) into the dataclasses of ast.py.

Syntax errors become :class:`asnflow.errors.RuleError` with ``file:line:col``,
the offending text and, where one of the known mistakes matches, a hint.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from asnflow.assoc_rules import ast
from asnflow.errors import RuleError

GRAMMAR = Path(__file__).with_name("grammar.lark")


class _JoinBracketedLines:
    """Post-lexer: newlines inside ( ) and [ ] do not end a statement."""

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        for token in stream:
            if token.type in ("LPAR", "LSQB"):
                depth += 1
            elif token.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif token.type == "_NL" and depth:
                continue
            yield token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        postlex=_JoinBracketedLines(),
        propagate_positions=True,
        maybe_placeholders=False,
    )


def _unquote(token: str) -> str:
    # Strings are raw: a backslash stays a backslash (regexes keep theirs);
    # only \" stands for a quote inside a string.
    return token[1:-1].replace('\\"', '"')


class _ToAst(Transformer):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _pos(self, meta_or_token) -> ast.Pos:
        line = getattr(meta_or_token, "line", 0) or 0
        column = getattr(meta_or_token, "column", 0) or 0
        return ast.Pos(self.path, line, column)

    # ------------------------------------------------------------ words
    def word(self, children):
        (token,) = children
        return _unquote(token) if token.type == "STRING" else str(token)

    def list_words(self, children):
        return tuple(children)

    @v_args(meta=True)
    def list_def(self, meta, children):
        name, words, *rest = children
        without = rest[0] if rest else ()
        return ast.ListDef(str(name), words, without, self._pos(meta))

    @v_args(meta=True)
    def table_row(self, meta, children):
        return (tuple(children), self._pos(meta))

    @v_args(meta=True)
    def table_def(self, meta, children):
        name = str(children[0])
        columns = tuple(str(c) for c in children[1:] if isinstance(c, Token))
        rows = [c for c in children[1:] if isinstance(c, tuple)]
        return ast.TableDef(
            name, columns, tuple(r for r, _ in rows), tuple(p for _, p in rows), self._pos(meta)
        )

    # ------------------------------------------------------------ expressions
    @v_args(meta=True)
    def predicate_def(self, meta, children):
        name, expr = children
        return ast.PredicateDef(str(name), expr, self._pos(meta))

    @v_args(meta=True)
    def or_expr(self, meta, children):
        return ast.Or(tuple(children), self._pos(meta))

    @v_args(meta=True)
    def and_expr(self, meta, children):
        return ast.And(tuple(children), self._pos(meta))

    @v_args(meta=True)
    def not_op(self, meta, children):
        return ast.Not(children[0], self._pos(meta))

    @v_args(meta=True)
    def eq(self, meta, children):
        return ast.Compare("==", children[0], children[1], self._pos(meta))

    @v_args(meta=True)
    def ne(self, meta, children):
        return ast.Compare("!=", children[0], children[1], self._pos(meta))

    @v_args(meta=True)
    def member(self, meta, children):
        return ast.Member(children[0], children[1], False, self._pos(meta))

    @v_args(meta=True)
    def not_member(self, meta, children):
        return ast.Member(children[0], children[1], True, self._pos(meta))

    def string(self, children):
        (token,) = children
        return ast.Str(_unquote(token), self._pos(token))

    def ref(self, children):
        (token,) = children
        return ast.Ref(str(token), self._pos(token))

    @v_args(meta=True)
    def call(self, meta, children):
        name, *args = children
        return ast.Call(str(name), tuple(a for a in args if a is not None), self._pos(meta))

    @v_args(meta=True)
    def tuple(self, meta, children):
        return ast.Tuple(tuple(children), self._pos(meta))

    def table_ref(self, children):
        (token,) = children
        return ast.TableRef(str(token), self._pos(token))

    @v_args(meta=True)
    def inline_set(self, meta, children):
        return ast.InlineSet(tuple(children), self._pos(meta))

    # ------------------------------------------------------------ leaf values
    def regex(self, children):
        (token,) = children
        return ast.Regex(_unquote(token), self._pos(token))

    @v_args(meta=True)
    def regex_list(self, meta, children):
        return ast.RegexList(tuple(_unquote(t) for t in children), self._pos(meta))

    def list_value(self, children):
        (token,) = children
        return ast.ListValue(str(token), self._pos(token))

    @v_args(meta=True)
    def dynamic_value(self, meta, children):
        function, argument = children
        return ast.DynamicValue(str(function), str(argument), self._pos(meta))

    # ------------------------------------------------------------ statements
    def leaf_kind(self, children):
        return str(children[0])

    def leaf_name(self, children):
        (token,) = children
        return None if str(token) == "_" else str(token)

    def sources(self, children):
        return tuple(children)

    def optional(self, _):
        return ("optional", True)

    def undefined(self, _):
        return ("undefined", True)

    def onlyif(self, children):
        return ("onlyif", children[0])

    def force_reprocess(self, children):
        return ("reprocess", str(children[0]))

    @v_args(meta=True)
    def leaf_stmt(self, meta, children):
        kind, name, sources, *rest = children
        value = None
        flags: dict = {}
        for entry in rest:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and entry[0] in (
                "optional",
                "undefined",
                "onlyif",
                "reprocess",
            ):
                flags[entry[0]] = entry[1]
            else:
                value = entry
        return ast.LeafStmt(
            kind=kind,
            name=name,
            sources=tuple(str(s) for s in sources),
            value=value,
            optional=flags.get("optional", False),
            undefined=flags.get("undefined", False),
            onlyif=flags.get("onlyif"),
            reprocess=flags.get("reprocess"),
            pos=self._pos(meta),
            source_positions=tuple(self._pos(s) for s in sources),
        )

    def when(self, children):
        return str(children[0])

    def reduce(self, children):
        return str(children[0])

    def category(self, children):
        return str(children[0])

    def level(self, children):
        return str(children[0])

    def for_all(self, children):
        return True

    @v_args(meta=True)
    def reprocess(self, meta, children):
        category, when, *rest = children
        return ast.Reprocess(category, when, bool(rest), self._pos(meta))

    @v_args(meta=True)
    def check_stmt(self, meta, children):
        name = None
        reprocess = None
        rest = list(children)
        if rest and isinstance(rest[0], Token):
            name = str(rest.pop(0))
        if rest and isinstance(rest[-1], ast.Reprocess):
            reprocess = rest.pop()
        return ast.CheckStmt(name, rest[0], reprocess, self._pos(meta))

    @v_args(meta=True)
    def set_stmt(self, meta, children):
        name, value = children
        return ast.SetStmt(str(name), _unquote(value), self._pos(meta))

    @v_args(meta=True)
    def unmatched_stmt(self, meta, children):
        return ast.UnmatchedStmt(self._pos(meta))

    @v_args(meta=True)
    def never_stmt(self, meta, children):
        name, reprocess = children
        return ast.NeverStmt(str(name), reprocess, self._pos(meta))

    @v_args(meta=True)
    def use_stmt(self, meta, children):
        return ast.UseStmt(tuple((str(t), self._pos(t)) for t in children), self._pos(meta))

    @v_args(meta=True)
    def body_stmt(self, meta, children):
        return ast.BodyStmt(self._pos(meta))

    @v_args(meta=True)
    def group_stmt(self, meta, children):
        reduce = children[0]
        rest = list(children[1:])
        name = None
        reprocess = None
        if rest and isinstance(rest[0], Token) and rest[0].type == "NAME":
            name = str(rest.pop(0))
        if rest and isinstance(rest[0], ast.Reprocess):
            reprocess = rest.pop(0)
        return ast.GroupStmt(reduce, name, reprocess, tuple(rest), self._pos(meta))

    # ------------------------------------------------------------ definitions
    @v_args(meta=True)
    def fragment_def(self, meta, children):
        name, *body = children
        return ast.FragmentDef(str(name), tuple(body), self._pos(meta))

    @v_args(meta=True)
    def frame_def(self, meta, children):
        name = str(children[0])
        rest = list(children[1:])
        group_name = None
        if rest and isinstance(rest[0], Token):
            group_name = str(rest.pop(0))
        return ast.FrameDef(name, group_name, tuple(rest), self._pos(meta))

    def _setting(self, key, meta, children):
        values = tuple(
            _unquote(c) if isinstance(c, Token) and c.type == "STRING" else str(c) for c in children
        )
        return ast.Setting(key, values, self._pos(meta))

    @v_args(meta=True)
    def s_description(self, meta, children):
        return self._setting("description", meta, children)

    @v_args(meta=True)
    def s_level(self, meta, children):
        return self._setting("level", meta, children)

    @v_args(meta=True)
    def s_asn_type(self, meta, children):
        return self._setting("asn_type", meta, children)

    @v_args(meta=True)
    def s_exposure_types(self, meta, children):
        return self._setting("exposure_types", meta, children)

    @v_args(meta=True)
    def s_ints_for(self, meta, children):
        return self._setting("ints_for", meta, children)

    @v_args(meta=True)
    def s_valid(self, meta, children):
        return self._setting("valid", meta, children)

    @v_args(meta=True)
    def s_product(self, meta, children):
        return self._setting("product", meta, children)

    @v_args(meta=True)
    def s_finalize(self, meta, children):
        return self._setting("finalize", meta, children)

    @v_args(meta=True)
    def s_frame(self, meta, children):
        return self._setting("frame", meta, children)

    @v_args(meta=True)
    def rule_def(self, meta, children):
        name = str(children[0])
        rest = list(children[1:])
        description = None
        if rest and isinstance(rest[0], Token) and rest[0].type == "STRING":
            description = _unquote(rest.pop(0))
        settings = tuple(c for c in rest if isinstance(c, ast.Setting))
        body = tuple(c for c in rest if not isinstance(c, ast.Setting))
        for setting in settings:
            if setting.key == "description":
                description = setting.values[0]
        return ast.RuleDef(name, description, settings, body, self._pos(meta))

    def start(self, children):
        return tuple(children)


# Known mistakes, matched against lark's parser state (as in lark's
# examples/advanced/error_reporting_lalr.py): message and hint.
_EXAMPLES: dict[tuple[str, str], list[str]] = {
    ("a pin/match needs a name and a source: `pin NAME = COLUMN`", "use `_` for an unnamed constraint"): [
        "rule R { pin exp_type }",
        "rule R { match exp_type ~ \"x\" }",
        "fragment f { pin exp_type }",
    ],
    ("a value after `~` must be a string, a list name or [\"regex\", ...]", "quote the regular expression"): [
        "rule R { pin a = b ~ }",
        "rule R { pin a = b ~ ~ }",
    ],
    ("unclosed block", "every `{` needs a matching `}`"): [
        "rule R {",
        "rule R { all {",
        "fragment f {",
    ],
    ("unexpected text at the top level of a rule file", "a file holds list, table, predicate, fragment, frame and rule definitions"): [
        "pin a = b",
        "foo",
        "rule",
    ],
    ("a `check` needs an expression", "for example `check exptype == \"science\"`"): [
        "rule R { check }",
    ],
}


def _describe(exc: UnexpectedInput, text: str) -> tuple[str, str | None]:
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        return f"unexpected character {char!r}", None
    if isinstance(exc, UnexpectedEOF):
        return "unexpected end of file", "a block `{` is not closed, or a statement is cut short"
    try:
        label = exc.match_examples(_parser().parse, _EXAMPLES, use_accepts=True)
    except Exception:  # match_examples is a best effort; never hide the real error
        label = None
    token = getattr(exc, "token", None)
    shown = "end of file" if token is None or token.type == "$END" else repr(str(token).strip() or token.type)
    if label:
        message, hint = label
        return f"{message} (at {shown})", hint
    expected = sorted(getattr(exc, "expected", []) or [])
    friendly = [e.strip('"').lower() for e in expected if not e.startswith("__")][:8]
    hint = f"expected one of: {', '.join(friendly)}" if friendly else None
    return f"unexpected {shown}", hint


def parse_text(text: str, path: str = "<rules>") -> ast.RuleFile:
    """Parse rule-file text; ``path`` is used in positions and error messages."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        tree: Tree = _parser().parse(text)
    except UnexpectedInput as exc:
        message, hint = _describe(exc, text)
        line = getattr(exc, "line", None)
        column = getattr(exc, "column", None)
        if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
        raise RuleError(message, path=path, line=line if line and line > 0 else None,
                        column=column if column and column > 0 else None, hint=hint) from None
    try:
        items = _ToAst(path).transform(tree)
    except VisitError as exc:  # pragma: no cover - transformer bugs surface as RuleError
        raise RuleError(f"cannot read rule file: {exc.orig_exc}", path=path) from None
    return ast.RuleFile(path=path, items=tuple(items), lines=tuple(text.splitlines()))


def parse_file(path: str | Path) -> ast.RuleFile:
    """Read and parse one rule file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RuleError("rule file not found", path=str(path)) from None
    except IsADirectoryError:
        raise RuleError("is a folder, not a rule file", path=str(path)) from None
    except OSError as exc:
        raise RuleError(f"cannot read rule file: {exc.strerror}", path=str(path)) from None
    if b"\0" in raw:
        raise RuleError("binary data (NUL bytes) in a rule file", path=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RuleError("not UTF-8 text", path=str(path), line=line) from None
    return parse_text(text, str(path))
