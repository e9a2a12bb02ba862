// IOI task batches for any model with a tokenizer: tasks/ioi's prompts (Wang's templates,
// the synthetic world's names), tokenized with the model's own tokenizer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/task_batch.h"
#include "model/tokenizer.h"
#include "tasks/config.h"
#include "tasks/ioi.h"
#include "tasks/text.h"
#include "tasks/world.h"

// The single token of " name", or -1.
static int32_t one_token(md_tokenizer *tok, const char *name, md_error *err) {
    char s[128];
    snprintf(s, sizeof s, " %s", name);
    md_token_ids ids = {0};
    int32_t id = -1;
    if (md_tokenizer_encode(tok, s, strlen(s), 0, &ids, err) == 0 && ids.n == 1) id = ids.ids[0];
    md_token_ids_free(&ids);
    return id;
}

static int encode_row(md_tokenizer *tok, int32_t bos, const md_buf *text, md_token_ids *out,
                      md_error *err) {
    out->n = 0;
    md_token_ids t = {0};
    if (md_tokenizer_encode(tok, text->data, text->len, 0, &t, err)) return -1;
    size_t need = t.n + (bos >= 0);
    if (need > out->cap) {
        int32_t *p = realloc(out->ids, need * sizeof(int32_t));
        if (!p) {
            md_token_ids_free(&t);
            return md_errorf(err, "IOI: out of memory");
        }
        out->ids = p;
        out->cap = need;
    }
    size_t k = 0;
    if (bos >= 0) out->ids[k++] = bos;
    memcpy(out->ids + k, t.ids, t.n * sizeof(int32_t));
    out->n = need;
    md_token_ids_free(&t);
    return 0;
}

int md_task_batch_ioi_text(md_tokenizer *tok, int n, int split, md_task_batch *b, md_error *err) {
    memset(b, 0, sizeof *b);
    if (n <= 0 || split < 0 || split > 2)
        return md_errorf(err, "IOI: expected n > 0 and split 0..2, got %d, %d", n, split);
    md_data_config cfg;
    md_data_config_defaults(&cfg);
    md_world w;
    if (md_world_build(&cfg, &w, err)) return -1;
    int rc = -1;
    md_ioi_example *ex = NULL;
    int32_t *name_id = malloc((size_t)w.n_names * sizeof(int32_t));
    int32_t *rows = NULL;  // (kept, maxT) staging
    int32_t *crow = NULL, *meta = NULL;
    md_token_ids tc = {0}, tx = {0};
    md_buf text = {0};
    if (!name_id) {
        md_errorf(err, "IOI: out of memory");
        goto done;
    }
    for (int i = 0; i < w.n_names; i++) name_id[i] = one_token(tok, w.names[i], err);
    int32_t bos = md_tokenizer_eot(tok);
    int64_t pool = 4 * (int64_t)n + 64;
    if (md_ioi_dataset(&w, split, pool, 0, &ex, err)) goto done;
    enum { MAXT = 128 };
    rows = malloc((size_t)n * MAXT * sizeof(int32_t));
    crow = malloc((size_t)n * MAXT * sizeof(int32_t));
    meta = malloc((size_t)n * 8 * sizeof(int32_t));  // len, good, bad, group, io, s1, s2
    if (!rows || !crow || !meta) {
        md_errorf(err, "IOI: out of memory");
        goto done;
    }
    int kept = 0, T = 0;
    for (int64_t i = 0; i < pool && kept < n; i++) {
        const md_ioi_example *e = &ex[i];
        int32_t io = name_id[e->io], s = name_id[e->s];
        if (io < 0 || s < 0 || name_id[e->abc[0]] < 0 || name_id[e->abc[1]] < 0 ||
            name_id[e->abc[2]] < 0)
            continue;
        md_buf_clear(&text);
        md_ioi_prompt(&w, e, &text);
        if (encode_row(tok, bos, &text, &tc, err)) goto done;
        md_buf_clear(&text);
        md_ioi_prompt_abc(&w, e, &text);
        if (encode_row(tok, bos, &text, &tx, err)) goto done;
        if (tc.n != tx.n || tc.n > MAXT) continue;
        int pio = -1, ps1 = -1, ps2 = -1, nio = 0, ns = 0;
        for (size_t t = 0; t < tc.n; t++) {
            if (tc.ids[t] == io) pio = (int)t, nio++;
            if (tc.ids[t] == s) {
                if (ns == 0) ps1 = (int)t;
                else ps2 = (int)t;
                ns++;
            }
        }
        if (nio != 1 || ns != 2) continue;
        memcpy(rows + (int64_t)kept * MAXT, tc.ids, tc.n * sizeof(int32_t));
        memcpy(crow + (int64_t)kept * MAXT, tx.ids, tx.n * sizeof(int32_t));
        int32_t *mt = meta + (int64_t)kept * 8;
        mt[0] = (int32_t)tc.n, mt[1] = io, mt[2] = s, mt[3] = e->tmpl;
        mt[4] = pio, mt[5] = ps1, mt[6] = ps2;
        if ((int)tc.n > T) T = (int)tc.n;
        kept++;
    }
    if (kept < n) {
        md_errorf(err, "IOI: only %d of %d prompts have single-token names and aligned p_ABC "
                       "rows in this tokenizer", kept, n);
        goto done;
    }
    if (md_task_batch_alloc(b, n, T, err)) goto done;
    b->io_pos = malloc((size_t)n * sizeof(int32_t));
    b->s1_pos = malloc((size_t)n * sizeof(int32_t));
    b->s2_pos = malloc((size_t)n * sizeof(int32_t));
    if (!b->io_pos || !b->s1_pos || !b->s2_pos) {
        md_task_batch_free(b);
        md_errorf(err, "IOI: out of memory");
        goto done;
    }
    int32_t pad = bos >= 0 ? bos : 0;
    b->n_groups = 15;
    for (int i = 0; i < n; i++) {
        const int32_t *mt = meta + (int64_t)i * 8;
        for (int t = 0; t < T; t++) {
            bool in = t < mt[0];
            b->clean[(int64_t)i * T + t] = in ? rows[(int64_t)i * MAXT + t] : pad;
            b->corrupt[(int64_t)i * T + t] = in ? crow[(int64_t)i * MAXT + t] : pad;
        }
        b->pos[i] = mt[0] - 1;
        b->good[i] = mt[1];
        b->bad[i] = mt[2];
        b->group[i] = mt[3];
        b->io_pos[i] = mt[4];
        b->s1_pos[i] = mt[5];
        b->s2_pos[i] = mt[6];
    }
    rc = 0;
done:
    free(ex);
    free(name_id);
    free(rows);
    free(crow);
    free(meta);
    md_token_ids_free(&tc);
    md_token_ids_free(&tx);
    md_buf_free(&text);
    md_world_free(&w);
    return rc;
}
