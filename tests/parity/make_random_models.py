"""Writes small random GPT-2 and GPT-NeoX Hugging Face folders and their PyTorch
reference outputs, for tests/test_model_parity.c.

usage: make_random_models.py OUT_DIR

For each model OUT_DIR/<name>/ gets config.json and model.safetensors (or shards with
model.safetensors.index.json), written by our own numpy safetensors writer in the layout
Hugging Face checkpoints use (GPT-2 Conv1D [in, out], mask buffers, NeoX fused
query_key_value). OUT_DIR/<name>/ref.safetensors holds the reference (tests/parity/
reference.py, torch, fp32): tokens, targets, logits, loss, every hook ("hook.<name>"),
the gradient of the mean LM loss w.r.t. every weight ("grad.<hf name>") and w.r.t. every
hook point ("hookgrad.<name>"). Reduced-precision folders also carry "logits_fp32", the
logits of the unrounded fp32 weights.
"""
import json
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
import st_numpy  # noqa: E402

B, T = 2, 11


def gpt2_weights(cfg, rng, prefix, with_buffers):
    C, L, V = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"]
    Fd = cfg.get("n_inner") or 4 * C
    P = cfg["n_positions"]
    sd = {}
    n = lambda *s: rng.standard_normal(s).astype(np.float32)
    sd[prefix + "wte.weight"] = 0.5 * n(V, C)
    sd[prefix + "wpe.weight"] = 0.5 * n(P, C)
    for l in range(L):
        h = prefix + "h.%d." % l
        sd[h + "ln_1.weight"] = 1 + 0.2 * n(C)
        sd[h + "ln_1.bias"] = 0.2 * n(C)
        sd[h + "attn.c_attn.weight"] = n(C, 3 * C) / np.sqrt(C)
        sd[h + "attn.c_attn.bias"] = 0.1 * n(3 * C)
        sd[h + "attn.c_proj.weight"] = n(C, C) / np.sqrt(C)
        sd[h + "attn.c_proj.bias"] = 0.1 * n(C)
        sd[h + "ln_2.weight"] = 1 + 0.2 * n(C)
        sd[h + "ln_2.bias"] = 0.2 * n(C)
        sd[h + "mlp.c_fc.weight"] = n(C, Fd) / np.sqrt(C)
        sd[h + "mlp.c_fc.bias"] = 0.1 * n(Fd)
        sd[h + "mlp.c_proj.weight"] = n(Fd, C) / np.sqrt(Fd)
        sd[h + "mlp.c_proj.bias"] = 0.1 * n(C)
    sd[prefix + "ln_f.weight"] = 1 + 0.2 * n(C)
    sd[prefix + "ln_f.bias"] = 0.2 * n(C)
    if not cfg.get("tie_word_embeddings", True):
        sd["lm_head.weight"] = 0.5 * n(V, C)
    buffers = {}
    if with_buffers:
        for l in range(L):
            h = prefix + "h.%d." % l
            buffers[h + "attn.bias"] = np.tril(np.ones((P, P), dtype=np.bool_)).reshape(1, 1, P, P)
            buffers[h + "attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    return sd, buffers


def neox_weights(cfg, rng, with_buffers):
    C, L, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    Fd, P = cfg["intermediate_size"], cfg["max_position_embeddings"]
    H = cfg["num_attention_heads"]
    D = C // H
    rot = int(D * cfg["rotary_pct"])
    sd = {}
    n = lambda *s: rng.standard_normal(s).astype(np.float32)
    sd["gpt_neox.embed_in.weight"] = 0.5 * n(V, C)
    for l in range(L):
        h = "gpt_neox.layers.%d." % l
        sd[h + "input_layernorm.weight"] = 1 + 0.2 * n(C)
        sd[h + "input_layernorm.bias"] = 0.2 * n(C)
        sd[h + "post_attention_layernorm.weight"] = 1 + 0.2 * n(C)
        sd[h + "post_attention_layernorm.bias"] = 0.2 * n(C)
        sd[h + "attention.query_key_value.weight"] = n(3 * C, C) / np.sqrt(C)
        sd[h + "attention.query_key_value.bias"] = 0.1 * n(3 * C)
        sd[h + "attention.dense.weight"] = n(C, C) / np.sqrt(C)
        sd[h + "attention.dense.bias"] = 0.1 * n(C)
        if not cfg.get("attention_bias", True):
            del sd[h + "attention.query_key_value.bias"], sd[h + "attention.dense.bias"]
        sd[h + "mlp.dense_h_to_4h.weight"] = n(Fd, C) / np.sqrt(C)
        sd[h + "mlp.dense_h_to_4h.bias"] = 0.1 * n(Fd)
        sd[h + "mlp.dense_4h_to_h.weight"] = n(C, Fd) / np.sqrt(Fd)
        sd[h + "mlp.dense_4h_to_h.bias"] = 0.1 * n(C)
    sd["gpt_neox.final_layer_norm.weight"] = 1 + 0.2 * n(C)
    sd["gpt_neox.final_layer_norm.bias"] = 0.2 * n(C)
    if not cfg["tie_word_embeddings"]:
        sd["embed_out.weight"] = 0.5 * n(V, C)
    buffers = {}
    if with_buffers:
        for l in range(L):
            h = "gpt_neox.layers.%d." % l
            buffers[h + "attention.bias"] = np.tril(np.ones((P, P), dtype=np.bool_)).reshape(1, 1, P, P)
            buffers[h + "attention.masked_bias"] = np.array(-1e9, dtype=np.float32)
            buffers[h + "attention.rotary_emb.inv_freq"] = (
                1.0 / (cfg["rotary_emb_base"] ** (np.arange(0, rot, 2, dtype=np.float32) / rot))).astype(np.float32)
    return sd, buffers


def gpt2_config(**kw):
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": 2, "n_head": 3,
           "n_embd": 48, "n_positions": 32, "n_ctx": 32, "vocab_size": 97, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new", "n_inner": None, "bos_token_id": 0, "eos_token_id": 0,
           "attn_pdrop": 0.1, "embd_pdrop": 0.1, "resid_pdrop": 0.1, "initializer_range": 0.02,
           "summary_type": "cls_index", "task_specific_params": {"text-generation": {"do_sample": True}}}
    cfg.update(kw)
    return cfg


