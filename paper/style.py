"""One look for every figure of the paper, and byte-reproducible files.

A figure script does:

    import style                      # paper/ is on sys.path when make_figures runs it
    x, y = style.require("exp/x.npy", "exp/y.npy")  # under results/; exit 3 if missing
    fig, ax = style.figure()
    ax.plot(x, y, color=style.color("finetuned"))
    style.save_both(fig, "exp_curve")  # paper/figures/exp_curve.pdf and .png

Determinism: the Agg backend, the bundled DejaVu fonts, a fixed SVG hash salt, and no
creation dates or software versions in the PDF/PNG metadata, so the same arrays give the
same bytes on every run (checked by tests/test_noisa_paper.c)."""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# MECHDRIFT_FIGURES_DIR lets tests write elsewhere; the paper's figures live in paper/figures.
FIGURES = os.path.join(ROOT, os.environ.get("MECHDRIFT_FIGURES_DIR") or "paper/figures")
# The experiments' results: results/ for the organism, results/on-<model>/ when make ran
# with MODEL=<folder> (the makefile passes MECHDRIFT_RESULTS).
RESULTS = os.path.join(ROOT, os.environ.get("MECHDRIFT_RESULTS") or "results")
MISSING_INPUTS = 3  # exit code make_figures.py reads as "waiting for results", not failure

# Okabe-Ito, safe for colour-blind readers and in greyscale print. Each model stage and
# each kind of mechanism change keeps its colour across every figure.
PALETTE = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
    "grey": "#999999",
}
STAGE_COLORS = {
    # model stages
    "pretrained": PALETTE["blue"], "base": PALETTE["blue"], "organism": PALETTE["blue"],
    "finetuned": PALETTE["vermillion"], "fine-tuned": PALETTE["vermillion"],
    "restored": PALETTE["green"], "random": PALETTE["grey"], "reference": PALETTE["black"],
    # what fine-tuning does to a mechanism
    "corrupted": PALETTE["vermillion"], "rotated": PALETTE["orange"], "moved": PALETTE["sky"],
    "duplicated": PALETTE["purple"], "unchanged": PALETTE["grey"],
}
CYCLE = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "sky", "purple",
                              "yellow", "black")]

SINGLE_COLUMN = 3.4  # inches: one column of a two-column paper
DOUBLE_COLUMN = 7.0

RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs everywhere
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.3, "grid.linewidth": 0.5, "lines.linewidth": 1.2, "lines.markersize": 3,
    "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
    "legend.frameon": False, "figure.dpi": 100, "savefig.dpi": 200,
    "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # TrueType in the PDF: text stays text
    "svg.hashsalt": "mechdrift", "svg.fonttype": "none",
    "path.simplify": False,  # never drop data points to make a line cheaper
    "image.cmap": "viridis",
}
plt.rcParams.update(RC)

PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}
PNG_METADATA = {"Software": None}


def color(name):
    """The colour of a model stage or kind of change (see STAGE_COLORS), or a palette name."""
    key = name.lower()
    if key in STAGE_COLORS:
        return STAGE_COLORS[key]
    if key in PALETTE:
        return PALETTE[key]
    raise KeyError(f"style.color: no colour for {name!r}; known: "
                   f"{sorted(set(STAGE_COLORS) | set(PALETTE))}")


def figure(ncols=1, nrows=1, width=SINGLE_COLUMN, aspect=0.75, **kw):
    """A figure of the paper's widths: width in inches (SINGLE_COLUMN or DOUBLE_COLUMN),
    height = aspect * width / ncols * nrows."""
    height = aspect * width / ncols * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=True, **kw)


def interval(ax, x, lo, hi, c, label=None, alpha=0.2):
    """A shaded interval (e.g. a 95% bootstrap interval) under a line of colour c."""
    ax.fill_between(x, lo, hi, color=c, alpha=alpha, linewidth=0, label=label)


def require(*paths):
    """Loads each array, paths relative to RESULTS (e.g. "ioi/scores.npy"); when any is
    missing, says which and exits with MISSING_INPUTS so make_figures counts the figure
    as waiting for its experiment rather than failed."""
    full = [os.path.join(RESULTS, p) for p in paths]
    missing = [os.path.relpath(p, ROOT) for p in full if not os.path.exists(p)]
    if missing:
        print(f"{os.path.basename(sys.argv[0])}: missing inputs: {', '.join(missing)}")
        sys.exit(MISSING_INPUTS)
    arrays = [np.load(p, allow_pickle=False) for p in full]
    return arrays[0] if len(arrays) == 1 else arrays


def save_both(fig, name):
    """Writes FIGURES/name.pdf and FIGURES/name.png (atomically) and closes the figure.
    Returns the two paths."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"style.save_both: figure name {name!r} must be a plain file name")
    os.makedirs(FIGURES, exist_ok=True)
    out = []
    for ext, meta in (("pdf", PDF_METADATA), ("png", PNG_METADATA)):
        path = os.path.join(FIGURES, f"{name}.{ext}")
        tmp = f"{path}.tmp.{os.getpid()}"
        fig.savefig(tmp, format=ext, metadata=meta)
        os.replace(tmp, path)
        out.append(path)
    plt.close(fig)
    return out
