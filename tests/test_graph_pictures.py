"""Graph pictures that stay readable: grouping, product labels, hover text, status colours."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ElementTree
from collections import Counter

import pytest

from asnflow.cli import main
from asnflow.workflow.draw import render
from asnflow.workflow.draw.geometry import ROW_PITCH, picture_size
from asnflow.workflow.draw.layout import build_drawing
from asnflow.workflow.draw.style import STATUS_COLOURS, GraphView, NodeStatus, status_category
from asnflow.workflow.graph import build_graph

CORON = "pool_013_coron_nircam"  # 88 associations: 64 image2 feeding 24 coron3
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def coron_graph(compat_dir):
    return build_graph([compat_dir / "expected" / CORON])


def svg_boxes(text: str) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(text)
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "box"]


def test_large_pool_is_grouped_by_observation(coron_graph):
    drawing = build_drawing(coron_graph)
    assert drawing.grouping == "observation"
    kinds = Counter(b.asn_type for b in drawing.boxes)
    assert kinds == {"detector1": 16, "image2": 16, "coron3": 24}
    # every node is drawn exactly once
    drawn = Counter(n for b in drawing.boxes for n in b.nodes)
    assert set(drawn) == set(coron_graph.nodes) and set(drawn.values()) == {1}
    o001 = next(b for b in drawing.boxes if b.title == "o001 image2 \u00d74")
    assert all(n.startswith("jw10005-o001_image2_") for n in o001.nodes)
    # the tallest column holds the 24 coron3 products, not 64 exposures
    assert drawing.rows == 24
    width, height = picture_size(drawing)
    assert height < 24 * ROW_PITCH + 200 and width < 1200


def test_level3_boxes_name_their_product(coron_graph):
    drawing = build_drawing(coron_graph)
    for box in drawing.boxes:
        if box.asn_type != "coron3":
            continue
        (node_id,) = box.nodes
        product = coron_graph.node(node_id).association["products"][0]["name"]
        # jw10005-a3001_t004_nircam_f430m-maskrnd-maska430r -> "F430M-MASKRND t004"
        optics, target = product.split("_")[3].split("-")[:2], product.split("_")[1]
        assert box.subtitle == f"{'-'.join(optics).upper()} {target}"
        assert f"product {product}" in box.details


def test_rows_in_a_column_never_overlap(coron_graph):
    for grouping in ("none", "observation", "asn_type"):
        drawing = build_drawing(coron_graph, grouping=grouping)
        for column in range(drawing.columns):
            rows = sorted(b.row for b in drawing.boxes if b.column == column)
            assert all(b - a >= 1.0 - 1e-9 for a, b in zip(rows, rows[1:]))
            assert rows[0] >= 0 and rows[-1] <= drawing.rows - 1


def test_grouping_by_asn_type_keeps_the_file_flow(coron_graph):
    drawing = build_drawing(coron_graph, grouping="asn_type")
    assert sorted(b.title for b in drawing.boxes) == ["coron3 \u00d724", "detector1 \u00d764", "image2 \u00d764"]
    flows = {(drawing.box(link.source).asn_type, drawing.box(link.target).asn_type): len(link.files) for link in drawing.links}
    assert flows[("detector1", "image2")] == 64
    coron_inputs = sum(len(coron_graph.edge_files(u, v)) for v in coron_graph.association_ids()
                       if coron_graph.node(v).asn_type == "coron3" for u in coron_graph.predecessors(v))
    assert flows[("image2", "coron3")] == coron_inputs


def test_small_graph_is_not_grouped(compat_dir):
    graph = build_graph([compat_dir / "expected" / "jw87800_20180412T163456_pool"], exposures=False)
    drawing = build_drawing(graph)
    assert drawing.grouping == "none"
    assert len(drawing.boxes) == len(graph.nodes)


def test_svg_has_hover_text_for_every_box_and_link(coron_graph):
    text = render(coron_graph, "svg")
    boxes = svg_boxes(text)
    assert len(boxes) == 56
    for g in boxes:
        title = g.find(f"{SVG}title")
        assert title is not None and title.text
        for node_id in g.get("data-nodes").split():
            assert node_id in coron_graph
    coron = next(g for g in boxes if "a3001_coron3_00001" in g.get("data-nodes"))
    assert "rule discover_Asn_Lv3NRCCoron" in coron.find(f"{SVG}title").text
    root = ElementTree.fromstring(text)
    links = [p for p in root.iter(f"{SVG}path") if p.get("class") == "link"]
    assert links and all(p.find(f"{SVG}title").text.count("file") >= 1 for p in links)


def test_up_to_date_and_upstream_failed_do_not_share_a_colour(coron_graph):
    assert status_category("skipped", "up to date") == "up to date"
    assert status_category("skipped", "upstream detector1:jw_00001_uncal failed") == "upstream failed"
    assert STATUS_COLOURS["up to date"] != STATUS_COLOURS["upstream failed"]
    assert len(set(STATUS_COLOURS.values())) == len(STATUS_COLOURS)

    failed = "detector1:jw_00001_uncal"
    statuses = {n: NodeStatus("skipped", "up to date") for n in coron_graph.nodes}
    statuses[failed] = NodeStatus("failed", "boom")
    for child in coron_graph.descendants(failed):
        statuses[child] = NodeStatus("skipped", f"upstream {failed} failed")
    view = GraphView(statuses=statuses)
    drawing = build_drawing(coron_graph, view, grouping="none")
    shown = {b.nodes[0]: b.status for b in drawing.boxes}
    assert shown[failed] == "failed"
    assert {shown[c] for c in coron_graph.descendants(failed)} == {"upstream failed"}
    assert shown["detector1:jw_00002_uncal"] == "up to date"
    # grouped: a box takes its worst member's status; the legend counts nodes
    grouped = build_drawing(coron_graph, view, grouping="observation")
    o001 = next(b for b in grouped.boxes if b.title == "o001 detector1 \u00d74")
    assert o001.status == "failed" and "1 failed" in o001.subtitle and "3 up to date" in o001.subtitle
    assert grouped.statuses["failed"] == 1
    strokes = {g.get("data-status"): g.find(f"{SVG}rect").get("stroke") for g in svg_boxes(render(coron_graph, "svg", view))}
    assert strokes["up to date"] != strokes["upstream failed"]
    assert strokes["upstream failed"] == STATUS_COLOURS["upstream failed"]


def test_png_is_compact_and_readable(coron_graph):
    pytest.importorskip("matplotlib")
    png = render(coron_graph, "png")
    width, height = struct.unpack(">II", png[16:24])
    # before grouping: 960 x 2680 with 5 px labels; now one row per product
    assert (width, height) == picture_size(build_drawing(coron_graph))
    assert height < 1400


def test_graph_command_group_option(compat_dir, tmp_path):
    out = tmp_path / "graph.svg"
    assert main(["graph", str(compat_dir / "expected" / CORON), "--format", "svg", "--group", "none", "-o", str(out)]) == 0
    assert len(svg_boxes(out.read_text())) == len(build_graph([compat_dir / "expected" / CORON]).nodes)
    assert main(["graph", str(compat_dir / "expected" / CORON), "--format", "svg", "--group", "asn_type", "-o", str(out)]) == 0
    assert len(svg_boxes(out.read_text())) == 3


def test_svg_needs_no_matplotlib(coron_graph, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert svg_boxes(render(coron_graph, "svg"))
