"""The dependency graph built from the parity corpus' association files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import networkx as nx
import pytest

from asnflow.calib.base import file_root
from asnflow.cli import main
from asnflow.errors import AsnflowError, GraphError
from asnflow.workflow.graph import build_graph, load_associations

WFSS = "jw87800_20180412T163456_pool"


def expected(compat_dir: Path, pool: str) -> Path:
    return compat_dir / "expected" / pool


def write_asn(folder: Path, stem: str, asn_type: str, products: list[tuple[str, list[tuple[str, str]]]]) -> Path:
    asn = {
        "asn_type": asn_type,
        "asn_rule": "test",
        "asn_id": "o001",
        "asn_pool": "test_pool.csv",
        "program": "00001",
        "products": [
            {"name": name, "members": [{"expname": e, "exptype": t} for e, t in members]} for name, members in products
        ],
    }
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(asn, indent=4))
    return path


# --------------------------------------------------------------------------- corpus edges


def test_wfss_pool_has_12_associations_18_edges_in_4_generations(compat_dir):
    graph = build_graph([expected(compat_dir, WFSS)])
    summary = graph.summary()
    assert (summary.associations, summary.association_edges, summary.generations) == (12, 18, 4)
    stages = [sorted({graph.node(n).asn_type for n in group}) for group in graph.association_generations()]
    assert stages == [["image2"], ["image3"], ["spec2"], ["spec3"]]
    # every association member that is a _rate file comes from one detector1 node
    rate_members = {
        f for n in graph.association_ids() for f in graph.inputs(n) if f.endswith("_rate.fits")
    }
    assert summary.exposures == len(rate_members) == 10
    assert all(graph.producer_of(f).startswith("detector1:") for f in rate_members)


def test_wfss_grism_spec2_waits_for_the_image3_catalog_segmap_and_mosaic(compat_dir):
    graph = build_graph([expected(compat_dir, WFSS)])
    image3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")
    for spec2 in (n for n in graph.association_ids() if graph.node(n).asn_type == "spec2"):
        files = graph.edge_files(image3, spec2)
        assert sorted(Path(f).name.rsplit("_", 1)[1] for f in files) == ["cat.ecsv", "i2d.fits", "segm.fits"]


def test_nod_spec2_backgrounds_come_from_other_exposures_detector1(compat_dir):
    for pool in ("pool_023_nirspec_msa_3nod", "pool_024_nirspec_fss_nods"):
        graph = build_graph([expected(compat_dir, pool)])
        checked = 0
        for node_id in graph.association_ids():
            node = graph.node(node_id)
            if node.asn_type != "spec2":
                continue
            for product in node.association["products"]:
                science = {m["expname"] for m in product["members"] if m["exptype"] == "science"}
                for member in product["members"]:
                    if member["exptype"] != "background":
                        continue
                    assert member["expname"].endswith("_rate.fits")
                    assert member["expname"] not in science
                    producer = graph.producer_of(member["expname"])
                    assert producer == f"detector1:{file_root(member['expname'])}_uncal"
                    assert member["expname"] in graph.edge_files(producer, node_id)
                    checked += 1
        assert checked > 0, pool


def test_spec3_x1d_backgrounds_come_from_spec2(compat_dir):
    graph = build_graph([expected(compat_dir, "pool_010_spec_nirspec_lv2bkg")])
    backgrounds = 0
    for node_id in graph.association_ids():
        node = graph.node(node_id)
        if node.asn_type != "spec3":
            continue
        for product in node.association["products"]:
            for member in product["members"]:
                if member["exptype"] == "background":
                    assert member["expname"].endswith("_x1d.fits")
                    producer = graph.producer_of(member["expname"])
                    assert graph.node(producer).asn_type == "spec2"
                    assert member["expname"] in graph.edge_files(producer, node_id)
                    backgrounds += 1
    assert backgrounds > 0


def test_tso_uses_rateints_and_calints(compat_dir):
    graph = build_graph([expected(compat_dir, "pool_021_tso")])
    tso3 = [n for n in graph.association_ids() if graph.node(n).asn_type == "tso3"]
    assert tso3
    for node_id in tso3:
        for member in graph.inputs(node_id):
            assert member.endswith("_calints.fits")
            producer = graph.producer_of(member)
            assert graph.node(producer).asn_type in {"tso-image2", "tso-spec2", "spec2"}
            assert member in graph.outputs(producer)
    for node_id in graph.exposure_ids():
        assert all(f.endswith("_rateints.fits") for f in graph.node(node_id).wanted)
    spec2_outputs = {f for n in graph.association_ids() if "spec2" in graph.node(n).asn_type for f in graph.outputs(n)}
    assert any(f.endswith("_x1dints.fits") for f in spec2_outputs)


def test_without_exposures_rate_files_are_external_inputs(compat_dir):
    graph = build_graph([expected(compat_dir, WFSS)], exposures=False)
    assert graph.summary().exposures == 0
    assert graph.summary().association_edges == 18
    assert len(graph.external_inputs) == 10
    assert all(f.endswith("_rate.fits") for f in graph.external_inputs)


def test_missing_inputs_name_their_readers(compat_dir, tmp_path):
    graph = build_graph([expected(compat_dir, WFSS)])
    missing = graph.missing_inputs(tmp_path)
    assert set(missing) == set(graph.external_inputs)
    first = sorted(missing)[0]
    (tmp_path / first).write_text("raw")
    assert first not in graph.missing_inputs(tmp_path)
    assert len(graph.missing_inputs(tmp_path)) == len(missing) - 1


# --------------------------------------------------------------------------- refusals


def test_two_producers_of_one_file_are_refused(compat_dir):
    with pytest.raises(GraphError) as caught:
        build_graph([expected(compat_dir, "jw00632_dups")])
    message = caught.value.one_line()
    assert "two producers" in message
    assert "wfscmb" in message and "\n" not in message


def test_cycles_are_refused(tmp_path):
    # image2 "a" reads image3's mosaic; image3 "mosaic" reads a's _cal: a cycle through two files.
    write_asn(tmp_path, "a_image2_asn", "image2", [("jw_a", [("jw_a_rate.fits", "science"), ("mosaic_i2d.fits", "background")])])
    write_asn(tmp_path, "b_image3_asn", "image3", [("mosaic", [("jw_a_cal.fits", "science")])])
    with pytest.raises(GraphError) as caught:
        build_graph([tmp_path])
    message = str(caught.value)
    assert "cycle" in message
    assert "jw_a_cal.fits" in message and "mosaic_i2d.fits" in message


def test_two_files_with_the_same_stem_are_refused(tmp_path):
    first = write_asn(tmp_path, "x_asn", "image2", [("jw_a", [("jw_a_rate.fits", "science")])])
    other = tmp_path / "elsewhere"
    other.mkdir()
    second = write_asn(other, "x_asn", "image2", [("jw_b", [("jw_b_rate.fits", "science")])])
    with pytest.raises(GraphError, match="share the id"):
        build_graph([first, second])


def test_member_with_a_folder_is_refused(tmp_path):
    path = write_asn(tmp_path, "x_asn", "image2", [("jw_a", [("../jw_a_rate.fits", "science")])])
    with pytest.raises(AsnflowError, match="plain file name"):
        load_associations([path])


def test_graph_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad_asn.json"
    bad.write_text('{"asn_type": "image2", "products": [')
    assert main(["graph", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(str(bad)) and "\n" not in err
    assert main(["graph", str(tmp_path / "nowhere")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["graph", str(empty)]) == 2
    assert "no association files" in capsys.readouterr().err


# --------------------------------------------------------------------------- formats


def test_text_format_summary_line_and_generations(compat_dir, capsys):
    assert main(["graph", str(expected(compat_dir, WFSS))]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "12 associations, 18 association edges, 4 generations; 10 exposures"
    assert [l.split(":")[0] for l in lines if l.startswith("generation ")] == [f"generation {i}" for i in range(1, 5)]
    assert "external inputs: 10" in out


def test_json_format_is_node_link_data_with_both_layers(compat_dir, capsys):
    assert main(["graph", str(expected(compat_dir, WFSS)), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    graph = nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    kinds = nx.get_node_attributes(graph, "kind")
    associations = [n for n, k in kinds.items() if k == "association"]
    assert len(associations) == 12
    assert sum(1 for k in kinds.values() if k == "exposure") == 10
    assert graph.subgraph(associations).number_of_edges() == 18
    assert len(list(nx.topological_generations(graph.subgraph(associations)))) == 4
    assert data["graph"]["associations"] == 12 and data["graph"]["association_edges"] == 18
    assert data["graph"]["generations"] == 4
    for node in data["nodes"]:
        assert node["asn_type"] and node["outputs"]
    spec3 = next(n for n in data["nodes"] if n["asn_type"] == "spec3")
    assert spec3["outputs"] == ["jw87800-o017_t002_niriss_f200w-gr150r_x1d.fits"]


def test_no_exposures_flag_drops_the_detector1_layer(compat_dir, capsys):
    assert main(["graph", str(expected(compat_dir, WFSS)), "--format", "json", "--no-exposures"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {n["kind"] for n in data["nodes"]} == {"association"}
    assert len(data["nodes"]) == 12 and len(data["edges"]) == 18


def test_dot_and_mermaid_name_every_node_and_edge(compat_dir, tmp_path):
    folder = expected(compat_dir, WFSS)
    graph = build_graph([folder])
    dot_file = tmp_path / "graph.dot"
    mermaid_file = tmp_path / "graph.mmd"
    assert main(["graph", str(folder), "--format", "dot", "-o", str(dot_file)]) == 0
    assert main(["graph", str(folder), "--format", "mermaid", "-o", str(mermaid_file)]) == 0
    dot = dot_file.read_text()
    assert dot.startswith("digraph asnflow {") and dot.rstrip().endswith("}")
    for node_id in graph.nodes:
        assert f'"{node_id}" [' in dot
    assert dot.count(" -> ") == graph.summary().edges
    mermaid = mermaid_file.read_text().splitlines()
    assert mermaid[0] == "flowchart LR"
    declared = [l for l in mermaid if l.strip().startswith("n") and '["' in l]
    assert len(declared) == len(graph.nodes)
    assert sum(1 for l in mermaid if " --> " in l) == graph.summary().edges
    named = {l.split(" = ", 1)[1] for l in mermaid if l.strip().startswith("%% n")}
    assert named == set(graph.nodes)


def test_png_and_svg_pictures(compat_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    folder = expected(compat_dir, WFSS)
    png = tmp_path / "graph.png"
    svg = tmp_path / "graph.svg"
    assert main(["graph", str(folder), "--format", "png", "-o", str(png)]) == 0
    assert main(["graph", str(folder), "--format", "svg", "-o", str(svg)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    root = ElementTree.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg")
    assert "o017 image3_00001" in svg.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.png", "graph.svg"]
    assert main(["graph", str(folder), "--format", "png"]) == 2
    assert "-o FILE" in capsys.readouterr().err


def test_yaml_association_files_give_the_same_graph(compat_dir, tmp_path):
    from asnflow.asnfile import files as asnfile

    folder = expected(compat_dir, WFSS)
    for path in folder.glob("*_asn.json"):
        (tmp_path / f"{path.stem}.yaml").write_text(asnfile.dumps(asnfile.load(path), "yaml"))
    from_json = build_graph([folder])
    from_yaml = build_graph([tmp_path])
    assert set(from_yaml.nodes) == set(from_json.nodes)
    assert sorted(from_yaml.digraph.edges) == sorted(from_json.digraph.edges)
    # a folder and a file inside it name that file once
    one = next(tmp_path.glob("*_image3_*"))
    assert len(build_graph([tmp_path, one]).association_ids()) == 12
