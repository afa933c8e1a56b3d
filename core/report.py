"""``genforge report RUN_DIR``: one self-contained HTML page for any training or sampling run.

The page holds the recipe (``config.yaml``), every ``*.json`` metrics file as tables, the training curves of
``metrics.jsonl`` (one panel per scalar, drawn with matplotlib) and every PNG / GIF of the folder and its
sub-folders as a gallery. Images are embedded as base64 data URIs, so the file can be mailed or archived
alone. A small inline script records on ``<body>`` how many images decoded (``data-images-loaded`` of
``data-images-total``), which the tests read back from headless Chromium.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genforge.core.atomic import atomic_write_bytes
from genforge.core.errors import DataError

REPORT_NAME = "report.html"
IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
MAX_IMAGES = 60
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto}
figure{display:inline-block;margin:.5em;vertical-align:top}figcaption{font-size:.85em;color:#555}
img{max-width:100%;border:1px solid #ddd}
"""
_SCRIPT = """
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  document.body.dataset.imagesTotal = images.length;
  document.body.dataset.imagesLoaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
});
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _value(value: Any) -> str:
    return html.escape(json.dumps(value)) if isinstance(value, (Mapping, list)) else _cell(value)


def metrics_table(data: Any) -> str:
    """HTML for a metrics JSON: a dict of dicts becomes rows x columns, a flat dict two columns."""
    if isinstance(data, Mapping) and data and all(isinstance(v, Mapping) for v in data.values()):
        columns = list(dict.fromkeys(key for row in data.values() for key in row))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        rows = "".join(f"<tr><td>{html.escape(str(name))}</td>"
                       + "".join(f"<td>{_cell(row.get(c, ''))}</td>" for c in columns) + "</tr>"
                       for name, row in data.items())
        return f"<table><tr><th></th>{head}</tr>{rows}</table>"
    if isinstance(data, Mapping):
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_value(v)}</td></tr>" for k, v in data.items())
        return f"<table>{rows}</table>"
    return f"<pre>{html.escape(json.dumps(data, indent=2))}</pre>"


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"not a JSON record ({err.msg})", source=path, field=f"line {number}") from err
    return records


def curves_png(records: list[dict[str, Any]]) -> bytes | None:
    """A PNG with one panel per logged scalar against ``step`` (log y-axis for positive losses)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in dict.fromkeys(k for r in records for k in r) if k != "step"]
    if not names or not records:
        return None
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        points = [(r["step"], r[name]) for r in records if isinstance(r.get(name), (int, float))]
        ax.plot([p[0] for p in points], [p[1] for p in points], lw=1.2)
        if name.startswith("loss") and points and min(p[1] for p in points) > 0:
            ax.set_yscale("log")
        ax.set(title=name, xlabel="step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _figure(data: bytes, mime: str, caption: str) -> str:
    uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    text = html.escape(caption)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of ``run_dir`` (default ``run_dir/report.html``) and return its path.

    Raises:
        DataError: ``run_dir`` is not a folder, holds nothing to report, or has a malformed JSON file.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError("run folder not found", source=run_dir)
    out = Path(out) if out is not None else run_dir / REPORT_NAME
    sections = []
    recipe = run_dir / "config.yaml"
    if recipe.is_file():
        sections.append(f"<h2>Recipe</h2><pre>{html.escape(recipe.read_text(encoding='utf-8'))}</pre>")
    for path in sorted(run_dir.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"malformed JSON: {err}", source=path) from err
        sections.append(f"<h2>{html.escape(str(path.relative_to(run_dir)))}</h2>{metrics_table(data)}")
    log = run_dir / "metrics.jsonl"
    if log.is_file():
        png = curves_png(_records(log))
        if png is not None:
            sections.append("<h2>Training curves</h2>" + _figure(png, "image/png", "metrics.jsonl"))
    images = sorted(p for p in run_dir.rglob("*") if p.suffix.lower() in IMAGE_TYPES and p.resolve() != out.resolve())
    if images:
        figures = "".join(_figure(p.read_bytes(), IMAGE_TYPES[p.suffix.lower()], str(p.relative_to(run_dir)))
                          for p in images[:MAX_IMAGES])
        more = f"<p>{len(images) - MAX_IMAGES} more images not shown.</p>" if len(images) > MAX_IMAGES else ""
        sections.append(f"<h2>Images</h2>{figures}{more}")
    if not sections:
        raise DataError("nothing to report: no config.yaml, *.json, metrics.jsonl or images", source=run_dir)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(run_dir.name)}</title>"
            f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>"
            f"<h1>Run {html.escape(run_dir.name)}</h1><p>{html.escape(str(run_dir.resolve()))} · {stamp}</p>"
            + "".join(sections) + "</body></html>")
    atomic_write_bytes(out, page.encode("utf-8"))
    return out
