#!/usr/bin/python3
"""Experiment 1 (make exp-neuroplasticity): IOI corruption and neuroplastic recovery.
Reads results/neuroplasticity/ and writes five figures (mean over data-order seeds, 95%
t-intervals):

  neuroplasticity_ld           LD across the stages (base, clean, toxic, retrain)
  neuroplasticity_dla          per-head direct logit attribution at the end of each stage
  neuroplasticity_overlap      edge IoU between every pair of checkpoints' circuits
  neuroplasticity_cmap         cross-model activation patching per head
  neuroplasticity_restoration  what retraining gives back, per poisoning variant/fraction
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402

import numpy as np  # noqa: E402

D = "neuroplasticity"
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
        2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086]
VARIANT = {0: "none", 1: "SD", 2: "NM"}
VCOLOR = {0: style.color("grey"), 1: style.color("vermillion"), 2: style.color("sky")}
STAGE = {0: "base", 1: "clean", 2: "toxic", 3: "retrain"}


def mean_ci(x):
    """Mean over axis 0 (seeds) and the half width of the t-based 95% interval."""
    x = np.asarray(x, dtype=np.float64)
    m = np.nanmean(x, axis=0)
    n = x.shape[0]
    if n < 2:
        return m, np.zeros_like(m)
    t = T975[min(n - 2, len(T975) - 1)] if n - 1 <= len(T975) else 1.96
    return m, t * np.nanstd(x, axis=0, ddof=1) / np.sqrt(n)


def load():
    names = ["ld", "acc", "faithfulness", "faithfulness_base_circuit", "edge_iou", "dla_corr",
             "dla", "cmap_into_base", "cmap_from_base", "overlap", "ckpt_stage", "ckpt_variant",
             "ckpt_epoch", "ckpt_fraction"]
    arrs = style.require(*[f"{D}/{n}.npy" for n in names])
    r = dict(zip(names, arrs))
    path = os.path.join(style.RESULTS, D, "checkpoints.json")
    if not os.path.exists(path):
        print(f"fig_neuroplasticity.py: missing inputs: {path}")
        sys.exit(style.MISSING_INPUTS)
    with open(path) as f:
        r["names"] = json.load(f)
    return r


def runs(r):
    """Checkpoint indices per (stage, variant, fraction), ordered by epoch."""
    out = {}
    for k, (s, v, f, e) in enumerate(zip(r["ckpt_stage"], r["ckpt_variant"], r["ckpt_fraction"],
                                          r["ckpt_epoch"])):
        out.setdefault((int(s), int(v), round(float(f), 4)), []).append((int(e), k))
    return {key: sorted(v) for key, v in out.items()}


def final(rs, stage, variant, frac):
    v = rs.get((stage, variant, round(frac, 4)))
    return v[-1][1] if v else None


def toxic_keys(rs):
    return sorted((v, f) for (s, v, f) in rs if s == 2)


def fig_ld(r, rs):
    keys = toxic_keys(rs)
    variants = sorted({v for v, _ in keys if v != 0}) or [0]
    fig, axes = style.figure(ncols=len(variants), width=style.DOUBLE_COLUMN, aspect=0.36 * len(variants),
                             sharey=True)
    axes = np.atleast_1d(axes)
    clean = rs.get((1, 0, 0.0), [])
    e_clean = clean[-1][0] if clean else 0
    e_tox = max((rs[(2, v, f)][-1][0] for v, f in keys), default=0)
    m, h = mean_ci(r["ld"])
    for ax, var in zip(axes, variants):
        xs = [0] + [e for e, _ in clean]
        ks = [0] + [k for _, k in clean]
        ax.errorbar(xs, m[ks], yerr=h[ks], color=style.color("base"), marker="o", capsize=2,
                    label="base -> clean")
        fr = sorted(f for v, f in keys if v in (0, var))
        for i, f in enumerate(fr):
            v = 0 if f == 0 else var
            tox = rs[(2, v, f)]
            ret = rs.get((3, v, f), [])
            x = [e_clean] + [e_clean + e for e, _ in tox] + [e_clean + e_tox + e for e, _ in ret]
            k = [clean[-1][1]] + [k for _, k in tox] + [k for _, k in ret]
            alpha = 0.35 + 0.65 * (f if v else 0.5)
            ax.errorbar(x, m[k], yerr=h[k], color=VCOLOR[v], alpha=alpha, marker="o", capsize=2,
                        label=f"{VARIANT[v]} {f:.0%} poisoned" if v else "0% poisoned (shared)")
        for xb, lab in ((e_clean, "toxic"), (e_clean + e_tox, "retrain")):
            ax.axvline(xb, color="black", linewidth=0.6, linestyle="--")
            ax.text(xb, 1.0, f" {lab}", transform=ax.get_xaxis_transform(), va="top", fontsize=7)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_xlabel("epochs since the base model")
        ax.set_title(f"poisoning: {VARIANT[var]}" if var else "toxic stage")
        ax.legend(loc="lower left", fontsize=6)
    axes[0].set_ylabel("logit difference IO - S (logits)")
    style.save_both(fig, "neuroplasticity_ld")


def heat(ax, mat, vmax, title, cmap="RdBu_r"):
    im = ax.imshow(mat, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_title(title, fontsize=7)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(mat.shape[1]))
    ax.set_yticks(range(mat.shape[0]))
    ax.grid(False)
    return im


def stage_panels(r, rs):
    """(title, checkpoint) for the end of each stage at the largest poisoned fraction."""
    fr = max((f for _, f in toxic_keys(rs)), default=0.0)
    out = [("base", 0)]
    kc = final(rs, 1, 0, 0.0)
    if kc is not None:
        out.append(("clean (final)", kc))
    for stage, lab in ((2, "toxic"), (3, "retrained")):
        for v in (1, 2):
            k = final(rs, stage, v, fr)
            if k is not None:
                out.append((f"{lab} {VARIANT[v]} {fr:.0%}", k))
    return out


def fig_dla(r, rs):
    panels = stage_panels(r, rs)
    m, _ = mean_ci(r["dla"])
    vmax = max(float(np.nanmax(np.abs(m[[k for _, k in panels]]))), 1e-6)
    nc = min(len(panels), 3)
    nr = (len(panels) + nc - 1) // nc
    fig, axes = style.figure(ncols=nc, nrows=nr, width=style.DOUBLE_COLUMN, aspect=0.8)
    axes = np.atleast_1d(axes).ravel()
    for ax, (title, k) in zip(axes, panels):
        im = heat(ax, m[k], vmax, title)
    for ax in axes[len(panels):]:
        ax.axis("off")
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="DLA onto W_U[IO] - W_U[S] (logits)")
    style.save_both(fig, "neuroplasticity_dla")


def fig_overlap(r):
    m, _ = mean_ci(r["overlap"])
    names = r["names"][: m.shape[0]]
    fig, ax = style.figure(width=style.DOUBLE_COLUMN, aspect=0.9)
    im = ax.imshow(m, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=5)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=5)
    ax.grid(False)
    ax.set_title("circuit overlap across checkpoints (top-n EAP-IG edges)")
    fig.colorbar(im, ax=ax, shrink=0.8, label="edge IoU (Jaccard), mean over seeds")
    style.save_both(fig, "neuroplasticity_overlap")


def fig_cmap(r, rs):
    panels = [p for p in stage_panels(r, rs) if p[1] != 0]
    if not panels:
        return
    a, _ = mean_ci(r["cmap_into_base"])
    b, _ = mean_ci(r["cmap_from_base"])
    ks = [k for _, k in panels]
    vmax = max(float(np.nanmax(np.abs(a[ks]))), float(np.nanmax(np.abs(b[ks]))), 1e-6)
    fig, axes = style.figure(ncols=len(panels), nrows=2, width=style.DOUBLE_COLUMN, aspect=0.75,
                             sharex=True, sharey=True)
    axes = np.asarray(axes).reshape(2, len(panels))
    for j, (title, k) in enumerate(panels):
        im = heat(axes[0, j], a[k], vmax, title)
        heat(axes[1, j], b[k], vmax, "")
        for i in range(2):
            if j:
                axes[i, j].set_ylabel("")
        axes[0, j].set_xlabel("")
    axes[0, 0].set_ylabel("into base\nlayer")
    axes[1, 0].set_ylabel("from base\nlayer")
    fig.colorbar(im, ax=list(axes.ravel()), shrink=0.8, label="change of mean LD (logits)")
    style.save_both(fig, "neuroplasticity_cmap")


def fig_restoration(r, rs):
    keys = [(v, f) for v, f in toxic_keys(rs) if v != 0 and (3, v, f) in rs]
    if not keys:
        return
    kc = final(rs, 1, 0, 0.0)
    metrics = [("base circuit's faithfulness", "faithfulness_base_circuit"),
               ("DLA correlation with base", "dla_corr"), ("circuit edge IoU with base", "edge_iou")]
    fig, axes = style.figure(ncols=2, nrows=2, width=style.DOUBLE_COLUMN, aspect=0.62)
    axes = np.asarray(axes).ravel()
    x = np.arange(len(keys))
    labels = [f"{VARIANT[v]} {f:.0%}" for v, f in keys]
    w = 0.38
    for ax, (title, name) in zip(axes, metrics):
        kt = [final(rs, 2, v, f) for v, f in keys]
        kr = [final(rs, 3, v, f) for v, f in keys]
        mt, ht = mean_ci(r[name][:, kt])
        mr, hr = mean_ci(r[name][:, kr])
        ax.bar(x - w / 2, mt, w, yerr=ht, capsize=2, color=style.color("corrupted"), label="after toxic")
        ax.bar(x + w / 2, mr, w, yerr=hr, capsize=2, color=style.color("restored"), label="after retraining")
        if kc is not None:
            ax.axhline(np.nanmean(r[name][:, kc]), color="black", linewidth=0.6, linestyle="--",
                       label="clean model")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=45, fontsize=6)
        ax.set_title(title, fontsize=7)
        ax.set_ylabel("unitless ratio")
    ax = axes[-1]
    ld = r["ld"]
    rec = []
    for v, f in keys:
        kt, kr = final(rs, 2, v, f), final(rs, 3, v, f)
        lost = ld[:, kc] - ld[:, kt]
        with np.errstate(divide="ignore", invalid="ignore"):
            rec.append(np.where(np.abs(lost) > 1e-6, (ld[:, kr] - ld[:, kt]) / lost, np.nan))
    mr, hr = mean_ci(np.stack(rec, axis=1))
    ax.bar(x, mr, 0.6, yerr=hr, capsize=2, color=style.color("restored"))
    ax.axhline(1.0, color="black", linewidth=0.6, linestyle="--")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45, fontsize=6)
    ax.set_title("share of the lost LD regained", fontsize=7)
    ax.set_ylabel("(LD_ret - LD_tox) / (LD_clean - LD_tox)", fontsize=6)
    axes[0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    style.save_both(fig, "neuroplasticity_restoration")


def main():
    r = load()
    rs = runs(r)
    fig_ld(r, rs)
    fig_dla(r, rs)
    fig_overlap(r)
    fig_cmap(r, rs)
    fig_restoration(r, rs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
