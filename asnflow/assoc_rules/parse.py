"""Parse rule files (grammar.lark) into the dataclasses of ast.py.

Syntax errors become :class:`asnflow.errors.RuleError` with ``file:line:col``,
the offending text and, where one of the known mistakes matches, a hint.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from asnflow.assoc_rules import ast, limits
from asnflow.assoc_rules.node import replace
from asnflow.assoc_rules.source import decode_rule_text, read_rule_bytes
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
        if children and all(isinstance(c, tuple) for c in children):  # hook names, with their arguments
            names = tuple(name for name, _ in children)
            return ast.Setting(key, names, self._pos(meta), tuple(arguments for _, arguments in children))
        values = tuple(
            _unquote(c) if isinstance(c, Token) and c.type == "STRING" else str(c) for c in children
        )
        return ast.Setting(key, values, self._pos(meta))

    def hook_use(self, children):
        name, *arguments = children
        return str(name), tuple(arguments)

    @v_args(meta=True)
    def hook_arg(self, meta, children):
        name, *values = children
        return ast.HookArg(str(name), tuple(values), self._pos(meta))

    @v_args(meta=True)
    def defaults_def(self, meta, children):
        return _Defaults(tuple(children), self._pos(meta))

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


class _Defaults:
    """A file's `defaults` block while parsing (merged into the file's rules, then dropped)."""

    def __init__(self, settings: tuple[ast.Setting, ...], pos: ast.Pos) -> None:
        self.settings = settings
        self.pos = pos


# `frame none` / `finalize none` in a rule: no frame / no finalize steps, whatever the defaults say.
_CAN_BE_NONE = ("frame", "finalize")


def _with_defaults(items: tuple, path: str) -> tuple[tuple, tuple[ast.Setting, ...]]:
    """Give each rule the file's default settings it does not set itself."""
    blocks = [item for item in items if isinstance(item, _Defaults)]
    if len(blocks) > 1:
        pos = blocks[1].pos
        raise RuleError(f"a file has one defaults block (the first is at line {blocks[0].pos.line})", path=path,
                        line=pos.line or None, column=pos.column or None)
    defaults = blocks[0].settings if blocks else ()
    for setting in defaults:
        if setting.key == "description":
            raise RuleError("a description belongs to one rule, not to the defaults", path=path,
                            line=setting.pos.line or None, column=setting.pos.column or None)
    out = []
    for item in items:
        if isinstance(item, _Defaults):
            continue
        if isinstance(item, ast.RuleDef):
            own = {setting.key for setting in item.settings}
            settings = tuple(s for s in item.settings if not (s.key in _CAN_BE_NONE and s.values == ("none",)))
            inherited = tuple(replace(s, inherited=True) for s in defaults if s.key not in own)
            if inherited or len(settings) != len(item.settings):
                item = replace(item, settings=settings + inherited)
        out.append(item)
    return tuple(out), defaults


# Known mistakes, matched against lark's parser state (as in lark's
# examples/advanced/error_reporting_lalr.py): message and hint.
_RULE_LINES = ("a rule line is a setting (description, level, asn_type, exposure_types, ints_for, valid, product, "
               "finalize, frame) or a constraint (pin, match, check, set, use, all, any, none, notall, never, "
               "report_unmatched)")
_RULE_WORDS = ("description", "level", "asn_type", "exposure_types", "ints_for", "valid", "product", "finalize",
               "frame", "pin", "match", "check", "set", "use", "all", "any", "none", "notall", "never",
               "report_unmatched", "body")
_CONSTRAINTS = "constraints start with pin, match, check, set, use, all, any, none, notall, never or report_unmatched"

