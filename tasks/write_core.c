// Pipeline stages that do not depend on a task: world.json, the corpora, the tokenizer
// and the corpus token streams.
#include <stdlib.h>
#include <string.h>

#include "tasks/corpus.h"
#include "tasks/dataset.h"
#include "tasks/domains.h"
#include "tasks/ioi_templates.h"
#include "tasks/mcq.h"
#include "tasks/write.h"
#include "tensor/threads.h"

static void jw_strings(md_json_writer *jw, const char *key, const char *const *s, int n) {
    md_jw_key(jw, key);
    md_jw_array_begin(jw);
    for (int i = 0; i < n; i++) md_jw_string(jw, s[i]);
    md_jw_array_end(jw);
}

int md_write_world(md_data_ctx *c, md_error *err) {
    const md_world *w = &c->world;
    md_atomic_file af;
    char path[2048];
    if (md_atomic_open(&af, md_data_path(c, "world.json", path, sizeof path), err)) return -1;
    md_json_writer jw;
    md_jw_init(&jw, af.f, true);
    md_jw_object_begin(&jw);
    md_jw_key(&jw, "seed");
    md_jw_int(&jw, (int64_t)w->seed);
    jw_strings(&jw, "names", w->names, w->n_names);
    jw_strings(&jw, "places", w->places, w->n_places);
    jw_strings(&jw, "objects", w->objects, w->n_objects);
    jw_strings(&jw, "conditions", w->conditions, w->n_conditions);
    md_jw_key(&jw, "facts");
    md_jw_array_begin(&jw);
    for (int f = 0; f < w->n_facts; f++) {
        md_jw_object_begin(&jw);
        md_jw_key(&jw, "drug");
        md_jw_string(&jw, w->drugs[f]);
        md_jw_key(&jw, "condition");
        md_jw_int(&jw, w->fact_condition[f]);
        md_jw_key(&jw, "weight");
        md_jw_number(&jw, w->fact_weight[f]);
        md_jw_key(&jw, "follow_prob");
        md_jw_number(&jw, w->follow_prob[f]);
        md_jw_object_end(&jw);
    }
    md_jw_array_end(&jw);
    int half = w->n_copy_heldout / 2;
    jw_strings(&jw, "copy_val_words", w->copy_heldout, half);
    jw_strings(&jw, "copy_test_words", w->copy_heldout + half, w->n_copy_heldout - half);
    jw_strings(&jw, "copy_pool", w->copy_pool, w->n_copy_pool);
    jw_strings(&jw, "ioi_templates", md_ioi_wang, md_ioi_wang_n);
    md_jw_key(&jw, "ioi_heldout_templates");
    md_jw_array_begin(&jw);
    for (int i = 0; i < 5; i++) md_jw_int(&jw, c->cfg->ioi_heldout[i]);
    md_jw_array_end(&jw);
    jw_strings(&jw, "mcq_phrasings", md_mcq_phrasings, MD_MCQ_PHRASINGS);
    md_jw_key(&jw, "mcq_phrasing_split");
    md_jw_string(&jw, "0-3 pretraining and train, 4 val, 5-6 test");
    jw_strings(&jw, "mcq_updates", md_mcq_updates, md_mcq_updates_n);
    md_jw_key(&jw, "domains");
    md_jw_object_begin(&jw);
    for (int d = 0; d < MD_DOMAINS; d++)
        jw_strings(&jw, md_domain_names[d], md_domain_vocab[d].words, md_domain_vocab[d].n);
    md_jw_object_end(&jw);
    md_jw_object_end(&jw);
    fputc('\n', af.f);
    return md_atomic_commit(&af, err);
}

// Concatenates a corpus's documents with "\n" between them: the tokenizer's training
// text (the "<|endoftext|>" separator is a special token, not text to learn merges from).
static char *join_docs(const md_corpus *cp, size_t *len) {
    size_t n = 0;
    for (int k = 0; k < MD_DOC_KINDS; k++) n += cp->text[k].len;
    n += (size_t)cp->total_docs;
    char *t = malloc(n + 1);
    if (!t) return NULL;
    size_t o = 0;
    for (int64_t j = 0; j < cp->total_docs; j++) {
        size_t l;
        const char *d = md_corpus_doc(cp, j, &l, NULL);
        memcpy(t + o, d, l);
        o += l;
        t[o++] = '\n';
    }
    t[o] = '\0';
    *len = o;
    return t;
}

