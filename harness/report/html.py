"""One self-contained HTML file of a report: the Markdown report rendered, every figure embedded as a data URI,
so it opens offline in any browser and in the MLflow UI's artifact view, with nothing beside it."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import markdown

STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}td:first-child,
th:first-child{text-align:left}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}
figcaption{font-size:0.85em;color:#555}code{background:#f6f6f6;padding:0 3px}"""
FIGURE_ORDER = ("samples_avg_targets", "curve_differences", "samples_all", "forest")
# After load, the page records how many figures decoded (data-figures="3/3"): what the browser test reads.
CHECK = ("<script>addEventListener('load',()=>{const i=[...document.images];"
         "document.body.dataset.figures=i.filter(x=>x.complete&&x.naturalWidth>0).length+'/'+i.length})</script>")


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(path.name)}</figcaption></figure>")


def render_html(title: str, report_md: str, figures: list[Path]) -> str:
    """`figures`: PNG files, shown first in FIGURE_ORDER (curves, then differences, then the rest)."""
    pngs = sorted((p for p in figures if p.suffix == ".png"),
                  key=lambda p: next((i for i, s in enumerate(FIGURE_ORDER) if p.stem.startswith(s)), 99))
    body = markdown.markdown(report_md, extensions=["tables"], output_format="html")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{html.escape(title)}</h1>\n<section id=\"figures\">{''.join(_figure(p) for p in pngs)}</section>\n"
            f"<section id=\"report\">{body}</section>\n{CHECK}\n</body></html>\n")
