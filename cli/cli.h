// The one CLI, bin/mechdrift. Each subcommand lives in cli/cmd_<name>.c and exposes an
// md_command; cli/main.c lists them. Every subcommand answers --help, and rejects
// unknown options with a message naming the option.
#ifndef MD_CLI_H
#define MD_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor/error.h"

typedef struct md_command {
    const char *name;
    const char *summary;  // one line, shown by `mechdrift --help`
    int (*run)(int argc, char **argv);  // argv[0] is the subcommand name
} md_command;

// ---------------------------------------------------------------- options
typedef enum md_opt_kind { MD_OPT_FLAG, MD_OPT_STRING, MD_OPT_INT, MD_OPT_DOUBLE } md_opt_kind;

typedef struct md_opt {
    const char *name;   // "model" for --model
    md_opt_kind kind;
    void *dest;         // bool*, const char**, int64_t*, double*
    const char *help;   // "DIR: the Hugging Face model folder"
    bool required;
    bool seen;          // set by the parser
} md_opt;

// Parses "--name value", "--name=value" and "--flag". Returns 0 when parsed, 1 when
// --help was asked for (usage already printed to stdout), -1 with err filled on an
// unknown option, a missing or malformed value, or a missing required option.
int md_parse_opts(int argc, char **argv, md_opt *opts, int nopts, const char *usage,
                  md_error *err);
void md_print_usage(FILE *f, const char *usage, const md_opt *opts, int nopts);

// Prints "mechdrift CMD: MESSAGE" to stderr and returns the exit status 2 (usage) or 1.
int md_cli_fail(const char *cmd, const md_error *err, int status);

#endif
