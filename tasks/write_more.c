// Copy / patchscope prompts, narrow-domain and unrelated text, hierarchical equality,
// induction and greater-than.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/abstraction.h"
#include "tasks/copy.h"
#include "tasks/corpus.h"
#include "tasks/domains.h"
#include "tasks/greater_than.h"
#include "tasks/induction.h"
#include "tasks/words.h"
#include "tasks/write.h"

static void free_texts(char **t, int64_t n) {
    if (!t) return;
    for (int64_t i = 0; i < n; i++) free(t[i]);
    free(t);
}

// ---------------------------------------------------------------- copy
#define PATCHSCOPE_PROMPTS 8

static int write_copy_split(md_data_ctx *c, int split, md_error *err) {
    const char *sn = md_split_names[split];
    int64_t n = md_split_size(&c->cfg->copy, split);
    md_copy_item *it = NULL;
    if (md_copy_dataset(&c->world, split, n, &it, err)) return -1;
    int rc = -1;
    char **texts = calloc((size_t)n, sizeof(char *));
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(3 * n));
    md_rows r = {0};
    md_token_ids ids = {0};
    if (!texts || !a) {
        md_errorf(err, "copy: out of memory");
        goto done;
    }
    char rel[256];
    md_jsonl j;
    snprintf(rel, sizeof rel, "text/copy_%s.jsonl", sn);
    if (md_jsonl_open(c, &j, rel, err)) goto done;
    for (int64_t i = 0; i < n; i++) {
        char ans[96];
        snprintf(ans, sizeof ans, " %s", it[i].query);
        texts[i] = it[i].prompt;
        md_jsonl_begin(&j);
        md_jw_key(&j.jw, "prompt"), md_jw_string(&j.jw, it[i].prompt);
        md_jw_key(&j.jw, "answer"), md_jw_string(&j.jw, ans);
        md_jsonl_end(&j);
    }
    if (md_jsonl_commit(&j, err)) goto done;
    if (!c->tok) {
        rc = 0;
        goto done;
    }
    if (md_data_rows(c, texts, n, 0, &r, err)) goto done;
    int32_t *target = a, *ntok = a + n, *word = a + 2 * n;
    int64_t single = 0;
    for (int64_t i = 0; i < n; i++) {
        char ans[96];
        snprintf(ans, sizeof ans, " %s", it[i].query);
        if (md_data_encode(c, ans, &ids, err)) goto done;
        target[i] = ids.ids[0];
        ntok[i] = (int32_t)ids.n;
        word[i] = it[i].word;
        single += ids.n == 1;
    }
    char pre[128], f[3][160];
    snprintf(pre, sizeof pre, "copy/%s", sn);
    static const char *const names[3] = {"target", "target_ntokens", "word"};
    static const char *const axes[3] = {
        "prompt: first token id of \" X\" (the word to copy)",
        "prompt: tokens in \" X\" (1 = a single-token word)",
        "prompt: index of X in the split's word list (world.json copy_*_words; train: copy_pool)"};
    if (md_data_save_rows(c, pre, &r, "k \"w -> w\" items joined by \"; \", then \"; X ->\"", err))
        goto done;
    for (int k = 0; k < 3; k++) {
        snprintf(f[k], sizeof f[k], "%s_%s.npy", pre, names[k]);
        if (md_data_save_i32(c, f[k], a + k * n, n, axes[k], err)) goto done;
    }
    snprintf(rel, sizeof rel, "copy/%s/single_token_targets", sn);
    md_data_check_add(c, rel, (double)single);
    snprintf(rel, sizeof rel, "copy/%s/rows_with_unseen_tokens", sn);
    md_data_check_add(c, rel, (double)md_data_unseen_rows(c, &r));
    rc = 0;
done:
    md_token_ids_free(&ids);
    md_rows_free(&r);
    free(texts);  // the strings belong to the items
    free(a);
    md_copy_items_free(it, n);
    return rc;
}