_EXAMPLES: dict[tuple[str, str], list[str]] = {
    ("a pin/match needs `=` between its name and its source columns",
     "write `pin NAME = COLUMN ~ VALUE` (`_` for an unnamed constraint)"): [
        "rule R { pin exp_type }",
        "rule R {\npin exp_type\n}",
        "rule R {\npin a b\n}",
        "rule R { match exp_type ~ \"x\" }",
        "fragment f { pin exp_type }",
        "fragment f {\npin exp_type\n}",
        "frame f {\npin exp_type\n}",
    ],
    ("a pin/match needs a name and a source: `pin NAME = COLUMN`", "use `_` for an unnamed constraint"): [
        "rule R {\npin\n}",
        "rule R {\npin = a\n}",
        "fragment f {\nmatch\n}",
    ],
    ("a value after `~` must be a string, a list name or [\"regex\", ...]", "quote the regular expression"): [
        "rule R { pin a = b ~ }",
        "rule R {\npin a = b ~\n}",
        "rule R { pin a = b ~ ~ }",
        "fragment f {\npin a = b ~\n}",
    ],
    ("unexpected text at the top level of a rule file",
     "a file holds list, table, predicate, fragment, frame and rule definitions"): [
        "pin a = b",
        "foo",
        "level 3",
        "\npin a = b",
        "list a = b\npin a = b",
        "rule R {\n}\npin a = b",
    ],
    ("a `check` needs an expression", "for example `check exptype == \"science\"`"): [
        "rule R { check }",
        "rule R {\ncheck\n}",
        "fragment f {\ncheck\n}",
    ],
    ("a rule's level is 2b or 3", "write `level 2b` or `level 3`"): [
        "rule R {\nlevel 4\n}",
        "rule R {\nlevel\n}",
    ],
    ("unknown setting or statement in a rule", _RULE_LINES): [
        "rule R {\nasntype image3\n}",
        "rule R {\nlevel 3\nasntype image3\n}",
        "rule R { asntype image3 }",
    ],
    ("unknown statement in a fragment or frame", _CONSTRAINTS): [
        "fragment f {\nfoo a\n}",
        "fragment f {\npin a = b\nfoo a\n}",
        "frame f {\nfoo a\n}",
    ],
    ("a name is missing", "rules, fragments, frames, lists, tables and predicates are defined with a name"): [
        "rule {",
        "fragment {",
        "list = a",
    ],
}


@lru_cache(maxsize=1)
def _example_states() -> tuple[tuple[object, frozenset, tuple[str, str]], ...]:
    """(parser state, accepted tokens, label) of each known mistake."""
    found = []
    for label, examples in _EXAMPLES.items():
        for example in examples:
            try:
                _parser().parse(example)
            except UnexpectedToken as exc:
                found.append((exc.state.position, frozenset(exc.accepts or exc.expected), label))
            except UnexpectedInput:
                continue
    return tuple(found)


def _example_label(exc: UnexpectedInput) -> tuple[str, str] | None:
    # lark's match_examples also compares the depth of the parser stack, which
    # depends on what came before (blank lines, comments, earlier items); the
    # state and the accepted tokens alone identify the mistake.
    if not isinstance(exc, UnexpectedToken) or exc.state is None:
        return None
    accepts = frozenset(exc.accepts or exc.expected)
    for position, example_accepts, label in _example_states():
        if position == exc.state.position and example_accepts == accepts:
            return label
    return None


