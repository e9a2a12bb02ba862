/* Used by tools/gemm-avx512-emu.sh only (never by the kit build): AVX-512 intrinsics emulated by SIMDe so the AVX-512
   kernels can run on a CPU without AVX-512. Adds the few intrinsics SIMDe 0.7.4 lacks. */
#ifndef MD_SIMDE_SHIM_H
#define MD_SIMDE_SHIM_H
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <string.h>
#include <stdint.h>
#define __mmask16 simde__mmask16
#define __mmask8 simde__mmask8
static inline simde__m256i md_shim_cvtepi32_epi16(simde__m512i a) {
    int32_t x[16]; int16_t y[16]; simde__m256i r;
    memcpy(x, &a, 64);
    for (int i = 0; i < 16; i++) y[i] = (int16_t)x[i];
    memcpy(&r, y, 32);
    return r;
}
static inline simde__m512i md_shim_cvtepu16_epi32(simde__m256i a) {
    uint16_t x[16]; uint32_t y[16]; simde__m512i r;
    memcpy(x, &a, 32);
    for (int i = 0; i < 16; i++) y[i] = x[i];
    memcpy(&r, y, 64);
    return r;
}
static inline simde__m512 md_shim_maskz_loadu_ps(simde__mmask16 k, const void *p) {
    float r[16]; simde__m512 v;
    for (int i = 0; i < 16; i++) r[i] = (k >> i) & 1 ? ((const float *)p)[i] : 0.0f;
    memcpy(&v, r, 64);
    return v;
}
static inline void md_shim_mask_storeu_ps(void *p, simde__mmask16 k, simde__m512 a) {
    float x[16];
    memcpy(x, &a, 64);
    for (int i = 0; i < 16; i++) if ((k >> i) & 1) ((float *)p)[i] = x[i];
}
#define _mm512_cvtepi32_epi16 md_shim_cvtepi32_epi16
#define _mm512_cvtepu16_epi32 md_shim_cvtepu16_epi32
#define _mm512_maskz_loadu_ps md_shim_maskz_loadu_ps
#define _mm512_mask_storeu_ps md_shim_mask_storeu_ps
#endif