static int write_patchscope(md_data_ctx *c, md_error *err) {
    char **p = NULL;
    if (md_patchscope_prompts(&c->world, PATCHSCOPE_PROMPTS, &p, err)) return -1;
    int rc = -1;
    md_rows r = {0};
    md_jsonl j;
    if (md_jsonl_open(c, &j, "text/patchscope.jsonl", err)) goto done;
    for (int i = 0; i < PATCHSCOPE_PROMPTS; i++) {
        md_jsonl_begin(&j);
        md_jw_key(&j.jw, "prompt"), md_jw_string(&j.jw, p[i]);
        md_jsonl_end(&j);
    }
    if (md_jsonl_commit(&j, err)) goto done;
    if (!c->tok) {
        rc = 0;
        goto done;
    }
    int32_t q;
    if (md_data_one_token(c, " ?", &q, err)) goto done;
    if (md_data_rows(c, p, PATCHSCOPE_PROMPTS, 0, &r, err)) goto done;
    int32_t pos[PATCHSCOPE_PROMPTS];
    for (int i = 0; i < PATCHSCOPE_PROMPTS; i++) {
        pos[i] = -1;
        for (int32_t t = 0; t < r.len[i]; t++)
            if (r.ids[i * r.T + t] == q) pos[i] = t;
        if (pos[i] < 0) {
            md_errorf(err, "patchscope prompt %d: no \" ?\" token", i);
            goto done;
        }
    }
    if (md_data_save_rows(c, "copy/patchscope", &r,
                          "k \"w -> w\" items joined by \"; \", then \"; ? ->\"", err) ||
        md_data_save_i32(c, "copy/patchscope_placeholder.npy", pos, PATCHSCOPE_PROMPTS,
                         "prompt: position of the \" ?\" token (the hidden state to patch)", err))
        goto done;
    rc = 0;
done:
    md_rows_free(&r);
    free_texts(p, PATCHSCOPE_PROMPTS);
    return rc;
}

int md_write_copy(md_data_ctx *c, md_error *err) {
    for (int s = 0; s < 3; s++)
        if (write_copy_split(c, s, err)) return -1;
    if (write_patchscope(c, err)) return -1;
    md_data_log(c, "copy: %lld / %lld / %lld identity prompts", (long long)c->cfg->copy.train,
                (long long)c->cfg->copy.val, (long long)c->cfg->copy.test);
    return 0;
}

// ---------------------------------------------------------------- domains
// A document set as a text stream (<|endoftext|> before each document) and tokens.
static int write_stream(md_data_ctx *c, const char *base, char **docs, int64_t n,
                        const char *what, md_error *err) {
    char rel[256], path[2048];
    snprintf(rel, sizeof rel, "%s.txt", base);
    md_atomic_file af;
    if (md_data_parent_dirs(c, rel, err)) return -1;
    if (md_atomic_open(&af, md_data_path(c, rel, path, sizeof path), err)) return -1;
    for (int64_t i = 0; i < n; i++) {
        fputs(MD_EOT, af.f);
        fputs(docs[i], af.f);
    }
    if (md_atomic_commit(&af, err)) return -1;
    if (!c->tok) return 0;
    md_token_ids ids = {0};
    for (int64_t i = 0; i < n; i++) {
        if (ids.n == ids.cap) {
            size_t cap = ids.cap ? ids.cap * 2 : 4096;
            int32_t *p = realloc(ids.ids, sizeof(int32_t) * cap);
            if (!p) {
                md_token_ids_free(&ids);
                return md_errorf(err, "%s: out of memory", rel);
            }
            ids.ids = p, ids.cap = cap;
        }
        ids.ids[ids.n++] = c->eot;
        if (md_tokenizer_encode(c->tok, docs[i], strlen(docs[i]), 0, &ids, err)) {
            md_token_ids_free(&ids);
            return -1;
        }
    }
    snprintf(rel, sizeof rel, "%s.npy", base);
    int64_t nt = (int64_t)ids.n;
    char axes[256];
    snprintf(axes, sizeof axes, "token: %s, each document <|endoftext|> + its tokens", what);
    int rc = md_data_save(c, rel, MD_I32, ids.ids, 1, &nt, axes, err);
    md_token_ids_free(&ids);
    return rc;
}

