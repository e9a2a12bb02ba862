// Incremental decoding with a key/value cache (batch 1, no hooks), used by generation:
// md_kvcache_prefill runs the normal forward over a prompt and keeps every layer's post-rotary
// keys and values; each md_kvcache_step then computes one more position in O(position) work
// instead of re-running the whole sequence. Logits of the newest position are in
// kv->logits (V).
#ifndef MD_MODEL_DECODE_H
#define MD_MODEL_DECODE_H

#include "model/model.h"
#include "tensor/arena.h"
#include "tensor/error.h"

typedef struct md_kvcache {
    md_arena arena;
    float *k, *v;          // (L, n_ctx, C) keys (after rotary) and values, rows by position
    int len;               // positions held
    float *x, *ln, *q, *z, *attn, *mlp, *mid;  // (C) one position
    float *pre, *post;     // (F)
    float *row;            // (n_ctx) attention weights of one head
    float *logits;         // (V) logits of the newest position
} md_kvcache;

int md_kvcache_init(md_kvcache *kv, const md_model *m, md_error *err);
void md_kvcache_free(md_kvcache *kv);
// Forward over tokens (1, T) (T <= n_ctx); the cache then holds T positions.
int md_kvcache_prefill(md_kvcache *kv, md_model *m, const int32_t *tokens, int T, md_error *err);
// Appends one token at position kv->len (< n_ctx).
int md_kvcache_step(md_kvcache *kv, md_model *m, int32_t token, md_error *err);

#endif
