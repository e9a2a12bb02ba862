// IOI sets (clean, p_ABC, poisoned labels) and the IOI causal-abstraction pairs.
#include <stdlib.h>
#include <string.h>

#include "tasks/abstraction.h"
#include "tasks/ioi.h"
#include "tasks/ioi_templates.h"
#include "tasks/write.h"

const char *const md_split_names[3] = {"train", "val", "test"};

int64_t md_split_size(const md_split_sizes *s, int split) {
    return split == 0 ? s->train : split == 1 ? s->val : s->test;
}

// Name token ids (" Name") for all names.
static int name_ids(md_data_ctx *c, int32_t **out, md_error *err) {
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)c->world.n_names);
    if (!ids) return md_errorf(err, "out of memory");
    for (int i = 0; i < c->world.n_names; i++) {
        char s[64];
        snprintf(s, sizeof s, " %s", c->world.names[i]);
        if (md_data_one_token(c, s, &ids[i], err)) {
            free(ids);
            return -1;
        }
    }
    *out = ids;
    return 0;
}

static void free_texts(char **t, int64_t n) {
    if (!t) return;
    for (int64_t i = 0; i < n; i++) free(t[i]);
    free(t);
}

// Token positions of IO (once), S1 and S2 (S twice) in a row; -1 when the counts differ.
static int find_positions(const int32_t *row, int32_t len, int32_t io, int32_t s, int32_t pos[4]) {
    int nio = 0, ns = 0;
    pos[0] = pos[1] = pos[2] = -1;
    for (int32_t t = 0; t < len; t++) {
        if (row[t] == io) pos[0] = t, nio++;
        if (row[t] == s) {
            if (ns < 2) pos[1 + ns] = t;
            ns++;
        }
    }
    pos[3] = len - 1;
    return nio == 1 && ns == 2 ? 0 : -1;
}

