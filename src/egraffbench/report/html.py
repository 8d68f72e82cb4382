"""The report as one self-contained HTML page: inline CSS, figures embedded as base64 PNG, no scripts and no
external resources, so it opens offline and can be mailed as a single file."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape

from egraffbench import __version__
from egraffbench.report import captions
from egraffbench.report.assemble import Figure, Report, TaskReport
from egraffbench.report.findings import NO_BETTER_THAN_BASELINE, Finding
from egraffbench.report.paper import findings_of
from egraffbench.report.paper.render import findings_html
from egraffbench.report.table import Cell, Leaderboard, Row, format_interval, format_value
from egraffbench.store.catalog import COLUMN_BY_KEY, PRETRAINED_NOTE, Column, format_number

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; margin: 0;
       background: #fff; line-height: 1.45; }
main { max-width: 1500px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.35em; margin-top: 42px; padding-bottom: 4px; border-bottom: 2px solid #e5e7eb; }
h3 { font-size: 1.08em; margin: 28px 0 8px; }
.meta { color: #4b5563; margin: 2px 0; }
.box { background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 6px; padding: 10px 18px; }
.kind { font-size: .7em; font-weight: 500; background: #e0e7ff; color: #3730a3; border-radius: 4px;
        padding: 2px 8px; vertical-align: middle; }
nav ul { columns: 2; margin: 6px 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .8em; margin: 6px 0; }
th, td { border: 1px solid #e5e7eb; padding: 4px 5px; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; text-align: center; }
th .unit { display: block; font-weight: 400; color: #6b7280; font-size: .9em; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
td.best { background: #dcfce7; }
td.best .v { font-weight: 700; }
.ci, .rank, .ratio { display: block; font-size: .82em; color: #6b7280; }
.ratio.bad { color: #b91c1c; font-weight: 600; }
tr.reference td { font-style: italic; background: #fafafa; }
tr.baseline td { background: #fff7ed; color: #9a3412; }
td.model { font-weight: 600; white-space: nowrap; }
.place { color: #6b7280; font-weight: 400; }
.caption { color: #4b5563; font-size: .9em; max-width: 1000px; }
.row { display: flex; flex-wrap: wrap; gap: 24px; }
.row figure { flex: 1 1 560px; max-width: 660px; }
figure { margin: 14px 0 26px; }
figure img { max-width: 100%; border: 1px solid #e5e7eb; }
figcaption { color: #374151; font-size: .92em; max-width: 1000px; margin-top: 4px; }
figcaption b { color: #111827; }
.note { color: #92400e; }
.findings li { margin: 4px 0; }
.error { font-family: ui-monospace, monospace; font-size: .85em; color: #b91c1c; }
dl.definitions dt { font-weight: 600; margin-top: 8px; }
dl.definitions dd { margin-left: 18px; }
footer { color: #9ca3af; font-size: .8em; margin-top: 40px; }
.verdict { font-size: .8em; font-weight: 600; border-radius: 4px; padding: 1px 8px; vertical-align: middle; }
.verdict.reproduced { background: #dcfce7; color: #166534; }
.verdict.refuted { background: #fee2e2; color: #991b1b; }
.verdict.inconclusive { background: #f3f4f6; color: #374151; }
"""


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def _el(tag: str, content: str = "", **attributes: str) -> str:
    """An element; ``content`` is HTML (escape text first), attribute values are escaped here (``cls`` is
    the class attribute)."""
    attrs = "".join(
        f' {"class" if k == "cls" else k.replace("_", "-")}="{escape(v)}"' for k, v in attributes.items()
    )
    return f"<{tag}{attrs}>{content}</{tag}>"


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _cell(cell: Cell, column: Column) -> str:
    parts = [_el("span", format_value(cell, column), cls="v")]
    interval = format_interval(cell, column)
    if interval is not None:
        parts.append(_el("span", interval, cls="ci"))
    if cell.rank is not None:
        parts.append(_el("span", f"rank {cell.rank}", cls="rank"))
    if cell.baseline_ratio is not None:
        bad = " bad" if cell.baseline_ratio >= NO_BETTER_THAN_BASELINE else ""
        parts.append(_el("span", f"{cell.baseline_ratio:.2f} × baseline", cls=f"ratio{bad}"))
    value = "" if cell.value is None else repr(float(cell.value))
    classes = "num best" if cell.best else "num"
    return _el("td", "".join(parts), cls=classes, data_metric=column.key, data_value=value)


