"""One self-contained HTML page from :class:`~asnflow.report.collect.ReportFacts`.

Styles, script, the graph (SVG) and the previews (PNG data URIs) are inline;
a Content-Security-Policy forbids the page any network access. Every value
taken from the files is escaped.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from importlib import resources
from urllib.parse import quote

from asnflow import __version__
from asnflow.report.collect import AssociationRow, ReportFacts
from asnflow.workflow.draw.style import STATUS_COLOURS, NodeStatus, status_colour

_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _asset(name: str) -> str:
    return resources.files("asnflow.report").joinpath("assets", name).read_text(encoding="utf-8")


def render_html(facts: ReportFacts) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{escape(facts.title)}</title>",
        f"<style>\n{_asset('report.css')}</style>",
        "</head>",
        "<body>",
        _header(facts),
        '<nav><a href="#summary">Summary</a><a href="#associations">Associations</a><a href="#graph">Graph</a>'
        '<a href="#run">Run</a><a href="#orphans">Orphans</a><a href="#previews">Previews</a>'
        '<a href="#details">Members and products</a></nav>',
        "<main>",
        _summary(facts),
        _associations(facts),
        _graph(facts),
        _run(facts),
        _orphans(facts),
        _previews(facts),
        _details(facts),
        "</main>",
        f"<script>\n{_asset('report.js')}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _anchor(node_id: str) -> str:
    return "asn-" + node_id


def _status(status: NodeStatus | None) -> str:
    if status is None:
        return '<span class="muted">not run</span>'
    category = status.category
    colour = status_colour(category)
    return (
        f'<span class="status" style="border-color:{colour}" title="{escape(status.reason)}">{escape(category)}</span>'
    )


def _header(facts: ReportFacts) -> str:
    if facts.run_log is None:
        run = "no run yet (no run log in the data folder)"
    else:
        run = f"{len(facts.runs)} run(s) in {facts.run_log}" + (f", the last {facts.runs[-1]}" if facts.runs else "")
    lines = [
        f"associations in {facts.folder}",
        f"data in {facts.data_dir}" if facts.data_dir != facts.folder else "",
        f"pool {', '.join(facts.pools)}" if facts.pools else "",
        run,
        f"asnflow {__version__}",
    ]
    return (
        f"<header><h1>{escape(facts.title)}</h1><p>"
        + " &middot; ".join(escape(line) for line in lines if line)
        + "</p></header>"
    )


def _card(number: object, label: str, colour: str | None = None) -> str:
    style = f' style="border-left: 5px solid {colour}"' if colour else ""
    return (f'<div class="card"{style}><div class="number">{escape(str(number))}</div>'
            f'<div class="label">{escape(label)}</div></div>')


def _summary(facts: ReportFacts) -> str:
    kinds = Counter(row.asn_type for row in facts.associations)
    cards = [_card(len(facts.associations), "associations")]
    cards += [_card(count, asn_type) for asn_type, count in sorted(kinds.items())]
    cards.append(_card(sum(1 for n in facts.nodes if n.kind == "exposure"), "raw exposures (detector1)"))
    for category in STATUS_COLOURS:
        if category in facts.status_counts:
            cards.append(_card(facts.status_counts[category], f"nodes {category}", status_colour(category)))
    if facts.orphans is not None:
        cards.append(_card(len(facts.orphans), "orphaned exposures"))
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div></section>'


def _associations(facts: ReportFacts) -> str:
    types = sorted({row.asn_type for row in facts.associations})
    options = '<option value="">every asn_type</option>' + "".join(
        f'<option value="{escape(t)}">{escape(t)}</option>' for t in types
    )
    head = (
        "<tr><th>Association</th><th>asn_type</th><th>Rule</th><th>Candidate</th><th>Product</th>"
        '<th class="number">Members</th><th class="number">Science</th><th>Status</th></tr>'
    )
    body = "".join(_association_row(row) for row in facts.associations)
    return (
        '<section id="associations"><h2>Associations</h2>'
        '<div class="controls"><input id="asn-filter" type="search" placeholder="filter: name, rule, product, status" '
        'aria-label="filter associations">'
        f'<select id="asn-type" aria-label="asn_type">{options}</select>'
        '<span id="asn-count" class="shown"></span></div>'
        '<table id="asn-table" class="sortable" data-filter-text="asn-filter" data-filter-select="asn-type" '
        f'data-filter-count="asn-count" data-filter-column="1"><thead>{head}</thead><tbody>{body}</tbody></table>'
        "</section>"
    )


def _association_row(row: AssociationRow) -> str:
    products = "<br>".join(escape(p) for p in row.products)
    status = row.status.category if row.status else "not run"
    return (
        f'<tr><td><a class="mono" href="#{quote(_anchor(row.node_id))}">{escape(row.node_id)}</a></td>'
        f"<td>{escape(row.asn_type)}</td><td>{escape(row.rule)}</td><td>{escape(row.candidate)}</td>"
        f'<td class="mono">{products}</td><td class="number">{row.members}</td><td class="number">{row.science}</td>'
        f'<td data-sort="{escape(status)}">{_status(row.status)}</td></tr>'
    )


def _graph(facts: ReportFacts) -> str:
    return (
        '<section id="graph"><h2>Dependency graph</h2>'
        '<p class="muted">Fill: asn_type; outline: the last run\'s status. Hover a box for its rule, products, '
        "members and status, a link for the files it carries.</p>"
        f'<div class="graph">{facts.graph_svg}</div></section>'
    )


def _run(facts: ReportFacts) -> str:
    if facts.run_log is None:
        return '<section id="run"><h2>Run</h2><p class="muted">Nothing has run in this data folder yet.</p></section>'
    categories = sorted({n.status.category for n in facts.nodes if n.status})
    options = '<option value="">every status</option>' + "".join(
        f'<option value="{escape(c)}">{escape(c)}</option>' for c in categories
    )
    rows = []
    for node in facts.nodes:
        status = node.status.category if node.status else "not run"
        reason = node.status.reason if node.status else ""
        rows.append(
            f'<tr><td class="mono">{escape(node.node_id)}</td><td>{escape(node.asn_type)}</td>'
            f'<td data-sort="{escape(status)}">{_status(node.status)}</td><td>{escape(reason)}</td>'
            f'<td class="mono">{escape(node.time)}</td></tr>'
        )
    return (
        '<section id="run"><h2>Run</h2>'
        '<div class="controls">'
        '<input id="run-filter" type="search" placeholder="filter nodes" aria-label="filter nodes">'
        f'<select id="run-status" aria-label="status">{options}</select>'
        '<span id="run-count" class="shown"></span></div>'
        '<div class="scroll"><table id="run-table" class="sortable" data-filter-text="run-filter" '
        'data-filter-select="run-status" data-filter-count="run-count" data-filter-column="2">'
        "<thead><tr><th>Node</th><th>asn_type</th><th>Status</th><th>Reason</th><th>Finished</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _orphans(facts: ReportFacts) -> str:
    if facts.orphans is None:
        return (
            '<section id="orphans"><h2>Orphans</h2><p class="muted">Give the pool (<code>--pool POOL</code>) to list '
            "the exposures that ended in no association, each with the reason.</p></section>"
        )
    if not facts.orphans:
        return '<section id="orphans"><h2>Orphans</h2><p>Every exposure of the pool is in an association.</p></section>'
    rows = "".join(
        f'<tr><td class="mono">{escape(o.filename)}</td><td class="number">{o.line}</td><td>{escape(o.exp_type)}</td>'
        f"<td>{escape(o.reason)}</td></tr>"
        for o in facts.orphans
    )
    return (
        f'<section id="orphans"><h2>Orphans ({len(facts.orphans)})</h2>'
        '<div class="scroll"><table id="orphan-table" class="sortable"><thead><tr><th>Exposure</th>'
        '<th class="number">Pool line</th><th>exp_type</th><th>Reason</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _previews(facts: ReportFacts) -> str:
    if not facts.previews:
        return (
            '<section id="previews"><h2>Previews</h2><p class="muted">No _i2d mosaics in the data folder.</p></section>'
        )
    figures = []
    for preview in facts.previews:
        if preview.png is None:
            figures.append(
                f"<figure><figcaption>{escape(preview.product)}: {escape(preview.note)}</figcaption></figure>"
            )
        else:
            figures.append(
                f'<figure><img src="{preview.data_uri()}" alt="{escape(preview.product)} i2d preview">'
                f"<figcaption>{escape(preview.product)}_i2d.fits</figcaption></figure>"
            )
    return f'<section id="previews"><h2>Previews</h2><div class="previews">{"".join(figures)}</div></section>'


def _details(facts: ReportFacts) -> str:
    blocks = []
    for row in facts.associations:
        products = []
        for product in row.content.get("products") or []:
            members = "".join(
                f'<tr><td class="mono">{escape(str(m.get("expname", "")))}</td>'
                f'<td>{escape(str(m.get("exptype", "")))}</td></tr>'
                for m in product.get("members") or []
            )
            products.append(
                f'<h3>product <span class="mono">{escape(str(product.get("name", "")))}</span></h3>'
                f"<table><thead><tr><th>Member</th><th>exptype</th></tr></thead><tbody>{members}</tbody></table>"
            )
        facts_line = ", ".join(f"{count} {kind}" for kind, count in row.member_types.items())
        constraints = row.content.get("constraints")
        blocks.append(
            f'<details class="asn" id="{escape(_anchor(row.node_id))}">'
            f'<summary><span class="mono">{escape(row.file_name)}</span>'
            f" &middot; {escape(row.asn_type)} &middot; {escape(row.rule)} &middot; {escape(facts_line)}</summary>"
            + "".join(products)
            + (f'<h3>constraints</h3><pre class="mono">{escape(str(constraints))}</pre>' if constraints else "")
            + "</details>"
        )
    return f'<section id="details"><h2>Members and products</h2>{"".join(blocks)}</section>'

