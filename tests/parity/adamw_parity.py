"""AdamW parity: the PyTorch side of tests/test_train_adamw.c.

Usage: adamw_parity.py DIR. Reads DIR/w0.npy (R, C) and DIR/b0.npy (C) (initial weight
and bias), DIR/gw.npy (K, R, C) and DIR/gb.npy (K, C) (gradients of K steps), DIR/lr.npy (K)
(learning rate per step) and DIR/hyper.json (beta1, beta2, eps, weight_decay, clip).
Runs K steps of torch.optim.AdamW with two parameter groups (the weight decayed, the
bias not, the kit's default) and torch.nn.utils.clip_grad_norm_ before each step, and
writes DIR/w_torch.npy and DIR/b_torch.npy.
"""
import json
import sys

import numpy as np
import torch


def main(d):
    h = json.load(open(f"{d}/hyper.json"))
    w = torch.nn.Parameter(torch.from_numpy(np.load(f"{d}/w0.npy")))
    b = torch.nn.Parameter(torch.from_numpy(np.load(f"{d}/b0.npy")))
    gw, gb, lrs = np.load(f"{d}/gw.npy"), np.load(f"{d}/gb.npy"), np.load(f"{d}/lr.npy")
    opt = torch.optim.AdamW(
        [{"params": [w], "weight_decay": h["weight_decay"]}, {"params": [b], "weight_decay": 0.0}],
        lr=float(lrs[0]), betas=(h["beta1"], h["beta2"]), eps=h["eps"], foreach=False)
    for k in range(len(lrs)):
        w.grad = torch.from_numpy(gw[k].copy())
        b.grad = torch.from_numpy(gb[k].copy())
        if h["clip"] > 0:
            torch.nn.utils.clip_grad_norm_([w, b], h["clip"])
        for g in opt.param_groups:
            g["lr"] = float(lrs[k])
        opt.step()
    np.save(f"{d}/w_torch.npy", w.detach().numpy())
    np.save(f"{d}/b_torch.npy", b.detach().numpy())


if __name__ == "__main__":
    main(sys.argv[1])