def _header(column: Column) -> str:
    content = escape(column.header) + _el("span", f"{escape(column.unit)} {column.arrow}".strip(), cls="unit")
    return _el("th", content, title=column.description)


def _row(row: Row, columns: list[Column]) -> str:
    place = _el("span", f"{row.place}.", cls="place") + " " if row.place else ""
    name = place + escape(row.model) + ("<br><small>(reference potential)</small>" if row.reference else "")
    if row.pretrained:
        name += f'<br><small title="{escape(PRETRAINED_NOTE)}">(pretrained: not trained here)</small>'
    cells = [
        _el("td", name, cls="model"),
        _el("td", str(row.seeds), cls="num"),
        _el("td", "—" if row.mean_rank is None else f"{row.mean_rank:.2f}", cls="num"),
        *(_cell(row.cells[c.key], c) for c in columns),
    ]
    return _el("tr", "".join(cells), cls="reference" if row.reference else "model", data_model=row.model)


BASELINE_LABELS = {"force_mae": "zero forces", "energy_mae_per_atom": "per-element mean E"}


def _baseline_row(board: Leaderboard) -> str:
    if board.baselines is None:
        return ""
    cells = [_el("td", "trivial baseline", cls="model"), _el("td"), _el("td")]
    for column in board.columns:
        value = board.baselines.of(column.key)
        label = _el("span", BASELINE_LABELS.get(column.key, ""), cls="ci")
        text = "" if value is None else format_number(value, column) + label
        cells.append(_el("td", text, cls="num", data_metric=column.key))
    return _el("tr", "".join(cells), cls="baseline")


def leaderboard_html(board: Leaderboard) -> str:
    """The leaderboard table of one task with its caption and the columns left out."""
    mean_rank = "mean rank" + _el("span", "↓", cls="unit")
    headers = [_el("th", "model"), _el("th", "seeds"), _el("th", mean_rank)]
    headers += [_header(column) for column in board.columns]
    rows = "".join(_row(row, board.columns) for row in board.rows) + _baseline_row(board)
    table = _el(
        "table",
        _el("thead", _el("tr", "".join(headers))) + _el("tbody", rows),
        cls="leaderboard",
        id=f"leaderboard-{_slug(board.task)}",
    )
    table = _el("div", table, cls="scroll")
    missing = "".join(
        _el("li", _el("b", escape(COLUMN_BY_KEY[key].header)) + ": " + escape(reason))
        for key, reason in board.missing.items()
    )
    left_out = (
        _el("p", "Columns left out:", cls="caption") + _el("ul", missing, cls="caption") if missing else ""
    )
    return table + _el("p", escape(captions.LEADERBOARD), cls="caption") + left_out


def replicas_phrase(replicas: Mapping[str, int], temperatures: Mapping[str, float]) -> str:
    """How many replicas of which test system ran at which temperature, systems of the same count and
    temperature named together: "10 replicas of md17-ethanol at 500 K", "2 replicas of each of 16 systems
    (Li, P, …) at 3000 K"."""
    groups: dict[tuple[int, float], list[str]] = {}
    for name, count in replicas.items():
        groups.setdefault((count, temperatures.get(name, float("nan"))), []).append(name)
    phrases = []
    for (count, temperature), names in groups.items():
        noun = "replica" if count == 1 else "replicas"
        which = names[0] if len(names) == 1 else f"each of {len(names)} systems ({', '.join(names)})"
        phrases.append(f"{count} {noun} of {which} at {temperature:.0f} K")
    return ", ".join(phrases)


