"""Independent PyTorch reference for GPT-2 and GPT-NeoX, written from the Hugging Face
modelling semantics (transformers is not installed here, and is deliberately not used):
weights are taken by their Hugging Face names and layouts exactly as a checkpoint stores
them, and every TransformerLens hook point is recorded along the way.

forward(config, state, tokens, targets, split=False) returns (logits, loss, hooks) where
hooks maps hook names to tensors that retain their gradient. split=True routes q/k/v
through per-head copies of the residual (hook_q_input, ...) and the attention output
through per-head results (hook_result), as TransformerLens does with use_split_qkv_input
and use_attn_result; the numbers are the same, only the graph differs.
"""
import math

import torch
import torch.nn.functional as F


class Recorder:
    def __init__(self):
        self.hooks = {}

    def __call__(self, name, t):
        if t.requires_grad:
            t.retain_grad()
        self.hooks[name] = t
        return t


def layer_norm(rec, prefix, x, w, b, eps):
    # TransformerLens decomposition: scale = sqrt(var + eps), normalized = xc / scale.
    xc = x - x.mean(-1, keepdim=True)
    scale = rec(prefix + ".hook_scale", (xc.pow(2).mean(-1, keepdim=True) + eps).sqrt())
    normalized = rec(prefix + ".hook_normalized", xc / scale)
    return normalized * w + b


def gelu(x, act):
    if act == "gelu":
        return F.gelu(x)
    if act in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    raise ValueError(act)


def attention(rec, p, q, k, v, D):
    """q, k, v (B, T, H, D) -> z (B, T, H, D), causal softmax attention."""
    T = q.shape[1]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(D)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    scores = rec(p + "attn.hook_attn_scores", scores.masked_fill(~mask, float("-inf")))
    pattern = rec(p + "attn.hook_pattern", torch.softmax(scores, dim=-1))
    return rec(p + "attn.hook_z", torch.einsum("bhqk,bkhd->bqhd", pattern, v))


def split_inputs(rec, p, resid, H):
    """Per-head copies of the residual for q, k and v (B, T, H, C)."""
    return [rec(p + "hook_%s_input" % s, resid.unsqueeze(2).expand(-1, -1, H, -1).clone())
            for s in "qkv"]


