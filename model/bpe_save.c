// Saving a byte-level BPE in GPT-2's format: vocab.json ({"token": id} with byte-level
// token strings, in id order) and merges.txt ("#version: 0.2" then one "a b" per line in
// rank order). Both files are written atomically.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bpe_internal.h"
#include "model/tokenizer.h"
#include "tensor/fileio.h"
#include "tensor/json.h"

// The vocabulary key of a token: its byte-level string, or for a token loaded as plain
// text (an added token) that text. NUL-terminated in buf (room for 2 * len + 1).
static const char *token_key(const md_tokenizer *t, int32_t id, char *buf) {
    size_t len = (size_t)t->tok_len[id];
    const char *raw = t->tok_bytes + t->tok_off[id];
    size_t k;
    if (t->tok_bytelevel[id]) {
        k = md_bpe_bytes_to_bytelevel((const uint8_t *)raw, len, buf);
    } else {
        memcpy(buf, raw, len);
        k = len;
    }
    buf[k] = 0;
    return buf;
}

static int write_vocab(const md_tokenizer *t, const char *path, char *buf, md_error *err) {
    // Keys must be distinct and must not contain NUL (the writer takes C strings).
    md_bpe_strmap seen = {0};
    for (int32_t id = 0; id < t->n_ids; id++) {
        if (t->tok_len[id] < 0) continue;
        const char *key = token_key(t, id, buf);
        size_t kl = strlen(key);
        int32_t old = -1;
        int put = md_bpe_strmap_put(&seen, key, kl, id, &old);
        if (put != 0 || kl == 0 || (!t->tok_bytelevel[id] && memchr(t->tok_bytes + t->tok_off[id], 0, (size_t)t->tok_len[id]))) {
            md_bpe_strmap_free(&seen);
            if (put < 0) return md_errorf(err, "%s: out of memory", path);
            return md_errorf(err, "%s: token %d cannot be written as a distinct vocab.json key%s",
                             path, id, put == 1 ? " (same key as another token)" : "");
        }
    }
    md_bpe_strmap_free(&seen);
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    md_json_writer w;
    md_jw_init(&w, af.f, false);
    md_jw_object_begin(&w);
    for (int32_t id = 0; id < t->n_ids; id++) {
        if (t->tok_len[id] < 0) continue;
        md_jw_key(&w, token_key(t, id, buf));
        md_jw_int(&w, id);
    }
    md_jw_object_end(&w);
    fputc('\n', af.f);
    return md_atomic_commit(&af, err);
}

static int write_merges(const md_tokenizer *t, const char *path, char *buf, char *buf2,
                        md_error *err) {
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    fputs("#version: 0.2\n", af.f);
    for (int32_t r = 0; r < t->n_merges; r++) {
        int32_t a = t->merge_a[r], b = t->merge_b[r];
        const char *ka = token_key(t, a, buf), *kb = token_key(t, b, buf2);
        if (strpbrk(ka, " \n\r") || strpbrk(kb, " \n\r")) {
            md_atomic_abort(&af);
            return md_errorf(err, "%s: merge %d has a token with a space or newline (ids %d, %d): "
                                  "not expressible in merges.txt",
                             path, r, a, b);
        }
        fprintf(af.f, "%s %s\n", ka, kb);
    }
    return md_atomic_commit(&af, err);
}

int md_tokenizer_save_gpt2(const md_tokenizer *t, const char *dir, md_error *err) {
    if (md_mkdirs(dir, err)) return -1;
    size_t maxlen = 0;
    for (int32_t id = 0; id < t->n_ids; id++)
        if (t->tok_len[id] > 0 && (size_t)t->tok_len[id] > maxlen) maxlen = (size_t)t->tok_len[id];
    char *buf = malloc(2 * maxlen + 1), *buf2 = malloc(2 * maxlen + 1);
    char path[4096];
    int rc = -1;
    if (!buf || !buf2) {
        md_errorf(err, "%s: out of memory", dir);
        goto done;
    }
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    if (write_vocab(t, path, buf, err)) goto done;
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    if (write_merges(t, path, buf, buf2, err)) goto done;
    rc = 0;
done:
    free(buf);
    free(buf2);
    return rc;
}
