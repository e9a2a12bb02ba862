// Shared by `mechdrift train` and `mechdrift finetune`: command-line options that override
// config keys, and the run itself.
#ifndef MD_CLI_TRAIN_CLI_H
#define MD_CLI_TRAIN_CLI_H

#include "cli/cli.h"
#include "model/train.h"

// An option that sets a config key (string value, as it would be written in the file).
typedef struct md_train_flag {
    const char *option;  // "lr"
    const char *key;     // "lr"
    const char *help;
    bool flag;           // a switch: sets the key to "true"
    const char *value;   // filled by the parser
    bool set;
} md_train_flag;

// Parses argv with the given required/extra options plus the key-setting flags, loads
// --config (if any), applies the flags, reads the job and checks for unknown keys.
int md_train_cli_run(const char *cmd, int argc, char **argv, const char *usage,
                     md_train_flag *flags, int nflags, md_train_job *job);

#endif
