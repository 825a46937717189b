"""Draws bench/results/latest.png from latest.json: one log-log panel per phase, time vs N.

Rolodex is a line over its sizes; each peer is a marker at the sizes it ran at. Upload and
import are drawn as total time (N / throughput), so every panel reads "lower is better".
Failed phases are left out (their reasons are in latest.md).

Usage: chart.py [latest.json] [latest.png]
"""

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

PHASES = [
    ("upload", "Upload N cards (8 conns)"),
    ("propfind", "PROPFIND Depth 1"),
    ("multiget_all", "multiget all (100/request)"),
    ("query_email", "query EMAIL"),
    ("query_fn", "query FN (Cyrillic)"),
    ("sync_initial", "sync-collection initial"),
    ("sync_incremental", "sync-collection, 10 changes"),
    ("get", "GET one card"),
    ("put_if_match", "PUT with If-Match"),
    ("graphql_page", "GraphQL first 100"),
    ("graphql_search", "GraphQL search"),
    ("graphql_export", "GraphQL exportContacts"),
    ("import", "import N-card .vcf"),
]
STYLE = {
    "rolodex": dict(color="#1f77b4", marker="o", label="Rolodex"),
    "radicale": dict(color="#d62728", marker="s", label="Radicale"),
    "xandikos": dict(color="#2ca02c", marker="^", label="Xandikos"),
}


def human_seconds(value, _position=None):
    """Tick label: 0.002 -> "2 ms", 30 -> "30 s"."""
    if value <= 0:
        return ""
    if value < 1:
        ms = value * 1000
        return f"{ms:g} ms" if ms >= 1 else f"{ms:.2g} ms"
    return f"{value:g} s"


def seconds(outcome):
    """Median seconds of a phase; upload's one sample is already the total time."""
    if not outcome or outcome.get("status") != "ok":
        return None
    return outcome["median_s"]


def main():
    here = Path(__file__).resolve().parent
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "results" / "latest.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else source.with_suffix(".png")
    report = json.loads(source.read_text(encoding="utf-8"))

    series = {}  # (server, phase) -> [(n, seconds)]
    failed = {}  # phase -> ["Xandikos N=1000", ...]
    for run in report["runs"]:
        for key, _ in PHASES:
            outcome = run.get("phases", {}).get(key)
            if run.get("error") or (outcome and outcome.get("status") == "fail"):
                who = f"{STYLE[run['server']]['label']} N={run['n']}"
                failed.setdefault(key, []).append(who)
            value = seconds(outcome)
            if value is not None and value > 0:
                series.setdefault((run["server"], key), []).append((run["n"], value))

    columns = 4
    rows = math.ceil(len(PHASES) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows))
    for ax, (key, title) in zip(axes.flat, PHASES):
        drawn = False
        for server, style in STYLE.items():
            points = sorted(series.get((server, key), []))
            if not points:
                continue
            xs, ys = zip(*points)
            if server == "rolodex":
                ax.plot(xs, ys, linestyle="-", markersize=5, **style)
            else:
                ax.plot(xs, ys, linestyle="none", markersize=8, **style)
            drawn = True
        ax.set_title(title, fontsize=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("N (contacts)", fontsize=8)
        ax.set_ylabel("median", fontsize=8)
        ax.tick_params(labelsize=7)
        # 1-2-5 steps in plain units: panels often span less than a decade, where
        # matplotlib's default leaves one label ("10^1") or crowds minor ones ("6x10^1").
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(human_seconds))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0,)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        if key in failed:
            ax.text(
                0.02,
                0.02,
                "FAIL: " + ", ".join(failed[key]),
                transform=ax.transAxes,
                fontsize=7,
                color="#b00",
            )
        if not drawn:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        else:
            ns = sorted({n for s in STYLE for n, _ in series.get((s, key), [])})
            ax.set_xlim(min(ns) / 2, max(ns) * 2)
    for ax in list(axes.flat)[len(PHASES):]:
        ax.axis("off")

    handles = [
        plt.Line2D([], [], linestyle="-" if s == "rolodex" else "none", **STYLE[s])
        for s in STYLE
        if any(server == s for server, _ in series)
    ]
    env = report.get("environment", {})
    fig.suptitle(
        "Rolodex benchmark: time vs N (log-log, lower is better) - "
        f"{env.get('date_utc', '')}, {env.get('cpu_count', '?')} x {env.get('cpu_model', '')}",
        fontsize=12,
    )
    fig.legend(
        handles=handles, loc="upper center", ncol=3, fontsize=9, bbox_to_anchor=(0.5, 0.955)
    )
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(target, dpi=100)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
