// Shared between the trainer's files (not a public API).
#ifndef MD_TRAIN_INTERNAL_H
#define MD_TRAIN_INTERNAL_H

#include "model/train.h"

// Writes the training state (moments, curves, positions) to path (atomically).
int md_train_state_write(const md_trainer *t, const char *path, md_error *err);
// Removes the files of a flat directory, then the directory (missing: fine).
int md_train_remove_dir(const char *dir);

#endif
