"""Human-readable views of a scores document: a text table, a PNG figure, one offline HTML page."""
from __future__ import annotations

import base64
import html
import io
from typing import Dict, List, Optional

import numpy as np


def _fmt(stat: Optional[Dict], pct: bool = False, digits: int = 3) -> str:
    if stat is None or stat.get("value") is None:
        return "n/a"
    scale = 100.0 if pct else 1.0
    unit = "%" if pct else ""
    d = 1 if pct else digits
    text = f"{stat['value'] * scale:.{d}f}{unit}"
    if stat.get("ci95"):
        lo, hi = stat["ci95"]
        text += f" [{lo * scale:.{d}f}, {hi * scale:.{d}f}]"
    return text


def _hype(stat: Dict) -> str:
    # hype_infinity is already a percentage.
    if stat.get("value") is None:
        return "n/a"
    text = f"{stat['value']:.1f}%"
    if stat.get("ci95"):
        text += f" [{stat['ci95'][0]:.1f}, {stat['ci95'][1]:.1f}]"
    return text


def summary_lines(scores: Dict) -> List[str]:
    """Plain-text summary (what ``gandiag human-score`` prints)."""
    o = scores["overall"]
    lines = [
        f"kit {scores['kit_id']}: {scores['participants_included']} of {scores['participants_total']} participants "
        f"included, {o['scored_trials']} scored trials on {o['images']} images",
        f"  accuracy        {_fmt(o['accuracy'], pct=True)}",
        f"  fool rate       {_fmt(o['fool_rate'], pct=True)}   (fakes judged real)",
        f"  real error rate {_fmt(o['real_error_rate'], pct=True)}   (reals judged fake)",
        f"  HYPE_inf        {_hype(o['hype_infinity'])}   (50% = indistinguishable)",
        f"  d'              {_fmt(o['d_prime'], digits=2)}",
        f"  criterion c     {_fmt(o['criterion'], digits=2)}   (> 0: bias towards 'real')",
    ]
    if scores.get("hype_time_ms"):
        h = scores["hype_time_ms"]
        ci = f" [{h['ci95'][0]:.0f}, {h['ci95'][1]:.0f}]" if h.get("ci95") else ""
        lines.append(f"  HYPE_time       {h['value']:.0f} ms{ci}   (mean modal staircase exposure)")
    if scores["by_exposure"]:
        lines.append("  by exposure:")
        for e in scores["by_exposure"]:
            label = "untimed" if e["exposure_ms"] is None else f"{e['exposure_ms']:g} ms"
            lines.append(f"    {label:>9}  n={e['scored_trials']:<5d} accuracy {_fmt(e['accuracy'], pct=True)}  "
                         f"fool rate {_fmt(e['fool_rate'], pct=True)}")
    lines.extend(model_lines(scores))
    lines.extend(analysis_lines(scores))
    lines.extend(quality_lines(scores))
    return lines


_STAT_NAMES = {"fool_rate": "fool rate", "hype_infinity": "HYPE_inf", "d_prime": "d'"}


def _diff(c: Dict) -> str:
    pct = c["stat"] == "fool_rate"
    scale, unit, d = (100.0, " pts", 1) if pct else (1.0, "", 2)
    if c["difference"] is None:
        return "n/a"
    text = f"{c['difference'] * scale:+.{d}f}{unit}"
    if c["ci95"]:
        text += f" [{c['ci95'][0] * scale:+.{d}f}, {c['ci95'][1] * scale:+.{d}f}]"
        text += "  (CI excludes 0)" if c["ci_excludes_zero"] else "  (CI includes 0)"
    return text


def model_lines(scores: Dict) -> List[str]:
    """Per-model scores and paired differences (several generators in one kit)."""
    if len(scores.get("by_model") or []) < 2:
        return []
    lines = ["  by model (all real images shared; paired bootstrap over the same participants and images):"]
    for m in scores["by_model"]:
        lines.append(f"    {m['model']:<12} n_fake={m['fake_trials']:<5d} fool rate {_fmt(m['fool_rate'], pct=True)}  "
                     f"HYPE_inf {_hype(m['hype_infinity'])}  d' {_fmt(m['d_prime'], digits=2)}")
    for c in scores["model_comparisons"]:
        lines.append(f"    {c['a']} - {c['b']}: {_STAT_NAMES[c['stat']]} {_diff(c)}")
    return lines


