#include "cli/model_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/process.h"

int md_cli_load_model(const char *dir, const char *process, md_model *m, md_error *err) {
    md_process_opts o;
    if (md_process_opts_parse(process, &o, err)) return -1;
    // Processing that rewrites the unembedding needs it apart from the embedding.
    bool untie = o.fold_ln || o.center_writing_weights || o.center_unembed;
    if (md_model_load(m, dir, untie, err)) return -1;
    if (md_model_process(m, &o, err)) {
        md_model_free(m);
        return -1;
    }
    return 0;
}

static int parse_ids(const char *s, int vocab, int32_t **ids, int *n, md_error *err) {
    int cap = 16, k = 0;
    int32_t *v = malloc((size_t)cap * sizeof *v);
    if (!v) return md_errorf(err, "out of memory");
    const char *p = s;
    while (*p) {
        char *end = NULL;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x >= vocab) {
            free(v);
            return md_errorf(err, "--tokens: expected comma-separated ids in [0, %d), got '%s' "
                                  "at token %d", vocab, s, k + 1);
        }
        if (k == cap) {
            cap *= 2;
            int32_t *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                free(v);
                return md_errorf(err, "out of memory");
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = end;
        if (*p == ',') p++;
        else if (*p) {
            free(v);
            return md_errorf(err, "--tokens: unexpected '%c' in '%s'", *p, s);
        }
    }
    if (k == 0) {
        free(v);
        return md_errorf(err, "--tokens: no token ids given");
    }
    *ids = v;
    *n = k;
    return 0;
}

int md_cli_read_tokens(const char *dir, const char *tokens, const char *text, int vocab,
                       int32_t **ids, int *n, md_error *err) {
    if (!!tokens == !!text) return md_errorf(err, "give exactly one of --tokens and --text");
    if (tokens) return parse_ids(tokens, vocab, ids, n, err);
    md_tokenizer *t = md_tokenizer_load_dir(dir, err);
    if (!t) return -1;
    md_token_ids v = {0};
    int rc = md_tokenizer_encode(t, text, strlen(text), 0, &v, err);
    md_tokenizer_free(t);
    if (rc) return -1;
    if (v.n == 0) {
        md_token_ids_free(&v);
        return md_errorf(err, "--text: the text encodes to no tokens");
    }
    for (size_t i = 0; i < v.n; i++)
        if (v.ids[i] >= vocab) {
            int32_t bad = v.ids[i];
            md_token_ids_free(&v);
            return md_errorf(err, "--text: token id %d from the tokenizer is outside the model's "
                                  "vocabulary of %d", bad, vocab);
        }
    *ids = v.ids;
    *n = (int)v.n;
    return 0;
}
