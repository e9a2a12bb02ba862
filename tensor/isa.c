#include "tensor/isa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MD_X86 1
#else
#define MD_X86 0
#endif

static const char *const isa_names[MD_ISA_COUNT] = {"generic", "avx2", "avx512"};

const char *md_isa_name(md_isa isa) {
    return (unsigned)isa < MD_ISA_COUNT ? isa_names[isa] : "invalid";
}

int md_isa_parse(const char *s, md_isa *out, md_error *err) {
    for (int i = 0; i < MD_ISA_COUNT; i++)
        if (strcmp(s, isa_names[i]) == 0) {
            *out = (md_isa)i;
            return 0;
        }
    return md_errorf(err, "unknown ISA '%s': expected generic, avx2 or avx512", s);
}

#if MD_X86
static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

typedef struct cpu_caps {
    bool avx2, avx512, bf16;
} cpu_caps;

static cpu_caps detect(void) {
    cpu_caps c = {0};
#if MD_X86
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return c;
    bool osxsave = cx & (1u << 27), fma = cx & (1u << 12), f16c = cx & (1u << 29);
    if (!osxsave) return c;
    unsigned long long xcr0 = xgetbv0();
    bool os_avx = (xcr0 & 0x6) == 0x6;        // XMM and YMM state
    bool os_avx512 = (xcr0 & 0xe6) == 0xe6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
    if (__get_cpuid_max(0, NULL) < 7) return c;
    __cpuid_count(7, 0, a, b, cx, d);
    bool avx2 = b & (1u << 5);
    bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
    c.avx2 = os_avx && avx2 && fma && f16c;
    c.avx512 = c.avx2 && os_avx512 && f && dq && bw && vl;
    __cpuid_count(7, 1, a, b, cx, d);
    c.bf16 = c.avx512 && (a & (1u << 5));
#endif
    return c;
}

static cpu_caps caps;
static md_isa best_isa, active_isa;
static int resolved;

static void resolve(void) {
    if (resolved) return;
    caps = detect();
    best_isa = caps.avx512 ? MD_ISA_AVX512 : caps.avx2 ? MD_ISA_AVX2 : MD_ISA_GENERIC;
    active_isa = best_isa;
    const char *env = getenv("MECHDRIFT_ISA");
    if (env && *env) {
        md_error err;
        md_isa want = MD_ISA_GENERIC;
        if (md_isa_parse(env, &want, &err) != 0) {
            fprintf(stderr, "mechdrift: MECHDRIFT_ISA: %s\n", err.msg);
            exit(2);
        }
        if (want > best_isa) {
            fprintf(stderr, "mechdrift: MECHDRIFT_ISA=%s but this CPU supports at most %s\n",
                    env, md_isa_name(best_isa));
            exit(2);
        }
        active_isa = want;
    }
    resolved = 1;
}

md_isa md_isa_active(void) {
    resolve();
    return active_isa;
}

md_isa md_isa_best(void) {
    resolve();
    return best_isa;
}

bool md_isa_has_bf16(void) {
    resolve();
    return active_isa == MD_ISA_AVX512 && caps.bf16;
}

int md_isa_force(md_isa isa, md_error *err) {
    resolve();
    if ((unsigned)isa >= MD_ISA_COUNT) return md_errorf(err, "invalid ISA %d", (int)isa);
    if (isa > best_isa)
        return md_errorf(err, "cannot force %s: this CPU supports at most %s", md_isa_name(isa),
                         md_isa_name(best_isa));
    active_isa = isa;
    return 0;
}

const char *md_cpu_model(void) {
    static char model[128];
    if (model[0]) return model;
    snprintf(model, sizeof model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return model;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Processor", 9) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t') colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(model, sizeof model, "%s", colon);
                break;
            }
        }
    }
    fclose(f);
    return model;
}
