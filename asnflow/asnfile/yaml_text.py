"""Association files as YAML: block style, keys in order, readable multi-line strings."""

from __future__ import annotations

import re
from typing import Any

import yaml

_NUMBER_LIKE = re.compile(r"[-+]?\.?[0-9][0-9_.:eE+-]*")


def yaml_text(plain: Any) -> str:
    """The YAML text of a mapping of plain dicts, lists and scalars."""
    return yaml.dump(
        plain,
        Dumper=_ReadableDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,  # escaped: PyYAML mis-reads raw U+0085 and U+2028 in its own output
        width=100,
    )


class _ReadableDumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings (``constraints``) as literal blocks."""

    def represent_str(self, data: str) -> yaml.ScalarNode:  # noqa: D102
        if "\n" in data:
            # PyYAML falls back to a quoted scalar when a literal block could
            # not hold the text exactly (trailing spaces, special characters).
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        if _NUMBER_LIKE.fullmatch(data):
            # "00009" is a string to PyYAML (YAML 1.1) but a number to YAML 1.2
            # readers; quote it so every reader keeps the program id as text.
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_ReadableDumper.add_representer(str, _ReadableDumper.represent_str)
