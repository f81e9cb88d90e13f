"""Plots `loadgen --scale`'s CSV: throughput, p99 and RSS per conversation
against conversations (log x), one line per connector count and one for the
raw relay. Usage: scale_plot.py SCALE.csv OUT.png (scripts/bench runs it
with matplotlib from its own venv)."""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)


def main(source: str, out: str) -> None:
    lines = defaultdict(list)
    with open(source, newline="") as f:
        for r in csv.DictReader(f):
            label = "raw relay" if r["behind"] == "relay" else (
                f"{r['connectors']} connector" + ("" if r["connectors"] == "1" else "s")
            )
            lines[label].append(r)
    panels = [
        ("messages_per_s", "messages/s", "throughput (closed loop, 100 in flight)"),
        ("p99_ms", "p99 ms", "p99 round trip"),
        ("kib_per_conversation", "KiB / conversation (log)", "RSS growth / conversations (process)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (key, unit, title) in zip(axes, panels):
        for label, rows in lines.items():
            rows = sorted(rows, key=lambda r: int(r["conversations"]))
            xs = [int(r["conversations"]) for r in rows]
            ys = [float(r[key]) for r in rows]
            style = dict(color="black", linestyle="--") if label == "raw relay" else {}
            ax.plot(xs, ys, marker="o", label=label, **style)
        ax.set_xscale("log")
        ax.set_xlabel("open conversations")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if key == "kib_per_conversation":
            # At 100 conversations the fixed costs of the traffic dominate.
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
    axes[0].legend()
    fig.suptitle("switchboard, 4 plugins, scripted echo bot: how cost grows")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