def rotary(x, rot, base):
    """GPT-NeoX rotate-half rotary embedding on the first `rot` dims of x (B, T, H, D)."""
    T = x.shape[1]
    inv_freq = 1.0 / (base ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
    t = torch.arange(T, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos = emb.cos()[None, :, None, :]
    sin = emb.sin()[None, :, None, :]
    xr, xp = x[..., :rot], x[..., rot:]
    x1, x2 = xr[..., : rot // 2], xr[..., rot // 2:]
    rotated = torch.cat((-x2, x1), dim=-1)
    return torch.cat((xr * cos + rotated * sin, xp), dim=-1)


def output_projection(rec, p, z, w_oc, b, split):
    """z (B, T, H, D) and an output weight given as (C_out, H*D) -> attn_out (B, T, C)."""
    B, T, H, D = z.shape
    if split:
        w_heads = w_oc.reshape(w_oc.shape[0], H, D)  # (C, H, D)
        result = rec(p + "attn.hook_result", torch.einsum("bthd,chd->bthc", z, w_heads))
        out = result.sum(dim=2)
    else:
        out = z.reshape(B, T, H * D) @ w_oc.t()
    return out + b if b is not None else out


def gpt2_forward(cfg, sd, tokens, split=False):
    rec = Recorder()
    pre = "transformer." if "transformer.wte.weight" in sd else ""
    g = lambda n: sd[pre + n]
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    D = C // H
    eps = cfg["layer_norm_epsilon"]
    act = cfg.get("activation_function", "gelu_new")
    B, T = tokens.shape
    embed = rec("hook_embed", g("wte.weight")[tokens])
    pos = rec("hook_pos_embed", g("wpe.weight")[:T].unsqueeze(0).expand(B, -1, -1))
    resid = embed + pos
    for l in range(L):
        p = "blocks.%d." % l
        h = lambda n: g("h.%d.%s" % (l, n))
        resid = rec(p + "hook_resid_pre", resid)
        W = h("attn.c_attn.weight")  # Conv1D: [in, out], out = [q | k | v]
        bqkv = h("attn.c_attn.bias")
        if split:
            ins = split_inputs(rec, p, resid, H)
            qkv = []
            for s, x in enumerate(ins):
                xn = layer_norm(rec, p + "ln1", x, h("ln_1.weight"), h("ln_1.bias"), eps)
                Ws = W[:, s * C:(s + 1) * C].reshape(C, H, D)
                qkv.append(torch.einsum("bthc,chd->bthd", xn, Ws) + bqkv[s * C:(s + 1) * C].reshape(H, D))
            q, k, v = qkv
        else:
            a = layer_norm(rec, p + "ln1", resid, h("ln_1.weight"), h("ln_1.bias"), eps)
            q, k, v = (a @ W + bqkv).split(C, dim=-1)
            q, k, v = (t.reshape(B, T, H, D) for t in (q, k, v))
        q = rec(p + "attn.hook_q", q)
        k = rec(p + "attn.hook_k", k)
        v = rec(p + "attn.hook_v", v)
        z = attention(rec, p, q, k, v, D)
        attn_out = rec(p + "hook_attn_out",
                       output_projection(rec, p, z, h("attn.c_proj.weight").t(), h("attn.c_proj.bias"), split))
        resid = rec(p + "hook_resid_mid", resid + attn_out)
        mlp_in = rec(p + "hook_mlp_in", resid.clone())
        m = layer_norm(rec, p + "ln2", mlp_in, h("ln_2.weight"), h("ln_2.bias"), eps)
        hpre = rec(p + "mlp.hook_pre", m @ h("mlp.c_fc.weight") + h("mlp.c_fc.bias"))
        hpost = rec(p + "mlp.hook_post", gelu(hpre, act))
        mlp_out = rec(p + "hook_mlp_out", hpost @ h("mlp.c_proj.weight") + h("mlp.c_proj.bias"))
        resid = rec(p + "hook_resid_post", resid + mlp_out)
    x = layer_norm(rec, "ln_final", resid, g("ln_f.weight"), g("ln_f.bias"), eps)
    tied = cfg.get("tie_word_embeddings", True)
    W_U = g("wte.weight") if tied else sd["lm_head.weight"]
    return x @ W_U.t(), rec.hooks


def neox_forward(cfg, sd, tokens, split=False):
    rec = Recorder()
    C, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    D = C // H
    rot = int(D * cfg["rotary_pct"])
    base = cfg["rotary_emb_base"]
    eps = cfg["layer_norm_eps"]
    act = cfg["hidden_act"]
    parallel = cfg["use_parallel_residual"]
    B, T = tokens.shape
    resid = rec("hook_embed", sd["gpt_neox.embed_in.weight"][tokens])
    for l in range(L):
        p = "blocks.%d." % l
        h = lambda n: sd["gpt_neox.layers.%d.%s" % (l, n)]
        resid = rec(p + "hook_resid_pre", resid)
        W = h("attention.query_key_value.weight")  # (3C, C), rows [head, q|k|v, d]
        # attention_bias = false checkpoints have no q/k/v or dense biases
        bqkv = sd.get("gpt_neox.layers.%d.attention.query_key_value.bias" % l)
        if bqkv is None:
            bqkv = torch.zeros(3 * C)
        W4 = W.reshape(H, 3, D, C)
        b4 = bqkv.reshape(H, 3, D)
        if split:
            ins = split_inputs(rec, p, resid, H)
            qkv = []
            for s, x in enumerate(ins):
                xn = layer_norm(rec, p + "ln1", x, h("input_layernorm.weight"), h("input_layernorm.bias"), eps)
                qkv.append(torch.einsum("bthc,hdc->bthd", xn, W4[:, s]) + b4[:, s])
            q, k, v = qkv
        else:
            a = layer_norm(rec, p + "ln1", resid, h("input_layernorm.weight"), h("input_layernorm.bias"), eps)
            fused = (a @ W.t() + bqkv).reshape(B, T, H, 3 * D)
            q, k, v = fused[..., :D], fused[..., D:2 * D], fused[..., 2 * D:]
        q = rec(p + "attn.hook_q", q)
        k = rec(p + "attn.hook_k", k)
        v = rec(p + "attn.hook_v", v)
        q = rec(p + "attn.hook_rot_q", rotary(q, rot, base))
        k = rec(p + "attn.hook_rot_k", rotary(k, rot, base))
        z = attention(rec, p, q, k, v, D)
        attn_out = rec(p + "hook_attn_out",
                       output_projection(rec, p, z, h("attention.dense.weight"),
                                         sd.get("gpt_neox.layers.%d.attention.dense.bias" % l), split))

        def mlp(x):
            mlp_in = rec(p + "hook_mlp_in", x.clone())
            m = layer_norm(rec, p + "ln2", mlp_in, h("post_attention_layernorm.weight"),
                           h("post_attention_layernorm.bias"), eps)
            hpre = rec(p + "mlp.hook_pre", m @ h("mlp.dense_h_to_4h.weight").t() + h("mlp.dense_h_to_4h.bias"))
            hpost = rec(p + "mlp.hook_post", gelu(hpre, act))
            return rec(p + "hook_mlp_out", hpost @ h("mlp.dense_4h_to_h.weight").t() + h("mlp.dense_4h_to_h.bias"))

        if parallel:
            resid = mlp(resid) + attn_out + resid
        else:
            resid = rec(p + "hook_resid_mid", attn_out + resid)
            resid = mlp(resid) + resid
        resid = rec(p + "hook_resid_post", resid)
    x = layer_norm(rec, "ln_final", resid, sd["gpt_neox.final_layer_norm.weight"],
                   sd["gpt_neox.final_layer_norm.bias"], eps)
    W_U = sd["gpt_neox.embed_in.weight"] if cfg["tie_word_embeddings"] else sd["embed_out.weight"]
    return x @ W_U.t(), rec.hooks


def forward(cfg, sd, tokens, targets, split=False):
    fn = gpt2_forward if cfg["model_type"] == "gpt2" else neox_forward
    logits, hooks = fn(cfg, sd, tokens, split)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)
    return logits, loss, hooks
