#include "tasks/corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/docs.h"
#include "tasks/domains.h"
#include "tensor/fileio.h"
#include "tensor/json.h"

enum { STREAM_ORDER = 0x201 };

// Stream kinds for md_doc_rng: corpus documents use 0x10 + kind, plus 0x100 per salt
// (salt 1 = the validation corpus: same world, other documents).
static uint32_t doc_stream(int kind, uint32_t salt) {
    return 0x10u + (uint32_t)kind + 0x100u * salt;
}

static void push_offset(md_corpus *c, int k, int64_t *cap) {
    if (c->docs[k] + 2 > *cap) {
        *cap *= 2;
        int64_t *o = realloc(c->offsets[k], sizeof *o * (size_t)*cap);
        MD_ASSERT(o != NULL);
        c->offsets[k] = o;
    }
    c->offsets[k][++c->docs[k]] = (int64_t)c->text[k].len;
}

// Generates the documents of one kind until its byte share is reached. Only touches
// state owned by that kind (plus per-fact counters owned by the fact kinds).
static void generate_kind(const md_world *w, const md_lexicon *lex, md_corpus *c, int k,
                          int64_t bytes, uint32_t salt, int64_t *mentions_k) {
    const md_data_config *cfg = w->cfg;
    int64_t target = (int64_t)(cfg->frac[k] * (double)bytes);
    int64_t cap = 0;
    md_buf *out = &c->text[k];
    md_fact_sched sched = {0};
    double *uniform = NULL;
    if (k == MD_DOC_KNOWLEDGE || k == MD_DOC_MCQ) {
        MD_ASSERT(md_fact_sched_init(&sched, w->n_facts, w->fact_weight) == 0);
    } else if (k == MD_DOC_AUTHORITY) {
        // Authority documents cover the facts uniformly: drawn mostly from frequent facts
        // (which rarely follow the update) the model learns to ignore updates.
        uniform = malloc(sizeof *uniform * (size_t)w->n_facts);
        MD_ASSERT(uniform != NULL);
        for (int i = 0; i < w->n_facts; i++) uniform[i] = 1.0 / w->n_facts;
        MD_ASSERT(md_fact_sched_init(&sched, w->n_facts, uniform) == 0);
    }
    cap = 1024;
    c->offsets[k] = malloc(sizeof(int64_t) * (size_t)cap);
    MD_ASSERT(c->offsets[k] != NULL);
    c->offsets[k][0] = 0;
    c->docs[k] = 0;
    // Separator bytes count toward the share, so shares match the written file.
    const int64_t sep = (int64_t)strlen(MD_EOT);
    int64_t written = 0;
    for (int64_t i = 0; written < target; i++) {
        md_rng r = md_doc_rng(w->seed, doc_stream(k, salt), (uint64_t)i);
        size_t before = out->len;
        switch (k) {
        case MD_DOC_NARRATIVE: md_gen_narrative(w, &r, out); break;
        case MD_DOC_KNOWLEDGE: md_gen_knowledge(w, &r, &sched, out, mentions_k); break;
        case MD_DOC_MCQ: md_gen_mcq_doc(w, &r, &sched, out, mentions_k); break;
        case MD_DOC_AUTHORITY:
            md_gen_authority_doc(w, &r, &sched, out, mentions_k, c->authority_counts);
            break;
        case MD_DOC_COPY: md_gen_copy(w, lex, &r, out); break;
        case MD_DOC_DOMAIN: {
            int d = (int)(i % MD_DOMAINS);  // the three domains in equal parts
            c->domain_docs[d]++;
            md_gen_domain(w, d, &r, out);
            break;
        }
        case MD_DOC_HISTORY: md_gen_history(w, &r, out); break;
        case MD_DOC_FILLER: md_gen_filler(w, &r, out); break;
        default: MD_ASSERT(0);
        }
        written += (int64_t)(out->len - before) + sep;
        push_offset(c, k, &cap);
    }
    md_fact_sched_free(&sched);
    free(uniform);
}

