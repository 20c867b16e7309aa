"""HTML building blocks shared by the evaluation and diagnosis reports.

Every piece of text that reaches the page goes through :func:`esc`
(``html.escape`` with quotes), images become ``data:image/png;base64`` URIs, and the
page's Content-Security-Policy forbids every fetch (``default-src 'none'``), so a
report opened from disk cannot make a network request even if a value smuggled a
URL in. Only ``#fragment`` links are produced.
"""
from __future__ import annotations

import base64
import html
import json
from importlib import resources
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple

from .. import __version__
from ..metrics.record import fmt  # one number format for report rows and metric records

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def esc(value: object) -> str:
    """Text -> HTML-safe text (``&``, ``<``, ``>``, both quotes)."""
    return html.escape(str(value), quote=True)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img(png: bytes, alt: str, *, caption: Optional[str] = None, pixels: bool = False,
        caption_html: Optional[str] = None) -> str:
    """A ``<figure>`` with the PNG inline; ``caption`` is escaped, ``caption_html`` must already be."""
    cls = ' class="pixels"' if pixels else ""
    cap = caption_html if caption_html is not None else (esc(caption) if caption else "")
    return (f'<figure><img{cls} src="{data_uri(png)}" alt="{esc(alt)}">'
            + (f"<figcaption>{cap}</figcaption>" if cap else "") + "</figure>")


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>\n{body}\n</section>'


def toc(entries: Sequence[Tuple[str, str]]) -> str:
    links = " ".join(  # spaces between links: a long table of contents wraps instead of overflowing
        f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in entries)
    return f'<nav class="toc" aria-label="sections">Sections: {links}</nav>'


def highlights(items: Iterable[Tuple[str, str]]) -> str:
    """``[(kind, text)]`` with kind in bad / warn / good / info -> a coloured list."""
    lis = "".join(f'<li class="{esc(kind)}">{esc(text)}</li>' for kind, text in items)
    return f'<ul class="highlights">{lis}</ul>' if lis else ""


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = (),
          row_classes: Optional[Sequence[str]] = None) -> str:
    """A table whose cells are already-escaped HTML; ``numeric`` columns are right-aligned."""
    num = set(numeric)
    right = ' class="num"'
    head = "".join(f'<th{right if i in num else ""}>{esc(h)}</th>' for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{esc(row_classes[r])}"' if row_classes and row_classes[r] else ""
        cells = "".join(f'<td{right if i in num else ""}>{c}</td>' for i, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def value_html(value: object, *, depth: int = 0) -> str:
    """Any JSON value as escaped HTML: dicts as nested key/value tables, short lists inline."""
    if isinstance(value, Mapping):
        if not value:
            return '<span class="muted">(none)</span>'
        return kv_table(value.items(), depth=depth + 1)
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            text = ", ".join(fmt(v) for v in value)
            return esc(text if len(text) <= 400 else text[:400] + f" … ({len(value)} values)")
        return "<br>".join(value_html(v, depth=depth) for v in value)
    if isinstance(value, str) and len(value) >= 40 and " " not in value:  # hashes, long paths
        return f'<code class="hash">{esc(value)}</code>'
    return esc(fmt(value))


def kv_table(items: Iterable[Tuple[object, object]], *, depth: int = 0) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{value_html(v, depth=depth)}</td></tr>" for k, v in items)
    return f'<table class="kv">{rows}</table>'


def json_block(value: object) -> str:
    return f"<pre>{esc(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"


def _css() -> str:
    return resources.files("gandiag.report").joinpath("assets", "report.css").read_text(encoding="utf-8")


def document(title: str, header_html: str, sections: List[str], *, footer: str = "") -> str:
    """The whole page: CSP, inline CSS, header, sections, footer. ``title`` is escaped here."""
    foot = esc(footer or f"Written by gandiag {__version__}. Self-contained: images are embedded, nothing is "
                          "fetched from the network.")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{esc(title)}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n<main>\n"
        f"<header>\n<h1>{esc(title)}</h1>\n{header_html}\n</header>\n"
        + "\n".join(sections)
        + f"\n<footer>{foot}</footer>\n</main>\n</body>\n</html>\n"
    )
