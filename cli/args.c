#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void md_print_usage(FILE *f, const char *usage, const md_opt *opts, int nopts) {
    fprintf(f, "%s\n", usage);
    if (nopts == 0) return;
    fprintf(f, "\nOptions:\n");
    for (int i = 0; i < nopts; i++) {
        const char *arg = opts[i].kind == MD_OPT_FLAG ? "" : " VALUE";
        char left[96];
        snprintf(left, sizeof left, "--%s%s", opts[i].name, arg);
        fprintf(f, "  %-26s %s%s\n", left, opts[i].help, opts[i].required ? " (required)" : "");
    }
    fprintf(f, "  %-26s %s\n", "--help", "show this help");
}

static int set_value(md_opt *o, const char *v, md_error *err) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case MD_OPT_STRING: *(const char **)o->dest = v; return 0;
    case MD_OPT_INT: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            return md_errorf(err, "--%s: expected an integer, got '%s'", o->name, v);
        *(int64_t *)o->dest = x;
        return 0;
    }
    case MD_OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (errno || end == v || *end)
            return md_errorf(err, "--%s: expected a number, got '%s'", o->name, v);
        *(double *)o->dest = x;
        return 0;
    }
    case MD_OPT_FLAG: break;
    }
    return md_errorf(err, "--%s: internal option kind error", o->name);
}

int md_parse_opts(int argc, char **argv, md_opt *opts, int nopts, const char *usage,
                  md_error *err) {
    for (int i = 0; i < nopts; i++) opts[i].seen = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            md_print_usage(stdout, usage, opts, nopts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0)
            return md_errorf(err, "unexpected argument '%s' (options start with --; see --help)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        md_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) o = &opts[k];
        if (!o) return md_errorf(err, "unknown option '%.*s' (see --help)", (int)(nlen + 2), a);
        if (o->kind == MD_OPT_FLAG) {
            if (eq) return md_errorf(err, "--%s takes no value", o->name);
            *(bool *)o->dest = true;
        } else {
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) return md_errorf(err, "--%s needs a value", o->name);
            if (set_value(o, v, err)) return -1;
        }
        o->seen = true;
    }
    for (int i = 0; i < nopts; i++)
        if (opts[i].required && !opts[i].seen)
            return md_errorf(err, "missing required option --%s (%s)", opts[i].name, opts[i].help);
    return 0;
}

int md_cli_fail(const char *cmd, const md_error *err, int status) {
    fprintf(stderr, "mechdrift %s: %s\n", cmd, err->msg);
    return status;
}
