"""`gantool report`: one self-contained HTML page comparing runs (no network needed to view it).

Everything is inline: CSS, a few lines of script for the sample strips, SVG charts, and the
sample grids as data: URIs. Every string from a run directory is HTML-escaped, so a hostile
config or file name shows as text and never runs.
"""

from __future__ import annotations

import base64
import json
import math
from html import escape
from pathlib import Path

from gantool.report.charts import colour, line_chart
from gantool.report.listing import evaluation_values, steps_text
from gantool.report.listing import row as listing_row
from gantool.report.rundata import Run

MAX_FRAMES = 40  # sample grids per strip: a long run keeps evenly spaced ones
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CURVES = (("loss_d", "D's loss"), ("loss_g", "G's loss"), ("d_real", "D(x) on real data"),
          ("d_fake", "D(G(z)) on fakes"), ("grad_g", "|grad| of G"), ("grad_d", "|grad| of D"),
          ("grad_g_rel", "G's gradient relative to its first"),
          ("diversity", "sample diversity (share of the real data's)"),
          ("modes_hit", "modes hit (2-D mixtures)"), ("modes_near", "modes covered"),
          ("high_quality", "share of high-quality samples"),
          ("near_share", "share of samples near a mode"),
          ("loss_g_swing", "G's loss swing (non-convergence check)"),
          ("loss_g_trend", "G's loss trend (non-convergence check)"),
          ("img_per_s", "images per second"))
SKIP_CURVES = {"step", "epoch", "diag", "modes_total"}


def flatten(options: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in options.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value)
    return flat


def curve_names(runs: list[Run]) -> list[tuple[str, str]]:
    """The known curves present in any run, then every other numeric field (nested ones, such
    as in-training metrics, as group/name)."""
    present = {}
    for run in runs:
        for record in run.records:
            for key, value in record.items():
                if isinstance(value, dict) and key not in SKIP_CURVES:
                    for sub, v in value.items():
                        if isinstance(v, (int, float)) and not isinstance(v, bool):
                            present[f"{key}/{sub}"] = f"{key}/{sub}"
                elif (isinstance(value, (int, float)) and not isinstance(value, bool)
                      and key not in SKIP_CURVES):
                    present[key] = key
    known = [(key, label) for key, label in CURVES if key in present]
    return known + [(key, key) for key in present if key not in dict(CURVES)]


def _value(record: dict, key: str):
    if "/" in key:
        group, name = key.split("/", 1)
        record = record.get(group) if isinstance(record.get(group), dict) else {}
        key = name
    value = record.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _data_uri(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):  # not a PNG: leave it out rather than show a hole
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _frames(run: Run) -> list[tuple[int, str]]:
    samples = run.samples
    if len(samples) > MAX_FRAMES:
        keep = {round(i * (len(samples) - 1) / (MAX_FRAMES - 1)) for i in range(MAX_FRAMES)}
        samples = [s for i, s in enumerate(samples) if i in keep]
    frames = [(step, _data_uri(path)) for step, path in samples]
    return [(step, uri) for step, uri in frames if uri is not None]


def _legend(runs: list[Run]) -> str:
    items = "".join(f'<span class="key"><i style="background:{colour(i)}"></i>'
                    f"{escape(run.name)}</span>" for i, run in enumerate(runs))
    return f'<div class="legend">{items}</div>'


def overview_section(runs: list[Run]) -> str:
    rows = []
    for i, run in enumerate(runs):
        entry = listing_row(run)
        rows.append(f'<tr><td><i class="swatch" style="background:{colour(i)}"></i>'
                    f"{escape(run.name)}</td><td>{escape(str(run.path))}</td>"
                    f"<td>{escape(steps_text(entry))}</td>"
                    f'<td class="status-{entry["status"]}">{entry["status"]}</td></tr>')
    return ('<section id="overview"><h2>Runs</h2><table><tr><th>run</th><th>directory</th>'
            f'<th>steps</th><th>status</th></tr>{"".join(rows)}</table></section>')


def _options_table(runs: list[Run], keys: list[str], flats: list[dict], css: str) -> str:
    head = "".join(f"<th>{escape(run.name)}</th>" for run in runs)
    rows = "".join(f'<tr class="{css}"><th>{escape(key)}</th>'
                   + "".join(f"<td>{escape(flat.get(key, '-'))}</td>" for flat in flats)
                   + "</tr>" for key in keys)
    return f'<table class="{css}"><tr><th>option</th>{head}</tr>{rows}</table>'


def config_section(runs: list[Run]) -> str:
    """The options that differ first (highlighted), the shared ones folded away below."""
    flats = [flatten(run.options) for run in runs]
    keys = sorted(set().union(*flats))
    differ = [k for k in keys if len({flat.get(k, "-") for flat in flats}) > 1]
    same = [k for k in keys if k not in differ]
    if len(runs) == 1:
        return ('<section id="config"><h2>Config</h2>'
                f'{_options_table(runs, keys, flats, "same")}</section>')
    shown = (_options_table(runs, differ, flats, "differs") if differ
             else "<p>The runs have the same options.</p>")
    return (f'<section id="config"><h2>Config</h2><p>{len(differ)} of {len(keys)} options '
            f"differ between the runs:</p>{shown}<details><summary>{len(same)} options the same "
            f'in every run</summary>{_options_table(runs, same, flats, "same")}</details>'
            "</section>")


def curves_section(runs: list[Run]) -> str:
    charts = []
    for key, label in curve_names(runs):
        series = [[(r["step"], v) for r in run.records if (v := _value(r, key)) is not None]
                  for run in runs]
        svg = line_chart(label, series)
        if svg:
            charts.append(f'<figure class="curve" data-metric="{escape(key)}">'
                          f"<figcaption>{escape(label)}</figcaption>{svg}</figure>")
    body = "".join(charts) or "<p>No metrics were logged yet.</p>"
    return (f'<section id="curves"><h2>Curves</h2>{_legend(runs)}'
            f'<div class="charts">{body}</div></section>')


