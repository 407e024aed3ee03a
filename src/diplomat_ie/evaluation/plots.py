"""PNG charts for reports: training curves, per-type and per-role F1 (matplotlib, Agg canvas).

Figures are drawn on :class:`matplotlib.figure.Figure` objects (no pyplot, no global backend switch),
rendered with the Agg canvas and written atomically.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from ..utils import atomic_write_bytes

DEV_KEYS = {"eval_nested_f1": "nested NER", "eval_nested_macro_f1": "nested NER (macro)",
            "eval_per_org_loc_f1": "PER/ORG/LOC", "eval_roles_gold_f1": "roles (gold triggers)",
            "eval_roles_e2e_f1": "roles (end to end)"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def training_curves(summary: dict, path: str | os.PathLike) -> Path | None:
    """Training loss per step (left) and dev F1 per evaluation (right).

    Args:
        summary: a run's ``train_summary.json`` (``log_history`` with ``loss``/``step`` entries,
            ``dev_history`` with ``eval_*_f1``, ``epoch`` and ``step``).
        path: the PNG to write.

    Returns:
        ``path``, or None when the summary has neither losses nor dev evaluations.
    """
    logs = summary.get("log_history") or []
    loss = [(h["step"], h["loss"]) for h in logs if "loss" in h and "step" in h]
    dev = summary.get("dev_history") or [h for h in logs if "eval_nested_f1" in h]
    if not loss and not dev:
        return None
    fig = _figure(11, 4)
    ax_loss, ax_dev = fig.subplots(1, 2)
    if loss:
        ax_loss.plot([s for s, _ in loss], [v for _, v in loss], color="#4363d8", linewidth=1.2)
    else:
        ax_loss.text(0.5, 0.5, "no loss logged", ha="center", va="center", transform=ax_loss.transAxes)
    ax_loss.set(title="training loss", xlabel="step", ylabel="loss")
    ax_loss.grid(alpha=0.3)
    x_key = "epoch" if all(h.get("epoch") is not None for h in dev) else "step"
    for key, label in DEV_KEYS.items():
        pts = [(h[x_key], h[key]) for h in dev if key in h and h.get(x_key) is not None]
        if pts:
            ax_dev.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=label)
    if dev:
        ax_dev.legend(fontsize=8)
    ax_dev.set(title="dev F1", xlabel=x_key, ylabel="F1 (%)", ylim=(0, 100))
    ax_dev.grid(alpha=0.3)
    return _save(fig, path)


def _hbars(ax, labels: list[str], series: list[tuple[str, list[float]]]) -> None:
    n = len(series)
    height = 0.8 / n
    for k, (name, values) in enumerate(series):
        pos = [i + (k - (n - 1) / 2) * height for i in range(len(labels))]
        bars = ax.barh(pos, values, height=height, label=name)
        for bar, v in zip(bars, values, strict=True):
            ax.text(bar.get_width() + 0.5, bar.get_y() + bar.get_height() / 2, f"{v:.1f}", va="center",
                    fontsize=7)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlim(0, 105)
    ax.set_xlabel("F1 (%)")
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)


def f1_per_type(per_type: dict, path: str | os.PathLike, title: str = "nested NER: F1 per type") -> Path | None:
    """Horizontal bars of F1 per type (best first), labelled with the gold support.

    Args:
        per_type: ``score_sets(...)["per_type"]``.
        path: the PNG to write.
        title: the chart title.

    Returns:
        ``path``, or None when there are no types.
    """
    if not per_type:
        return None
    items = sorted(per_type.items(), key=lambda kv: (-kv[1]["f1"], kv[0]))
    fig = _figure(7, 1 + 0.28 * len(items))
    ax = fig.subplots()
    _hbars(ax, [f"{t} ({m['support']})" for t, m in items], [("F1", [m["f1"] for _, m in items])])
    ax.set_title(title)
    return _save(fig, path)


def f1_per_role(gold_triggers: dict, end_to_end: dict | None, path: str | os.PathLike) -> Path | None:
    """Grouped bars of role F1 with gold triggers and end to end.

    Args:
        gold_triggers: ``metrics["roles_gold_triggers"]["per_type"]``.
        end_to_end: ``metrics["roles_end_to_end"]["per_type"]`` (None to omit).
        path: the PNG to write.

    Returns:
        ``path``, or None when there are no roles.
    """
    roles = sorted(set(gold_triggers) | set(end_to_end or {}),
                   key=lambda r: -(gold_triggers.get(r) or {}).get("support", 0))
    if not roles:
        return None
    series = [("gold triggers", [(gold_triggers.get(r) or {}).get("f1", 0.0) for r in roles])]
    if end_to_end is not None:
        series.append(("end to end", [(end_to_end.get(r) or {}).get("f1", 0.0) for r in roles]))
    fig = _figure(7, 1 + 0.45 * len(roles))
    ax = fig.subplots()
    support = {r: (gold_triggers.get(r) or {}).get("support", 0) for r in roles}
    _hbars(ax, [f"{r} ({support[r]})" for r in roles], series)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("event roles: F1 per role")
    return _save(fig, path)
