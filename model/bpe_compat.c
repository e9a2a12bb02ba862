// Emulation of npm's gpt-3-encoder (used to prove token-for-token parity with it).
//
// That package stores merge ranks in a plain object keyed by the pair array converted
// to a string, "a,b". Two different pairs whose strings join to the same key share an
// entry: e.g. the real merge ('"', ',"') has key '",,"', and so does ('",', '"'), which
// is not a merge; the package merges it anyway, into '","', at the real merge's rank.
// (When several real merges share a key, the object keeps the last rank.) Such phantom
// merges change the tokens of text like `"],"` or `",","`, common in code and JSON.
#include <stdlib.h>
#include <string.h>

#include "model/bpe_internal.h"
#include "model/tokenizer.h"

int md_tokenizer_emulate_gpt3_encoder(md_tokenizer *t, md_error *err) {
    // A comma byte is the comma character in byte-level strings (and no other character
    // of the alphabet contains that byte), so keys can be built from raw bytes.
    md_bpe_strmap last_rank = {0};  // "a,b" key -> highest rank of a real merge with it
    size_t maxlen = 0;
    for (int32_t r = 0; r < t->n_merges; r++) {
        size_t l = (size_t)t->tok_len[t->merge_a[r]] + (size_t)t->tok_len[t->merge_b[r]] + 1;
        if (l > maxlen) maxlen = l;
    }
    char *key = malloc(maxlen + 1), *cat = malloc(maxlen + 1);
    int added = 0, rc = 0;
    if (!key || !cat) goto oom;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (int32_t r = 0; r < t->n_merges; r++) {
            size_t la, lb;
            const char *a = md_tokenizer_token(t, t->merge_a[r], &la);
            const char *b = md_tokenizer_token(t, t->merge_b[r], &lb);
            if (!memchr(a, ',', la) && !memchr(b, ',', lb)) continue;  // key has one comma
            memcpy(key, a, la);
            key[la] = ',';
            memcpy(key + la + 1, b, lb);
            size_t kl = la + 1 + lb;
            if (pass == 0) {
                // Ranks grow with r: a later merge with the same key replaces the entry.
                if (md_bpe_strmap_set(&last_rank, key, kl, r)) goto oom;
                continue;
            }
            int32_t rank = md_bpe_strmap_get(&last_rank, key, kl);
            // Every split of the key at a comma is a pair the package ranks the same.
            for (size_t j = 0; j < kl; j++) {
                if (key[j] != ',' || j == 0 || j + 1 == kl) continue;
                int32_t ia = md_tokenizer_find(t, key, j);
                int32_t ib = md_tokenizer_find(t, key + j + 1, kl - j - 1);
                if (ia < 0 || ib < 0 || !t->tok_bytelevel[ia] || !t->tok_bytelevel[ib]) continue;
                memcpy(cat, key, j);
                memcpy(cat + j, key + j + 1, kl - j - 1);
                int32_t res = md_tokenizer_find(t, cat, kl - 1);
                if (res < 0) continue;  // the package would emit `undefined`: not emulated
                const md_bpe_pair_entry *e = md_bpe_pairmap_get(&t->pairs, ia, ib);
                if (e && e->rank == rank) continue;
                if (!e) added++;
                if (md_bpe_pairmap_set(&t->pairs, ia, ib, rank, res)) goto oom;
            }
        }
    }
    t->emulate_js = true;
    free(key);
    free(cat);
    md_bpe_strmap_free(&last_rank);
    return added;
oom:
    free(key);
    free(cat);
    md_bpe_strmap_free(&last_rank);
    return md_errorf(err, "%s: out of memory", t->source);
}