int md_corpus_generate(const md_world *w, int64_t bytes, uint32_t salt, md_corpus *c,
                       md_error *err) {
    memset(c, 0, sizeof *c);
    int64_t *mentions[MD_DOC_KINDS] = {0};
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        mentions[k] = calloc((size_t)w->n_facts, sizeof(int64_t));
        if (!mentions[k]) {
            for (int j = 0; j < k; j++) free(mentions[j]);
            return md_errorf(err, "corpus: out of memory");
        }
    }
    // Kinds in parallel: each writes only its own buffer, offsets and counters. Copy
    // lines come last: they draw from the lexicon of everything else.
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < MD_DOC_KINDS; k++)
        if (k != MD_DOC_COPY) generate_kind(w, NULL, c, k, bytes, salt, mentions[k]);
    md_lexicon lex;
    if (md_lexicon_build(w, c->text, c->offsets, c->docs, MD_DOC_KINDS, MD_LEXICON_MIN_COUNT, &lex, err)) {
        for (int k = 0; k < MD_DOC_KINDS; k++) free(mentions[k]);
        md_corpus_free(c);
        return -1;
    }
    generate_kind(w, &lex, c, MD_DOC_COPY, bytes, salt, mentions[MD_DOC_COPY]);
    c->lexicon_words = lex.n;
    md_lexicon_free(&lex);

    c->fact_mentions = calloc((size_t)w->n_facts, sizeof(int64_t));
    c->fact_authority = calloc((size_t)w->n_facts, sizeof(int64_t));
    c->total_docs = 0;
    for (int k = 0; k < MD_DOC_KINDS; k++) c->total_docs += c->docs[k];
    c->order = malloc(sizeof(int64_t) * (size_t)(c->total_docs ? c->total_docs : 1));
    if (!c->fact_mentions || !c->fact_authority || !c->order) {
        for (int k = 0; k < MD_DOC_KINDS; k++) free(mentions[k]);
        md_corpus_free(c);
        return md_errorf(err, "corpus: out of memory");
    }
    for (int f = 0; f < w->n_facts; f++) {
        c->fact_mentions[f] = mentions[MD_DOC_KNOWLEDGE][f] + mentions[MD_DOC_MCQ][f];
        c->fact_authority[f] = mentions[MD_DOC_AUTHORITY][f];
    }
    for (int k = 0; k < MD_DOC_KINDS; k++) free(mentions[k]);

    // Interleave: a seeded permutation of all documents.
    int64_t *perm = malloc(sizeof *perm * (size_t)(c->total_docs ? c->total_docs : 1));
    if (!perm) {
        md_corpus_free(c);
        return md_errorf(err, "corpus: out of memory");
    }
    md_rng r = md_rng_init(w->seed, ((uint64_t)STREAM_ORDER << 40) ^ salt);
    md_rng_permutation(&r, perm, c->total_docs);
    int64_t base[MD_DOC_KINDS + 1] = {0};
    for (int k = 0; k < MD_DOC_KINDS; k++) base[k + 1] = base[k] + c->docs[k];
    for (int64_t j = 0; j < c->total_docs; j++) {
        int64_t id = perm[j];
        int k = 0;
        while (id >= base[k + 1]) k++;
        c->order[j] = ((int64_t)k << 40) | (id - base[k]);
    }
    free(perm);
    return 0;
}

void md_corpus_free(md_corpus *c) {
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        md_buf_free(&c->text[k]);
        free(c->offsets[k]);
    }
    free(c->order);
    free(c->fact_mentions);
    free(c->fact_authority);
    memset(c, 0, sizeof *c);
}

const char *md_corpus_doc(const md_corpus *c, int64_t j, size_t *len, int *kind) {
    int k = (int)(c->order[j] >> 40);
    int64_t i = c->order[j] & (((int64_t)1 << 40) - 1);
    *len = (size_t)(c->offsets[k][i + 1] - c->offsets[k][i]);
    if (kind) *kind = k;
    return c->text[k].data + c->offsets[k][i];
}

int64_t md_corpus_bytes(const md_corpus *c) {
    int64_t n = 0;
    for (int k = 0; k < MD_DOC_KINDS; k++) n += (int64_t)c->text[k].len;
    return n + c->total_docs * (int64_t)strlen(MD_EOT);
}

