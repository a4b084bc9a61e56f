"""The report page: one self-contained HTML file (plotly.js inlined once, no network needed).

:func:`render_report` returns the HTML text; :func:`write_report` writes it atomically (a temporary
file in the target folder, then a rename), so a reader never sees half a page. The page shows the
study's name, dataset, budget, fidelity and dates at the top, the figures of
:func:`mgsearch.report.figures.report_figures`, and a table of all trials sortable by clicking a
column header (a few lines of inline JavaScript). Storage URLs are shown with the password removed;
nothing else about the storage is written. The page carries :data:`GENERATOR_META`, by which
:func:`is_report` recognises an earlier report, the only existing file written over without ``force``
(:func:`mgsearch.outputs.check_out_file`: never a database or the study's own files).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from pathlib import Path
from typing import Any, Iterable

from mgsearch.errors import MgsearchError
from mgsearch.outputs import check_out_file, write_text_atomic
from mgsearch.metrics import Metric
from mgsearch.report.analysis import (
    StudyData,
    TrialRecord,
    best,
    pareto_front,
    redact_url,
    state_counts,
    study_metrics,
    widths_text,
)
from mgsearch.pareto import front_axis
from mgsearch.report.series import compare_to_baseline, export_command, short_hash, trial_seconds

__all__ = ["GENERATOR_META", "is_report", "render_report", "write_report"]

#: the marker in every report's <head>: an existing file carrying it is an earlier report
GENERATOR_META = '<meta name="generator" content="mgsearch report">'

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#222}
h1{margin:0 0 4px 0;font-size:1.6em} h2{margin-top:28px;font-size:1.2em;border-bottom:1px solid #ddd}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:10px 0;font-size:.95em}
.meta dt{color:#666} .meta dd{margin:0}
.counts span{display:inline-block;margin-right:14px}
.figure{margin:10px 0 18px 0}
table.trials{border-collapse:collapse;font-size:.85em;width:100%}
table.trials th{position:sticky;top:0;background:#f4f4f4;cursor:pointer;user-select:none;text-align:left;padding:4px 6px;border-bottom:2px solid #ccc}
table.trials th[aria-sort=ascending]::after{content:" \\25B2"} table.trials th[aria-sort=descending]::after{content:" \\25BC"}
table.trials td{padding:2px 6px;border-bottom:1px solid #eee;white-space:nowrap}
table.trials td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.front td{background:#fff4e6} .tablewrap{max-height:640px;overflow:auto;border:1px solid #ddd}
td.cmd code{font-size:.95em;color:#333} button.copy{font-size:.8em;margin-right:6px;cursor:pointer}
.answer{margin:10px 0;padding:8px 12px;background:#f6f9fc;border-left:4px solid #f58518}
.note{color:#666;font-size:.9em} dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:0 14px;font-size:.8em;margin:0 0 0 80px}
dl.legend dt{font-family:monospace;color:#444} dl.legend dd{margin:0;color:#444}
footer{margin-top:24px;color:#888;font-size:.8em}
"""

# Sort the trials table by the clicked column: numbers by value, text by locale; empty cells last.
_JS = """
(function(){
  var table=document.getElementById('trials'); if(!table) return;
  var heads=table.tHead.rows[0].cells;
  function key(td){var v=td.getAttribute('data-v'); return v===null?td.textContent:v;}
  for(var i=0;i<heads.length;i++){(function(col){
    heads[col].addEventListener('click',function(){
      var th=heads[col], asc=th.getAttribute('aria-sort')!=='ascending';
      for(var j=0;j<heads.length;j++) heads[j].removeAttribute('aria-sort');
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var numeric=th.getAttribute('data-type')==='num', body=table.tBodies[0];
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=key(a.cells[col]), y=key(b.cells[col]);
        if(x===''&&y==='') return 0; if(x==='') return 1; if(y==='') return -1;
        var c=numeric?(parseFloat(x)-parseFloat(y)):String(x).localeCompare(String(y));
        return asc?c:-c;});
      var frag=document.createDocumentFragment(); rows.forEach(function(r){frag.appendChild(r);}); body.appendChild(frag);
    });})(i);}
})();
// copy a trial's export command (the clipboard API where allowed, else a selection and execCommand)
document.addEventListener('click',function(ev){
  var b=ev.target; if(!b.classList||!b.classList.contains('copy')) return; ev.stopPropagation();
  var code=b.parentNode.querySelector('code'), text=code.textContent;
  function done(){b.textContent='copied'; setTimeout(function(){b.textContent='copy';},1500);}
  function fallback(){var r=document.createRange(); r.selectNodeContents(code); var s=window.getSelection();
    s.removeAllRanges(); s.addRange(r); try{document.execCommand('copy');}catch(e){} done();}
  if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(text).then(done,fallback);}
  else fallback();
});
"""