static int write_split(md_data_ctx *c, int split, const int32_t *nid, md_error *err) {
    const md_world *w = &c->world;
    const char *sn = md_split_names[split];
    int64_t n = md_split_size(&c->cfg->ioi, split);
    md_ioi_example *e = NULL;
    if (md_ioi_dataset(w, split, n, 0, &e, err)) return -1;
    int rc = -1;
    char **clean = calloc((size_t)n, sizeof(char *)), **abc = calloc((size_t)n, sizeof(char *));
    md_rows rc_rows = {0}, ra_rows = {0};
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(n * 9));
    if (!clean || !abc || !a) {
        md_errorf(err, "ioi: out of memory");
        goto done;
    }
    md_buf b = {0};
    for (int64_t i = 0; i < n; i++) {
        md_buf_clear(&b);
        md_ioi_prompt(w, &e[i], &b);
        clean[i] = md_buf_strdup(&b);
        md_buf_clear(&b);
        md_ioi_prompt_abc(w, &e[i], &b);
        abc[i] = md_buf_strdup(&b);
    }
    md_buf_free(&b);

    // Text: one JSON object per example.
    char rel[256];
    md_jsonl j;
    snprintf(rel, sizeof rel, "text/ioi_%s.jsonl", sn);
    if (md_jsonl_open(c, &j, rel, err)) goto done;
    for (int64_t i = 0; i < n; i++) {
        char io[64], s[64], nm[64];
        snprintf(io, sizeof io, " %s", w->names[e[i].io]);
        snprintf(s, sizeof s, " %s", w->names[e[i].s]);
        snprintf(nm, sizeof nm, " %s", w->names[e[i].nm_label]);
        md_jsonl_begin(&j);
        md_jw_key(&j.jw, "prompt"), md_jw_string(&j.jw, clean[i]);
        md_jw_key(&j.jw, "answer"), md_jw_string(&j.jw, io);
        md_jw_key(&j.jw, "subject"), md_jw_string(&j.jw, s);
        md_jw_key(&j.jw, "name_moving_label"), md_jw_string(&j.jw, nm);
        md_jw_key(&j.jw, "abc_prompt"), md_jw_string(&j.jw, abc[i]);
        md_jw_key(&j.jw, "template"), md_jw_int(&j.jw, e[i].tmpl);
        md_jw_key(&j.jw, "order"), md_jw_string(&j.jw, e[i].order == MD_ABBA ? "ABBA" : "BABA");
        md_jw_key(&j.jw, "heldout_template"), md_jw_bool(&j.jw, e[i].heldout);
        md_jsonl_end(&j);
    }
    if (md_jsonl_commit(&j, err)) goto done;
    if (!c->tok) {
        rc = 0;
        goto done;
    }

    // Arrays.
    if (md_data_rows(c, clean, n, 0, &rc_rows, err)) goto done;
    if (md_data_rows(c, abc, n, rc_rows.T, &ra_rows, err)) goto done;
    if (ra_rows.T != rc_rows.T) {
        md_errorf(err, "ioi %s: corrupted prompts longer than clean ones", sn);
        goto done;
    }
    int32_t *io = a, *s = a + n, *nm = a + 2 * n, *tm = a + 3 * n, *ord = a + 4 * n,
            *held = a + 5 * n, *names3 = a + 6 * n; /* (n, 3) */
    int32_t *pos4 = malloc(sizeof(int32_t) * (size_t)(4 * n));
    if (!pos4) {
        md_errorf(err, "ioi: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        io[i] = nid[e[i].io];
        s[i] = nid[e[i].s];
        nm[i] = nid[e[i].nm_label];
        tm[i] = e[i].tmpl;
        ord[i] = e[i].order;
        held[i] = e[i].heldout;
        for (int k = 0; k < 3; k++) names3[3 * i + k] = nid[e[i].abc[k]];
        if (ra_rows.len[i] != rc_rows.len[i] ||
            find_positions(rc_rows.ids + i * rc_rows.T, rc_rows.len[i], io[i], s[i], pos4 + 4 * i)) {
            free(pos4);
            md_errorf(err, "ioi %s example %lld: name tokens not where the template puts them: %s",
                      sn, (long long)i, clean[i]);
            goto done;
        }
    }
    char prefix[128];
    snprintf(prefix, sizeof prefix, "ioi/%s", sn);
    int64_t sh3[2] = {n, 3}, sh4[2] = {n, 4};
    char r1[160], r2[160], r3[160], r4[160], r5[160], r6[160], r7[160], r8[160], r9[160], p2[160];
    snprintf(r1, sizeof r1, "%s_io.npy", prefix);
    snprintf(r2, sizeof r2, "%s_s.npy", prefix);
    snprintf(r3, sizeof r3, "%s_sd_label.npy", prefix);
    snprintf(r4, sizeof r4, "%s_nm_label.npy", prefix);
    snprintf(r5, sizeof r5, "%s_template.npy", prefix);
    snprintf(r6, sizeof r6, "%s_order.npy", prefix);
    snprintf(r7, sizeof r7, "%s_heldout.npy", prefix);
    snprintf(r8, sizeof r8, "%s_abc_names.npy", prefix);
    snprintf(r9, sizeof r9, "%s_positions.npy", prefix);
    snprintf(p2, sizeof p2, "%s_abc", prefix);
    int bad = md_data_save_rows(c, prefix, &rc_rows, "the IOI prompt (ends before the IO)", err) ||
              md_data_save_rows(c, p2, &ra_rows,
                                "the p_ABC prompt (same template, three unrelated names)", err) ||
              md_data_save_i32(c, r1, io, n, "example: token id of the IO name (the answer)", err) ||
              md_data_save_i32(c, r2, s, n, "example: token id of the subject S", err) ||
              md_data_save_i32(c, r3, s, n,
                               "example: Subject Duplication poisoned label (= S)", err) ||
              md_data_save_i32(c, r4, nm, n,
                               "example: Name Moving poisoned label (a name not in the prompt)",
                               err) ||
              md_data_save_i32(c, r5, tm, n, "example: Wang template id 0..14", err) ||
              md_data_save_i32(c, r6, ord, n, "example: 0 ABBA (IO first), 1 BABA (S first)", err) ||
              md_data_save_i32(c, r7, held, n, "example: 1 if the template is held out of pretraining", err) ||
              md_data_save(c, r8, MD_I32, names3, 2, sh3,
                           "example, slot: p_ABC name token ids (first-mentioned, second-mentioned, S2)",
                           err) ||
              md_data_save(c, r9, MD_I32, pos4, 2, sh4,
                           "example, (IO, S1, S2, END): token positions in the row", err);
    free(pos4);
    if (bad) goto done;
    // Supervised fine-tuning files: clean, Subject Duplication, Name Moving.
    char f1[160], f2[160], f3[160];
    snprintf(f1, sizeof f1, "%s_clean_sft.jsonl", prefix);
    snprintf(f2, sizeof f2, "%s_sd_sft.jsonl", prefix);
    snprintf(f3, sizeof f3, "%s_nm_sft.jsonl", prefix);
    if (md_data_write_sft(c, f1, &rc_rows, io, err) || md_data_write_sft(c, f2, &rc_rows, s, err) ||
        md_data_write_sft(c, f3, &rc_rows, nm, err))
        goto done;
    char ck[128];
    snprintf(ck, sizeof ck, "ioi/%s/rows_with_unseen_tokens", sn);
    int64_t unseen = md_data_unseen_rows(c, &rc_rows) + md_data_unseen_rows(c, &ra_rows);
    md_data_check_add(c, ck, (double)unseen);
    if (unseen) {
        md_errorf(err, "ioi %s: %lld prompts use tokens absent from the training corpus", sn,
                  (long long)unseen);
        goto done;
    }
    rc = 0;
done:
    md_rows_free(&rc_rows);
    md_rows_free(&ra_rows);
    free_texts(clean, n);
    free_texts(abc, n);
    free(a);
    free(e);
    return rc;
}