def _protocol(task: TaskReport) -> str:
    protocol = task.protocol
    if not protocol:
        return ""
    steps, timestep = protocol.get("steps"), protocol.get("timestep_fs")
    systems = replicas_phrase(protocol.get("replicas", {}), protocol.get("temperatures_K", {}))
    length = f" = {steps * timestep / 1000:.3g} ps" if steps and timestep else ""
    text = (
        f"MD: {protocol.get('ensemble', '')}, {steps} steps of {timestep} fs{length}; {systems} per seed, "
        "started from the first test frames."
    )
    return _el("p", escape(f"{text} {_stability_rule(protocol)}".strip()), cls="meta")


def _stability_rule(protocol: dict) -> str:
    """The stability watch's horizon and failure criteria, as the MD record states them."""
    criteria, timestep = protocol.get("stability"), protocol.get("timestep_fs")
    if not criteria or not timestep or not protocol.get("steps"):
        return ""
    horizon = max(protocol["steps"], protocol.get("stability_steps") or 0)  # MDProtocol.horizon_steps
    relabelling = " with no relabelling of its atoms mending it" if criteria.get("bond_relabelling") else ""
    return (
        f"Stable: no failure to {horizon * timestep / 1000:.3g} ps, checked every "
        f"{protocol.get('check_every')} steps; a failure is a temperature above "
        f"{criteria['temperature_factor']:g}× the target, two atoms closer than "
        f"{criteria['pair_floor']:g} Å, a molecule's bond off its initial length by more than "
        f"{criteria['bond_deviation']:g} Å{relabelling}, or a periodic g(r) over the last "
        f"{criteria['rdf_window']} frames off the reference by a mean |Δg| above "
        f"{criteria['rdf_mae_bound']:g}."
    )


def _figure(figure: Figure) -> str:
    caption = _el("b", escape(figure.title) + ".") + " " + escape(figure.caption)
    return _el(
        "figure", _image(figure.png, figure.title) + _el("figcaption", caption), id=_slug(figure.anchor)
    )


def _figures(figures: list[Figure]) -> str:
    """Figures in order; consecutive half-width ones side by side."""
    html, row = [], []
    for figure in [*figures, None]:
        if figure is not None and figure.half:
            row.append(_figure(figure))
            continue
        if row:
            html.append(_el("div", "".join(row), cls="row"))
            row = []
        if figure is not None:
            html.append(_figure(figure))
    return "".join(html)


def _failures(task: TaskReport) -> str:
    rows = "".join(
        _el(
            "tr",
            _el("td", escape(model))
            + _el("td", escape(", ".join(f"{n} × {r}" for r, n in sorted(c.items())))),
        )
        for model, c in task.failure_reasons.items()
        if c
    )
    if not rows:
        return ""
    header = _el("tr", _el("th", "model") + _el("th", "failed replicas × reason"))
    return _el("h3", "Why replicas failed") + _el("table", header + rows)


def _task_section(task: TaskReport) -> str:
    spec = task.spec
    kind = " " + _el("span", escape(spec.kind), cls="kind") if spec is not None else ""
    parts = [_el("h2", f"Task {escape(task.name)}{kind}")]
    if spec is not None:
        parts.append(_el("p", escape(spec.description)))
    parts += [_protocol(task), _el("h3", "Leaderboard"), leaderboard_html(task.board)]
    if task.notes:
        parts.append(_el("ul", "".join(_el("li", escape(note), cls="note") for note in task.notes)))
    parts += [_failures(task), _el("h3", "Figures"), _figures(task.figures)]
    return _el("section", "".join(parts), id=f"task-{_slug(task.name)}")


def _sentence(topic: str) -> str:
    return topic if topic.endswith(("?", ".", "!")) else topic + "."


def _findings(findings: list[Finding]) -> str:
    if not findings:
        return _el("p", "No findings: the run has too few finished models to compare.")
    items = "".join(_el("li", _el("b", escape(_sentence(f.topic))) + " " + escape(f.text)) for f in findings)
    return _el("ul", items, cls="findings")


