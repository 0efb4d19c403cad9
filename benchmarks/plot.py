"""Draw ``docs/img/benchmarks.png`` from a results file of ``python -m benchmarks``.

    .venv-ref/bin/python -I benchmarks/plot.py benchmarks/results/latest.json docs/img/benchmarks.png

Needs matplotlib, which is not a dependency of the project: the suite runs this script with
the reference venv's interpreter, where it installs matplotlib.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

COLORS = {"ours": "#2a7ab9", "reference": "#9a9a9a", "node": "#6aa84f"}
NAMES = {"ours": "this project", "reference": "reference (Flask-SocketIO 5.7)", "node": "Node (socket.io 4)"}
# ours / each other stack: the row keys of the ratio of the medians and of the per-CPU ratio
RATIOS = {"reference": ("ratio", "ratio_per_cpu", "ref"), "node": ("ratio_node", "ratio_node_per_cpu", "Node")}
# The panels, in order, when present: end to end first, then in-process.
PREFERRED = ["S1", "S2", "S3", "S3-mem", "S4", "fanout-*", "codec-json-small", "codec-msgpack-small"]


def pick_rows(report: dict[str, Any], limit: int = 9) -> list[dict[str, Any]]:
    chosen: list[dict[str, Any]] = []
    for key in PREFERRED:
        for row in report["rows"]:
            if row["key"] == key or (key.endswith("*") and row["key"].startswith(key[:-1])):
                chosen.append(row)
    return (chosen or report["rows"])[:limit]


def _thousands(value: float, _pos: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1e6:g}M"
    if value >= 10_000:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def short_title(row: dict[str, Any]) -> str:
    title: str = row["scenario"]
    if row["key"].endswith("-mem"):
        title = title.split(",")[0] + ": memory"
    return title if len(title) <= 44 else title[:42] + "…"


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: plot.py RESULTS.json OUT.png")
    report = json.loads(open(argv[0]).read())
    rows = pick_rows(report)
    stacks = [s for s in ("ours", "reference", "node") if any(s in row for row in rows)]
    cols = 3
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.8 * cols, 3.2 * nrows), squeeze=False)
    for ax, row in zip(axes.flat, rows, strict=False):
        shown = [s for s in stacks if s in row]  # Node has no in-process rows
        values = [row[s]["median"] if row[s]["median"] is not None else 0.0 for s in shown]
        bars = ax.bar([NAMES[s].split(" (")[0] for s in shown], values,
                      color=[COLORS[s] for s in shown], width=0.6)
        for bar, stack in zip(bars, shown, strict=True):
            samples = [v for v in row[stack].get("samples", []) if v is not None]
            if len(samples) > 1:  # the spread of the rounds
                x = bar.get_x() + bar.get_width() / 2
                ax.plot([x] * len(samples), samples, "k.", markersize=3, alpha=0.6)
        top = max([v for v in values if v] + [1.0])
        for bar, value in zip(bars, values, strict=True):
            label = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
            ax.text(bar.get_x() + bar.get_width() / 2, value + top * 0.02, label,
                    ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, top * 1.25)
        title = short_title(row)
        parts = []
        for other, (key, key_cpu, name) in RATIOS.items():
            ratio = row.get(key)
            if other in row and ratio:
                text = f"ours/{name} {ratio:.2f}x"
                per_cpu = row.get(key_cpu)
                if per_cpu:
                    text += f" ({per_cpu:.2f}x per CPU-s)"
                parts.append(text)
        if parts:
            title += "\n" + ", ".join(parts)
            if not row["higher_is_better"]:
                title += "; lower is better"
        ax.set_title(title, fontsize=8)
        ax.set_ylabel(row["unit"].replace(" (lower=better)", ""), fontsize=8)
        ax.tick_params(labelsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    meta = report.get("meta", {})
    fig.suptitle(
        f"Socket.IO for Flask: this project vs {' and '.join(NAMES[s] for s in stacks if s != 'ours')}"
        f" -- median of {meta.get('rounds', '?')} "
        f"interleaved rounds, {meta.get('date', '')}", fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(argv[1], dpi=110)


if __name__ == "__main__":
    main(sys.argv[1:])
