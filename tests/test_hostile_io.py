"""Hostile and broken files and names, tried through the command line as a new user would.

Every case runs ``python -m asnflow`` in a fresh temporary folder with a hard
timeout (a hang fails the test instead of blocking), and a refusal must be
exit status 2 with exactly one line on stderr and no traceback. The whole
temporary folder is compared before and after, so a file written outside
the named folders, a half-written output, a replaced link or a changed mode
all fail the case. Classes: names that become paths, writing, reading,
``run``'s data folder, messages.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
POOLS = DATA / "compat" / "pools"
FAKES = DATA / "graph"
POOL = "pool_002_image_miri.csv"  # a small corpus pool: a few image2/image3 associations
WFSS = "jw87800_20180412T163456_pool"
TIMEOUT = 120  # seconds; the machine may be busy, a hang is far longer

HEADER = "FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE|TARGETID"
ROW = "jw01234001001_01101_{n:05d}_nrca1_uncal.fits|1234|NRC_IMAGE|[('o001', 'observation')]|1"

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and POSIX permissions")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def rule_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rule-cache")


@pytest.fixture
def cli(rule_cache):
    """``python -m asnflow ARGS`` in ``cwd``, killed after TIMEOUT seconds."""

    def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
        environment = dict(os.environ, ASNFLOW_CACHE_DIR=str(rule_cache), PYTHONPATH=_pythonpath(), **env)
        return subprocess.run([sys.executable, "-m", "asnflow", *map(str, args)], cwd=cwd, env=environment,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False,
                              stdin=subprocess.DEVNULL)

    return run


def _pythonpath() -> str:
    # The stand-in calibration modules, for `run`; the rest of the path as it is.
    return os.pathsep.join(p for p in (str(FAKES), os.environ.get("PYTHONPATH", "")) if p)


def refused(proc: subprocess.CompletedProcess, *words: str, location: str | None = None) -> str:
    """Exit 2, one stderr line, no traceback; the line holds every word (and starts with ``location``)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert ": error: " in line, line
    if location is not None:
        assert line.startswith(location + ":"), line
    for word in words:
        assert word in line, line
    return line


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every path under ``folder``: kind, mode, content or link target (FIFOs are not opened)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode):
            found[str(path.relative_to(folder))] = ("link", os.readlink(path))
        elif stat.S_ISDIR(status.st_mode):
            found[str(path.relative_to(folder))] = ("folder", stat.S_IMODE(status.st_mode))
        elif stat.S_ISREG(status.st_mode):
            found[str(path.relative_to(folder))] = ("file", stat.S_IMODE(status.st_mode), path.read_bytes())
        else:
            found[str(path.relative_to(folder))] = ("other", stat.S_IFMT(status.st_mode))
    return found


def pool_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode("utf-8")


def good_pool(tmp_path: Path, name: str = "pool.csv") -> Path:
    path = tmp_path / name
    shutil.copyfile(POOLS / POOL, path)
    return path


def first_output_names(cli, tmp_path: Path) -> list[str]:
    """The file names generate writes for the good pool (made in a scratch folder)."""
    scratch = tmp_path / "probe"
    scratch.mkdir()
    good_pool(scratch)
    assert cli(["generate", "pool.csv", "-p", "out", "-q"], scratch).returncode == 0
    names = sorted(p.name for p in (scratch / "out").iterdir())
    shutil.rmtree(scratch)
    return names


