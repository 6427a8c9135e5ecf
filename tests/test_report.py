"""``asnflow report``: one self-contained HTML page, checked as text and in a real headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from asnflow.cli import main
from asnflow.diagnose.orphans import find_orphans
from asnflow.engine.session import rule_set
from asnflow.pool.read import read_pool
from asnflow.report import REPORT_NAME, write_report
from asnflow.workflow.graph import build_graph

CORON = "pool_013_coron_nircam"
POOLS = Path(__file__).parent / "data" / "compat" / "pools"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Page(HTMLParser):
    """The parts of the page the tests look at: tags with attributes, table rows, script and link targets."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._table: list[str] = []
        self._cells: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self._table.append(attributes.get("id") or "")
        elif tag == "tr" and self._table:
            self._cells = []
        elif tag == "td" and self._cells is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._table:
            self._table.pop()
        elif tag == "td" and self._cell is not None and self._cells is not None:
            self._cells.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._cells is not None:
            if self._cells:
                self.rows.setdefault(self._table[-1], []).append(self._cells)
            self._cells = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def coron_folder(compat_dir) -> Path:
    return compat_dir / "expected" / CORON


@pytest.fixture(scope="module")
def coron_report(coron_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    written = write_report(coron_folder, out, pools=[POOLS / f"{CORON}.csv"])
    assert written == out
    return out


def write_run_log(data: Path, statuses: dict[str, tuple[str, str]]) -> None:
    lines = [
        json.dumps({"run": "r1", "time": "2026-01-01T00:00:00+00:00", "node": node, "status": status, "reason": reason})
        for node, (status, reason) in statuses.items()
    ]
    (data / "asnflow-run.jsonl").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- the page as text


def test_the_table_has_one_row_per_association_with_counts(coron_report, coron_folder):
    page = Page(coron_report.read_text())
    rows = page.rows["asn-table"]
    files = sorted(coron_folder.glob("*_asn.json"))
    assert len(rows) == len(files) == 88
    by_name = {row[0]: row for row in rows}
    for path in files:
        asn = json.loads(path.read_text())
        row = by_name[path.stem]
        members = [m for p in asn["products"] for m in p["members"]]
        assert row[1:5] == [asn["asn_type"], asn["asn_rule"], asn["asn_id"], asn["products"][0]["name"]]
        assert int(row[5]) == len(members)
        assert int(row[6]) == sum(m["exptype"] == "science" for m in members)
        assert row[7] == "not run"


def test_each_association_has_its_members_and_products(coron_report, coron_folder):
    text = coron_report.read_text()
    page = Page(text)
    anchors = {a.get("id") for tag, a in page.tags if tag == "details"}
    assert anchors == {f"asn-{p.stem}" for p in coron_folder.glob("*_asn.json")}
    links = {a.get("href") for tag, a in page.tags if tag == "a" and (a.get("href") or "").startswith("#asn-")}
    assert links == {f"#{anchor}" for anchor in anchors}
    asn = json.loads((coron_folder / "jw10005-a3001_coron3_00001_asn.json").read_text())
    block = text[text.index('id="asn-jw10005-a3001_coron3_00001_asn"'):]
    block = block[: block.index("</details>")]
    for member in asn["products"][0]["members"]:
        assert member["expname"] in block


def test_the_page_is_self_contained(coron_report):
    text = coron_report.read_text()
    page = Page(text)
    for tag, attributes in page.tags:
        for name in ("src", "href"):
            value = attributes.get(name)
            assert value is None or value.startswith(("#", "data:")), (tag, name, value)
    assert not [t for t, a in page.tags if t == "link" and a.get("rel") == "stylesheet"]
    assert not [t for t, a in page.tags if t == "script" and a.get("src")]
    policy = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy
    # the only URL is the SVG namespace name, which is never fetched
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    assert text.count("<svg") == 1 and 'class="asnflow-graph"' in text


def test_orphans_are_listed_with_their_reasons(coron_report):
    pool = read_pool(POOLS / f"{CORON}.csv")
    expected = find_orphans(pool, rule_set())
    rows = Page(coron_report.read_text()).rows.get("orphan-table", [])
    assert [(r[0], int(r[1]), r[2], r[3]) for r in rows] == [(o.filename, o.line, o.exp_type, o.reason) for o in expected]


def test_without_a_pool_the_orphans_section_says_how_to_get_them(coron_folder, tmp_path):
    text = write_report(coron_folder, tmp_path / "r.html").read_text()
    assert "--pool POOL" in text and "orphan-table" not in text


def test_run_state_comes_from_the_run_log(coron_folder, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    graph = build_graph([coron_folder])
    failed = "detector1:jw_00001_uncal"
    statuses = {n: ("skipped", "up to date") for n in graph.nodes}
    statuses[failed] = ("failed", "no CRDS cache")
    for child in graph.descendants(failed):
        statuses[child] = ("skipped", f"upstream {failed} failed")
    write_run_log(data, statuses)
    text = write_report(coron_folder, tmp_path / "r.html", data_dir=data).read_text()
    page = Page(text)
    run_rows = {r[0]: r for r in page.rows["run-table"]}
    assert len(run_rows) == len(graph.nodes)
    assert run_rows[failed][2:4] == ["failed", "no CRDS cache"]
    child = sorted(graph.descendants(failed))[0]
    assert run_rows[child][2] == "upstream failed"
    assert run_rows["detector1:jw_00002_uncal"][2] == "up to date"
    asn_status = {r[0]: r[7] for r in page.rows["asn-table"]}
    assert {asn_status[c] for c in graph.descendants(failed)} == {"upstream failed"}
    # the graph's boxes are outlined by status too
    assert 'data-status="upstream failed"' in text and 'data-status="failed"' in text
    # a torn last line (a killed run) is ignored, not an error
    with open(data / "asnflow-run.jsonl", "a") as log:
        log.write('{"run": "r2", "node": "detec')
    assert write_report(coron_folder, tmp_path / "r2.html", data_dir=data).is_file()


def test_no_run_log_means_nothing_ran(coron_folder, tmp_path):
    text = write_report(coron_folder, tmp_path / "r.html").read_text()
    assert "Nothing has run in this data folder yet" in text
    assert "no run yet" in text


def test_values_from_the_files_are_escaped(tmp_path):
    folder = tmp_path / "asns"
    folder.mkdir()
    asn = {
        "asn_type": "image2",
        "asn_rule": "<script>alert(1)</script>",
        "asn_id": "o001",
        "asn_pool": "pool<b>.csv",
        "program": "00001",
        "products": [{"name": "x\"><img src=y>", "members": [{"expname": "a_rate.fits", "exptype": "science"}]}],
    }
    (folder / "jw00001-o001_image2_00001_asn.json").write_text(json.dumps(asn))
    text = write_report(folder).read_text()
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=y>" not in text
    assert (folder / REPORT_NAME).is_file()


def test_the_command_writes_the_report_and_prints_its_path(coron_folder, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(coron_folder), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(empty) in err
    assert list(empty.iterdir()) == []

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "jw00001-o001_image2_00001_asn.json").write_text('{"asn_type": "image2", ')
    assert main(["report", str(broken), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "jw00001-o001_image2_00001_asn.json" in err
    assert not (tmp_path / "r.html").exists()

    assert main(["report", str(broken), "--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


# --------------------------------------------------------------------------- in a real browser


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ASNFLOW_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="module")
def browser_page():
    """A page factory in headless Chromium (Debian's), driven by Playwright, with a fresh profile."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (test extra)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium installed (apt-get install chromium; .ci/run installs it)")
    with tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def open_page(context, path: Path):
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: problems.append(f"request {request.url}") if not request.url.startswith(("file:", "data:")) else None)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, problems


def test_in_a_browser_the_page_loads_clean_and_the_table_filters(browser_page, coron_report):
    page, problems = open_page(browser_page, coron_report)
    rows = page.locator("#asn-table tbody tr")
    assert rows.count() == 88
    assert page.locator("#asn-count").inner_text() == "88 of 88 shown"

    page.fill("#asn-filter", "a3001 coron3")
    assert page.locator("#asn-table tbody tr:visible").count() == 6
    assert page.locator("#asn-count").inner_text() == "6 of 88 shown"
    page.fill("#asn-filter", "")
    page.select_option("#asn-type", "image2")
    assert page.locator("#asn-table tbody tr:visible").count() == 64
    page.select_option("#asn-type", "")

    # sorting by member count, largest first
    members = page.locator("#asn-table thead th", has_text="Members")
    members.click()
    members.click()
    assert members.get_attribute("aria-sort") == "descending"
    counts = [int(t) for t in page.locator("#asn-table tbody tr td:nth-child(6)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]

    # the graph is drawn and visible, with hover text on its boxes
    graph = page.locator("#graph svg.asnflow-graph")
    assert graph.is_visible()
    box = graph.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 400
    assert page.locator("#graph g.box").count() == 56
    assert "rule" in page.locator("#graph g.box title").last.text_content()

    # a row's link opens its members and products
    page.locator('#asn-table a[href="#asn-jw10005-a3001_coron3_00001_asn"]').click()
    details = page.locator("#asn-jw10005-a3001_coron3_00001_asn")
    assert details.get_attribute("open") is not None
    assert details.locator("table tbody tr").first.is_visible()
    assert problems == []
    page.close()


def test_in_a_browser_a_run_report_filters_by_status(browser_page, coron_folder, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    graph = build_graph([coron_folder])
    statuses = {n: ("succeeded", "1 outputs") for n in graph.nodes}
    failed = "detector1:jw_00001_uncal"
    statuses[failed] = ("failed", "boom")
    for child in graph.descendants(failed):
        statuses[child] = ("skipped", f"upstream {failed} failed")
    write_run_log(data, statuses)
    report = write_report(coron_folder, tmp_path / "run.html", data_dir=data)
    page, problems = open_page(browser_page, report)
    page.select_option("#run-status", "upstream failed")
    assert page.locator("#run-table tbody tr:visible").count() == len(graph.descendants(failed))
    colours = page.eval_on_selector_all(
        "#graph g.box rect", "rects => Array.from(new Set(rects.map(r => r.getAttribute('stroke'))))"
    )
    assert len(colours) == 3  # succeeded, failed, upstream failed
    assert problems == []
    page.close()
