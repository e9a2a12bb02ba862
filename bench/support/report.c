#include "bench/support/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor/fileio.h"
#include "tensor/isa.h"
#include "tensor/json.h"
#include "tensor/manifest.h"

void md_bench_init(md_bench_report *r, const char *name) {
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
}

void md_bench_add(md_bench_report *r, const char *case_name, const char *impl, int threads,
                  double value, const char *unit) {
    if (r->count == r->capacity) {
        r->capacity = r->capacity ? 2 * r->capacity : 64;
        r->records = realloc(r->records, r->capacity * sizeof *r->records);
        if (!r->records) {
            fprintf(stderr, "bench: out of memory\n");
            exit(1);
        }
    }
    md_bench_record *rec = &r->records[r->count++];
    memset(rec, 0, sizeof *rec);
    snprintf(rec->case_name, sizeof rec->case_name, "%s", case_name);
    snprintf(rec->impl, sizeof rec->impl, "%s", impl);
    rec->threads = threads;
    rec->value = value;
    snprintf(rec->unit, sizeof rec->unit, "%s", unit);
}

void md_bench_add_note(md_bench_report *r, const char *case_name, const char *impl, int threads,
                       const char *note) {
    md_bench_add(r, case_name, impl, threads, 0.0, "");
    snprintf(r->records[r->count - 1].note, sizeof r->records[0].note, "%s", note);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double md_median(const double *x, int n) {
    if (n <= 0) return 0.0;
    double *c = malloc(sizeof(double) * (size_t)n);
    memcpy(c, x, sizeof(double) * (size_t)n);
    qsort(c, (size_t)n, sizeof(double), cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

int md_bench_write(const md_bench_report *r, const char *path, md_error *err) {
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    md_json_writer w;
    md_jw_init(&w, af.f, true);
    md_jw_object_begin(&w);
    md_jw_key(&w, "benchmark"), md_jw_string(&w, r->name);
    md_jw_key(&w, "cpu"), md_jw_string(&w, md_cpu_model());
    md_jw_key(&w, "isa"), md_jw_string(&w, md_isa_name(md_isa_active()));
    md_jw_key(&w, "revision"), md_jw_string(&w, md_source_revision());
    md_jw_key(&w, "date"), md_jw_string(&w, date);
    md_jw_key(&w, "records");
    md_jw_array_begin(&w);
    for (size_t i = 0; i < r->count; i++) {
        const md_bench_record *rec = &r->records[i];
        md_jw_object_begin(&w);
        md_jw_key(&w, "case"), md_jw_string(&w, rec->case_name);
        md_jw_key(&w, "impl"), md_jw_string(&w, rec->impl);
        md_jw_key(&w, "threads"), md_jw_int(&w, rec->threads);
        if (rec->note[0]) {
            md_jw_key(&w, "value"), md_jw_null(&w);
            md_jw_key(&w, "note"), md_jw_string(&w, rec->note);
        } else {
            md_jw_key(&w, "value"), md_jw_number(&w, rec->value);
            md_jw_key(&w, "unit"), md_jw_string(&w, rec->unit);
        }
        md_jw_object_end(&w);
    }
    md_jw_array_end(&w);
    md_jw_object_end(&w);
    if (md_atomic_commit(&af, err)) return -1;

    printf("\n%s  (cpu: %s, revision %s)\n", r->name, md_cpu_model(), md_source_revision());
    printf("%-44s %-18s %7s %14s  %s\n", "case", "impl", "threads", "value", "unit");
    for (size_t i = 0; i < r->count; i++) {
        const md_bench_record *rec = &r->records[i];
        if (rec->note[0])
            printf("%-44s %-18s %7d %14s  %s\n", rec->case_name, rec->impl, rec->threads, "n/a",
                   rec->note);
        else
            printf("%-44s %-18s %7d %14.4g  %s\n", rec->case_name, rec->impl, rec->threads,
                   rec->value, rec->unit);
    }
    printf("wrote %s\n", path);
    return 0;
}

void md_bench_free(md_bench_report *r) {
    free(r->records);
    memset(r, 0, sizeof *r);
}