def analysis_lines(scores: Dict) -> List[str]:
    """Agreement between participants and reaction times."""
    lines = []
    ag = scores.get("agreement") or {}
    if ag.get("images_rated_twice_or_more"):
        k, a = ag["fleiss_kappa"], ag["krippendorff_alpha"]
        lines.append(f"  agreement: Fleiss' kappa {'n/a' if k is None else f'{k:.3f}'}, Krippendorff's alpha "
                     f"{'n/a' if a is None else f'{a:.3f}'} ({ag['images_rated_twice_or_more']} images rated by 2+ "
                     f"of {ag['raters']} participants)")
    rt = scores.get("reaction_times_ms")
    if rt and rt.get("all"):
        r = rt["all"]
        extra = ""
        if rt.get("correct") and rt.get("wrong"):
            extra = f"; correct {rt['correct']['median']:.0f}, wrong {rt['wrong']['median']:.0f}"
        lines.append(f"  reaction time after the mask: median {r['median']:.0f} ms (IQR {r['q25']:.0f}-{r['q75']:.0f})"
                     + extra)
    fakes = [e for e in scores.get("by_image") or [] if e["truth"] == "fake"]
    if fakes:
        best = max(fakes, key=lambda e: (e["judged_real_rate"], e["n"]))
        lines.append(f"  most convincing fake: {best['image']} judged real {best['judged_real']}/{best['n']} "
                     "(per-image rates in scores.json by_image; grid in images_grid.png)")
    return lines

def quality_lines(scores: Dict) -> List[str]:
    """Timing flags, fast answers and exclusions, one line each (printed and in the HTML)."""
    q = scores.get("quality") or {}
    lines = []
    if q.get("timed_scored_trials"):
        n, total = q["timing_flagged_scored_trials"], q["timed_scored_trials"]
        what = "excluded from the scores" if q["timing_flagged_excluded"] else \
            "still scored; --exclude-late-trials drops them"
        lines.append(f"  timing: {n} of {total} scored trials off by a frame or more / late frames ({what})")
    if q.get("fast_trials"):
        what = "excluded" if q["fast_excluded"] else "still scored; --exclude-fast drops them"
        lines.append(f"  {q['fast_trials']} answers faster than {q['rules']['min_rt_ms']:g} ms after the mask ({what})")
    for p in scores["participants"]:
        if p["excluded"]:
            lines.append(f"  excluded {p['participant']}: {p['exclusion_reason']}")
    return lines