// The token stream of a corpus: each document as <|endoftext|> + its tokens.
static int corpus_tokens(md_data_ctx *c, const md_corpus *cp, md_token_ids *out, md_error *err) {
    out->n = 0;
    for (int64_t j = 0; j < cp->total_docs; j++) {
        size_t l;
        const char *d = md_corpus_doc(cp, j, &l, NULL);
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 1 << 16;
            int32_t *p = realloc(out->ids, sizeof(int32_t) * cap);
            if (!p) return md_errorf(err, "corpus tokens: out of memory");
            out->ids = p;
            out->cap = cap;
        }
        out->ids[out->n++] = c->eot;
        if (md_tokenizer_encode(c->tok, d, l, 0, out, err)) return -1;
    }
    return 0;
}

// The late corpus: the same world (names, facts, held-out words) at the late.* mix, with
// its own document streams (salt 2). Written as text always, as tokens when the
// tokenizer exists. The organism's second training phase reads it.
static int write_late_corpus(md_data_ctx *c, bool tokens, md_error *err) {
    const md_data_config *cfg = c->cfg;
    if (cfg->late_bytes == 0) return 0;
    md_data_config lc = md_data_config_late(cfg);
    md_world lw = c->world;
    lw.cfg = &lc;
    lw.follow_prob = malloc(sizeof *lw.follow_prob * (size_t)lw.n_facts);
    if (!lw.follow_prob) return md_errorf(err, "late corpus: out of memory");
    md_world_follow_probs(&lc, lw.n_facts, lw.follow_prob);
    double t0 = md_now();
    char path[2048];
    md_corpus late;
    md_token_ids ids = {0};
    int rc = -1;
    if (md_corpus_generate(&lw, cfg->late_bytes, 2, &late, err)) {
        free(lw.follow_prob);
        return -1;
    }
    if (md_corpus_write(&late, md_data_path(c, "corpus_late.txt", path, sizeof path), err) ||
        md_corpus_write_stats(&lw, &late,
                              md_data_path(c, "corpus_late_stats.json", path, sizeof path), err))
        goto done;
    md_data_check_add(c, "corpus_late/bytes", (double)md_corpus_bytes(&late));
    md_data_check_add(c, "corpus_late/authority_documents", (double)late.docs[MD_DOC_AUTHORITY]);
    if (tokens) {
        if (corpus_tokens(c, &late, &ids, err)) goto done;
        int64_t n = (int64_t)ids.n;
        if (md_data_save(c, "corpus_late_train.npy", MD_I32, ids.ids, 1, &n,
                         "token: the late corpus (late.* mix), each document <|endoftext|> + "
                         "its tokens",
                         err))
            goto done;
        md_data_check_add(c, "corpus_late/train_tokens", (double)n);
    }
    md_data_log(c, "late corpus: %lld bytes, %lld documents in %.1f s",
                (long long)md_corpus_bytes(&late), (long long)late.total_docs, md_now() - t0);
    rc = 0;
done:
    md_token_ids_free(&ids);
    md_corpus_free(&late);
    free(lw.follow_prob);
    return rc;
}

