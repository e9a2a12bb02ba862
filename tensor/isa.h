// Runtime ISA dispatch. The binary is compiled for the baseline ISA; kernels built
// for AVX2+FMA, AVX-512 and AVX512_BF16 live in files with that suffix and are chosen
// here, once, from what the CPU and OS support. MECHDRIFT_ISA=generic|avx2|avx512
// forces a path (it may only lower the level: asking for more than the CPU has is an
// error), which is how the test suite proves every fallback on every run.
#ifndef MD_ISA_H
#define MD_ISA_H

#include <stdbool.h>

#include "tensor/error.h"

typedef enum md_isa {
    MD_ISA_GENERIC = 0,  // portable C, any architecture
    MD_ISA_AVX2,         // AVX2 + FMA + F16C
    MD_ISA_AVX512,       // AVX-512 F/BW/VL/DQ (+ AVX512_BF16 when md_cpu_has_bf16())
    MD_ISA_COUNT
} md_isa;

// The ISA the kit uses: the best the CPU supports, or MECHDRIFT_ISA if set.
// Resolved once on first call; an invalid MECHDRIFT_ISA is reported on stderr and the
// process exits with status 2 (it is a user error worth stopping for).
md_isa md_isa_active(void);
// The best ISA this CPU and OS support, ignoring MECHDRIFT_ISA.
md_isa md_isa_best(void);
// Whether the CPU has AVX512_BF16 (vdpbf16ps) and the active ISA is AVX512.
bool md_isa_has_bf16(void);

const char *md_isa_name(md_isa isa);
// Parses "generic", "avx2", "avx512"; returns -1 with an error otherwise.
int md_isa_parse(const char *s, md_isa *out, md_error *err);

// For tests and benchmarks: force a path within this process (must be <= best).
int md_isa_force(md_isa isa, md_error *err);

// Human-readable CPU model ("AMD EPYC 9R14 ..."), for benchmark reports.
const char *md_cpu_model(void);

#endif
