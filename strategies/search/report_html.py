"""The search report as ONE self-contained HTML page: plots as base64 data URIs, no external file, no network,
no script library. Every string from the summary is escaped. A few inline lines set
``document.body.dataset.imagesRendered`` after load (the number of images that decoded), which a headless
browser test reads back.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np

from strategies.search.report import Derived, curve, num

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.9em;word-break:break-all}img{max-width:100%;height:auto;display:block;margin:.6em 0}
.st-finished{color:#2b4d70}.st-stopped{color:#b35f00}.st-diverged{color:#a0281b}.muted{color:#666}
"""
SCRIPT = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.dataset.imagesRendered = String(ok);
  document.body.dataset.imagesTotal = String(imgs.length);
});
</script>"""


def e(x: Any) -> str:
    """Escaped text; ``null`` as an em dash."""
    return "\u2014" if x is None else html.escape(str(x), quote=True)


def f(x: Any, nd: int = 2) -> str:
    """A number with ``nd`` decimals; missing as an em dash."""
    v = num(x)
    return "\u2014" if not math.isfinite(v) else f"{v:,.{nd}f}"


def _table(
    header: Iterable[str] | None, rows: Iterable[Iterable[str]], numeric: Collection[int] = ()
) -> str:
    """Cells arrive escaped/formatted already; no header row for a key/value table."""
    head = (
        ""
        if header is None
        else "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead>"
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{c}</td>' if j in numeric else f"<td>{c}</td>" for j, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _img(pngs: Mapping[str, bytes], name: str, alt: str) -> str:
    if name not in pngs:
        return ""
    data = base64.b64encode(pngs[name]).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" alt="{e(alt)}" title="{e(name)}" decoding="sync">'
    )


def _curve_text(c: np.ndarray) -> str:
    return ", ".join(f(v) for v in c) if len(c) else "\u2014"


def _header(s: dict[str, Any]) -> str:
    b = s["budget"]
    unit = b.get("unit") or "epochs"
    state = (
        "finished" if s.get("finished") else "still running (this report shows the state so far)"
    )
    es = s.get("early_stop") or {}
    nd = 0 if unit == "epochs" else 2
    rows = [
        ("dataset", e(s["dataset"])),
        ("preset", e(s.get("preset"))),
        ("seed", e(s.get("seed"))),
        ("epochs of one full training", e(s.get("epochs"))),
        ("search", e(state)),
        (
            "budget spent / total",
            f"{f(b.get('spent'), nd)} / {f(b.get('total'), nd)} {e(unit)} "
            f"({f(100 * num(b.get('fraction')), 1)}%)",
        ),
        ("epochs trained", f(b.get("spent_epochs"), 0)),
        ("training seconds (measured)", f(b.get("spent_train_s"), 0)),
        ("screening seconds (proxies, predictor fits)", f(b.get("screen_s"), 0)),
        ("wall seconds", f(s.get("wall_s"), 0)),
        ("workers / where", f"{e(s.get('workers'))} / {e(s.get('where'))}"),
        ("prior", e(s.get("prior") or "none")),
        (
            "early stopping",
            f"{e(es.get('rule'))}, threshold {e(es.get('threshold'))}, "
            f"extrapolator {e(es.get('extrapolator', 'fast'))}{' (fitted)' if es.get('fit') else ''}, "
            f"checkpoints {e(es.get('checkpoints'))}",
        ),
    ]
    return _table(None, rows)


def _best(s: dict[str, Any], pngs: Mapping[str, bytes]) -> str:
    best = s["best"]
    img = _img(pngs, "best_curve.png", "validation and test accuracy per epoch of the best cell")
    if best is None:
        return f'<p class="muted">No training has finished yet.</p>{img}'
    rows = [
        ("architecture", f"<code>{e(best.get('arch'))}</code>"),
        ("trial / cell index", f"{e(best.get('trial'))} / {e(best.get('cell'))}"),
        ("validation accuracy (%)", f(best.get("valid_acc"))),
        ("test accuracy (%)", f(best.get("test_acc"))),
        ("parameters (M)", f(best.get("params_m"), 3)),
        ("FLOPs (M)", f(best.get("flops_m"), 1)),
        ("validation curve (per epoch)", _curve_text(curve(best.get("curve")))),
        ("test curve (per epoch)", _curve_text(curve(best.get("test_curve")))),
    ]
    return _table(None, rows) + img


def _pareto(s: dict[str, Any], d: Derived, pngs: Mapping[str, bytes]) -> str:
    img = _img(pngs, "pareto.png", "validation accuracy against parameters; Pareto front")
    if not len(d.front):
        return f'<p class="muted">No finished trial with a parameter count yet.</p>{img}'
    rows = []
    for i in d.front:
        t = s["trials"][i]
        rows.append(
            (
                e(t.get("trial")),
                f"<code>{e(t.get('arch'))}</code>",
                f(t.get("params_m"), 3),
                f(t.get("valid_acc")),
                f(t.get("test_acc")),
            )
        )
    intro = (
        f"<p>{len(d.front)} finished trial(s) that no other finished trial beats on both validation "
        "accuracy and parameter count (fewest parameters first).</p>"
    )
    head = ("trial", "architecture", "params (M)", "valid acc (%)", "test acc (%)")
    return intro + _table(head, rows, {2, 3, 4}) + img


def _spent_avoided(s: dict[str, Any], d: Derived, pngs: Mapping[str, bytes]) -> str:
    a, b = s["avoided"], s["budget"]
    T = num(s["epochs"])
    trained = int(np.count_nonzero(d.epochs_done > 0))
    counts = {
        st: int(np.count_nonzero(d.status == st)) for st in ("finished", "stopped", "diverged")
    }
    running = int(np.count_nonzero((d.status == "training") & (d.epochs_done > 0)))
    spent = (
        f"{trained} trial(s) trained ({counts['finished']} to the end, {counts['stopped']} stopped early, "
        f"{counts['diverged']} diverged, {running} still training)"
    )
    screened = (
        f"{d.screened_out} candidate(s) scored but never trained; "
        f"{d.screened_out} \u00d7 {f(T, 0)} epochs would have cost if trained"
    )
    rows = [
        ("training spent", spent, f(d.spent_epochs, 0), f(b.get("spent_train_s"), 0)),
        (
            "avoided: stopped early",
            f"{e(a.get('stopped_trials'))} trial(s) stopped before epoch {f(T, 0)}",
            f(d.stopped_epochs, 0),
            f(a.get("stopped_train_s_est"), 0) + " (est.)",
        ),
        ("avoided: screened out", screened, f(d.screened_epochs, 0), "\u2014"),
    ]
    head = ("", "what", "epochs", "training seconds")
    return _table(head, rows, {2, 3}) + _img(
        pngs, "budget.png", "best so far vs epochs spent; spent vs avoided"
    )


def _trials(s: dict[str, Any]) -> str:
    rows = []
    for t in s["trials"]:
        st = e(t.get("status"))
        c = curve(t.get("curve"))
        last = c[-1] if len(c) else t.get("valid_acc")
        rows.append(
            (
                e(t.get("trial")),
                f'<span class="st-{st}">{st}</span>',
                e(t.get("epochs_done")),
                f(last),
                f(t.get("predicted_final")),
                f(t.get("p_better"), 3),
                f(t.get("params_m"), 3),
                e(t.get("reason")),
                f"<code>{e(t.get('arch'))}</code>",
            )
        )
    head = (
        "trial",
        "status",
        "epochs",
        "last valid acc (%)",
        "predicted final (%)",
        "P(better)",
        "params (M)",
        "reason",
        "architecture",
    )
    return _table(head, rows, {2, 3, 4, 5, 6})


def render_html(s: dict[str, Any], d: Derived, pngs: Mapping[str, bytes]) -> str:
    """The whole page as one string (UTF-8)."""
    title = f"nasscout search report: {s['dataset']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        _header(s),
        "<h2>Best cell</h2>",
        _best(s, pngs),
        "<h2>Pareto front (validation accuracy vs parameters)</h2>",
        _pareto(s, d, pngs),
        "<h2>Training spent vs training avoided</h2>",
        _spent_avoided(s, d, pngs),
        f"<h2>Trials ({len(s['trials'])})</h2>",
        _trials(s),
        '<p class="muted">Made by nasscout from summary.json; the plots are also beside this file as PNGs, '
        "the trials as trials.csv.</p>",
        SCRIPT,
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
