// bin/mechdrift: dispatches to the subcommands listed here.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

extern const md_command md_cmd_isa;
extern const md_command md_cmd_data;
extern const md_command md_cmd_tokenize;
extern const md_command md_cmd_train;
extern const md_command md_cmd_finetune;
extern const md_command md_cmd_info;
extern const md_command md_cmd_logits;
extern const md_command md_cmd_generate;
extern const md_command md_cmd_cache;
extern const md_command md_cmd_circuit;
extern const md_command md_cmd_neuroplasticity;
extern const md_command md_cmd_organism_eval;

static const md_command *const commands[] = {
    &md_cmd_isa,
    &md_cmd_data,
    &md_cmd_tokenize,
    &md_cmd_train,
    &md_cmd_finetune,
    &md_cmd_info,
    &md_cmd_logits,
    &md_cmd_generate,
    &md_cmd_cache,
    &md_cmd_circuit,
    &md_cmd_neuroplasticity,
    &md_cmd_organism_eval,
};
static const int ncommands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f) {
    fprintf(f, "usage: mechdrift <command> [options]   (mechdrift <command> --help for each)\n\n"
               "Commands:\n");
    for (int i = 0; i < ncommands; i++)
        fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < ncommands; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) return commands[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "mechdrift: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