def neox_config(**kw):
    cfg = {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "num_hidden_layers": 2,
           "num_attention_heads": 4, "hidden_size": 64, "intermediate_size": 256,
           "max_position_embeddings": 32, "vocab_size": 128, "layer_norm_eps": 1e-5, "rotary_pct": 0.25,
           "rotary_emb_base": 10000, "use_parallel_residual": True, "hidden_act": "gelu",
           "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 0, "initializer_range": 0.02,
           "torch_dtype": "float16", "transformers_version": "4.24.0", "use_cache": True}
    cfg.update(kw)
    return cfg


# name, config, seed, stored dtype, gpt2 prefix, shards
MODELS = [
    ("gpt2_tied", gpt2_config(), 1, "F32", "transformer.", 1),
    ("gpt2_untied_d12", gpt2_config(n_embd=36, n_inner=80, n_positions=24, n_ctx=24, vocab_size=101,
                                     activation_function="gelu", tie_word_embeddings=False), 2, "F32", "", 2),
    ("neox_parallel", neox_config(), 3, "F32", None, 1),
    ("neox_seq_d12", neox_config(num_hidden_layers=3, num_attention_heads=3, hidden_size=36,
                                 intermediate_size=100, max_position_embeddings=24, vocab_size=97,
                                 rotary_pct=0.5, rotary_emb_base=5000, use_parallel_residual=False,
                                 hidden_act="gelu_new"), 4, "F32", None, 3),
    ("neox_nobias_fullrot", neox_config(num_attention_heads=2, hidden_size=32, intermediate_size=64,
                                        max_position_embeddings=16, vocab_size=50, rotary_pct=1.0,
                                        attention_bias=False), 5, "F32", None, 1),
    ("gpt2_bf16", gpt2_config(), 1, "BF16", "transformer.", 1),
    ("neox_bf16", neox_config(), 3, "BF16", None, 1),
    ("neox_f16", neox_config(), 3, "F16", None, 1),
]