int md_write_corpora(md_data_ctx *c, bool train_tokenizer, md_error *err) {
    const md_data_config *cfg = c->cfg;
    char path[2048];
    md_corpus train, val;
    double t0 = md_now();
    if (md_corpus_generate(&c->world, cfg->corpus_bytes, 0, &train, err)) return -1;
    if (md_corpus_generate(&c->world, cfg->corpus_val_bytes, 1, &val, err)) {
        md_corpus_free(&train);
        return -1;
    }
    int rc = -1;
    char *joined = NULL;
    md_token_ids ids = {0};
    if (md_corpus_write(&train, md_data_path(c, "corpus.txt", path, sizeof path), err) ||
        md_corpus_write(&val, md_data_path(c, "corpus_val.txt", path, sizeof path), err) ||
        md_corpus_write_stats(&c->world, &train,
                              md_data_path(c, "corpus_stats.json", path, sizeof path), err))
        goto done;
    md_data_log(c, "corpus: %lld bytes, %lld documents (+ validation %lld bytes) in %.1f s",
                (long long)md_corpus_bytes(&train), (long long)train.total_docs,
                (long long)md_corpus_bytes(&val), md_now() - t0);
    md_data_check_add(c, "corpus/bytes", (double)md_corpus_bytes(&train));
    md_data_check_add(c, "corpus/documents", (double)train.total_docs);
    c->fact_mentions = malloc(sizeof(int64_t) * (size_t)c->world.n_facts);
    if (!c->fact_mentions) {
        md_errorf(err, "out of memory");
        goto done;
    }
    memcpy(c->fact_mentions, train.fact_mentions, sizeof(int64_t) * (size_t)c->world.n_facts);
    md_data_check_add(c, "corpus/mentions_most_frequent_fact", (double)train.fact_mentions[0]);
    md_data_check_add(c, "corpus/mentions_rarest_fact",
                      (double)train.fact_mentions[c->world.n_facts - 1]);
    if (!train_tokenizer) {
        rc = write_late_corpus(c, false, err);
        goto done;
    }

    // Tokenizer: BPE on the training corpus only.
    t0 = md_now();
    size_t jl;
    joined = join_docs(&train, &jl);
    if (!joined) {
        md_errorf(err, "tokenizer: out of memory");
        goto done;
    }
    c->tok = md_bpe_train(joined, jl, cfg->vocab_size, NULL, err);
    if (!c->tok) goto done;
    if (md_tokenizer_save_gpt2(c->tok, md_data_path(c, "tokenizer", path, sizeof path), err))
        goto done;
    c->eot = md_tokenizer_eot(c->tok);
    c->vocab = md_tokenizer_vocab_size(c->tok);
    md_data_log(c, "tokenizer: %d ids trained in %.1f s", c->vocab, md_now() - t0);
    md_data_check_add(c, "tokenizer/vocab_size", c->vocab);

    // Every name and option letter must be one token.
    for (int i = 0; i < c->world.n_names; i++) {
        char s[64];
        int32_t id;
        snprintf(s, sizeof s, " %s", c->world.names[i]);
        if (md_data_one_token(c, s, &id, err)) goto done;
    }
    md_data_check_add(c, "tokenizer/names_single_token", c->world.n_names);
    for (int l = 0; l < 4; l++) {
        char s[3] = {' ', (char)('A' + l), 0};
        int32_t id;
        if (md_data_one_token(c, s, &id, err)) goto done;
    }

    // Token streams.
    t0 = md_now();
    if (corpus_tokens(c, &train, &ids, err)) goto done;
    c->seen = calloc((size_t)c->vocab, sizeof *c->seen);
    if (!c->seen) {
        md_errorf(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < ids.n; i++) c->seen[ids.ids[i]] = true;
    int64_t n = (int64_t)ids.n, n_train = n;
    if (md_data_save(c, "corpus_train.npy", MD_I32, ids.ids, 1, &n,
                     "token: the training corpus, each document <|endoftext|> + its tokens",
                     err))
        goto done;
    md_data_check_add(c, "corpus/train_tokens", (double)n);
    md_data_check_add(c, "corpus/bytes_per_token",
                      (double)md_corpus_bytes(&train) / (double)(n ? n : 1));
    int64_t unused = 0;
    for (int32_t i = 0; i < c->vocab; i++) unused += !c->seen[i] && i != c->eot;
    md_data_check_add(c, "tokenizer/ids_absent_from_corpus_tokens", (double)unused);
    if (corpus_tokens(c, &val, &ids, err)) goto done;
    n = (int64_t)ids.n;
    if (md_data_save(c, "corpus_val.npy", MD_I32, ids.ids, 1, &n,
                     "token: the validation corpus (other documents, same mix)", err))
        goto done;
    md_data_check_add(c, "corpus/val_tokens", (double)n);
    md_data_log(c, "corpus tokens: %lld train, %lld validation in %.1f s", (long long)n_train,
                (long long)n, md_now() - t0);
    rc = write_late_corpus(c, true, err);
done:
    free(joined);
    md_token_ids_free(&ids);
    md_corpus_free(&train);
    md_corpus_free(&val);
    return rc;
}
