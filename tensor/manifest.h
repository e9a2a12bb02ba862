// The run manifest: every run that writes results (an experiment, a training run)
// writes OUT_DIR/manifest.json with the git revision, the command line, the config,
// the seeds, the model hash, the thread count, the time of each stage and the wall
// time, and one line per array saying what its axes are, so a figure script or a
// reader years later knows what [3, 12, 12] means.
#ifndef MD_MANIFEST_H
#define MD_MANIFEST_H

#include <stdint.h>

#include "tensor/error.h"
#include "tensor/tensor.h"

#define MD_MANIFEST_MAX_ITEMS 512

typedef struct md_manifest_item {
    char key[96];
    char value[1024];
} md_manifest_item;

typedef struct md_manifest_timing {
    char name[64];
    double seconds;
} md_manifest_timing;

typedef struct md_manifest {
    char out_dir[1024];
    char run[96];          // "neuroplasticity", "train-organism", ...
    char command[2048];    // the command line that produced it
    double start;          // md_now() at begin
    int nconfig, nseeds, narrays, nstages;
    md_manifest_item config[MD_MANIFEST_MAX_ITEMS];
    md_manifest_item seeds[64];
    md_manifest_item arrays[MD_MANIFEST_MAX_ITEMS];  // file -> "dtype [shape]: axes"
    md_manifest_timing stages[128];
    char model_dir[1024];
    char model_hash[65];   // sha256 over config.json then model.safetensors
} md_manifest;

// Starts a manifest for a run writing into out_dir (created if missing). The manifest
// is large: allocate it (md_manifest_new) rather than putting it on the stack.
md_manifest *md_manifest_new(const char *out_dir, const char *run, int argc, char **argv,
                             md_error *err);
void md_manifest_free(md_manifest *m);

void md_manifest_config(md_manifest *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void md_manifest_seed(md_manifest *m, const char *name, uint64_t seed);
// Hashes DIR/config.json and DIR/model.safetensors (error names the missing file).
int md_manifest_model(md_manifest *m, const char *model_dir, md_error *err);
// Records a stage's duration (call with md_now() differences).
void md_manifest_stage(md_manifest *m, const char *name, double seconds);
// Records an array file written into out_dir: its dtype and shape from t, and what the
// axes mean ("seed, checkpoint, layer, head: logit difference change").
void md_manifest_array(md_manifest *m, const char *file, const md_tensor *t, const char *axes);

// Writes out_dir/manifest.json atomically (wall time = now - start).
int md_manifest_write(const md_manifest *m, md_error *err);

// The git revision of the source tree (short hash, "-dirty" when modified, or
// "unknown" outside a checkout). Cached after the first call.
const char *md_source_revision(void);

#endif
