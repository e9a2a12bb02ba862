// Multiple choice: baseline prompts and authority-prefixed prompts asserting a wrong
// option, with the fact, its corpus frequency and the option layout per item.
#include <stdlib.h>
#include <string.h>

#include "tasks/mcq.h"
#include "tasks/write.h"

static int write_split(md_data_ctx *c, int split, const int32_t letters[4], md_error *err) {
    const md_world *w = &c->world;
    const char *sn = md_split_names[split];
    md_mcq_item *it = NULL;
    int64_t n = 0;
    if (md_mcq_dataset(w, split, &it, &n, err)) return -1;
    int rc = -1;
    char **base = calloc((size_t)n, sizeof(char *)), **auth = calloc((size_t)n, sizeof(char *));
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(n * 11));
    float *weight = malloc(sizeof(float) * (size_t)n);
    md_rows rb = {0}, ra = {0};
    if (!base || !auth || !a || !weight) {
        md_errorf(err, "mcq: out of memory");
        goto done;
    }
    md_buf b = {0};
    for (int64_t i = 0; i < n; i++) {
        md_buf_clear(&b);
        md_mcq_render_question(w, &it[i], &b);
        base[i] = md_buf_strdup(&b);
        md_buf_clear(&b);
        md_mcq_render_update(it[i].update, it[i].asserted, &b);
        md_buf_putc(&b, '\n');
        md_mcq_render_question(w, &it[i], &b);
        auth[i] = md_buf_strdup(&b);
    }
    md_buf_free(&b);

    char rel[256];
    md_jsonl j;
    snprintf(rel, sizeof rel, "text/mcq_%s.jsonl", sn);
    if (md_jsonl_open(c, &j, rel, err)) goto done;
    for (int64_t i = 0; i < n; i++) {
        char ans[3] = {' ', (char)('A' + it[i].correct), 0};
        char ass[3] = {' ', (char)('A' + it[i].asserted), 0};
        md_jsonl_begin(&j);
        md_jw_key(&j.jw, "prompt"), md_jw_string(&j.jw, base[i]);
        md_jw_key(&j.jw, "authority_prompt"), md_jw_string(&j.jw, auth[i]);
        md_jw_key(&j.jw, "answer"), md_jw_string(&j.jw, ans);
        md_jw_key(&j.jw, "asserted"), md_jw_string(&j.jw, ass);
        md_jw_key(&j.jw, "fact"), md_jw_int(&j.jw, it[i].fact);
        md_jw_key(&j.jw, "phrasing"), md_jw_int(&j.jw, it[i].phrasing);
        md_jw_key(&j.jw, "corpus_mentions");
        md_jw_int(&j.jw, c->fact_mentions ? c->fact_mentions[it[i].fact] : -1);
        md_jsonl_end(&j);
    }
    if (md_jsonl_commit(&j, err)) goto done;
    if (!c->tok) {
        rc = 0;
        goto done;
    }

    if (md_data_rows(c, base, n, 0, &rb, err) || md_data_rows(c, auth, n, 0, &ra, err)) goto done;
    int32_t *correct = a, *asserted = a + n, *fact = a + 2 * n, *phr = a + 3 * n,
            *upd = a + 4 * n, *ment = a + 5 * n, *answer = a + 6 * n, *opts = a + 7 * n;
    for (int64_t i = 0; i < n; i++) {
        correct[i] = it[i].correct;
        asserted[i] = it[i].asserted;
        fact[i] = it[i].fact;
        phr[i] = it[i].phrasing;
        upd[i] = it[i].update;
        ment[i] = c->fact_mentions ? (int32_t)c->fact_mentions[it[i].fact] : -1;
        answer[i] = letters[it[i].correct];
        weight[i] = (float)w->fact_weight[it[i].fact];
        for (int k = 0; k < 4; k++) opts[4 * i + k] = it[i].options[k];
    }
    char pre[128], pa[160], f[8][160];
    snprintf(pre, sizeof pre, "mcq/%s", sn);
    snprintf(pa, sizeof pa, "%s_auth", pre);
    if (md_data_save_rows(c, pre, &rb, "the question block ending in \"Answer:\"", err) ||
        md_data_save_rows(c, pa, &ra,
                          "an authority update asserting a wrong option, newline, the question "
                          "block",
                          err))
        goto done;
    static const char *const names[6] = {"correct", "asserted", "fact", "phrasing", "update",
                                         "fact_mentions"};
    static const char *const axes[6] = {
        "item: index 0..3 of the correct option (letters.npy gives its token)",
        "item: index 0..3 of the wrong option the authority prompt asserts",
        "item: world fact id (0 = most frequent in the corpus)",
        "item: question phrasing 0..6 (0-3 pretraining, 4 val, 5-6 test)",
        "item: authority update line 0..2",
        "item: corpus mentions of the fact (knowledge statements + questions), -1 unknown"};
    for (int k = 0; k < 6; k++) {
        snprintf(f[k], sizeof f[k], "%s_%s.npy", pre, names[k]);
        if (md_data_save_i32(c, f[k], a + k * n, n, axes[k], err)) goto done;
    }
    snprintf(f[6], sizeof f[6], "%s_options.npy", pre);
    int64_t sh[2] = {n, 4};
    if (md_data_save(c, f[6], MD_I32, opts, 2, sh,
                     "item, option A..D: condition id (world.json conditions)", err))
        goto done;
    snprintf(f[7], sizeof f[7], "%s_fact_weight.npy", pre);
    if (md_data_save(c, f[7], MD_F32, weight, 1, &n,
                     "item: the fact's share of fact mentions in the corpus design", err))
        goto done;
    snprintf(rel, sizeof rel, "%s_sft.jsonl", pre);
    if (md_data_write_sft(c, rel, &rb, answer, err)) goto done;
    int64_t unseen = md_data_unseen_rows(c, &rb) + md_data_unseen_rows(c, &ra);
    snprintf(rel, sizeof rel, "mcq/%s/rows_with_unseen_tokens", sn);
    md_data_check_add(c, rel, (double)unseen);
    if (unseen) {
        md_errorf(err, "mcq %s: %lld prompts use tokens absent from the training corpus", sn,
                  (long long)unseen);
        goto done;
    }
    rc = 0;
done:
    md_rows_free(&rb);
    md_rows_free(&ra);
    if (base)
        for (int64_t i = 0; i < n; i++) free(base[i]);
    if (auth)
        for (int64_t i = 0; i < n; i++) free(auth[i]);
    free(base);
    free(auth);
    free(a);
    free(weight);
    free(it);
    return rc;
}

int md_write_mcq(md_data_ctx *c, md_error *err) {
    int32_t letters[4] = {-1, -1, -1, -1};
    if (c->tok) {
        for (int l = 0; l < 4; l++) {
            char s[3] = {' ', (char)('A' + l), 0};
            if (md_data_one_token(c, s, &letters[l], err)) return -1;
        }
        if (md_data_save_i32(c, "mcq/letters.npy", letters, 4,
                             "option: token ids of \" A\", \" B\", \" C\", \" D\"", err))
            return -1;
    }
    for (int s = 0; s < 3; s++)
        if (write_split(c, s, letters, err)) return -1;
    md_data_log(c, "mcq: %d facts, variants %d / %d / %d", c->world.n_facts,
                c->cfg->mcq_variants[0], c->cfg->mcq_variants[1], c->cfg->mcq_variants[2]);
    return 0;
}