// The first `T` tokens of each document as rows (BOS + tokens, padded).
static int write_doc_rows(md_data_ctx *c, const char *prefix, char **docs, int64_t n, int T,
                          md_error *err) {
    md_rows r = {0};
    if (md_data_rows(c, docs, n, 0, &r, err)) return -1;
    md_rows t = {n, T, malloc(sizeof(int32_t) * (size_t)(n * T)), malloc(sizeof(int32_t) * (size_t)n)};
    int rc = -1;
    if (!t.ids || !t.len) {
        md_errorf(err, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t l = r.len[i] < T ? r.len[i] : T;
        for (int k = 0; k < T; k++) t.ids[i * T + k] = k < l ? r.ids[i * r.T + k] : c->eot;
        t.len[i] = l;
    }
    rc = md_data_save_rows(c, prefix, &t, "the document, cut to the row length", err);
done:
    md_rows_free(&r);
    md_rows_free(&t);
    return rc;
}

int md_write_domains(md_data_ctx *c, md_error *err) {
    for (int d = MD_UNRELATED; d < MD_DOMAINS; d++) {
        const char *name = d == MD_UNRELATED ? "unrelated" : md_domain_names[d];
        const md_split_sizes *sz = d == MD_UNRELATED ? &c->cfg->unrelated : &c->cfg->domain;
        int64_t n[3] = {sz->train, sz->val, sz->test};
        char **docs[3];
        if (md_domain_split_docs(&c->world, d, n, docs, err)) return -1;
        int rc = 0;
        for (int s = 0; s < 3 && !rc; s++) {
            char base[128], what[128];
            snprintf(base, sizeof base, "domains/%s_%s", name, md_split_names[s]);
            snprintf(what, sizeof what, "%s documents (%s split)", name, md_split_names[s]);
            rc = write_stream(c, base, docs[s], n[s], what, err);
            if (!rc && c->tok && d == MD_UNRELATED) {
                char pre[160];
                snprintf(pre, sizeof pre, "domains/unrelated_%s_rows", md_split_names[s]);
                rc = write_doc_rows(c, pre, docs[s], n[s], c->cfg->unrelated_tokens, err);
            }
        }
        for (int s = 0; s < 3; s++) md_docs_free(docs[s], n[s]);
        if (rc) return -1;
        if (c->tok && d != MD_UNRELATED) {
            // The domain's single-token words (" word" and " Word"), for token relevance.
            int32_t ids[512];
            int nid = 0;
            md_token_ids t = {0};
            for (int i = 0; i < md_domain_vocab[d].n; i++)
                for (int cap = 0; cap < 2; cap++) {
                    char s[96];
                    snprintf(s, sizeof s, " %s", md_domain_vocab[d].words[i]);
                    s[1] = (char)(cap ? toupper((unsigned char)s[1]) : tolower((unsigned char)s[1]));
                    if (md_data_encode(c, s, &t, err)) {
                        md_token_ids_free(&t);
                        return -1;
                    }
                    bool dup = false;
                    for (int k = 0; k < nid; k++) dup |= t.n == 1 && ids[k] == t.ids[0];
                    if (t.n == 1 && !dup && nid < 512) ids[nid++] = t.ids[0];
                }
            md_token_ids_free(&t);
            char rel[128], ck[128];
            snprintf(rel, sizeof rel, "domains/%s_vocab.npy", name);
            if (md_data_save_i32(c, rel, ids, nid,
                                 "token: ids of the domain's words that are single tokens "
                                 "(with a leading space, lower and capitalised)",
                                 err))
                return -1;
            snprintf(ck, sizeof ck, "domains/%s/single_token_words", name);
            md_data_check_add(c, ck, nid);
        }
    }
    md_data_log(c, "domains: %lld / %lld / %lld documents per domain, unrelated %lld / %lld / %lld",
                (long long)c->cfg->domain.train, (long long)c->cfg->domain.val,
                (long long)c->cfg->domain.test, (long long)c->cfg->unrelated.train,
                (long long)c->cfg->unrelated.val, (long long)c->cfg->unrelated.test);
    return 0;
}

// ---------------------------------------------------------------- hierarchical equality
int md_write_hiereq(md_data_ctx *c, md_error *err) {
    for (int s = 0; s < 3; s++) {
        md_hiereq_set h;
        int64_t n = md_split_size(&c->cfg->hiereq, s);
        if (md_hiereq_dataset(c->world.seed, s, n, &h, err)) return -1;
        char pre[64], f[7][128];
        snprintf(pre, sizeof pre, "abstraction/hiereq_%s", md_split_names[s]);
        const int64_t sx[2] = {n, 4 * MD_HIEREQ_DIM}, sv[2] = {n, 2};
        for (int k = 0; k < 7; k++) f[k][0] = 0;
        snprintf(f[0], sizeof f[0], "%s_x.npy", pre);
        snprintf(f[1], sizeof f[1], "%s_label.npy", pre);
        snprintf(f[2], sizeof f[2], "%s_vars.npy", pre);
        snprintf(f[3], sizeof f[3], "%s_src_x.npy", pre);
        snprintf(f[4], sizeof f[4], "%s_src_vars.npy", pre);
        snprintf(f[5], sizeof f[5], "%s_cf_ab.npy", pre);
        snprintf(f[6], sizeof f[6], "%s_cf_a.npy", pre);
        int rc =
            md_data_save(c, f[0], MD_F32, h.x, 2, sx,
                         "example, feature: four 4-d vectors a | b | c | d, uniform in [-1, 1)", err) ||
            md_data_save_i32(c, f[1], h.label, n, "example: (a == b) == (c == d)", err) ||
            md_data_save(c, f[2], MD_I32, h.vars, 2, sv, "example, (a == b, c == d)", err) ||
            md_data_save(c, f[3], MD_F32, h.src_x, 2, sx,
                         "example, feature: the source input of the intervention", err) ||
            md_data_save(c, f[4], MD_I32, h.src_vars, 2, sv, "example, source (a == b, c == d)", err) ||
            md_data_save_i32(c, f[5], h.cf_ab, n,
                             "example: label after setting a == b to the source's value", err) ||
            md_data_save_i32(c, f[6], h.cf_a, n,
                             "example: label after replacing a by the source's a (control)", err);
        md_hiereq_free(&h);
        if (rc) return -1;
    }
    return 0;
}

// ---------------------------------------------------------------- induction
int md_write_induction(md_data_ctx *c, md_error *err) {
    if (!c->tok) return 0;
    // Candidates: ordinary word tokens (" " + at least 3 lowercase letters) that occur in
    // the training corpus.
    int32_t *cand = malloc(sizeof(int32_t) * (size_t)c->vocab);
    if (!cand) return md_errorf(err, "induction: out of memory");
    int nc = 0;
    for (int32_t id = 0; id < c->vocab; id++) {
        size_t l;
        const char *s = md_tokenizer_token(c->tok, id, &l);
        if (!s || l < 4 || s[0] != ' ' || !c->seen[id]) continue;
        bool ok = true;
        for (size_t k = 1; k < l; k++) ok &= s[k] >= 'a' && s[k] <= 'z';
        if (ok) cand[nc++] = id;
    }
    const int L = c->cfg->induction_len;
    int64_t n[3] = {c->cfg->induction.train, c->cfg->induction.val, c->cfg->induction.test};
    int32_t *out[3] = {0};
    int rc = -1;
    for (int s = 0; s < 3; s++) {
        out[s] = malloc(sizeof(int32_t) * (size_t)(n[s] * (2 * L + 1)));
        if (!out[s]) {
            md_errorf(err, "induction: out of memory");
            goto done;
        }
    }
    if (md_induction_sets(c->world.seed, n, L, cand, nc, c->eot, out, err)) goto done;
    for (int s = 0; s < 3; s++) {
        char rel[128];
        snprintf(rel, sizeof rel, "induction/%s_tokens.npy", md_split_names[s]);
        const int64_t sh[2] = {n[s], 2 * L + 1};
        if (md_data_save(c, rel, MD_I32, out[s], 2, sh,
                         "sequence, position: <|endoftext|>, L random word tokens, the same L "
                         "tokens again",
                         err))
            goto done;
    }
    md_data_check_add(c, "induction/candidate_tokens", nc);
    rc = 0;
done:
    for (int s = 0; s < 3; s++) free(out[s]);
    free(cand);
    return rc;
}

// ---------------------------------------------------------------- greater-than
int md_write_greater_than(md_data_ctx *c, md_error *err) {
    bool *allowed = NULL;
    int32_t yy_tok[100], cc_tok[20];
    if (c->tok) {
        // The two-digit tokens "00".."99" and the century tokens " 11".." 17".
        for (int y = 0; y < 100; y++) {
            char s[16];
            snprintf(s, sizeof s, "%02d", y);
            yy_tok[y] = md_tokenizer_find(c->tok, s, 2);
        }
        for (int cc = MD_GT_CENTURY_LO; cc <= MD_GT_CENTURY_HI; cc++) {
            char s[16];
            snprintf(s, sizeof s, " %d", cc);
            cc_tok[cc] = md_tokenizer_find(c->tok, s, 3);
        }
        // A start year is usable when " CCYY" and " CC01" both encode as [" CC", "YY"].
        allowed = calloc(2000, sizeof *allowed);
        if (!allowed) return md_errorf(err, "greater-than: out of memory");
        md_token_ids t = {0};
        int nallowed = 0;
        for (int cc = MD_GT_CENTURY_LO; cc <= MD_GT_CENTURY_HI; cc++) {
            bool ok01 = false;
            for (int yy = 1; yy <= MD_GT_YY_HI; yy++) {
                char s[8];
                snprintf(s, sizeof s, " %d%02d", cc, yy);
                if (md_data_encode(c, s, &t, err)) {
                    md_token_ids_free(&t);
                    free(allowed);
                    return -1;
                }
                bool ok = t.n == 2 && t.ids[0] == cc_tok[cc] && t.ids[1] == yy_tok[yy] &&
                          cc_tok[cc] >= 0 && yy_tok[yy] >= 0;
                if (yy == 1) ok01 = ok;
                else allowed[cc * 100 + yy] = ok && ok01;
                nallowed += yy > 1 && ok && ok01;
            }
        }
        md_token_ids_free(&t);
        md_data_check_add(c, "greater_than/usable_start_years", nallowed);
        if (md_data_save_i32(c, "greater_than/yy_tokens.npy", yy_tok, 100,
                             "yy 0..99: token id of the two digits \"YY\" (-1: not one token)", err)) {
            free(allowed);
            return -1;
        }
    }
    int rc = 0;
    for (int s = 0; s < 3 && !rc; s++) {
        int64_t n = md_split_size(&c->cfg->greater, s);
        md_gt_example *e = NULL;
        if (md_gt_dataset(&c->world, s, n, allowed, &e, err)) {
            rc = -1;
            break;
        }
        char **clean = calloc((size_t)n, sizeof(char *)), **cor = calloc((size_t)n, sizeof(char *));
        int32_t *a = malloc(sizeof(int32_t) * (size_t)(2 * n));
        md_rows rc_rows = {0}, rr = {0};
        rc = -1;
        if (!clean || !cor || !a) {
            md_errorf(err, "greater-than: out of memory");
            goto next;
        }
        md_buf b = {0};
        for (int64_t i = 0; i < n; i++) {
            md_buf_clear(&b);
            md_gt_prompt(&e[i], -1, &b);
            clean[i] = md_buf_strdup(&b);
            md_buf_clear(&b);
            md_gt_prompt(&e[i], 1, &b);
            cor[i] = md_buf_strdup(&b);
        }
        md_buf_free(&b);
        char rel[256];
        md_jsonl j;
        snprintf(rel, sizeof rel, "text/greater_than_%s.jsonl", md_split_names[s]);
        if (md_jsonl_open(c, &j, rel, err)) goto next;
        for (int64_t i = 0; i < n; i++) {
            md_jsonl_begin(&j);
            md_jw_key(&j.jw, "prompt"), md_jw_string(&j.jw, clean[i]);
            md_jw_key(&j.jw, "corrupted"), md_jw_string(&j.jw, cor[i]);
            md_jw_key(&j.jw, "yy"), md_jw_int(&j.jw, e[i].yy);
            md_jsonl_end(&j);
        }
        if (md_jsonl_commit(&j, err)) goto next;
        if (c->tok) {
            if (md_data_rows(c, clean, n, 0, &rc_rows, err) ||
                md_data_rows(c, cor, n, rc_rows.T, &rr, err))
                goto next;
            for (int64_t i = 0; i < n; i++) {
                a[i] = e[i].yy;
                a[n + i] = e[i].century;
                if (rr.len[i] != rc_rows.len[i] || rr.T != rc_rows.T ||
                    rc_rows.ids[i * rc_rows.T + rc_rows.len[i] - 1] != cc_tok[e[i].century]) {
                    md_errorf(err, "greater-than: prompt %lld does not end in the century token: %s",
                              (long long)i, clean[i]);
                    goto next;
                }
            }
            char pre[64], pc[96], f1[128], f2[128];
            snprintf(pre, sizeof pre, "greater_than/%s", md_split_names[s]);
            snprintf(pc, sizeof pc, "%s_corrupt", pre);
            snprintf(f1, sizeof f1, "%s_yy.npy", pre);
            snprintf(f2, sizeof f2, "%s_century.npy", pre);
            if (md_data_save_rows(c, pre, &rc_rows,
                                  "\"The war lasted from the year CCYY to the year CC\"", err) ||
                md_data_save_rows(c, pc, &rr, "the same prompt with YY = 01 (the baseline)", err) ||
                md_data_save_i32(c, f1, a, n, "prompt: start year's last two digits YY", err) ||
                md_data_save_i32(c, f2, a + n, n, "prompt: century CC", err))
                goto next;
        }
        rc = 0;
    next:
        md_rows_free(&rc_rows);
        md_rows_free(&rr);
        free_texts(clean, n);
        free_texts(cor, n);
        free(a);
        free(e);
    }
    free(allowed);
    return rc;
}
