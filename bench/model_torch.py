"""PyTorch side of bench/bench_model.c: the same GPT-2 model (random weights, tied head)
forward (logits + cross-entropy, under torch.inference_mode) and forward+backward (loss
gradient w.r.t. every weight) on the same shape, in plain torch (no transformers).

usage: model_torch.py --layers L --d-model C --heads H --vocab V --n-ctx N --batch B
                      --seq T --reps R --warmup W
Prints one JSON line: {"fwd_tok_s": ..., "fwdbwd_tok_s": ..., "threads": n, "torch": ...}.
Run it with the environment the benchmark sets (OMP_NUM_THREADS, LD_LIBRARY_PATH); it
also calls torch.set_num_threads with OMP_NUM_THREADS.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(c)
        self.qkv = nn.Linear(c, 3 * c)
        self.out = nn.Linear(c, c)
        self.ln2 = nn.LayerNorm(c)
        self.fc = nn.Linear(c, 4 * c)
        self.proj = nn.Linear(4 * c, c)

    def forward(self, x, mask):
        b, t, c = x.shape
        d = c // self.h
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q = q.view(b, t, self.h, d).transpose(1, 2)
        k = k.view(b, t, self.h, d).transpose(1, 2)
        v = v.view(b, t, self.h, d).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        att = att.masked_fill(mask[:t, :t], float("-inf")).softmax(dim=-1)
        z = (att @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.out(z)
        return x + self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, layers, c, h, vocab, n_ctx):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(n_ctx, c)
        self.blocks = nn.ModuleList([Block(c, h) for _ in range(layers)])
        self.lnf = nn.LayerNorm(c)
        self.register_buffer("mask", torch.triu(torch.ones(n_ctx, n_ctx, dtype=torch.bool), 1))
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.blocks:
            x = blk(x, self.mask)
        logits = self.lnf(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def median_time(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    for a in ("layers", "d-model", "heads", "vocab", "n-ctx", "batch", "seq", "reps", "warmup"):
        ap.add_argument("--" + a, type=int, required=True)
    a = ap.parse_args()
    n = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(n)
    torch.manual_seed(0)
    model = GPT2(a.layers, a.d_model, a.heads, a.vocab, a.n_ctx)
    idx = torch.randint(0, a.vocab, (a.batch, a.seq))
    tgt = torch.randint(0, a.vocab, (a.batch, a.seq))

    def fwd():
        with torch.inference_mode():
            model(idx, tgt)

    def fwdbwd():
        model.zero_grad(set_to_none=False)
        model(idx, tgt).backward()

    tokens = a.batch * a.seq
    tf = median_time(fwd, a.reps, a.warmup)
    tb = median_time(fwdbwd, a.reps, a.warmup)
    print(json.dumps({"fwd_tok_s": tokens / tf, "fwdbwd_tok_s": tokens / tb, "threads": n,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
