// Benchmark reports: every benchmark collects records
//   {"case": ..., "impl": ..., "threads": N, "value": X, "unit": "..."}
// and writes results/bench/<name>.json (with the CPU model, git revision and date)
// atomically, and prints the same records as a table.
#ifndef MD_BENCH_REPORT_H
#define MD_BENCH_REPORT_H

#include <stddef.h>

#include "tensor/error.h"

typedef struct md_bench_record {
    char case_name[96];
    char impl[48];
    int threads;
    double value;
    char unit[24];
    char note[96];  // non-empty: no value (e.g. a peer library missing on this machine)
} md_bench_record;

typedef struct md_bench_report {
    char name[48];
    md_bench_record *records;
    size_t count, capacity;
} md_bench_report;

void md_bench_init(md_bench_report *r, const char *name);
void md_bench_add(md_bench_report *r, const char *case_name, const char *impl, int threads,
                  double value, const char *unit);
// A record without a value, saying why (written as "value": null plus "note").
void md_bench_add_note(md_bench_report *r, const char *case_name, const char *impl, int threads,
                       const char *note);
// Writes the JSON file and prints the table to stdout.
int md_bench_write(const md_bench_report *r, const char *path, md_error *err);
void md_bench_free(md_bench_report *r);

// Median of n timings (sorts a copy).
double md_median(const double *x, int n);

#endif
