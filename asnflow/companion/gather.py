"""Copy an association and its member files into one folder (jwst's asn_gather).

Member paths are resolved against the association file's folder (or a given
source folder); an absolute path, or one climbing out with ``..``, is
refused. In the copy every expname is the bare file name, so the gathered
folder is self-contained.
Everything (members and the association) is staged and moved into place
together: if any member is missing nothing is copied, unless the caller
allows it.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath

from asnflow.errors import InputError
from asnflow.fsutil import staged_folder
from asnflow.pathnames import check_relative_path

_SHOWN_MISSING = 10


@dataclass(frozen=True)
class GatherResult:
    """What a gather did: the association written, files copied, skipped and missing."""

    association: Path
    copied: tuple[Path, ...]
    up_to_date: tuple[Path, ...]
    missing: tuple[Path, ...]


def select_members(
    asn: dict, exp_types: Iterable[str] | None = None, exclude_types: Iterable[str] = ()
) -> dict:
    """A copy of ``asn`` keeping members whose exptype is in ``exp_types`` (all if
    None) and not in ``exclude_types``; products left empty are dropped."""
    keep = set(exp_types) if exp_types is not None else None
    drop = set(exclude_types)
    selected = copy.deepcopy(asn)
    products = []
    for product in selected["products"]:
        members = [
            member
            for member in product["members"]
            if member["exptype"] not in drop and (keep is None or member["exptype"] in keep)
        ]
        if members:
            product["members"] = members
            products.append(product)
    selected["products"] = products
    return selected


def member_source(expname: str, source_folder: Path) -> Path:
    """Where a member file is: under ``source_folder`` (the expname is checked to stay inside)."""
    return source_folder / expname


def gather(
    association: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    source_folder: str | os.PathLike[str] | None = None,
    exp_types: Iterable[str] | None = None,
    exclude_types: Iterable[str] = (),
    allow_missing: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> GatherResult:
    """Copy ``association``'s members and the association itself into ``destination``.

    A destination file that already has the source's size and is not older
    is left as it is (like ``rsync -u``). ``progress(done, total, name)`` is
    called after each member file.
    """
    from asnflow.asnfile import files as asnfile

    association = Path(association)
    asn = asnfile.load(association)
    source = Path(source_folder) if source_folder is not None else association.parent
    if source_folder is not None and not source.is_dir():
        raise InputError("source folder not found", path=str(source))
    selected = select_members(asn, exp_types, exclude_types)
    if not selected["products"]:
        raise InputError(
            "no members left to gather",
            path=str(association),
            hint="check the -t/-x exposure types against the members' exptype values",
        )

    sources: dict[str, Path] = {}
    for p, product in enumerate(selected["products"]):
        for m, member in enumerate(product["members"]):
            # Members are gathered from inside the source folder only.
            check_relative_path(member["expname"], f"products[{p}].members[{m}].expname", path=str(association))
            path = member_source(member["expname"], source)
            name = PurePath(member["expname"]).name
            earlier = sources.setdefault(name, path)
            if os.path.normpath(earlier) != os.path.normpath(path):
                raise InputError(
                    f"two members would be gathered to the same file {name}: {earlier} and {path}",
                    path=str(association),
                )
            member["expname"] = name

    for path in sources.values():
        if path.exists() and not path.is_file():
            raise InputError(f"the member {path} is {_kind(path)}, not a file; nothing was copied",
                             path=str(association))
    missing = tuple(path for path in sources.values() if not path.exists())
    if missing and not allow_missing:
        shown = ", ".join(str(path) for path in missing[:_SHOWN_MISSING])
        more = f" and {len(missing) - _SHOWN_MISSING} more" if len(missing) > _SHOWN_MISSING else ""
        raise InputError(
            f"{len(missing)} member file(s) not found: {shown}{more}; nothing was copied",
            path=str(association),
            hint="give the folder holding them with -s, or --allow-missing to gather the rest",
        )

    destination = Path(destination)
    fmt = asnfile.detect_format(association)
    text = asnfile.dumps(selected, fmt)
    copied, up_to_date = [], []
    present = [(name, path) for name, path in sources.items() if path not in missing]
    with staged_folder(destination) as staging:
        for done, (name, path) in enumerate(present, start=1):
            target = destination / name
            if _same_file(path, target) or _up_to_date(path, target):
                up_to_date.append(target)
            else:
                shutil.copy2(path, staging / name)
                copied.append(target)
            if progress is not None:
                progress(done, len(present), name)
        with open(staging / association.name, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    return GatherResult(
        association=destination / association.name,
        copied=tuple(copied),
        up_to_date=tuple(up_to_date),
        missing=missing,
    )


def _kind(path: Path) -> str:
    from asnflow.fsread import kind_of

    return kind_of(path.stat().st_mode)


def _same_file(source: Path, target: Path) -> bool:
    try:
        return target.exists() and os.path.samefile(source, target)
    except OSError:
        return False


def _up_to_date(source: Path, target: Path) -> bool:
    try:
        theirs, ours = source.stat(), target.stat()
    except OSError:
        return False
    return ours.st_size == theirs.st_size and ours.st_mtime >= theirs.st_mtime
