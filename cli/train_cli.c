#include "cli/train_cli.h"

#include <stdlib.h>
#include <string.h>

#include "tensor/kvconfig.h"

int md_train_cli_run(const char *cmd, int argc, char **argv, const char *usage,
                     md_train_flag *flags, int nflags, md_train_job *job) {
    const char *config = NULL, *set = NULL;
    enum { EXTRA = 2 };
    md_opt *opts = calloc((size_t)(nflags + EXTRA), sizeof *opts);
    bool *switches = calloc((size_t)nflags, sizeof *switches);
    if (!opts || !switches) {
        free(opts), free(switches);
        fprintf(stderr, "mechdrift %s: out of memory\n", cmd);
        return 1;
    }
    opts[0] = (md_opt){"config", MD_OPT_STRING, &config, "FILE: a key = value config (configs/train-*.cfg)", false, false};
    opts[1] = (md_opt){"set", MD_OPT_STRING, &set, "'KEY=VALUE;KEY=VALUE': override config keys", false, false};
    for (int i = 0; i < nflags; i++)
        opts[EXTRA + i] = flags[i].flag
            ? (md_opt){flags[i].option, MD_OPT_FLAG, &switches[i], flags[i].help, false, false}
            : (md_opt){flags[i].option, MD_OPT_STRING, &flags[i].value, flags[i].help, false, false};
    md_error err = {{0}};
    md_kv kv = {0};
    int status = 2, rc = md_parse_opts(argc, argv, opts, nflags + EXTRA, usage, &err);
    if (rc) {
        status = rc > 0 ? 0 : md_cli_fail(cmd, &err, 2);
        goto done;
    }
    for (int i = 0; i < nflags; i++) flags[i].set = opts[EXTRA + i].seen;
    if (config ? md_kv_load(config, &kv, &err) : md_kv_parse("", "command line", &kv, &err)) {
        status = md_cli_fail(cmd, &err, 2);
        goto done;
    }
    if (set) {
        char *copy = strdup(set), *save = NULL;
        for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(item, '=');
            if (!eq) {
                md_errorf(&err, "--set: expected KEY=VALUE, got '%s'", item);
                break;
            }
            *eq = 0;
            char *k = item, *v = eq + 1;
            while (*k == ' ') k++;
            for (char *e = k + strlen(k); e > k && e[-1] == ' '; e--) e[-1] = 0;
            while (*v == ' ') v++;
            if (md_kv_set(&kv, k, v, &err)) break;
        }
        free(copy);
        if (err.msg[0]) {
            status = md_cli_fail(cmd, &err, 2);
            goto done;
        }
    }
    for (int i = 0; i < nflags; i++)
        if (flags[i].set && md_kv_set(&kv, flags[i].key, flags[i].flag ? "true" : flags[i].value, &err)) {
            status = md_cli_fail(cmd, &err, 2);
            goto done;
        }
    if (md_train_job_from_kv(&kv, job, &err) || md_kv_check_unused(&kv, &err)) {
        status = md_cli_fail(cmd, &err, 2);
        goto done;
    }
    job->argc = argc;
    job->argv = argv;
    status = md_train_job_run(job, &err) ? md_cli_fail(cmd, &err, 1) : 0;
done:
    md_kv_free(&kv);
    free(opts);
    free(switches);
    return status;
}