def write_folder(path, cfg, sd, buffers, dtype, shards):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tensors = dict(sd)
    tensors.update(buffers)
    names = sorted(tensors)
    if shards == 1:
        st_numpy.write(os.path.join(path, "model.safetensors"), tensors, dtype, {"format": "pt"})
        return
    weight_map = {}
    for s in range(shards):
        part = names[s::shards]
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        st_numpy.write(os.path.join(path, fname), {n: tensors[n] for n in part}, dtype, {"format": "pt"})
        for n in part:
            weight_map[n] = fname
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)


def stored_values(sd, dtype):
    if dtype == "F32":
        return sd
    if dtype == "BF16":
        return {k: st_numpy.round_to_bf16(v) for k, v in sd.items()}
    return {k: v.astype(np.float16).astype(np.float32) for k, v in sd.items()}


def run_reference(cfg, sd, tokens, targets, split):
    tsd = {k: torch.tensor(v, requires_grad=True) for k, v in sd.items()}
    logits, loss, hooks = reference.forward(cfg, tsd, torch.tensor(tokens, dtype=torch.long),
                                            torch.tensor(targets, dtype=torch.long), split)
    loss.backward()
    return logits, loss, hooks, tsd


def main(out):
    torch.manual_seed(0)
    for name, cfg, seed, dtype, prefix, shards in MODELS:
        rng = np.random.default_rng(seed)
        if cfg["model_type"] == "gpt2":
            sd, buffers = gpt2_weights(cfg, rng, prefix, with_buffers=(name == "gpt2_tied"))
            V = cfg["vocab_size"]
        else:
            sd, buffers = neox_weights(cfg, rng, with_buffers=(name == "neox_parallel"))
            V = cfg["vocab_size"]
        path = os.path.join(out, name)
        write_folder(path, cfg, sd, buffers, dtype, shards)
        trng = np.random.default_rng(100 + seed)
        tokens = trng.integers(0, V, size=(B, T)).astype(np.int32)
        targets = trng.integers(0, V, size=(B, T)).astype(np.int32)
        targets[0, 3] = -1  # an ignored position
        used = stored_values(sd, dtype)

        ref = {"tokens": tokens, "targets": targets}
        logits, loss, hooks, tsd = run_reference(cfg, used, tokens, targets, split=False)
        ref["logits"] = logits.detach().numpy()
        ref["loss"] = np.array([loss.item()], dtype=np.float32)
        for k, t in hooks.items():
            ref["hook." + k] = t.detach().numpy()
            if t.grad is not None:
                ref["hookgrad." + k] = t.grad.numpy()
        for k, t in tsd.items():
            ref["grad." + k] = t.grad.numpy()
        _, _, shooks, _ = run_reference(cfg, used, tokens, targets, split=True)
        for k, t in shooks.items():
            if k.endswith(("hook_q_input", "hook_k_input", "hook_v_input", "attn.hook_result")):
                ref["hook." + k] = t.detach().numpy()
                ref["hookgrad." + k] = t.grad.numpy()
        if dtype != "F32":
            l32, _, _, _ = run_reference(cfg, sd, tokens, targets, split=False)
            ref["logits_fp32"] = l32.detach().numpy()
        st_numpy.write(os.path.join(path, "ref.safetensors"),
                       {k: np.ascontiguousarray(v) for k, v in ref.items()})
    print("wrote %d models to %s" % (len(MODELS), out))


if __name__ == "__main__":
    main(sys.argv[1])