def association(tmp_path: Path, name: str = "m_asn.json", product: str = "m", members=("a_cal.fits",)) -> Path:
    path = tmp_path / name
    asn = {
        "asn_type": "image3", "asn_rule": "DMS_Level3_Base", "version_id": None, "code_version": "x",
        "degraded_status": "ok", "program": "noprogram", "constraints": "none", "asn_id": "a3001",
        "target": "none", "asn_pool": "none",
        "products": [{"name": product, "members": [{"expname": m, "exptype": "science"} for m in members]}],
    }
    path.write_text(json.dumps(asn, indent=4))
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def gzip_bomb(path: Path, size: int) -> Path:
    with gzip.open(path, "wb", compresslevel=9) as handle:
        chunk = b"\0" * (1 << 20)
        for _ in range(size // len(chunk)):
            handle.write(chunk)
    return path


# ------------------------------------------------------------ names that become paths


NAME_POOLS = {
    "FILENAME climbing out": (ROW.format(n=1).replace("jw01234001001_01101_00001_nrca1_uncal.fits", "../../x"),
                              "FILENAME", "climbs out"),
    "FILENAME absolute": (ROW.format(n=1).replace("jw01234001001_01101_00001_nrca1_uncal.fits", "/etc/passwd"),
                          "FILENAME", "absolute"),
    "FILENAME hidden climb": (ROW.format(n=1).replace("jw01234001001_01101_00001_nrca1_uncal.fits", "sub/../../x"),
                              "FILENAME", "climbs out"),
    "empty candidate id": (ROW.format(n=1).replace("'o001'", "''"), "candidate id", "empty"),
    "candidate id with a folder": (ROW.format(n=1).replace("'o001'", "'o001/x'"), "candidate id", "separator"),
    "candidate id jwst cannot compile": (ROW.format(n=1).replace("'o001'", "'o(1'"), "candidate id", "pattern"),
    "candidate id that backtracks for hours": (ROW.format(n=1).replace("'o001'", "'" + ".*" * 12 + "x'"),
                                               "candidate id", "pattern"),
    "PROGRAM of 5000 digits": (ROW.format(n=1).replace("|1234|", "|" + "1" * 5000 + "|"), "PROGRAM", "digits"),
}


@pytest.mark.parametrize(("row", "what", "why"), NAME_POOLS.values(), ids=NAME_POOLS.keys())
def test_pool_names_refused_at_their_cell(cli, tmp_path, row, what, why):
    (tmp_path / "pool.csv").write_bytes(pool_bytes(ROW.format(n=2), row))
    before = snapshot(tmp_path)
    proc = cli(["generate", "pool.csv", "-p", "out"], tmp_path)
    line = refused(proc, what, why)
    assert line.startswith("pool.csv:3:"), line  # the row, and its column
    if what == "FILENAME":  # the hint says how to write one that stays beside the pool
        assert "relative to the pool's folder" in line and "make-pool --names-only" in line, line
    assert snapshot(tmp_path) == before


OPTION_NAMES = {
    "--version-id climbing out": (["--version-id", "../../v"], "--version-id"),
    "--version-id too long": (["--version-id", "v" * 400], "too long"),
    "-i with a folder": (["-i", "o001/../../x"], "-i candidate id"),
}


@pytest.mark.parametrize(("extra", "word"), OPTION_NAMES.values(), ids=OPTION_NAMES.keys())
def test_generate_option_names_refused(cli, tmp_path, extra, word):
    good_pool(tmp_path)
    before = snapshot(tmp_path)
    refused(cli(["generate", "pool.csv", "-p", "out", *extra], tmp_path), word, location="asnflow")
    assert snapshot(tmp_path) == before


def test_rule_asn_type_refused_at_its_place(cli, tmp_path):
    good_pool(tmp_path)
    (tmp_path / "evil.rules").write_text('rule Asn_Evil "x" {\n    level 3\n    asn_type "../../evil"\n'
                                         '    pin program = program\n}\n')
    before = snapshot(tmp_path)
    refused(cli(["generate", "pool.csv", "-p", "out", "-r", "evil.rules"], tmp_path), "asn_type",
            location="evil.rules:3")
    proc = cli(["rules", "check", "evil.rules"], tmp_path)
    assert proc.returncode != 0 and "evil.rules:3" in proc.stdout + proc.stderr
    assert snapshot(tmp_path) == before


FROM_LIST_NAMES = {
    "absolute product name": (["--product-name", "/etc/evil", "a_cal.fits"], "--product-name"),
    "product name climbing out": (["--product-name", "../evil", "a_cal.fits"], "--product-name"),
    "product name with a newline": (["--product-name", "a\nb", "a_cal.fits"], "line-break"),
    "level-2 product from a climbing member": (["-r", "DMSLevel2bBase", "../x_rate.fits"], "product name"),
}


@pytest.mark.parametrize(("extra", "word"), FROM_LIST_NAMES.values(), ids=FROM_LIST_NAMES.keys())
def test_from_list_names_refused(cli, tmp_path, extra, word):
    before = snapshot(tmp_path)
    refused(cli(["from-list", "-o", "m_asn.json", *extra], tmp_path), word)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("product", ["/tmp/x/PWNED", "../PWNED", "a/b", ""])
@pytest.mark.parametrize("command", ["graph", "run"])
def test_association_product_names_refused_by_graph_and_run(cli, tmp_path, product, command):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a_cal.fits").write_text("a")
    asn = association(tmp_path, product=product)
    before = snapshot(tmp_path)
    args = [command, asn.name] + (["--data", "data", "--executor", "serial"] if command == "run" else [])
    refused(cli(args, tmp_path), "products[0].name", location=asn.name)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("member", ["../secret_cal.fits", "ABSOLUTE", "sub/../../secret_cal.fits"])
def test_gather_refuses_members_outside_the_folder(cli, tmp_path, member):
    (tmp_path / "secret_cal.fits").write_text("secret")
    folder = tmp_path / "asn"
    folder.mkdir()
    member = str(tmp_path / "secret_cal.fits") if member == "ABSOLUTE" else member
    asn = association(folder, members=(member,))
    before = snapshot(tmp_path)
    refused(cli(["gather", asn, "-o", "out"], tmp_path), "expname")
    assert snapshot(tmp_path) == before


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_gather_names_a_member_that_is_not_a_file(cli, tmp_path, kind):
    folder = tmp_path / "asn"
    folder.mkdir()
    (folder / "a_cal.fits").write_text("a")
    _hostile_input(kind, folder / "b_cal.fits")
    asn = association(folder, members=("a_cal.fits", "b_cal.fits"))
    before = snapshot(tmp_path)
    line = refused(cli(["gather", asn, "-o", "out"], tmp_path), "b_cal.fits", READ_KINDS[kind])
    assert "not found" not in line
    assert snapshot(tmp_path) == before


def test_gather_does_not_replace_a_link_in_the_destination(cli, tmp_path):
    folder = tmp_path / "asn"
    folder.mkdir()
    (folder / "a_cal.fits").write_text("new")
    asn = association(folder)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "victim").write_text("precious")
    (out / "a_cal.fits").symlink_to(tmp_path / "victim")
    before = snapshot(tmp_path)
    refused(cli(["gather", asn, "-o", "out"], tmp_path), "a_cal.fits", "symbolic link")
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- writing