def _columns(shown: list[Metric]) -> list[tuple[str, str]]:
    """The trials table's headers and types: trial, status, one column per shown metric, front, family, widths."""
    return ([("trial", "num"), ("status", "text")] + [(m.header, "num") for m in shown]
            + [("time (s)", "num"), ("front", "text"), ("spec", "text"), ("export", "text"), ("family", "text"),
               ("widths", "text")])


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _num_cell(v: float | int | None, metric: Metric) -> str:
    if v is None:
        return '<td class="num" data-v="">-</td>'
    return f'<td class="num" data-v="{v!r}">{_e(metric.cell(v))}</td>'


def _row(rec: TrialRecord, on_front: bool, baseline: bool, shown: list[Metric], data: StudyData) -> str:
    spec = rec.spec
    seconds = trial_seconds(rec)
    command = export_command(data, rec)
    number = f'<td class="num" data-v="{-1 if baseline else rec.number}">{_e(rec.label)}</td>'
    status = "baseline" if baseline else rec.status
    cells = [
        number,
        f"<td>{_e(status)}</td>",
        *(_num_cell(rec.value(m.name), m) for m in shown),
        '<td class="num" data-v="">-</td>' if seconds is None else
        f'<td class="num" data-v="{seconds!r}">{seconds:,.1f}</td>',
        f"<td>{'yes' if on_front else ''}</td>",
        f'<td class="hash" title="{_e(rec.spec_hash or "")}"><code>{_e(short_hash(rec))}</code></td>',
        '<td class="cmd" data-v=""></td>' if command is None else
        f'<td class="cmd" data-v="{_e(command)}"><button class="copy" type="button" '
        f'title="copy the export command">copy</button><code>{_e(command)}</code></td>',
        f"<td>{_e(spec.family if spec else '-')}</td>",
        f"<td>{_e(widths_text(rec).split(': ', 1)[-1])}</td>",
    ]
    cls = ' class="front"' if on_front else ""
    return f"<tr{cls}>" + "".join(cells) + "</tr>"


def _answer_html(data: StudyData) -> str:
    """Which network at the budget, and is it better than the obvious one (the best baseline)."""
    cmp = compare_to_baseline(data)
    top, base = cmp.best, cmp.baseline

    def desc(r: TrialRecord) -> str:
        cost = f", {r.params:,} params" if r.params is not None else ""
        return f"val acc {r.val_acc:.4f}{cost}"

    if top is None:
        return '<div class="answer" id="answer">No trained feasible trial yet.</div>'
    text = f"<b>Best at the budget: trial {top.number}</b> ({_e(desc(top))})"
    if base is not None:
        gain = 100 * (cmp.gain or 0.0)
        verdict = "better than" if gain > 0 else ("level with" if gain == 0 else "worse than")
        text += (f"; <b>{abs(gain):.1f} points {verdict}</b> the best baseline "
                 f"<b>{_e(base.label)}</b> ({_e(desc(base))})." if gain else
                 f"; level with the best baseline <b>{_e(base.label)}</b> ({_e(desc(base))}).")
    else:
        where = data.source or "STUDY.toml"
        text += (f'. <span class="note">No baseline in this database to compare with: '
                 f"<code>mgsearch baseline {_e(where)}</code> trains them at the same budget and fidelity.</span>")
    confirmed = confirmed_sentence(data)
    if confirmed:
        text += f'<br><span id="confirmed-answer"><b>Confirmed:</b> {_e(confirmed)}.</span>'
    return f'<div class="answer" id="answer">{text}</div>'


def confirmed_sentence(data: StudyData) -> str | None:
    """``found is X ± Y points above the best baseline (seeds' ranges overlap)`` with the seeds and the
    protocol, when the study has confirm runs; else None."""
    from mgsearch.report.series import confirmed_comparison

    cmp = confirmed_comparison(data)
    if not cmp.groups:
        return None
    p = cmp.groups[0].protocol
    seeds = max(len(g.accs) for g in cmp.groups)
    found = (f"{cmp.found.label} {100 * cmp.found.mean:.2f} ± {100 * cmp.found.sd:.2f} %"
             if cmp.found else "no found network")
    base = (f"{cmp.baseline.label} {100 * cmp.baseline.mean:.2f} ± {100 * cmp.baseline.sd:.2f} %"
            if cmp.baseline else "no baseline")
    return (f"{cmp.sentence()}; test accuracy over up to {seeds} seeds at {p.get('epochs')} epochs on "
            f"{p.get('train_fraction')} of the training split: {found} vs {base}")


def _fmt_budget(b: dict[str, Any]) -> str:
    parts = [f"{k.removeprefix('max_')} &le; {v:,}" for k, v in b.items() if v is not None]
    return " and ".join(parts) if parts else "none"


def _fmt_date(d: _dt.datetime | None) -> str:
    return d.strftime("%Y-%m-%d %H:%M") if d else "-"


