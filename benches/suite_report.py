"""The harness's results as ratios: a printed table, a JSON file, and (with matplotlib) a plot.

Each ratio is computed within one round (the sides measured back to back), then summarised
as the median over rounds with its range. ``x`` > 1 means shoal is faster.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

TARGETS = {  # dataset -> (x deeplake pytorch(), x GET ceiling); None: no target
    "raw": (10.0, 0.8),
    "jpeg": (3.0, None),
    "embeddings": (10.0, None),
    "texts": (10.0, None),
}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Per dataset: samples/s, MB/s, ratios (median and range), latencies, RSS, ingest."""
    out: dict[str, Any] = {}
    prefetch_mb = results["meta"]["prefetch_bytes"] / 2**20
    for kind, d in results["datasets"].items():
        rounds = d["rounds"]
        loader = [r["loader"]["seconds"] for r in rounds]
        pytorch = [
            min(v["seconds"] for k, v in r.items() if k.startswith("dl_pytorch"))
            for r in rounds
            if any(k.startswith("dl_pytorch") for k in r)
        ]
        best = min(rounds, key=lambda r: r["loader"]["seconds"])["loader"]
        s: dict[str, Any] = {
            "samples_per_s": d["count"] / min(loader),
            "mb_per_s": d["bytes"] / min(loader) / 1e6,
            "ceiling_samples_per_s": d["count"] / min(r["raw_get"] for r in rounds),
            "x_ceiling": _spread([r["raw_get"] / r["loader"]["seconds"] for r in rounds]),
            "epoch2_x_ceiling": _spread(
                [r["raw_get"] / r["loader"].get("epoch2", r["loader"]["seconds"]) for r in rounds]
            ),
            "x_dl_iterate": _spread(
                [r["dl_iterate"]["seconds"] / r["loader"]["seconds"] for r in rounds]
            ),
            "first_batch_s": max(r["loader"]["first"] for r in rounds),
            "batch_p50_s": best["batch_p50"],
            "batch_p99_s": best["batch_p99"],
            "random_p50_s": best["random_p50"],
            "random_p99_s": best["random_p99"],
            "peak_rss_mb": max(r["loader"]["rss_mb"] for r in rounds),
            "rss_budget_mb": prefetch_mb + 300,
            "ingest_x_deeplake": d["ingest"]["deeplake"] / d["ingest"]["shoal"],
            "ingest_x_put": d["ingest"]["put"] / d["ingest"]["shoal"],
        }
        if pytorch:
            s["x_dl_pytorch"] = _spread([p / t for p, t in zip(pytorch, loader, strict=True)])
        if any("shuffled" in r for r in rounds):
            s["shuffled_x_ceiling"] = _spread(
                [r["raw_get"] / r["shuffled"]["seconds"] for r in rounds if "shuffled" in r]
            )
        out[kind] = s
    return out


def _x(s: dict[str, float] | None) -> str:
    if s is None:
        return "-"
    if s["max"] - s["min"] < 0.005 * s["median"]:
        return f"{s['median']:.2f}x"
    return f"{s['median']:.2f}x ({s['min']:.2f}-{s['max']:.2f})"


def table(summary: dict[str, Any]) -> str:
    """The figures as a text table (what the README shows)."""
    head = (
        "| dataset | shoal samples/s | MB/s | x GET ceiling (epoch 1; 2) | x deeplake pytorch() "
        "| x deeplake iteration | first batch | batch p50 / p99 | random read p50 / p99 "
        "| peak RSS | ingest x deeplake | ingest x raw PUT |"
    )
    rows = [head, "|" + "---|" * 12]
    for kind, s in summary.items():
        rows.append(
            f"| {kind} | {s['samples_per_s']:,.0f} | {s['mb_per_s']:,.0f} "
            f"| {_x(s['x_ceiling'])}; {_x(s['epoch2_x_ceiling'])} "
            f"| {_x(s.get('x_dl_pytorch'))} | {_x(s['x_dl_iterate'])} "
            f"| {s['first_batch_s'] * 1000:.0f} ms "
            f"| {s['batch_p50_s'] * 1000:.1f} / {s['batch_p99_s'] * 1000:.1f} ms "
            f"| {s['random_p50_s'] * 1000:.1f} / {s['random_p99_s'] * 1000:.1f} ms "
            f"| {s['peak_rss_mb']:.0f} MB | {s['ingest_x_deeplake']:.1f}x "
            f"| {s['ingest_x_put']:.2f}x |"
        )
    return "\n".join(rows)


def verdicts(summary: dict[str, Any]) -> list[str]:
    """Each target, met or not (on the median ratio)."""
    out = []
    for kind, s in summary.items():
        vs_dl, vs_ceiling = TARGETS.get(kind, (None, None))
        checks = []
        if vs_dl is not None and "x_dl_pytorch" in s:
            checks.append(
                (f"x deeplake pytorch() >= {vs_dl:g}", s["x_dl_pytorch"]["median"] >= vs_dl)
            )
        if vs_ceiling is not None:
            checks.append(
                (f"x GET ceiling >= {vs_ceiling:g}", s["x_ceiling"]["median"] >= vs_ceiling)
            )
        checks.append(("first batch <= 1 s", s["first_batch_s"] <= 1.0))
        checks.append(
            (f"peak RSS <= {s['rss_budget_mb']:.0f} MB", s["peak_rss_mb"] <= s["rss_budget_mb"])
        )
        out.extend(f"{kind}: {name}: {'ok' if ok else 'MISSED'}" for name, ok in checks)
        if "shuffled_x_ceiling" in s:
            out.append(f"{kind}: shuffled, x GET ceiling: {_x(s['shuffled_x_ceiling'])}")
    return out


def write_json(results: dict[str, Any], summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**results, "summary": summary}, indent=2, default=str) + "\n")


def plot(summary: dict[str, Any], path: Path, title: str) -> bool:
    """Bars of the median ratios per dataset (log scale), with their range and the targets.
    False when matplotlib is not installed (``pip install matplotlib``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series = [
        ("x deeplake pytorch()", "x_dl_pytorch", "#1f77b4"),
        ("x deeplake iteration", "x_dl_iterate", "#9ecae1"),
        ("x raw GET ceiling", "x_ceiling", "#ff7f0e"),
    ]
    kinds = list(summary)
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    width = 0.8 / len(series)
    for j, (label, key, color) in enumerate(series):
        xs, meds, lo, hi = [], [], [], []
        for i, kind in enumerate(kinds):
            s = summary[kind].get(key)
            if s is None:
                continue
            xs.append(i + (j - 1) * width)
            meds.append(s["median"])
            lo.append(s["median"] - s["min"])
            hi.append(s["max"] - s["median"])
        bars = ax.bar(xs, meds, width, label=label, color=color, yerr=[lo, hi], capsize=3)
        ax.bar_label(bars, labels=[f"{m:.2g}x" for m in meds], fontsize=7, padding=2)
    for i, kind in enumerate(kinds):
        vs_dl, vs_ceiling = TARGETS.get(kind, (None, None))
        if vs_dl is not None:
            ax.hlines(vs_dl, i - 1.5 * width, i - 0.5 * width, colors="k", linestyles="--")
        if vs_ceiling is not None:
            ax.hlines(vs_ceiling, i + 0.5 * width, i + 1.5 * width, colors="k", linestyles="--")
    ax.axhline(1.0, color="grey", linewidth=0.6)
    ax.set_yscale("log")
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_ylabel("shoal loader speed ratio (log)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(series))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True
