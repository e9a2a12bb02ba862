#include "tasks/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "tasks/write.h"
#include "tensor/threads.h"

static int write_checks(md_data_ctx *c, md_error *err) {
    char path[2048];
    md_atomic_file af;
    if (md_atomic_open(&af, md_data_path(c, "checks.json", path, sizeof path), err)) return -1;
    md_json_writer jw;
    md_jw_init(&jw, af.f, true);
    md_jw_object_begin(&jw);
    for (int i = 0; i < c->nchecks; i++) {
        md_jw_key(&jw, c->checks[i].name);
        md_jw_number(&jw, c->checks[i].value);
    }
    md_jw_object_end(&jw);
    fputc('\n', af.f);
    return md_atomic_commit(&af, err);
}

typedef int (*stage_fn)(md_data_ctx *, md_error *);

int md_data_build(const md_data_config *cfg, const md_data_options *o, md_error *err) {
    md_data_ctx *c = calloc(1, sizeof *c);
    if (!c) return md_errorf(err, "data: out of memory");
    c->cfg = cfg;
    c->man = o->man;
    c->log = o->log;
    snprintf(c->root, sizeof c->root, "%s", o->out_dir);
    int rc = -1;
    if (md_mkdirs(c->root, err) || md_world_build(cfg, &c->world, err)) goto done;
    double t0 = md_now();
    if (md_write_world(c, err)) goto done;
    if (md_write_corpora(c, !o->text_only, err)) goto done;
    if (c->man) md_manifest_stage(c->man, "corpus and tokenizer", md_now() - t0);
    static const struct {
        const char *name;
        stage_fn fn;
    } stages[] = {
        {"ioi", md_write_ioi},
        {"ioi causal-abstraction pairs", md_write_ioi_pairs},
        {"multiple choice", md_write_mcq},
        {"copy and patchscope", md_write_copy},
        {"domains and unrelated text", md_write_domains},
        {"hierarchical equality", md_write_hiereq},
        {"induction", md_write_induction},
        {"greater-than", md_write_greater_than},
    };
    for (size_t s = 0; s < sizeof stages / sizeof stages[0]; s++) {
        double ts = md_now();
        if (stages[s].fn(c, err)) {
            md_error_prefix(err, "%s: ", stages[s].name);
            goto done;
        }
        if (c->man) md_manifest_stage(c->man, stages[s].name, md_now() - ts);
    }
    if (write_checks(c, err)) goto done;
    md_data_log(c, "data: done in %.1f s -> %s", md_now() - t0, c->root);
    rc = 0;
done:
    if (c->tok) md_tokenizer_free(c->tok);
    free(c->seen);
    free(c->fact_mentions);
    md_world_free(&c->world);
    free(c);
    return rc;
}