def render_report(data: StudyData, *, now: _dt.datetime | None = None) -> str:
    """The report of ``data`` as one self-contained HTML document."""
    import plotly.io as pio
    import plotly.offline

    from mgsearch.report.figures import report_figures

    now = now or _dt.datetime.now().astimezone()
    recs = data.records
    front_ids = {id(r) for r in pareto_front(recs, front_axis(data.objectives))}  # the search summary's front
    counts = state_counts(recs)
    starts = [r.datetime_start for r in recs if r.datetime_start]
    ends = [r.datetime_complete for r in recs if r.datetime_complete]
    try:
        top = best(data)
        best_text = (f"trial {top.number}: val acc {top.val_acc:.4f}, {top.params:,} params, "
                     f"{top.macs:,} MACs" if top.params is not None and top.macs is not None
                     else f"trial {top.number}: val acc {top.val_acc:.4f}")
    except MgsearchError:
        best_text = "no trained feasible trial yet"
    fid = data.fidelity or {}
    fid_text = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in fid.items()) or "-"
    meta = [
        ("study", data.name),
        ("dataset", data.dataset or "-"),
        ("budget", None),
        ("fidelity", fid_text),
        ("objectives", ", ".join(data.objectives)),
        ("trials", f"{len(recs)} (from {_fmt_date(min(starts) if starts else None)} "
                   f"to {_fmt_date(max(ends) if ends else None)})"),
        ("best feasible", best_text),
        ("storage", redact_url(data.storage)),
        ("report date", now.strftime("%Y-%m-%d %H:%M %Z").strip()),
    ]
    meta_html = "".join(
        f"<dt>{_e(k)}</dt><dd>{_fmt_budget(data.budget) if k == 'budget' else _e(v)}</dd>" for k, v in meta
    )
    counts_html = "".join(
        f'<span><b data-count="{_e(k)}">{v}</b> {_e(k)}</span>' for k, v in counts.items() if v or k == "trained"
    )
    config = {"displaylogo": False, "responsive": True}
    figs_html = []
    for anchor, fig in report_figures(data):
        div = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=f"fig-{anchor}", config=config,
                          default_height=f"{fig.layout.height or 460}px")
        legend = (fig.layout.meta or {}).get("legend") if isinstance(fig.layout.meta, dict) else None
        if legend:  # a figure's abbreviations, spelled out below it
            div += '<dl class="legend">' + "".join(f"<dt>{_e(a)}</dt><dd>{_e(b)}</dd>" for a, b in legend) + "</dl>"
        figs_html.append(f'<section class="figure" id="{_e(anchor)}">{div}</section>')
    shown = study_metrics(data)
    head = "".join(f'<th data-type="{t}">{_e(n)}</th>' for n, t in _columns(shown))
    rows = [_row(r, id(r) in front_ids, False, shown, data) for r in recs]
    rows += [_row(r, False, True, shown, data) for r in data.baselines]
    title = f"mgsearch report: {data.name}"
    doc_info = json.dumps({"study": data.name, "trials": len(recs), "baselines": len(data.baselines)}).replace("</", "<\\/")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        GENERATOR_META,
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style>",
        f"<script>{plotly.offline.get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<dl class="meta">{meta_html}</dl>',
        f'<div class="counts">{counts_html}</div>',
        _answer_html(data),
        *figs_html,
        f"<h2>Trials ({len(recs)}; click a column to sort; Pareto set by {_e(front_axis(data.objectives))} "
        "highlighted, as in the search summary; copy a row's export command to export that trial)</h2>",
        f'<div class="tablewrap"><table class="trials" id="trials"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>",
        f'<footer>Generated by mgsearch. <script type="application/json" id="report-info">{doc_info}</script></footer>',
        f"<script>{_JS}</script>",
        "</body></html>",
    ])


def is_report(path: str | Path) -> bool:
    """Whether ``path`` is a report mgsearch wrote: :data:`GENERATOR_META` near the top, or (pages
    written before the marker) the ``report-info`` block near the end."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            fh.seek(0, 2)
            fh.seek(max(fh.tell() - 65536, 0))
            tail = fh.read()
    except OSError:
        return False
    return GENERATOR_META.encode() in head or (head.startswith(b"<!DOCTYPE html>") and b'id="report-info"' in tail)


def write_report(data: StudyData, out: str | Path, *, force: bool = False, protect: Iterable[Path] = ()) -> Path:
    """Render and write the report to ``out`` atomically; returns the path written.

    An existing ``out`` is replaced only when it is an earlier report or with ``force``; never a
    database, a link, a FIFO or device, or one of ``protect`` (the study's own files).
    """
    text = render_report(data)
    out = check_out_file(out, force=force, is_own=is_report, protected=protect, what="mgsearch report")
    return write_text_atomic(out, text)
