// `mechdrift isa`: which kernel path this CPU gets, and which paths it can run (the
// test runner uses --list to run the suite once per path).
#include <stdio.h>

#include "cli/cli.h"
#include "tensor/isa.h"
#include "tensor/threads.h"

static int run(int argc, char **argv) {
    bool list = false;
    md_opt opts[] = {
        {"list", MD_OPT_FLAG, &list, "print the supported paths, one per line, best last", false, false},
    };
    md_error err = {{0}};
    int rc = md_parse_opts(argc, argv, opts, 1,
                           "usage: mechdrift isa [--list]\n\n"
                           "Shows the kernel path in use (MECHDRIFT_ISA=generic|avx2|avx512 forces one).",
                           &err);
    if (rc) return rc > 0 ? 0 : md_cli_fail("isa", &err, 2);
    if (list) {
        for (int i = 0; i <= (int)md_isa_best(); i++) printf("%s\n", md_isa_name((md_isa)i));
        return 0;
    }
    printf("cpu:       %s\n", md_cpu_model());
    printf("best:      %s\n", md_isa_name(md_isa_best()));
    printf("active:    %s%s\n", md_isa_name(md_isa_active()),
           md_isa_has_bf16() ? " (+ AVX512_BF16)" : "");
    printf("threads:   %d\n", md_threads());
    return 0;
}

const md_command md_cmd_isa = {"isa", "show the CPU's kernel paths (SIMD dispatch)", run};