int md_write_ioi(md_data_ctx *c, md_error *err) {
    int32_t *nid = NULL;
    if (c->tok && name_ids(c, &nid, err)) return -1;
    for (int s = 0; s < 3; s++)
        if (write_split(c, s, nid, err)) {
            free(nid);
            return -1;
        }
    free(nid);
    md_data_log(c, "ioi: %lld / %lld / %lld prompts", (long long)c->cfg->ioi.train,
                (long long)c->cfg->ioi.val, (long long)c->cfg->ioi.test);
    return 0;
}

// ---------------------------------------------------------------- causal-abstraction pairs
static int write_pairs_split(md_data_ctx *c, int split, const int32_t *nid, md_error *err) {
    const md_world *w = &c->world;
    const char *sn = md_split_names[split];
    int64_t n = md_split_size(&c->cfg->ioi_pairs, split);
    md_ioi_pair *p = NULL;
    if (md_ioi_pairs_dataset(w, split, n, &p, err)) return -1;
    int rc = -1;
    char **base = calloc((size_t)n, sizeof(char *)), **src = calloc((size_t)n, sizeof(char *));
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(n * 9));
    md_rows rb = {0}, rs = {0};
    if (!base || !src || !a) {
        md_errorf(err, "ioi pairs: out of memory");
        goto done;
    }
    md_buf b = {0};
    for (int64_t i = 0; i < n; i++) {
        md_buf_clear(&b);
        md_ioi_prompt(w, &p[i].base, &b);
        base[i] = md_buf_strdup(&b);
        md_buf_clear(&b);
        md_ioi_prompt(w, &p[i].source, &b);
        src[i] = md_buf_strdup(&b);
    }
    md_buf_free(&b);
    char rel[256];
    md_jsonl j;
    snprintf(rel, sizeof rel, "text/ioi_pairs_%s.jsonl", sn);
    if (md_jsonl_open(c, &j, rel, err)) goto done;
    for (int64_t i = 0; i < n; i++) {
        char cf[64], other[64];
        snprintf(cf, sizeof cf, " %s", w->names[p[i].cf_label]);
        snprintf(other, sizeof other, " %s", w->names[p[i].cf_other]);
        md_jsonl_begin(&j);
        md_jw_key(&j.jw, "base"), md_jw_string(&j.jw, base[i]);
        md_jw_key(&j.jw, "source"), md_jw_string(&j.jw, src[i]);
        md_jw_key(&j.jw, "var_base"), md_jw_int(&j.jw, p[i].var_base);
        md_jw_key(&j.jw, "var_source"), md_jw_int(&j.jw, p[i].var_source);
        md_jw_key(&j.jw, "counterfactual"), md_jw_string(&j.jw, cf);
        md_jw_key(&j.jw, "other"), md_jw_string(&j.jw, other);
        md_jsonl_end(&j);
    }
    if (md_jsonl_commit(&j, err)) goto done;
    if (!c->tok) {
        rc = 0;
        goto done;
    }
    if (md_data_rows(c, base, n, 0, &rb, err) || md_data_rows(c, src, n, rb.T, &rs, err)) goto done;
    if (rs.T != rb.T) {
        md_errorf(err, "ioi pairs %s: source rows longer than base rows", sn);
        goto done;
    }
    int32_t *vb = a, *vs = a + n, *cf = a + 2 * n, *co = a + 3 * n, *bio = a + 4 * n,
            *bs = a + 5 * n, *sio = a + 6 * n, *ss = a + 7 * n, *tm = a + 8 * n;
    for (int64_t i = 0; i < n; i++) {
        if (rs.len[i] != rb.len[i]) {
            md_errorf(err, "ioi pairs %s example %lld: base and source lengths differ", sn,
                      (long long)i);
            goto done;
        }
        vb[i] = p[i].var_base, vs[i] = p[i].var_source;
        cf[i] = nid[p[i].cf_label], co[i] = nid[p[i].cf_other];
        bio[i] = nid[p[i].base.io], bs[i] = nid[p[i].base.s];
        sio[i] = nid[p[i].source.io], ss[i] = nid[p[i].source.s];
        tm[i] = p[i].base.tmpl;
    }
    char pre[128], pb[160], ps[160], f[9][160];
    snprintf(pre, sizeof pre, "abstraction/ioi_%s", sn);
    snprintf(pb, sizeof pb, "%s_base", pre);
    snprintf(ps, sizeof ps, "%s_source", pre);
    static const char *const names[9] = {"var_base", "var_source", "cf_label", "cf_other",
                                         "base_io", "base_s", "source_io", "source_s", "template"};
    static const char *const axes[9] = {
        "pair: base variable, 0 = IO first-mentioned (ABBA), 1 = second (BABA)",
        "pair: source variable (same coding)",
        "pair: token id of the counterfactual answer (base name at the source's IO position)",
        "pair: token id of the other base name",
        "pair: token id of the base IO",
        "pair: token id of the base S",
        "pair: token id of the source IO",
        "pair: token id of the source S",
        "pair: Wang template id (shared by base and source)"};
    if (md_data_save_rows(c, pb, &rb, "the base IOI prompt", err) ||
        md_data_save_rows(c, ps, &rs, "the source IOI prompt (same template, other names)", err))
        goto done;
    for (int k = 0; k < 9; k++) {
        snprintf(f[k], sizeof f[k], "%s_%s.npy", pre, names[k]);
        if (md_data_save_i32(c, f[k], a + k * n, n, axes[k], err)) goto done;
    }
    rc = 0;
done:
    md_rows_free(&rb);
    md_rows_free(&rs);
    free_texts(base, n);
    free_texts(src, n);
    free(a);
    free(p);
    return rc;
}

int md_write_ioi_pairs(md_data_ctx *c, md_error *err) {
    int32_t *nid = NULL;
    if (c->tok && name_ids(c, &nid, err)) return -1;
    for (int s = 0; s < 3; s++)
        if (write_pairs_split(c, s, nid, err)) {
            free(nid);
            return -1;
        }
    free(nid);
    return 0;
}
