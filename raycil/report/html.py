"""``report.html``: the sweep's summary in one self-contained page (styles inline, plots embedded
as data URIs), readable offline in any browser."""

from __future__ import annotations

import base64
import datetime
import html
from pathlib import Path

import pandas as pd

from raycil.report.flags import RULE
from raycil.report.loading import Experiment
from raycil.report.tables import flagged_table, objective_line, paired_table

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1400px;
       padding: 0 1rem; color: #1b1f24; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; } h3 { font-size: 1rem; }
.meta { color: #57606a; font-size: .9rem; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: right; white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
.flag td:last-child { text-align: left; white-space: normal; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
.flag { background: #fff4e5; border-left: 4px solid #d97706; padding: .6rem 1rem; }
.ok { color: #1a7f37; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: .85rem; }
details pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .8rem; }
"""


def _table(frame: pd.DataFrame) -> str:
    """The frame with its index as the first column, headed by the index's name."""
    flat = frame.rename_axis(columns=None).reset_index()
    return f'<div class="wide">{flat.to_html(escape=True, border=0, na_rep="-", index=False)}</div>'


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    name = html.escape(path.stem.replace("_", " "))
    return (f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
            f"<figcaption>{name} (also <code>plots/{html.escape(path.name)}</code> and its SVG)"
            "</figcaption></figure>")


def report_html(exp: Experiment, counts: str, tables: list[tuple[str, pd.DataFrame]], paired: pd.DataFrame,
                flagged: pd.DataFrame, importance: str, plots: list[Path]) -> str:
    """The page: header and outcome counts, summary tables, paired differences, suspicious
    seeds, parameter importances, plots, and the sweep's settings."""
    s = exp.sweep
    esc = html.escape
    parts = [f"<h1>{esc(s.name)}</h1>",
             f'<p class="meta">{esc(str(exp.path))} · report built '
             f"{datetime.datetime.now():%Y-%m-%d %H:%M} · {esc(counts)}</p>",
             f"<p>{esc(objective_line(s))} Cells: test data, mean ± "
             "half-width of the 95% t-interval over seeds; the number of seeds (and of flagged ones) beside "
             "them or in brackets. "
             "Metrics in percent.</p>"]
    if not tables:
        parts.append("<p>No trial has finished all its phases yet.</p>")
    for title, table in tables:
        parts += [f"<h2>{esc(title or 'summary')}</h2>", _table(table)]
    if not paired.empty:
        first = exp.done["variant"].iloc[0]
        parts += [f"<h2>difference to {esc(str(first))}, paired by seed</h2>",
                  "<p>Mean difference ± half-width of its 95% t-interval [pairs] and the paired "
                  "t-test p-value.</p>",
                  _table(paired_table(exp, paired, first))]
    parts.append("<h2>suspicious seeds</h2>")
    if flagged.empty:
        parts.append(f'<p class="ok">None ({esc(RULE)}).</p>')
    else:
        parts += [f'<div class="flag"><p>{len(flagged)} trial(s) flagged; they are kept in the means above. '
                  f"The rule: {esc(RULE)}.</p>{_table(flagged_table(exp, flagged))}</div>"]
    if importance:
        parts += ["<h2>parameter importances</h2>", f"<p>{esc(importance)}</p>"]
    if plots:
        parts += ["<h2>plots</h2>", *(_figure(p) for p in plots)]
    parts += ["<h2>settings</h2>", "<details><summary>the sweep as run (sweep.json)</summary><pre>"
              f"{esc(s.model_dump_json(indent=2))}</pre></details>"]
    body = "\n".join(parts)
    head = f'<meta charset="utf-8"><title>{esc(s.name)} — raycil report</title><style>{STYLE}</style>'
    return f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head>\n<body>\n{body}\n</body></html>\n'
