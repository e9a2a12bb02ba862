"""PyTorch side of bench/bench_train.c: the same training step (GPT-2 forward, cross-entropy,
backward, clip_grad_norm_, AdamW with weight decay on matrices only) on the same shape, in
plain torch (no transformers package). Prints one JSON line:
  {"ms_per_step": median, "peak_mib": max RSS, "steps": n, "torch": version, "blas": ...}

Usage: train_torch.py --layers L --d-model C --heads H --vocab V --n-ctx N --batch B
                      --seq T --steps S --warmup W [--bf16] [--foreach]
Run it with the environment the benchmark sets (OMP_NUM_THREADS, LD_LIBRARY_PATH).
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x, mask):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q = q.view(b, t, self.h, c // self.h).transpose(1, 2)
        k = k.view(b, t, self.h, c // self.h).transpose(1, 2)
        v = v.view(b, t, self.h, c // self.h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(mask[:t, :t], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, layers, c, h, vocab, n_ctx):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(n_ctx, c)
        self.blocks = nn.ModuleList([Block(c, h) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(c)
        self.register_buffer("mask", torch.triu(torch.ones(n_ctx, n_ctx, dtype=torch.bool), 1))
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.blocks:
            x = blk(x, self.mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    for k in ("layers", "d-model", "heads", "vocab", "n-ctx", "batch", "seq", "steps", "warmup"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--foreach", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    model = GPT2(a.layers, a.d_model, a.heads, a.vocab, a.n_ctx)
    decay = [p for p in model.parameters() if p.dim() == 2 and p is not model.wte.weight
             and p is not model.wpe.weight]
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8, foreach=a.foreach)
    g = torch.Generator().manual_seed(1)
    times = []
    for s in range(a.warmup + a.steps):
        idx = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if a.bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(idx[:, :-1], idx[:, 1:])
        else:
            loss = model(idx[:, :-1], idx[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if s >= a.warmup:
            times.append(dt)
    times.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"ms_per_step": 1000 * times[len(times) // 2], "peak_mib": peak,
                      "steps": len(times), "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "loss": float(loss)}))


if __name__ == "__main__":
    main()