def _describe(exc: UnexpectedInput, text: str) -> tuple[str, str | None]:
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream  # (always set by the lexer; lark types it optional)
        char = text[at] if at is not None and at < len(text) else ""
        if char == "'":
            return "unexpected character \"'\"", "strings are written in double quotes: \"...\""
        if char == '"':
            return "unexpected character '\"'", "a string must end on the line it starts (\\\" for a quote inside)"
        return f"unexpected character {char!r}", None
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        open_block = _not_closed(text)
        if open_block is not None:
            return f"unexpected end of file: {open_block}", "add the missing `}`"
        return "unexpected end of file", "a statement is cut short"
    token = getattr(exc, "token", None)
    if token is not None and str(token) in _TOP_LEVEL_WORDS and getattr(token, "start_pos", None) is not None:
        # A definition starting inside another one: the `}` before it is missing.
        open_block = _not_closed(text, token.start_pos)
        if open_block is not None:
            return f"{open_block} before `{token}`", "add the missing `}`"
    label = _example_label(exc)
    shown = _token_text(token.type if token is not None else "$END", str(token) if token is not None else "")
    if label:
        message, hint = label
        if token is not None and token.type == "NAME" and message.startswith("unknown setting"):
            import difflib

            close = difflib.get_close_matches(str(token), _RULE_WORDS, n=1, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else hint
        return f"{message} (at {shown})", hint
    expected = sorted({_token_text(name) for name in getattr(exc, "expected", []) or [] if not name.startswith("__")})
    return f"unexpected {shown}", f"expected one of: {', '.join(expected)}" if expected else None


_TOP_LEVEL_WORDS = frozenset({"rule", "fragment", "frame", "list", "table", "predicate"})


def _unclosed_brace(text: str, end: int | None = None) -> tuple[str, int] | None:
    """``(construct, line)`` of the `{` most likely left open in ``text[:end]`` (strings and comments skipped).

    The construct is what its line says before the brace (``rule Asn_Lv3Image``,
    ``any``). When a `}` standing alone on its line is indented differently
    from the line that opened what it closes, it most likely belongs to an
    outer construct and the inner one lacks its `}`; otherwise the innermost
    open brace is the one.
    """
    stack: list[tuple[str, int, int]] = []  # (construct, line, indentation of its line)
    suspect: tuple[str, int] | None = None
    lines = text.split("\n")
    line = 1
    line_start = 0
    in_string = in_comment = escaped = False
    for offset, char in enumerate(text if end is None else text[:end]):
        if char == "\n":
            line += 1
            line_start = offset + 1
            in_comment = in_string = False
        elif in_comment:
            continue
        elif in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == "#":
            in_comment = True
        elif char == '"':
            in_string = True
        elif char == "{":
            before = text[line_start:offset]
            words = before.split()
            construct = " ".join(words[:2]) if words else "a block"
            stack.append((construct, line, len(before) - len(before.lstrip())))
        elif char == "}" and stack:
            construct, opened, indent = stack.pop()
            own_line = lines[line - 1]
            alone = own_line.strip().startswith("}") and text[line_start:offset].strip() == ""
            if suspect is None and alone and offset - line_start != indent and opened != line:
                suspect = (construct, opened)
    if suspect is not None:
        return suspect
    if stack:
        return stack[-1][0], stack[-1][1]
    return None


def _not_closed(text: str, end: int | None = None) -> str | None:
    found = _unclosed_brace(text, end)
    if found is None:
        return None
    construct, line = found
    return f"`{construct} {{` opened on line {line} is not closed"


_TOKEN_WORDS = {"$END": "end of file", "_NL": "end of line", "NAME": "a name", "STRING": "a string"}


def _token_text(kind: str, text: str = "") -> str:
    """How a token reads in a message: its text, or what kind of thing it is."""
    if kind in _TOKEN_WORDS and (kind != "NAME" or not text):
        return _TOKEN_WORDS[kind]
    if text.strip():
        return repr(text.strip())
    try:
        pattern = _parser().get_terminal(kind).pattern
    except KeyError:
        return kind.lower()
    return repr(pattern.value) if pattern.type == "str" else kind.lower()


def _check_depth(tree: Tree, path: str) -> None:
    """Refuse a parse tree deeper than the walkers (all recursive) are allowed to go."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_PARSE_DEPTH:
            meta = node.meta
            raise RuleError(f"nested more than {limits.MAX_PARSE_DEPTH} levels deep", path=path,
                            line=getattr(meta, "line", None), column=getattr(meta, "column", None),
                            hint="flatten the groups or expressions")
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


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
            lines = text.split("\n")  # lark counts lines by "\n" only
            if len(lines) > 1 and lines[-1] == "":
                lines.pop()
            line, column = len(lines), len(lines[-1]) + 1
        raise RuleError(message, path=path, line=line if line and line > 0 else None,
                        column=column if column and column > 0 else None, hint=hint) from None
    _check_depth(tree, path)
    try:
        items = _ToAst(path).transform(tree)
    except VisitError as exc:  # pragma: no cover - transformer bugs surface as RuleError
        raise RuleError(f"cannot read rule file: {exc.orig_exc}", path=path) from None
    items, defaults = _with_defaults(tuple(items), path)
    return ast.RuleFile(path=path, items=items, lines=tuple(text.splitlines()), defaults=defaults)


def parse_file(path: str | Path) -> ast.RuleFile:
    """Read and parse one rule file."""
    raw = read_rule_bytes(path)
    return parse_text(decode_rule_text(raw, path), str(path))