def _failed_jobs(report: Report) -> str:
    failed = report.view.failed_jobs()
    if not failed:
        return ""
    header = _el("tr", _el("th", "job") + _el("th", "status") + _el("th", "error"))
    rows = "".join(
        _el(
            "tr",
            _el("td", escape(j.job_id))
            + _el("td", escape(j.status))
            + _el("td", escape(j.error or ""), cls="error"),
        )
        for j in failed
    )
    content = _el("h2", "Jobs that did not finish") + _el("p", "They are left out of every table and figure.")
    return _el("section", content + _el("table", header + rows), id="failed")


def _contents(report: Report) -> str:
    links = [("findings", "Findings"), ("paper-findings", "The paper's findings, checked")] + [
        (f"task-{_slug(t.name)}", f"Task {t.name}") for t in report.tasks
    ]
    if report.view.failed_jobs():
        links.append(("failed", "Jobs that did not finish"))
    links.append(("definitions", "Metric definitions"))
    items = "".join(_el("li", _el("a", escape(text), href=f"#{anchor}")) for anchor, text in links)
    return _el("nav", _el("b", "Contents") + _el("ul", items))


def _summary(report: Report) -> str:
    view = report.view
    seeds = len(view.run["settings"].get("seeds", [])) or len({job.seed for job in view.jobs})
    models = ", ".join(dict.fromkeys(job.model for job in view.jobs))
    text = (
        f"Run {view.run_id} ({view.run.get('status') or ''}, {view.run.get('mode') or ''} mode) "
        f"in {view.run_dir.resolve()}. "
        f"Models: {models}; {seeds} seed(s); {len(view.jobs)} jobs."
    )
    if view.merged:
        text = (
            f"{len(view.sources)} runs merged: models {models}; {seeds} seed(s); {len(view.jobs)} jobs, each "
            "used once (a job is the same in two folders when its stage cache keys are)."
        )
    command = view.run.get("command")
    line = _el("p", "Command: " + _el("code", escape(command)), cls="meta") if command else ""
    if view.merged:
        items = "".join(_el("li", escape(source.describe())) for source in view.sources)
        line += _el("ul", items, cls="meta", id="runs")
    if view.unsummarised:
        names = ", ".join(f"{model} on {task}" for model, task in view.unsummarised)
        note = (
            f"This run has not finished (status {view.run.get('status')}): the rows of {names} were "
            "summarised by the report from the jobs finished so far; they may change when the run completes."
        )
        line += _el("p", escape(note), cls="note")
    return _el("p", escape(text), cls="meta") + line


def render_html(report: Report) -> str:
    """The whole report page."""
    title = "egraffbench report — " + ", ".join(task.name for task in report.tasks)
    definitions = "".join(
        _el("dt", escape(term)) + _el("dd", escape(text)) for term, text in captions.DEFINITIONS
    )
    body = [
        _el("h1", escape(title)),
        _summary(report),
        _el("div", _el("b", "How to read this report.") + " " + escape(captions.HOW_TO_READ), cls="box"),
        _contents(report),
        _el(
            "section",
            _el("h2", "Findings")
            + _el("p", escape(captions.FINDINGS_NOTE), cls="caption")
            + _findings(report.findings),
            id="findings",
        ),
        findings_html(findings_of(report.tasks)),
        *(_task_section(task) for task in report.tasks),
        _failed_jobs(report),
        _el(
            "section",
            _el("h2", "Metric definitions") + _el("dl", definitions, cls="definitions"),
            id="definitions",
        ),
        _el("footer", escape(f"egraffbench {__version__} · report generated {report.generated}")),
    ]
    head = (
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        + _el("title", escape(title))
        + _el("style", CSS)
    )
    page = _el("head", head) + _el("body", _el("main", "\n".join(body)))
    return "<!DOCTYPE html>\n" + _el("html", page, lang="en") + "\n"
