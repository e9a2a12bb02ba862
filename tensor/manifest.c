#include "tensor/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/sha256.h"
#include "tensor/threads.h"

const char *md_source_revision(void) {
    static char rev[64];
    if (rev[0]) return rev;
    snprintf(rev, sizeof rev, "unknown");
    FILE *p = popen("git rev-parse --short=12 HEAD 2>/dev/null", "r");
    if (p) {
        char line[64] = {0};
        if (fgets(line, sizeof line, p)) line[strcspn(line, "\n")] = '\0';
        if (pclose(p) == 0 && line[0]) snprintf(rev, sizeof rev, "%s", line);
    }
    if (strcmp(rev, "unknown") != 0) {
        FILE *d = popen("git status --porcelain --untracked-files=no 2>/dev/null | head -1", "r");
        if (d) {
            char line[8];
            if (fgets(line, sizeof line, d)) strncat(rev, "-dirty", sizeof rev - strlen(rev) - 1);
            pclose(d);
        }
    }
    return rev;
}

md_manifest *md_manifest_new(const char *out_dir, const char *run, int argc, char **argv,
                             md_error *err) {
    if (md_mkdirs(out_dir, err)) return NULL;
    md_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        md_errorf(err, "manifest: out of memory");
        return NULL;
    }
    snprintf(m->out_dir, sizeof m->out_dir, "%s", out_dir);
    snprintf(m->run, sizeof m->run, "%s", run);
    size_t used = 0;
    for (int i = 0; i < argc && used < sizeof m->command; i++)
        used += (size_t)snprintf(m->command + used, sizeof m->command - used, i ? " %s" : "%s",
                                 argv[i]);
    m->start = md_now();
    return m;
}

void md_manifest_free(md_manifest *m) { free(m); }

static void set_item(md_manifest_item *items, int *n, int cap, const char *key,
                     const char *value) {
    for (int i = 0; i < *n; i++)
        if (strcmp(items[i].key, key) == 0) {
            snprintf(items[i].value, sizeof items[i].value, "%s", value);
            return;
        }
    if (*n >= cap) return;  // silently bounded: the manifest is documentation, not data
    snprintf(items[*n].key, sizeof items[*n].key, "%s", key);
    snprintf(items[*n].value, sizeof items[*n].value, "%s", value);
    (*n)++;
}

void md_manifest_config(md_manifest *m, const char *key, const char *fmt, ...) {
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    set_item(m->config, &m->nconfig, MD_MANIFEST_MAX_ITEMS, key, value);
}

void md_manifest_seed(md_manifest *m, const char *name, uint64_t seed) {
    char value[32];
    snprintf(value, sizeof value, "%llu", (unsigned long long)seed);
    set_item(m->seeds, &m->nseeds, 64, name, value);
}

int md_manifest_model(md_manifest *m, const char *model_dir, md_error *err) {
    static const char *const files[] = {"config.json", "model.safetensors"};
    md_sha256 s;
    md_sha256_init(&s);
    for (int i = 0; i < 2; i++) {
        char path[1200], hex[65];
        snprintf(path, sizeof path, "%s/%s", model_dir, files[i]);
        if (md_sha256_file(path, hex, err)) return -1;
        md_sha256_update(&s, hex, 64);  // hash of hashes: order-sensitive, cheap to recheck
    }
    uint8_t d[32];
    md_sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(m->model_hash + 2 * i, 3, "%02x", d[i]);
    snprintf(m->model_dir, sizeof m->model_dir, "%s", model_dir);
    return 0;
}

void md_manifest_stage(md_manifest *m, const char *name, double seconds) {
    for (int i = 0; i < m->nstages; i++)
        if (strcmp(m->stages[i].name, name) == 0) {
            m->stages[i].seconds += seconds;
            return;
        }
    if (m->nstages >= (int)(sizeof m->stages / sizeof m->stages[0])) return;
    snprintf(m->stages[m->nstages].name, sizeof m->stages[0].name, "%s", name);
    m->stages[m->nstages++].seconds = seconds;
}

void md_manifest_array(md_manifest *m, const char *file, const md_tensor *t, const char *axes) {
    char shape[96], value[1024];
    snprintf(value, sizeof value, "%s %s: %s", md_dtype_name(t->dtype),
             md_shape_str(t, shape, sizeof shape), axes);
    set_item(m->arrays, &m->narrays, MD_MANIFEST_MAX_ITEMS, file, value);
}

static void write_items(md_json_writer *w, const char *key, const md_manifest_item *items, int n) {
    md_jw_key(w, key);
    md_jw_object_begin(w);
    for (int i = 0; i < n; i++) {
        md_jw_key(w, items[i].key);
        md_jw_string(w, items[i].value);
    }
    md_jw_object_end(w);
}

int md_manifest_write(const md_manifest *m, md_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.json", m->out_dir);
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    md_json_writer w;
    md_jw_init(&w, af.f, true);
    md_jw_object_begin(&w);
    md_jw_key(&w, "run"), md_jw_string(&w, m->run);
    md_jw_key(&w, "command"), md_jw_string(&w, m->command);
    md_jw_key(&w, "revision"), md_jw_string(&w, md_source_revision());
    md_jw_key(&w, "threads"), md_jw_int(&w, md_threads());
    if (m->model_hash[0]) {
        md_jw_key(&w, "model"), md_jw_string(&w, m->model_dir);
        md_jw_key(&w, "model_sha256"), md_jw_string(&w, m->model_hash);
    }
    write_items(&w, "config", m->config, m->nconfig);
    write_items(&w, "seeds", m->seeds, m->nseeds);
    md_jw_key(&w, "stage_seconds");
    md_jw_object_begin(&w);
    for (int i = 0; i < m->nstages; i++) {
        md_jw_key(&w, m->stages[i].name);
        md_jw_number(&w, m->stages[i].seconds);
    }
    md_jw_object_end(&w);
    md_jw_key(&w, "wall_seconds"), md_jw_number(&w, md_now() - m->start);
    write_items(&w, "arrays", m->arrays, m->narrays);
    md_jw_object_end(&w);
    return md_atomic_commit(&af, err);
}