def test_an_existing_empty_output_folder_is_kept_with_its_mode(cli, tmp_path):
    good_pool(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o750)
    inode = out.stat().st_ino
    assert cli(["generate", "pool.csv", "-p", "out", "-q"], tmp_path).returncode == 0
    assert out.stat().st_ino == inode and stat.S_IMODE(out.stat().st_mode) == 0o750
    assert any(out.iterdir()) and not [p for p in out.iterdir() if p.name.startswith(".")]


def test_output_into_the_current_folder_keeps_it(cli, tmp_path):
    good_pool(tmp_path)
    inode = tmp_path.stat().st_ino
    assert cli(["generate", "pool.csv", "-p", str(tmp_path), "-q"], tmp_path).returncode == 0
    assert tmp_path.stat().st_ino == inode
    assert len(list(tmp_path.glob("*_asn.json"))) > 0


@posix_only
def test_a_read_only_output_folder_is_refused(cli, tmp_path):
    good_pool(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    before = snapshot(tmp_path)
    try:
        refused(cli(["generate", "pool.csv", "-p", "out"], tmp_path), "read-only", location="out")
        assert snapshot(tmp_path) == before
    finally:
        out.chmod(0o755)


@posix_only
def test_a_writable_folder_in_a_read_only_parent_is_written(cli, tmp_path):
    good_pool(tmp_path)
    parent = tmp_path / "parent"
    out = parent / "out"
    out.mkdir(parents=True)
    out.chmod(0o777)
    parent.chmod(0o555)
    try:
        proc = cli(["generate", "pool.csv", "-p", "parent/out", "-q"], tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert sorted(p.name for p in parent.iterdir()) == ["out"]
        assert any(out.glob("*_asn.json"))
    finally:
        parent.chmod(0o755)


@pytest.mark.parametrize("obstacle", ["folder", "link", "read-only"])
def test_something_standing_where_an_output_goes_stops_everything(cli, tmp_path, obstacle):
    names = first_output_names(cli, tmp_path)
    good_pool(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    standing = out / names[len(names) // 2]
    if obstacle == "folder":
        standing.mkdir()
        (standing / "inside").write_text("x")
    elif obstacle == "link":
        standing.symlink_to(victim)
    else:
        standing.write_text("old")
        standing.chmod(0o444)
    before = snapshot(tmp_path)
    line = refused(cli(["generate", "pool.csv", "-p", "out"], tmp_path), "nothing was written")
    assert standing.name in line
    assert snapshot(tmp_path) == before  # not one file moved in, link target untouched


def test_a_replaced_output_file_keeps_its_mode(cli, tmp_path):
    names = first_output_names(cli, tmp_path)
    good_pool(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    existing = out / names[0]
    existing.write_text("old")
    existing.chmod(0o640)
    assert cli(["generate", "pool.csv", "-p", "out", "-q"], tmp_path).returncode == 0
    assert existing.read_text() != "old" and stat.S_IMODE(existing.stat().st_mode) == 0o640


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_files_moved_into_a_folder_holding_others_are_those_a_new_folder_gets(cli, tmp_path, jobs):
    """Staged files move into an existing folder by name: each arrives with the bytes a new folder
    gets, earlier outputs are replaced (one changed, one left as it was), and files that are not
    the run's stay untouched."""
    good_pool(tmp_path)
    assert cli(["generate", "pool.csv", "-p", "new", "-q"], tmp_path).returncode == 0
    made = {p.name: p.read_bytes() for p in (tmp_path / "new").iterdir()}
    first, second = sorted(made)[:2]
    out = tmp_path / "out"
    out.mkdir()
    (out / first).write_text("old")
    (out / second).write_bytes(made[second])
    (out / "notes.txt").write_text("mine")
    (out / "other_asn.json").write_text("{}")
    done = cli(["generate", "pool.csv", "-p", "out", "-j", jobs], tmp_path)
    assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in made} == made
    assert (out / "notes.txt").read_text() == "mine" and (out / "other_asn.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == sorted([*made, "notes.txt", "other_asn.json"])
    assert f"{len(made) - 2} new, 1 changed, 1 unchanged" in done.stdout + done.stderr


def test_debris_of_a_killed_run_is_cleared_or_completed(cli, tmp_path):
    names = first_output_names(cli, tmp_path)
    good_pool(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    # Killed while staging: removed. Killed while moving staged files in: completed.
    (out / ".asnflow-staging-dead1").mkdir()
    (out / ".asnflow-staging-dead1" / names[0]).write_text("half")
    complete = out / ".asnflow-staging-dead2"
    complete.mkdir()
    (complete / ".asnflow-staged-all").write_text("")
    (complete / "decided_asn.json").write_text("{}")
    (out / ".asnflow-tmp-dead3").write_text("half")
    (out / ".asnflow-staging-fresh").mkdir()  # just made by a run that has not locked it yet: kept
    long_ago = time.time() - 3600
    for debris in out.glob(".asnflow-*-dead*"):
        os.utime(debris, (long_ago, long_ago))
    assert cli(["generate", "pool.csv", "-p", "out", "-q"], tmp_path).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, ".asnflow-staging-fresh", "decided_asn.json"])
    assert (out / names[0]).read_text() != "half"


def test_a_second_pool_that_fails_leaves_every_folder_untouched(cli, tmp_path):
    good_pool(tmp_path, "a_pool.csv")
    (tmp_path / "b_pool.csv").write_bytes(pool_bytes(ROW.format(n=1).replace("1234", "x")))
    before = snapshot(tmp_path)
    refused(cli(["generate", "a_pool.csv", "b_pool.csv", "-p", "out"], tmp_path), "PROGRAM", location="b_pool.csv:2")
    assert snapshot(tmp_path) == before
    (tmp_path / "b_pool.csv").unlink()
    good_pool(tmp_path, "b_pool.csv")
    assert cli(["generate", "a_pool.csv", "b_pool.csv", "-p", "out", "-q"], tmp_path).returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_pool", "b_pool"]


def _output_option_cases():
    return {
        "generate --orphans": lambda t: ["generate", good_pool(t).name, "-p", "out", "--orphans", "taken"],
        "edit -o": lambda t: ["edit", association(t).name, "add", "b_cal.fits", "-o", "taken"],
        "from-list -o": lambda t: ["from-list", "-o", "taken", "--product-name", "m", "a_cal.fits"],
        "graph -o": lambda t: ["graph", association(t).name, "--no-exposures", "-o", "taken"],
        "rules doc -o": lambda t: ["rules", "doc", "-o", "taken"],
        "make-pool -o": lambda t: ["make-pool", association(t).name, "-o", "taken"],
    }


@pytest.mark.parametrize("command", _output_option_cases().keys())
@pytest.mark.parametrize("obstacle", ["folder", "link"])
def test_output_options_naming_a_folder_or_link(cli, tmp_path, command, obstacle):
    args = _output_option_cases()[command](tmp_path)
    (tmp_path / "target").mkdir()
    if obstacle == "folder":
        (tmp_path / "taken").mkdir()
    else:
        (tmp_path / "taken").symlink_to(tmp_path / "target" / "file")
    before = snapshot(tmp_path)
    refused(cli(args, tmp_path), "folder" if obstacle == "folder" else "symbolic link", location="taken")
    assert snapshot(tmp_path) == before


@posix_only
@pytest.mark.parametrize("command", ["edit", "from-list"])
def test_read_only_files_and_folders_are_not_written_through(cli, tmp_path, command):
    asn = association(tmp_path)
    asn.chmod(0o444)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    before = snapshot(tmp_path)
    try:
        if command == "edit":
            refused(cli(["edit", asn.name, "add", "b_cal.fits"], tmp_path), "read-only", location=asn.name)
        else:
            refused(cli(["from-list", "-o", "locked/x_asn.json", "--product-name", "m", "a_cal.fits"], tmp_path),
                    "read-only")
        assert snapshot(tmp_path) == before
    finally:
        locked.chmod(0o755)


def test_edit_keeps_the_mode_and_refuses_a_link(cli, tmp_path):
    asn = association(tmp_path)
    asn.chmod(0o640)
    assert cli(["edit", asn.name, "add", "b_cal.fits"], tmp_path).returncode == 0
    assert stat.S_IMODE(asn.stat().st_mode) == 0o640 and "b_cal.fits" in asn.read_text()
    link = tmp_path / "link_asn.json"
    link.symlink_to(asn.name)
    before = snapshot(tmp_path)
    refused(cli(["edit", link.name, "add", "c_cal.fits"], tmp_path), "symbolic link", location=link.name)
    assert snapshot(tmp_path) == before


def test_ten_concurrent_edits_lose_no_update(tmp_path, rule_cache):
    asn = association(tmp_path)
    env = dict(os.environ, ASNFLOW_CACHE_DIR=str(rule_cache))
    editors = [
        subprocess.Popen([sys.executable, "-m", "asnflow", "edit", asn.name, "add", f"m{n}_cal.fits"], cwd=tmp_path,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        for n in range(10)
    ]
    deadline = time.monotonic() + TIMEOUT
    try:
        for editor in editors:
            assert editor.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, editor.stderr.read()
    finally:
        for editor in editors:
            if editor.poll() is None:
                editor.kill()
            editor.stderr.close()
    members = {m["expname"] for m in json.loads(asn.read_text())["products"][0]["members"]}
    assert members == {"a_cal.fits", *(f"m{n}_cal.fits" for n in range(10))}
    assert sorted(p.name for p in tmp_path.iterdir()) == [asn.name]


def test_a_file_name_too_long_is_one_line(cli, tmp_path):
    before = snapshot(tmp_path)
    refused(cli(["from-list", "-o", "x" * 300 + "_asn.json", "--product-name", "m", "a_cal.fits"], tmp_path),
            "too long")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS", "EACCES"])
def test_os_errors_while_writing_are_one_line(tmp_path, monkeypatch, capsys, errno_name):
    import errno

    from asnflow.cli import main

    def failing_fsync(descriptor):
        raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "fsync", failing_fsync)
    assert main(["from-list", "-o", "m_asn.json", "--product-name", "m", "a_cal.fits"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("m_asn.json: error: cannot write the file: ")
    assert {"ENOSPC": "no space", "EROFS": "read-only", "EACCES": "permission denied"}[errno_name] in err
    assert list(tmp_path.iterdir()) == []


def test_no_space_while_staging_generate_output_is_one_line(tmp_path, monkeypatch, capsys):
    import errno

    from asnflow.cli import main

    good_pool(tmp_path)
    real_write = os.write
    written = []

    def filling_write(descriptor, data):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(descriptor)
        return real_write(descriptor, data)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "write", filling_write)
    monkeypatch.setenv("ASNFLOW_CACHE_DIR", "")
    assert main(["generate", "pool.csv", "-p", "out", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on the device" in err and err.startswith("out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.csv"]


# --------------------------------------------------------------------------- reading


def _hostile_input(kind: str, path: Path) -> Path:
    if kind == "fifo":
        return fifo(path)
    if kind == "/dev/zero":
        path.symlink_to("/dev/zero")
        return path
    if kind == "folder":
        path.mkdir()
        return path
    if kind == "gzip bomb":
        return gzip_bomb(path, 4 << 20)
    if kind == "too large":
        path.write_bytes(b"#" * (2 << 20))
        return path
    raise AssertionError(kind)


READ_KINDS = {"fifo": "named pipe", "/dev/zero": "device", "folder": "folder", "too large": "too large"}
SMALL_LIMIT = {"ASNFLOW_MAX_INPUT_BYTES": str(1 << 20)}


@posix_only
@pytest.mark.parametrize("kind", [*READ_KINDS, "gzip bomb"])
def test_hostile_pools(cli, tmp_path, kind):
    _hostile_input(kind, tmp_path / "pool.csv")
    before = snapshot(tmp_path)
    word = "decompresses to more than" if kind == "gzip bomb" else READ_KINDS[kind]
    refused(cli(["generate", "pool.csv", "-p", "out"], tmp_path, **SMALL_LIMIT), word, location="pool.csv")
    assert snapshot(tmp_path) == before


@posix_only
def test_a_gzip_bomb_is_refused_at_the_default_limit(cli, tmp_path):
    from asnflow.fsread import POOL_LIMIT

    gzip_bomb(tmp_path / "pool.csv.gz", POOL_LIMIT + (16 << 20))  # zeros beyond the limit, in under 1 MB
    refused(cli(["generate", "pool.csv.gz", "-p", "out"], tmp_path), "decompresses to more than",
            location="pool.csv.gz")


@posix_only
@pytest.mark.parametrize("kind", READ_KINDS)
def test_hostile_rule_files(cli, tmp_path, kind):
    good_pool(tmp_path)
    _hostile_input(kind, tmp_path / "my.rules")
    before = snapshot(tmp_path)
    refused(cli(["generate", "pool.csv", "-p", "out", "-r", "my.rules"], tmp_path, **SMALL_LIMIT), READ_KINDS[kind],
            location="my.rules")
    checked = cli(["rules", "check", "my.rules"], tmp_path, **SMALL_LIMIT)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert f"my.rules: error: is {READ_KINDS[kind]}" in checked.stdout + checked.stderr or \
        READ_KINDS[kind] in checked.stdout + checked.stderr
    assert snapshot(tmp_path) == before


@posix_only
@pytest.mark.parametrize("kind", READ_KINDS)
@pytest.mark.parametrize("command", ["graph", "edit", "gather"])
def test_hostile_association_files(cli, tmp_path, kind, command):
    _hostile_input(kind, tmp_path / "x_asn.json")
    args = {"graph": ["graph", "x_asn.json"], "edit": ["edit", "x_asn.json", "add", "b_cal.fits", "-o", "y.json"],
            "gather": ["gather", "x_asn.json", "-o", "out"]}[command]
    before = snapshot(tmp_path)
    refused(cli(args, tmp_path, **SMALL_LIMIT), READ_KINDS[kind], location="x_asn.json")
    assert snapshot(tmp_path) == before


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "folder"])
def test_hostile_make_pool_inputs(cli, tmp_path, kind):
    _hostile_input(kind, tmp_path / "x_uncal.fits")
    before = snapshot(tmp_path)
    refused(cli(["make-pool", "x_uncal.fits", "-o", "pool.csv"], tmp_path), READ_KINDS[kind], location="x_uncal.fits")
    assert snapshot(tmp_path) == before


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "folder"])
def test_hostile_configuration_files(cli, tmp_path, kind):
    asn = association(tmp_path)
    _hostile_input(kind, tmp_path / "rules.yaml")
    before = snapshot(tmp_path)
    refused(cli(["graph", asn.name, "--config", "rules.yaml"], tmp_path), READ_KINDS[kind], location="rules.yaml")
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ run's data folder


@pytest.fixture
def wfss_run(compat_dir, tmp_path):
    """A data folder holding every raw input of the WFSS corpus associations, and the run's arguments."""
    from asnflow.workflow.graph import build_graph

    asns = compat_dir / "expected" / WFSS
    config = tmp_path / "fake_rules.yaml"
    types = ("detector1", "image2", "tso-image2", "spec2", "tso-spec2", "nrslamp-spec2",
             "image3", "spec3", "coron3", "ami3", "tso3", "wfs-image3")
    config.write_text("calibration:\n" + "".join(f"  {t}: python:fake_calibration:WRITER\n" for t in types))
    graph = build_graph([asns], calibration=dict.fromkeys(types, "python:fake_calibration:WRITER"))
    data = tmp_path / "data"
    data.mkdir()
    for name in graph.external_inputs:
        (data / name).write_text(f"raw {name}\n")
    return data, ["run", asns, "--data", "data", "--config", config.name, "--executor", "serial", "-q"]


@posix_only
@pytest.mark.parametrize("planted", ["asnflow-run.jsonl", ".asnflow-scratch"])
def test_run_does_not_follow_links_planted_in_the_data_folder(cli, tmp_path, wfss_run, planted):
    data, args = wfss_run
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "victim"
    if planted == "asnflow-run.jsonl":
        target.write_text("precious\n")
    else:
        target.mkdir()
    (data / planted).symlink_to(target)
    before = snapshot(tmp_path)
    refused(cli(args, tmp_path), planted, "symbolic link", location=str(data.resolve()))
    assert snapshot(tmp_path) == before


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_run_names_an_input_that_is_not_a_file(cli, tmp_path, wfss_run, kind):
    data, args = wfss_run
    victim = sorted(p for p in data.iterdir() if p.name.endswith("_uncal.fits"))[0]
    victim.unlink()
    _hostile_input(kind, victim)
    before = snapshot(tmp_path)
    line = refused(cli(args, tmp_path), victim.name, READ_KINDS[kind])
    assert "missing" not in line and "neither produced" not in line
    assert snapshot(tmp_path) == before


def test_run_data_that_is_a_file(cli, tmp_path):
    asn = association(tmp_path)
    (tmp_path / "data").write_text("not a folder")
    refused(cli(["run", asn.name, "--data", "data"], tmp_path), "--data names a file, not a folder", location="data")
    refused(cli(["graph", asn.name, "--data", "data"], tmp_path), "names a file", location="data")


# --------------------------------------------------------------------------- messages


@pytest.mark.parametrize(("char", "name"), [("\x0c", "form feed"), ("\u2028", "U+2028"), ("\x0b", "vertical tab")])
def test_a_hidden_line_break_in_a_cell_is_named(cli, tmp_path, char, name):
    (tmp_path / "pool.csv").write_bytes(pool_bytes(ROW.format(n=1), ROW.format(n=2).replace("NRC_IMAGE", f"NRC{char}IMAGE")))
    line = refused(cli(["generate", "pool.csv", "-p", "out"], tmp_path), "read as a line break", name)
    assert line.startswith("pool.csv:3")
