"""What a new user meets on the command line: flags that do what they say, messages that teach.

Each test runs the real command (``python -m asnflow ...``) in a fresh folder,
as a user would, and checks what it prints and what exit status it gives.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
POOLS = DATA / "compat" / "pools"
MIRI = POOLS / "pool_002_image_miri.csv"  # one observation candidate: 8 image2, 1 image3 (9 files)


@pytest.fixture
def cli(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "rule-cache"

    def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        env = dict(os.environ, ASNFLOW_CACHE_DIR=str(cache))
        return subprocess.run([sys.executable, "-m", "asnflow", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    return run


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


# ---------------------------------------------------------------- 1: -v and -D


def test_verbose_logs_each_pass(cli, tmp_path):
    quiet = cli(["generate", str(MIRI), "-p", "out"], tmp_path)
    verbose = cli(["generate", str(MIRI), "-p", "out2", "-v"], tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    passes = re.findall(r"^INFO asnflow\.generate: pool_002_image_miri\.csv: (.+): (\d+) exposures, (\d+) "
                        r"associations, [\d.]+ s$", verbose.stderr, re.MULTILINE)
    assert [p[0] for p in passes] == ["candidate o001 (observation)", "discovery"]
    assert all(int(p[1]) == 8 for p in passes)
    assert re.search(r"^INFO asnflow\.generate: finalize: \d+ associations in, 9 out", verbose.stderr, re.MULTILINE)
    assert "INFO" not in quiet.stderr and "DEBUG" not in verbose.stderr


def test_debug_logs_what_each_pass_made_and_skipped(cli, tmp_path):
    proc = cli(["generate", str(MIRI), "-p", "out", "-D"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^DEBUG asnflow\.generate: candidate o001 \(observation\): Asn_Lv2Image made image2 o001 "
                     r"with 1 exposures$", proc.stderr, re.MULTILINE)
    assert re.search(r"^DEBUG .*rule Asn_Lv3ImageMosaic not tried: an observation candidate never passes "
                     r"is_type_mosaic$", proc.stderr, re.MULTILINE)
    assert any(p.name.startswith("dup") for p in (tmp_path / "out").iterdir())  # as before: jwst's -D files


# ---------------------------------------------------------------- 2: idle -r rules and --strict

MISSPELT_RULE = """\
rule Asn_Lv2Image "Science imaging, with a misspelt column" {
    level 2b
    asn_type image2
    exposure_types level2
    valid has_science, allowed_candidates
    product level2

    use base2, mode2, image_science2, not_tso
    pin _ = bnad ~ "f.*"
    any {
        use background2
        use single_science2
    }
}
"""


def test_user_rule_that_made_nothing_is_named(cli, tmp_path):
    (tmp_path / "my.rules").write_text(MISSPELT_RULE)
    proc = cli(["generate", str(MIRI), "-p", "out", "-r", "my.rules"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "my.rules:9:13: warning: unknown pool column bnad (hint: did you mean band?)" in proc.stderr
    idle = [line for line in proc.stderr.splitlines() if "made no association" in line]
    assert idle == ["pool_002_image_miri.csv: warning: rule Asn_Lv2Image (my.rules:1) made no association"]
    assert len(list((tmp_path / "out").iterdir())) == 1  # only the image3: the replaced rule made nothing


def test_strict_turns_rule_warnings_into_errors(cli, tmp_path):
    (tmp_path / "my.rules").write_text(MISSPELT_RULE)
    proc = cli(["generate", str(MIRI), "-p", "out", "-r", "my.rules", "--strict"], tmp_path)
    assert proc.returncode == 2
    no_traceback(proc)
    assert proc.stderr.splitlines() == ["my.rules:9:13: error: unknown pool column bnad (hint: did you mean band?)"]
    assert not (tmp_path / "out").exists()


def test_strict_refuses_an_idle_user_rule_before_writing(cli, tmp_path):
    # A well-formed rule that takes nothing from this pool: only NIRSpec exposures.
    rule = MISSPELT_RULE.replace("Asn_Lv2Image", "Asn_NirspecOnly").replace('pin _ = bnad ~ "f.*"',
                                                                             'pin _ = instrume ~ "nirspec"')
    (tmp_path / "my.rules").write_text(rule)
    lenient = cli(["generate", str(MIRI), "-p", "out", "-r", "my.rules"], tmp_path)
    assert lenient.returncode == 0 and "rule Asn_NirspecOnly (my.rules:1) made no association" in lenient.stderr
    strict = cli(["generate", str(MIRI), "-p", "out2", "-r", "my.rules", "--strict"], tmp_path)
    assert strict.returncode == 2
    no_traceback(strict)
    assert strict.stderr.splitlines() == [
        "my.rules:1: error: rule Asn_NirspecOnly made no association "
        "(hint: see `asnflow explain pool_002_image_miri.csv EXPOSURE --rule Asn_NirspecOnly`)"]
    assert not (tmp_path / "out2").exists()


# ---------------------------------------------------------------- 3, 4: pools that make nothing


def test_pool_without_a_column_the_rules_need_gets_one_warning(cli, tmp_path):
    text = MIRI.read_text()
    header, rest = text.split("\n", 1)
    (tmp_path / "pool.csv").write_text(header.replace("instrume", "instrumx") + "\n" + rest)
    proc = cli(["generate", "pool.csv", "-p", "out"], tmp_path)
    assert proc.returncode == 0
    warnings = [line for line in proc.stderr.splitlines() if "has no column" in line]
    assert len(warnings) == 1
    assert re.fullmatch(r"pool\.csv: warning: the pool has no column .*INSTRUME \(needed by 9 rules\).*; "
                        r"9 of the 11 rules that could take its exposures can take none of them", warnings[0])


def test_corpus_pools_get_no_column_warning(cli, tmp_path):
    for pool in ("pool_002_image_miri", "pool_006_spec_nirspec", "mega_pool"):
        proc = cli(["generate", str(POOLS / f"{pool}.csv"), "-p", pool, "--dry-run"], tmp_path)
        assert proc.returncode == 0 and "has no column" not in proc.stderr, proc.stderr


def test_header_only_pool_says_so_in_one_line(cli, tmp_path):
    (tmp_path / "pool.csv").write_text(MIRI.read_text().split("\n", 1)[0] + "\n")
    proc = cli(["generate", "pool.csv", "-p", "out"], tmp_path)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == ["pool.csv: the pool has a header and no rows: no associations, nothing written"]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- 5: an unclosed block


@pytest.mark.parametrize(("text", "location", "message"), [
    # the rule's closing brace is missing: the next rule is where it shows
    ('rule A "a" {\n    level 3\n    asn_type image3\n\nrule B "b" {\n    level 3\n}\n', "r.rules:5:1",
     "`rule A {` opened on line 1 is not closed before `rule`"),
    # a group's closing brace is missing: the rule's brace closes the group, and the file ends
    ('rule A "a" {\n    level 3\n    any {\n        pin x = exp_type\n}\n', "r.rules:5:2",
     "unexpected end of file: `any {` opened on line 3 is not closed"),
    # a group's brace missing inside a rule followed by another rule: the group, told by indentation
    ('rule A "a" {\n    level 3\n    any {\n        pin x = exp_type\n    pin y = filter\n}\n\nfragment f {\n'
     '    pin z = pupil\n}\n', "r.rules:8:1", "`any {` opened on line 3 is not closed before `fragment`"),
])
def test_unclosed_block_names_what_is_open(text, location, message, cli, tmp_path):
    (tmp_path / "r.rules").write_text(text)
    proc = cli(["rules", "check", "--brief", "r.rules"], tmp_path)
    assert proc.returncode == 2
    no_traceback(proc)
    first = proc.stdout.splitlines()[0]
    assert first.startswith(location + ": error: "), first
    assert message in first and "add the missing `}`" in first, first


# ---------------------------------------------------------------- 6: rules show


def test_rules_show_prints_a_path_that_opens(cli, tmp_path):
    proc = cli(["rules", "show", "Asn_Lv3Image"], tmp_path)
    assert proc.returncode == 0
    where = re.search(r"defined at (\S+):(\d+)", proc.stdout)
    path, line = Path(where.group(1)), int(where.group(2))
    assert path.is_absolute() or (tmp_path / path).is_file()
    opened = (tmp_path / path).read_text(encoding="utf-8").splitlines()
    assert opened[line - 1].startswith("rule Asn_Lv3Image ")


# ---------------------------------------------------------------- 7: association files


@pytest.mark.parametrize(("text", "expected"), [
    ('{\n    "asn_type": "image3",\n    "products": [\n', "a.json:4:1: error: not valid JSON: Expecting value"),
    ("jw01234-o001_image3_00001_asn", "a.json:1:1: error: not valid JSON: Expecting value"),
    ('{"hello": "world"}', "a.json: error: not a valid level2b association: at $: missing required key"),
])
def test_broken_json_association_file(text, expected, cli, tmp_path):
    (tmp_path / "a.json").write_text(text)
    proc = cli(["graph", "a.json"], tmp_path)
    assert proc.returncode == 2
    no_traceback(proc)
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(expected), proc.stderr
    assert "mapping" not in proc.stderr


# ---------------------------------------------------------------- 8: help and quiet


def test_bare_command_prints_the_help(cli, tmp_path):
    proc = cli([], tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: asnflow")
    for command in ("generate", "explain", "rules", "run", "name", "demo"):
        assert re.search(rf"^\s+{command}\s", proc.stdout, re.MULTILINE), command


def test_name_help_lists_each_action_once(cli, tmp_path):
    proc = cli(["name", "--help"], tmp_path)
    assert proc.returncode == 0
    for action in ("parse", "source-id", "fill"):
        assert len(re.findall(rf"^\s+{action}\s", proc.stdout, re.MULTILINE)) == 1, proc.stdout


def test_the_command_table_lists_every_command_module_under_its_name():
    """``asnflow.cli.COMMANDS`` is written out by hand: it must name every module of the package
    that registers a sub-command, each under the name that module registers."""
    import argparse
    import importlib
    import pkgutil

    import asnflow.cli as cli_package

    registering = {}
    for info in pkgutil.iter_modules(cli_package.__path__):
        module = importlib.import_module(f"asnflow.cli.{info.name}")
        if hasattr(module, "register"):
            parser = argparse.ArgumentParser()
            subparsers = parser.add_subparsers()
            module.register(subparsers)
            (name,) = subparsers.choices
            registering[name] = info.name
    assert cli_package.COMMANDS == registering
    assert list(cli_package.COMMANDS) == sorted(cli_package.COMMANDS)  # the help lists them in this order


@pytest.mark.parametrize("pool, status", [(MIRI, 0), (DATA / "compat" / "bad_pools" / "jw93060_20150312T160130_pool.csv", 2)])
def test_the_quick_exit_after_generate_keeps_the_status_the_output_and_the_exit_handlers(pool, status, tmp_path):
    """``generate`` leaves without the interpreter's teardown: what it printed still arrives
    (through pipes), its exit status is kept, and exit handlers registered before it still run."""
    script = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(tmp_path / 'handler-ran')!r}, 'w').close())\n"
        f"sys.argv = ['asnflow', 'generate', {str(pool)!r}, '-p', {str(tmp_path / 'out')!r}]\n"
        "from asnflow.cli import command_line\n"
        "print('before', flush=False)\n"
        "command_line()\n"
    )
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}  # pipes buffer
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                          cwd=tmp_path, env=env)
    no_traceback(proc)
    assert proc.returncode == status, proc.stderr
    assert proc.stdout == "before\n"
    assert (tmp_path / "handler-ran").exists()
    if status == 0:
        assert proc.stderr.endswith("9 new, 0 changed, 0 unchanged\n"), proc.stderr
        assert len(list((tmp_path / "out").glob("*_asn.json"))) == 9
    else:
        assert len(proc.stderr.splitlines()) == 1 and "jw93060_20150312T160130_pool.csv" in proc.stderr


@pytest.mark.parametrize("command, paused", [("generate", True), ("rules", False)])
def test_generate_ends_with_the_collector_still_paused(command, paused, tmp_path):
    """The garbage collector is not resumed for a ``generate`` that exits at once: its first
    collection would walk every object the run still holds. Other commands end as usual."""
    words = ["generate", str(MIRI), "-p", str(tmp_path / "out"), "-q"] if command == "generate" else ["rules", "list"]
    script = (
        "import atexit, gc, sys\n"
        f"atexit.register(lambda: open({str(tmp_path / 'at-exit')!r}, 'w').write(str(gc.isenabled())))\n"
        f"sys.argv = ['asnflow', *{words!r}]\n"
        "from asnflow.cli import command_line\n"
        "command_line()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                          cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "at-exit").read_text() == str(not paused)


def test_generate_holds_its_results_to_the_quick_exit_and_nothing_when_called_as_a_library(tmp_path):
    """On the command line, ``generate`` leaves its pools and outcomes to the quick exit instead of
    freeing them object by object; called through :func:`main`, it keeps nothing behind."""
    script = (
        "import atexit, sys\n"
        "import asnflow.cli as cli\n"
        f"atexit.register(lambda: open({str(tmp_path / 'held')!r}, 'w').write("
        "repr([type(item).__name__ for item in cli._held])))\n"
        f"sys.argv = ['asnflow', 'generate', {str(MIRI)!r}, '-p', {str(tmp_path / 'out')!r}, '-q']\n"
        "cli.command_line()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                          cwd=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "held").read_text() == "['list', 'list']"  # the pools with their folders, the outcomes
    import asnflow.cli as cli_package

    assert cli_package.main(["generate", str(MIRI), "-p", str(tmp_path / "again"), "-q"]) == 0
    assert cli_package._held is None


@pytest.mark.parametrize("words", [["generate", "--help"], ["rules", "list", "--help"], ["run", "--help"]])
def test_a_command_line_loads_only_its_own_command(words, tmp_path):
    """Start-up registers only the command named first; what it accepts and prints is unchanged."""
    script = (
        "import contextlib, io, sys\n"
        "from asnflow.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        main({words!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('asnflow.cli.')))\n"
        "print(out.getvalue().splitlines()[0])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                          cwd=tmp_path)
    loaded, usage = proc.stdout.splitlines()[:2]
    module = {"generate": "generate", "rules": "rules", "run": "run"}[words[0]]
    assert loaded == f"['asnflow.cli.{module}']"
    assert usage.startswith(f"usage: asnflow {' '.join(words[:-1])} [-h]")


# demo -q printing one line is tested with the README's demo command in test_demo.py


# ---------------------------------------------------------------- 9: an unreachable scheduler


def test_refused_scheduler_address_fails_at_once_with_the_address(cli, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = cli(["generate", str(MIRI), "-p", "out", "--scheduler", f"tcp://127.0.0.1:{port}"], tmp_path, timeout=120)
    assert proc.returncode == 2
    no_traceback(proc)
    assert proc.stderr.splitlines() == [
        f"asnflow: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: Connection refused "
        "(hint: is the scheduler running there? --timeout SECONDS waits longer)"]
    assert not (tmp_path / "out").exists()


def test_silent_scheduler_gives_up_after_the_timeout(cli, tmp_path):
    with socket.socket() as server:  # accepts connections and never says a word
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        accepted = []
        threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
        proc = cli(["generate", str(MIRI), "-p", "out", "--scheduler", f"tcp://127.0.0.1:{port}", "--timeout", "1"],
                   tmp_path, timeout=120)
    assert proc.returncode == 2
    no_traceback(proc)
    assert proc.stderr.splitlines() == [
        f"asnflow: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: no answer within 1 s "
        "(hint: is the scheduler running there? --timeout SECONDS waits longer)"]


def test_a_running_scheduler_is_still_reached(cli, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  dashboard_address=None) as cluster:
        proc = cli(["generate", str(MIRI), "-p", "out", "-q", "--scheduler", cluster.scheduler_address], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "out").iterdir())) == 9


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_timeout_must_be_positive_seconds(value, cli, tmp_path):
    proc = cli(["generate", str(MIRI), "-p", "out", "--timeout", value], tmp_path)
    assert proc.returncode == 2 and "--timeout" in proc.stderr
    no_traceback(proc)


# ---------------------------------------------------------------- 10: pool errors name the column


@pytest.mark.parametrize(("rows", "location"), [
    (["a.fits|1234|nrc_image|null", "b.fits|1234|nrc_image|null|extra"], "pool.csv:3:5"),  # first cell too many
    (["a.fits|1234|nrc_image"], "pool.csv:2:4"),  # where the missing cell would be
])
def test_pool_row_errors_name_line_and_column(rows, location, cli, tmp_path):
    (tmp_path / "pool.csv").write_text("\n".join(["FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE", *rows]) + "\n")
    proc = cli(["generate", "pool.csv", "-p", "out"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(location + ": error: row has"), proc.stderr


# ---------------------------------------------------------------- 17: dry run


def test_dry_run_lists_the_files_it_would_write(cli, tmp_path):
    dry = cli(["generate", str(MIRI), "-p", "out", "--dry-run"], tmp_path)
    assert dry.returncode == 0 and not (tmp_path / "out").exists()
    real = cli(["generate", str(MIRI), "-p", "out", "-q"], tmp_path)
    assert real.returncode == 0
    written = sorted(str(Path("out") / p.name) for p in (tmp_path / "out").iterdir())
    assert len(written) == 9
    assert sorted(dry.stdout.splitlines()) == written


# ---------------------------------------------------------------- 18: the Python API


def test_dir_lists_the_api():
    import asnflow

    assert {"generate", "load", "write", "from_list", "Association"} <= set(dir(asnflow))
    assert set(asnflow.__all__) <= set(dir(asnflow))


def test_load_returns_what_generate_returns(tmp_path):
    import asnflow

    made = asnflow.generate(MIRI)
    paths = asnflow.write(made, tmp_path / "out")
    loaded = [asnflow.load(p) for p in paths]
    assert [type(a) for a in loaded] == [type(a) for a in made]
    assert [a.name for a in loaded] == [a.name for a in made]
    assert [a.rule for a in loaded] == [a.rule for a in made]
    assert loaded == made
    assert json.loads(json.dumps(loaded[0])) == dict(made[0])