def samples_section(runs: list[Run]) -> str:
    strips, finals = [], []
    for index, run in enumerate(runs):
        frames = _frames(run)
        name = escape(run.name)
        if not frames:
            strips.append(f"<h3>{name}</h3><p>No sample grids.</p>")
            continue
        thumbs = "".join(f'<img src="{uri}" alt="step {step}" data-step="{step}" '
                         f'data-index="{i}">' for i, (step, uri) in enumerate(frames))
        last_step, last_uri = frames[-1]
        strips.append(
            f'<div class="strip" id="strip-{index}"><h3>{name}</h3>'
            f'<input type="range" min="0" max="{len(frames) - 1}" value="{len(frames) - 1}" '
            f'aria-label="step of {name}"> <span class="step">step {last_step}</span>'
            f'<div class="frame"><img class="shown" src="{last_uri}" alt="{name} samples"></div>'
            f'<div class="thumbs">{thumbs}</div></div>')
        finals.append(f'<figure class="final"><img src="{last_uri}" alt="{name} final samples">'
                      f"<figcaption>{name}, step {last_step}</figcaption></figure>")
    return ('<section id="samples"><h2>Samples over time</h2><p>Drag a slider or click a '
            f'thumbnail.</p><div class="strips">{"".join(strips)}</div></section>'
            f'<section id="final"><h2>Final samples</h2>{"".join(finals) or "<p>None.</p>"}'
            "</section>")


def _advice(kind: str, run: Run) -> str:
    try:  # the diagnostics' own words; it imports torch, so only when something was flagged
        from gantool.train.diagnostics import advice

        return advice(kind, str(run.options.get("loss", "")), run.options.get("r1") or 0.0,
                      bool(run.options.get("spectral_norm")))
    except Exception:  # a flag this version does not know: show the flag without advice
        return ""


def flags_section(runs: list[Run]) -> str:
    items = []
    for run in runs:
        flags = run.flags()
        if not flags:
            checks = sum(isinstance(r.get("diag"), dict) for r in run.records)
            items.append(f'<li class="clear"><b>{escape(run.name)}</b>: nothing flagged in '
                         f"{checks} checks</li>")
        for kind, f in flags.items():
            items.append(
                f'<li class="flag"><b>{escape(run.name)}</b>: {escape(kind.replace("_", " "))}'
                f' flagged in {f["count"]} of {f["checks"]} checks, first at step '
                f'{f["first_step"]}. {escape(_advice(kind, run))}</li>')
    return f'<section id="flags"><h2>Failure modes</h2><ul>{"".join(items)}</ul></section>'


def evaluation_section(runs: list[Run]) -> str:
    values = [evaluation_values(run) for run in runs]
    metrics = sorted(set().union(*values))
    if not metrics:
        return ('<section id="evaluation"><h2>Evaluation</h2><p>No evaluation results '
                "(write them with gantool evaluate --run RUN --json &gt; RUN/evaluation.json)."
                "</p></section>")
    head = "".join(f"<th>{escape(run.name)}</th>" for run in runs)
    rows = "".join(
        f"<tr><th>{escape(m)}</th>"
        + "".join(f"<td>{v[m]:.4g}</td>" if m in v and math.isfinite(v[m]) else "<td>-</td>"
                  for v in values) + "</tr>" for m in metrics)
    return (f'<section id="evaluation"><h2>Evaluation</h2><table><tr><th>metric</th>{head}'
            f"</tr>{rows}</table></section>")


def render(runs: list[Run], title: str) -> str:
    body = "".join([overview_section(runs), config_section(runs), curves_section(runs),
                    samples_section(runs), flags_section(runs), evaluation_section(runs)])
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1>{body}<script>{SCRIPT}</script></body></html>")


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #eee}
tr.differs{background:#fff3b0}tr.differs th{font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:12px}.curve{margin:0}.chart{width:460px;height:220px}
.chart .frame{fill:none;stroke:#999}.chart .grid{stroke:#eee}.chart .tick{font-size:10px;fill:#555}
.legend .key{margin-right:1.2em}.legend i,.swatch{display:inline-block;width:12px;height:12px;
margin-right:4px;vertical-align:middle}
.strips{display:flex;flex-wrap:wrap;gap:2em}.strip{margin-bottom:1em;max-width:460px}.strip .frame img{image-rendering:pixelated;width:280px}
.thumbs{display:flex;gap:2px;overflow-x:auto}.thumbs img{width:48px;cursor:pointer;opacity:.6}
.thumbs img.on{opacity:1;outline:2px solid #1f77b4}
.final{display:inline-block;margin:0 1em 1em 0}.final img{image-rendering:pixelated;width:280px}
.flag{color:#a00}.clear{color:#060}.status-diverged{color:#a00}.status-running{color:#06c}
"""

SCRIPT = """
document.querySelectorAll('.strip').forEach(function (strip) {
  var slider = strip.querySelector('input'), shown = strip.querySelector('img.shown');
  var label = strip.querySelector('.step'), thumbs = strip.querySelectorAll('.thumbs img');
  function show(i) {
    slider.value = i; shown.src = thumbs[i].src;
    label.textContent = 'step ' + thumbs[i].dataset.step;
    thumbs.forEach(function (t, j) { t.classList.toggle('on', j === Number(i)); });
  }
  slider.addEventListener('input', function () { show(slider.value); });
  thumbs.forEach(function (t) { t.addEventListener('click', function () { show(t.dataset.index); }); });
  show(slider.value);
});
"""