def render_png(scores: Dict) -> bytes:
    """Two panels: accuracy / fool rate per exposure with 95% CIs; accuracy per participant."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.4), dpi=110)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    rows = scores["by_exposure"]
    x = list(range(len(rows)))
    labels = ["untimed" if r["exposure_ms"] is None else f"{r['exposure_ms']:g}" for r in rows]
    for key, name, color, marker, dx in (("accuracy", "accuracy", "tab:blue", "o", -0.04),
                                         ("fool_rate", "fool rate (fakes judged real)", "tab:red", "s", 0.04)):
        ys = [r[key]["value"] if r[key]["value"] is not None else float("nan") for r in rows]
        lo = [y - r[key]["ci95"][0] if r[key]["ci95"] else 0.0 for y, r in zip(ys, rows)]
        hi = [r[key]["ci95"][1] - y if r[key]["ci95"] else 0.0 for y, r in zip(ys, rows)]
        # Nudged sideways so the two interval bars do not hide each other.
        ax1.errorbar([v + dx for v in x], ys, yerr=[lo, hi], color=color, marker=marker, capsize=4, label=name)
    ax1.axhline(0.5, color="0.5", linestyle="--", linewidth=1, label="chance")
    ax1.set_xticks(x)
    ax1.set_xticklabels(labels)
    ax1.set_xlabel("exposure (ms)")
    ax1.set_ylim(-0.02, 1.02)
    ax1.set_ylabel("proportion")
    ax1.set_title("per exposure (95% bootstrap CI)")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8, frameon=False)
    parts = scores["participants"]
    accs = [p["accuracy"] if p["accuracy"] is not None else float("nan") for p in parts]
    colors = ["0.6" if p["excluded"] else "tab:blue" for p in parts]
    ax2.scatter(range(len(parts)), accs, c=colors, zorder=3)
    ax2.axhline(0.5, color="0.5", linestyle="--", linewidth=1)
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xticks(range(len(parts)))
    ax2.set_xticklabels([p["participant"] for p in parts], rotation=90 if len(parts) > 8 else 0, fontsize=7)
    ax2.set_title("accuracy per participant (grey: excluded)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _model_html(scores: Dict) -> str:
    if len(scores.get("by_model") or []) < 2:
        return ""
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(m['model'])}</td><td><code>{esc(str(m['spec']))}</code></td><td>{m['fake_trials']}</td>"
                   f"<td>{esc(_fmt(m['fool_rate'], pct=True))}</td><td>{esc(_hype(m['hype_infinity']))}</td>"
                   f"<td>{esc(_fmt(m['d_prime'], digits=2))}</td></tr>" for m in scores["by_model"])
    comps = "".join(f"<tr><td>{esc(c['a'])} &minus; {esc(c['b'])}</td><td>{esc(_STAT_NAMES[c['stat']])}</td>"
                    f"<td>{esc(_diff(c))}</td></tr>" for c in scores["model_comparisons"])
    return ("<h2>By model</h2><table><tr><th>model</th><th>source</th><th>fake trials</th><th>fool rate</th>"
            f"<th>HYPE_inf</th><th>d'</th></tr>{rows}</table><h3>Paired differences [95% CI]</h3><table>"
            f"<tr><th>models</th><th>measure</th><th>difference</th></tr>{comps}</table>")


def render_image_grid(scores: Dict, kit_dir, columns: int = 10) -> Optional[bytes]:
    """PNG grid of the fake images, most convincing first, each labelled with how often it was judged real.

    ``kit_dir`` holds ``images/`` (the kit folder); ``None`` when there are no fake images to show
    or the kit's images are not there.
    """
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    fakes = sorted((e for e in scores.get("by_image") or [] if e["truth"] == "fake"),
                   key=lambda e: (-e["judged_real_rate"], -e["n"], e["image"]))
    if not fakes or not all((Path(kit_dir) / "images" / f"{e['image']}.png").is_file() for e in fakes):
        return None
    columns = min(columns, len(fakes))
    rows = -(-len(fakes) // columns)
    several = len(scores.get("models") or []) > 1
    fig = Figure(figsize=(max(4.0, 1.3 * columns), 1.55 * rows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.suptitle("fake images, most often judged real first\n(judged real / shown" + ("; model)" if several else ")"),
                 fontsize=9)
    for k, e in enumerate(fakes):
        ax = fig.add_subplot(rows, columns, k + 1)
        path = Path(kit_dir) / "images" / f"{e['image']}.png"
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        ax.imshow(pixels, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        label = f"{e['judged_real']}/{e['n']}"
        if several:
            label += f" {e['model']}"
        ax.set_title(label, fontsize=7)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (1.55 * rows + 0.6)))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def render_html(scores: Dict, png: bytes) -> str:
    """One self-contained HTML page (figure embedded as a data URI)."""
    esc = html.escape
    o = scores["overall"]
    overall_rows = [("accuracy", _fmt(o["accuracy"], pct=True)), ("fool rate (fakes judged real)",
                    _fmt(o["fool_rate"], pct=True)), ("real error rate (reals judged fake)",
                    _fmt(o["real_error_rate"], pct=True)), ("HYPE_inf-style error (50% = indistinguishable)",
                    _hype(o["hype_infinity"])), ("d'", _fmt(o["d_prime"], digits=2)),
                    ("criterion c (> 0: bias towards 'real')", _fmt(o["criterion"], digits=2))]
    if scores.get("hype_time_ms"):
        h = scores["hype_time_ms"]
        ci = f" [{h['ci95'][0]:.0f}, {h['ci95'][1]:.0f}]" if h.get("ci95") else ""
        overall_rows.append(("HYPE_time (mean modal staircase exposure)", f"{h['value']:.0f} ms{ci}"))
    t1 = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in overall_rows)
    t2 = "".join(
        f"<tr><td>{esc(e['label'])}</td><td>{e['scored_trials']}</td><td>{esc(_fmt(e['accuracy'], pct=True))}</td>"
        f"<td>{esc(_fmt(e['fool_rate'], pct=True))}</td><td>{esc(_fmt(e['d_prime'], digits=2))}</td></tr>"
        for e in scores["by_exposure"])

    def cell(v, pct=False):
        if v is None:
            return "n/a"
        return f"{100 * v:.1f}%" if pct else f"{v:.2f}"

    t3_rows = []
    for p in scores["participants"]:
        cls = ' class="excluded"' if p["excluded"] else ""
        stair = "" if p["staircase_threshold_ms"] is None else f"{p['staircase_threshold_ms']:g}"
        note = p["exclusion_reason"] or ("incomplete" if not p["complete"] else "")
        t3_rows.append(
            f"<tr{cls}><td>{esc(p['participant'])}</td><td>{esc(p['mode'])}</td><td>{p['scored_trials']}</td>"
            f"<td>{cell(p['accuracy'], True)}</td><td>{cell(p['fool_rate'], True)}</td>"
            f"<td>{cell(p['d_prime'])}</td><td>{cell(p['criterion'])}</td>"
            f"<td>{p['attention']['passed']}/{p['attention']['checks']}</td><td>{stair}</td>"
            f"<td>{esc(note)}</td></tr>")
    t3 = "".join(t3_rows)
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Human study scores: {esc(str(scores.get('title') or scores['kit_id']))}</title>
<style>body{{font-family:system-ui,"DejaVu Sans",sans-serif;max-width:1000px;margin:20px auto;padding:0 12px}}
table{{border-collapse:collapse;margin:8px 0 18px}}td,th{{border:1px solid #bbb;padding:3px 8px;text-align:left}}
th{{background:#eee}}tr.excluded td{{color:#888}}img{{max-width:100%}}.small{{color:#555;font-size:.85em}}</style>
</head><body>
<h1>Human study scores</h1>
<p>Kit <code>{esc(scores['kit_id'])}</code>: {scores['participants_included']} of {scores['participants_total']}
participants included, {o['scored_trials']} scored trials on {o['images']} images.
Real: <code>{esc(str((scores.get('sources') or {}).get('real', {}).get('spec', '?')))}</code>,
fake: <code>{esc(str((scores.get('sources') or {}).get('fake', {}).get('spec', '?')))}</code>.</p>
<h2>Overall</h2><table><tr><th>measure</th><th>value [95% CI]</th></tr>{t1}</table>
<img src="{uri}" alt="accuracy and fool rate per exposure; accuracy per participant">
<h2>By exposure</h2><table><tr><th>exposure (ms)</th><th>trials</th><th>accuracy</th><th>fool rate</th><th>d'</th></tr>{t2}</table>
{_model_html(scores)}
<h2>Agreement and reaction times</h2><ul>{"".join(f"<li>{esc(line.strip())}</li>" for line in analysis_lines(scores)) or "<li>n/a</li>"}</ul>
<h2>Quality</h2><ul>{"".join(f"<li>{esc(line.strip())}</li>" for line in quality_lines(scores)) or "<li>no flags</li>"}</ul>
<h2>Participants</h2><table><tr><th>id</th><th>mode</th><th>trials</th><th>accuracy</th><th>fool rate</th><th>d'</th>
<th>c</th><th>attention</th><th>staircase (ms)</th><th>note</th></tr>{t3}</table>
<p class="small">Confidence intervals: {esc(str(scores['bootstrap']['replicates']))} bootstrap replicates resampling
{esc(scores['bootstrap']['resampled'])}, seed {scores['seed']}. d' correction: {esc(scores['dprime_correction'])}.
Signal = {esc(scores['signal'])}. gandiag {esc(scores['gandiag_version'])}.</p>
</body></html>
"""