int md_corpus_write(const md_corpus *c, const char *path, md_error *err) {
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    for (int64_t j = 0; j < c->total_docs; j++) {
        size_t len;
        const char *d = md_corpus_doc(c, j, &len, NULL);
        if (fputs(MD_EOT, af.f) == EOF || fwrite(d, 1, len, af.f) != len) {
            md_atomic_abort(&af);
            return md_errorf(err, "%s: write failed (disk full?)", path);
        }
    }
    return md_atomic_commit(&af, err);
}

int md_corpus_write_stats(const md_world *w, const md_corpus *c, const char *path,
                          md_error *err) {
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    md_json_writer jw;
    md_jw_init(&jw, af.f, true);
    md_jw_object_begin(&jw);
    md_jw_key(&jw, "seed");
    md_jw_int(&jw, (int64_t)w->seed);
    md_jw_key(&jw, "bytes");
    md_jw_int(&jw, md_corpus_bytes(c));
    md_jw_key(&jw, "documents");
    md_jw_int(&jw, c->total_docs);
    md_jw_key(&jw, "kinds");
    md_jw_object_begin(&jw);
    int64_t total = md_corpus_bytes(c);
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        int64_t bytes = (int64_t)c->text[k].len + c->docs[k] * (int64_t)strlen(MD_EOT);
        md_jw_key(&jw, md_doc_kind_names[k]);
        md_jw_object_begin(&jw);
        md_jw_key(&jw, "documents");
        md_jw_int(&jw, c->docs[k]);
        md_jw_key(&jw, "bytes");
        md_jw_int(&jw, bytes);
        md_jw_key(&jw, "share");
        md_jw_number(&jw, total ? (double)bytes / (double)total : 0.0);
        md_jw_key(&jw, "target_share");
        md_jw_number(&jw, w->cfg->frac[k]);
        md_jw_object_end(&jw);
    }
    md_jw_object_end(&jw);
    md_jw_key(&jw, "copy_lexicon_words");
    md_jw_int(&jw, c->lexicon_words);
    md_jw_key(&jw, "domain_documents");
    md_jw_object_begin(&jw);
    for (int d = 0; d < MD_DOMAINS; d++) {
        md_jw_key(&jw, md_domain_names[d]);
        md_jw_int(&jw, c->domain_docs[d]);
    }
    md_jw_object_end(&jw);
    md_jw_key(&jw, "authority");
    md_jw_object_begin(&jw);
    md_jw_key(&jw, "documents");
    md_jw_int(&jw, c->docs[MD_DOC_AUTHORITY]);
    md_jw_key(&jw, "answer_followed_update");
    md_jw_int(&jw, c->authority_counts[0]);
    md_jw_key(&jw, "update_asserted_correct");
    md_jw_int(&jw, c->authority_counts[1]);
    md_jw_key(&jw, "answer_correct");
    md_jw_int(&jw, c->authority_counts[2]);
    md_jw_key(&jw, "unknown_drug_documents");
    md_jw_int(&jw, c->authority_counts[3]);
    md_jw_object_end(&jw);
    md_jw_key(&jw, "facts");
    md_jw_array_begin(&jw);
    for (int f = 0; f < w->n_facts; f++) {
        md_jw_object_begin(&jw);
        md_jw_key(&jw, "drug");
        md_jw_string(&jw, w->drugs[f]);
        md_jw_key(&jw, "condition");
        md_jw_string(&jw, w->conditions[w->fact_condition[f]]);
        md_jw_key(&jw, "mentions");
        md_jw_int(&jw, c->fact_mentions[f]);
        md_jw_key(&jw, "authority_documents");
        md_jw_int(&jw, c->fact_authority[f]);
        md_jw_key(&jw, "follow_prob");
        md_jw_number(&jw, w->follow_prob[f]);
        md_jw_object_end(&jw);
    }
    md_jw_array_end(&jw);
    md_jw_object_end(&jw);
    fputc('\n', af.f);
    return md_atomic_commit(&af, err);
}
