"""Draws the curves of `cnnc train --metrics FILE.csv` with matplotlib:
the training loss (every K steps and per epoch) and the validation loss
against epochs on the left, the validation accuracy on the right, the
learning rate under them.

    python3 -m cnnc.plot metrics.csv -o curves.png [--title TEXT]

(PYTHONPATH=python from the repository.) Needs numpy and matplotlib
(Debian: python3-matplotlib); the output format follows the extension
(.png, .svg, .pdf)."""
import argparse
import csv
import sys


def read_metrics(path):
    """{"step": [...], "epoch": [...]}: each row a dict of floats (None where
    the CSV leaves a value empty). Raises ValueError for a file that is not
    cnnc's metrics CSV."""
    rows = {"step": [], "epoch": []}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"kind", "progress", "lr", "train_loss", "val_loss", "val_accuracy"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise ValueError(f"{path}: not a metrics file of `cnnc train --metrics` "
                             f"(columns {reader.fieldnames})")
        for line, row in enumerate(reader, start=2):
            kind = row.pop("kind")
            if kind not in rows:
                raise ValueError(f"{path}:{line}: unknown row kind {kind!r}")
            try:
                rows[kind].append({k: float(v) if v not in ("", None) else None
                                   for k, v in row.items()})
            except ValueError as e:
                raise ValueError(f"{path}:{line}: {e}") from None
    if not rows["step"] and not rows["epoch"]:
        raise ValueError(f"{path}: no rows yet")
    return rows


def plot(rows, output, title=None):
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]})
    (loss_ax, acc_ax), (lr_ax, speed_ax) = axes
    steps, epochs = rows["step"], rows["epoch"]

    def series(kind_rows, key):
        pairs = [(r["progress"], r[key]) for r in kind_rows if r[key] is not None]
        return [p for p, _ in pairs], [v for _, v in pairs]

    if steps:
        loss_ax.plot(*series(steps, "train_loss"), color="#9ecae1", lw=1,
                     label="train loss (every K steps)")
    loss_ax.plot(*series(epochs, "train_loss"), "o-", color="#08519c",
                 label="train loss (epoch)")
    loss_ax.plot(*series(epochs, "val_loss"), "s--", color="#cb181d",
                 label="validation loss")
    loss_ax.set_ylabel("cross-entropy loss")
    loss_ax.legend()
    loss_ax.grid(alpha=0.3)

    x, accuracy = series(epochs, "val_accuracy")
    acc_ax.plot(x, [100 * a for a in accuracy], "s-", color="#238b45",
                label="validation accuracy")
    for px, a in zip(x, accuracy):
        acc_ax.annotate(f"{100 * a:.2f}%", (px, 100 * a), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=8)
    acc_ax.margins(y=0.15)  # room for the labels above the points
    low, high = acc_ax.get_ylim()
    acc_ax.set_ylim(low, min(high, 101.5))  # no axis above 100%
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.legend(loc="lower right")
    acc_ax.grid(alpha=0.3)

    lr_rows = steps or epochs
    lr_ax.plot(*series(lr_rows, "lr"), color="#6a51a3", drawstyle="steps-post")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("epoch")
    lr_ax.grid(alpha=0.3)
    speed_ax.plot(*series(lr_rows, "images_per_second"), color="#636363")
    speed_ax.set_ylabel("images/s")
    speed_ax.set_xlabel("epoch")
    speed_ax.grid(alpha=0.3)

    fig.suptitle(title or "cnnc train")
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m cnnc.plot",
        description="Draws the curves of `cnnc train --metrics FILE.csv`.")
    parser.add_argument("metrics", help="the CSV file cnnc train wrote")
    parser.add_argument("-o", "--output", required=True,
                        help="the picture (.png, .svg, .pdf)")
    parser.add_argument("--title", help="the figure's title")
    args = parser.parse_args(argv)
    try:
        rows = read_metrics(args.metrics)
    except (OSError, ValueError) as e:
        print(f"cnnc.plot: error: {e}", file=sys.stderr)
        return 1
    try:
        plot(rows, args.output, args.title)
    except ImportError:
        print("cnnc.plot: error: matplotlib is missing (Debian: "
              "python3-matplotlib)", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
