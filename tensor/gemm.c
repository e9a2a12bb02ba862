// The GEMM driver in the BLIS style: pack, five loops, a register-blocked micro-kernel
// chosen per ISA at run time (tensor/gemm_kernel_*.c), and a no-packing path for small
// and skinny products. tensor/GEMM.md has the blocking table and the error bounds.
//
// Loops (row-major C = op(A) op(B); the vector dimension of the micro-kernel is N), run by
// each thread on its own share of the columns of C (or rows, when C is narrow):
//   ic  over M in MC rows:      op(A) panel MC x KC, packed per thread, or read in place
//                               when it is fp32 with unit column stride (no copy at all)
//    pc over K in KC steps:     fixed order: every C element accumulates its K blocks in
//                               this order whatever the thread count
//     jc over the columns in NC:            op(B) block KC x NC packed per thread (L2)
//      ir over the panel in MR rows:        one A sliver MR x KC stays in L1
//       jr over the block in NR columns:    micro-kernel on an MR x NR tile of C
// Threads share nothing but the read-only inputs: no barriers, no shared packed panels
// (sharing a packed A panel cost more in cross-core traffic than repacking it saves). A
// thread writes only its own C tiles and K is never split, so results are bit-identical
// for any thread count.
#include "tensor/gemm.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/bf16.h"
#include "tensor/gemm_kernels.h"
#include "tensor/gemm_pack_impl.h"
#include "tensor/isa.h"
#include "tensor/threads.h"

// ---------------------------------------------------------------- blocking table
// Default KC / MC / NC per kernel, tuned with `make bench-gemm` on the 2-core Zen 4 of
// the project (see tensor/GEMM.md for how). MR / NR are fixed by each kernel.
typedef enum kernel_id { KID_GENERIC, KID_AVX2, KID_AVX512, KID_AVX512BF16, KID_COUNT } kernel_id;

typedef struct blocking_entry {
    int kc, mc, nc;
} blocking_entry;

static const blocking_entry default_blocking[KID_COUNT] = {
    [KID_GENERIC] = {256, 512, 256},
    [KID_AVX2] = {768, 1344, 128},
    [KID_AVX512] = {256, 1020, 512},
    [KID_AVX512BF16] = {512, 1020, 512},
};
static blocking_entry override_blocking[KID_COUNT];  // 0 = use the default
static md_gemm_path forced_path = MD_GEMM_PATH_AUTO;

static kernel_id kernel_for(bool bf16) {
#if defined(__x86_64__)
    md_isa isa = md_isa_active();
    if (isa == MD_ISA_AVX512) return bf16 && md_isa_has_bf16() ? KID_AVX512BF16 : KID_AVX512;
    if (isa == MD_ISA_AVX2) return KID_AVX2;
#endif
    (void)bf16;
    return KID_GENERIC;
}

static const md_gemm_kernel *kernel_set(kernel_id id) {
#if defined(__x86_64__)
    if (id == KID_AVX2) return &md_gemm_kernel_f32_avx2;
    if (id == KID_AVX512) return &md_gemm_kernel_f32_avx512;
    if (id == KID_AVX512BF16) return &md_gemm_kernel_bf16_avx512bf16;
#endif
    (void)id;
    return &md_gemm_kernel_f32_generic;
}

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// The block size for splitting `total` into ceil(total / max_block) near-equal blocks,
// rounded up to `unit`: no ragged last block that repacks a whole operand for a few rows.
static int64_t balanced(int64_t total, int64_t max_block, int64_t unit) {
    int64_t blocks = (total + max_block - 1) / max_block;
    return round_up((total + blocks - 1) / blocks, unit);
}

static md_gemm_blocking blocking_of(kernel_id id) {
    const md_gemm_kernel *k = kernel_set(id);
    blocking_entry d = default_blocking[id], o = override_blocking[id];
    md_gemm_blocking b = {.mr = k->mr, .nr = k->nr, .kc = o.kc ? o.kc : d.kc,
                          .mc = o.mc ? o.mc : d.mc, .nc = o.nc ? o.nc : d.nc};
    b.kc = (int)round_up(b.kc, k->kpack);
    b.mc = (int)round_up(b.mc, k->mr);
    b.nc = (int)round_up(b.nc, k->nr);
    return b;
}

md_gemm_blocking md_gemm_get_blocking(bool bf16) { return blocking_of(kernel_for(bf16)); }

const char *md_gemm_kernel_name(bool bf16) {
#ifdef MD_GEMM_BLIS
    (void)bf16;
    return md_gemm_blis_name();
#else
    return kernel_set(kernel_for(bf16))->name;
#endif
}

int md_gemm_set_blocking(bool bf16, int kc, int mc, int nc, md_error *err) {
    if (kc < 0 || mc < 0 || nc < 0 || kc > (1 << 16) || mc > (1 << 20) || nc > (1 << 20))
        return md_errorf(err, "gemm blocking: kc=%d mc=%d nc=%d: expected 0 (table value) or "
                              "1..65536 for kc and 1..1048576 for mc, nc", kc, mc, nc);
    override_blocking[kernel_for(bf16)] = (blocking_entry){kc, mc, nc};
    return 0;
}

void md_gemm_force_path(md_gemm_path path) { forced_path = path; }

// ---------------------------------------------------------------- packing buffers
// One set per thread, kept between calls and grown as needed (64-byte aligned).
typedef struct grow_buf {
    void *p;
    size_t cap;
} grow_buf;

static _Thread_local grow_buf tl_a[1], tl_b;

static void *buf_reserve(grow_buf *b, size_t bytes) {
    if (bytes <= b->cap) return b->p;
    free(b->p);
    size_t cap = (size_t)round_up((int64_t)bytes + (int64_t)bytes / 4, 64);
    b->p = aligned_alloc(64, cap);
    if (!b->p) {
        // The GEMM API has no error channel; a failed packing buffer (a few MB at most)
        // means the process is out of memory.
        fprintf(stderr, "mechdrift: gemm: out of memory for a %zu-byte packing buffer\n", cap);
        abort();
    }
    b->cap = cap;
    return b->p;
}

// ---------------------------------------------------------------- the problem
typedef struct gemm_problem {
    md_gemm_operand a;  // op(A) (M, K)
    md_gemm_operand b;  // op(B) (K, N)
    float *c;           // (M, N), row stride ldc
    int64_t ldc, m, n, k;
    float alpha, beta;
} gemm_problem;

static md_gemm_operand operand(const void *x, md_trans t, int64_t ld, md_gemm_src src) {
    md_gemm_operand o = {.base = x, .rs = t == MD_NOTRANS ? ld : 1,
                         .cs = t == MD_NOTRANS ? 1 : ld, .src = src};
    return o;
}

// C = beta * C (alpha == 0 or K == 0: A and B are not read, as in BLAS).
static void scale_c(const gemm_problem *p) {
    for (int64_t i = 0; i < p->m; i++) {
        float *c = p->c + i * p->ldc;  // (N)
        if (p->beta == 0.0f)
            memset(c, 0, sizeof(float) * (size_t)p->n);
        else if (p->beta != 1.0f)
            for (int64_t j = 0; j < p->n; j++) c[j] *= p->beta;
    }
}

// A contiguous, balanced share [lo, hi) of `units` work units for thread t of nt.
static void share(int64_t units, int t, int nt, int64_t *lo, int64_t *hi) {
    *lo = units * t / nt;
    *hi = units * (t + 1) / nt;
}

// ---------------------------------------------------------------- packed path
typedef struct packed_plan {
    const md_gemm_kernel *kern;
    md_gemm_blocking bl;  // kc already balanced for this K
    bool a_in_place;      // op(A) fp32 with unit column stride on an fp32 kernel: not packed
    size_t a_bytes;       // one A panel buffer (MC x KC)
    size_t b_bytes;       // one B block buffer (KC x NC)
} packed_plan;

// In-place A rows arrive cold at every new row tile and are reused for only NC / NR
// micro-kernel calls; when the rows are short (kc <= 512) the hardware prefetchers do not
// get going, so while one tile row runs its calls prefetch the next tile row's A rows
// (rows x kc floats), a share each. (+10% on 4096x256x256, neutral for long rows.)
typedef struct prefetch_plan {
    const float *row;  // the row being prefetched
    int64_t ld, lines_per_row, per_call, line;
    int rows_left;
} prefetch_plan;

static prefetch_plan prefetch_rows(const float *rows, int64_t ld, int nrows, int64_t kc,
                                   int64_t calls) {
    prefetch_plan pf = {.row = rows, .ld = ld, .lines_per_row = (kc * 4 + 63) / 64,
                        .rows_left = nrows};
    pf.per_call = (nrows * pf.lines_per_row + calls - 1) / calls;
    return pf;
}

static inline void prefetch_step(prefetch_plan *pf) {
    for (int64_t q = 0; q < pf->per_call && pf->rows_left > 0; q++) {
        __builtin_prefetch(pf->row + pf->line * 16, 0, 3);
        if (++pf->line == pf->lines_per_row) pf->line = 0, pf->row += pf->ld, pf->rows_left--;
    }
}

// The five loops on the C block rows [r0, r1) x columns [j0, j1), with this thread's own
// packing buffers: nothing is shared between threads, so there are no barriers.
static void packed_block(const gemm_problem *p, const packed_plan *pl, int64_t r0, int64_t r1,
                         int64_t j0, int64_t j1) {
    const md_gemm_kernel *kern = pl->kern;
    const int MR = kern->mr, NR = kern->nr;
    char *ap = pl->a_in_place ? NULL : buf_reserve(&tl_a[0], pl->a_bytes);
    char *bp = buf_reserve(&tl_b, pl->b_bytes);
    // An A panel read in place needs no buffer: one panel, so B is packed only once.
    int64_t mc = pl->a_in_place ? r1 - r0 : balanced(r1 - r0, pl->bl.mc, MR);
    int64_t nc = balanced(j1 - j0, pl->bl.nc, NR);
    const float *a = p->a.base;  // (M, K) with row stride p->a.rs when in place
    for (int64_t ic = r0; ic < r1; ic += mc) {
        int64_t mcur = min64(mc, r1 - ic);
        for (int64_t pc = 0; pc < p->k; pc += pl->bl.kc) {
            int64_t kcur = min64(pl->bl.kc, p->k - pc);
            int64_t steps = (kcur + kern->kpack - 1) / kern->kpack;
            size_t a_sliver = (size_t)(MR * steps * kern->kpack) * (size_t)kern->elem_size;
            size_t b_sliver = (size_t)(NR * steps * kern->kpack) * (size_t)kern->elem_size;
            if (!pl->a_in_place) kern->pack_a(&p->a, ic, mcur, pc, kcur, ap);
            float beta = pc == 0 ? p->beta : 1.0f;  // later K blocks accumulate into C
            for (int64_t jc = j0; jc < j1; jc += nc) {
                int64_t ncur = min64(nc, j1 - jc);
                kern->pack_b(&p->b, pc, kcur, jc, ncur, bp);
                for (int64_t ir = 0; ir < mcur; ir += MR) {  // one A sliver stays in L1
                    float *crow = p->c + (ic + ir) * p->ldc + jc;
                    int m = (int)min64(MR, mcur - ir);
                    prefetch_plan pf = {0};
                    if (pl->a_in_place && kcur <= 512) {  // long rows: hardware prefetch copes
                        int64_t next = ir + MR < mcur ? ir + MR : 0;  // or the next B block's first
                        pf = prefetch_rows(a + (ic + next) * p->a.rs + pc, p->a.rs,
                                           (int)min64(MR, mcur - next), kcur, (ncur + NR - 1) / NR);
                    }
                    for (int64_t jr = 0; jr < ncur; jr += NR) {
                        const char *bs = bp + (size_t)(jr / NR) * b_sliver;
                        int n = (int)min64(NR, ncur - jr);
                        if (pf.rows_left) prefetch_step(&pf);
                        if (pl->a_in_place)
                            kern->ukernel_strided(kcur, a + (ic + ir) * p->a.rs + pc, p->a.rs, 1,
                                                  (const float *)bs, NR, crow + jr, p->ldc,
                                                  p->alpha, beta, m, n);
                        else
                            kern->ukernel(kcur, ap + (size_t)(ir / MR) * a_sliver, bs, crow + jr,
                                          p->ldc, p->alpha, beta, m, n);
                    }
                }
            }
        }
    }
}

// Threads worth using: about 1 per 2 MFLOP of work, at most one per work unit. Only speed
// depends on this, never results.
static int threads_for(const gemm_problem *p, int64_t units) {
    int nt = omp_in_parallel() ? 1 : md_threads();
    double flops = 2.0 * (double)p->m * (double)p->n * (double)p->k;
    int64_t by_work = (int64_t)(flops / 2e6) + 1;
    return (int)max64(1, min64(min64(nt, by_work), units));
}

// Threads split the columns of C (NR-aligned, balanced), or its rows when there are too
// few columns for every thread to get a fair share. Each C element is computed by one
// thread, K blocks in order: bit-identical results for any thread count.
static void run_packed(const gemm_problem *p, kernel_id id) {
    packed_plan pl = {.kern = kernel_set(id), .bl = blocking_of(id)};
    const int MR = pl.kern->mr, NR = pl.kern->nr;
    // K blocks depend on K and KC only (never on threads): the summation order is fixed.
    pl.bl.kc = (int)balanced(p->k, pl.bl.kc, pl.kern->kpack);
    pl.a_in_place = pl.kern->ukernel_strided && p->a.src == MD_GEMM_SRC_F32 && p->a.cs == 1;
    int64_t kcap = round_up(pl.bl.kc, pl.kern->kpack);
    pl.a_bytes = (size_t)(round_up(min64(pl.bl.mc, p->m), MR) * kcap) * (size_t)pl.kern->elem_size;
    pl.b_bytes = (size_t)(round_up(min64(pl.bl.nc, p->n), NR) * kcap) * (size_t)pl.kern->elem_size;
    int64_t col_units = (p->n + NR - 1) / NR, row_units = (p->m + MR - 1) / MR;
    int nt_cols = threads_for(p, col_units), nt_rows = threads_for(p, row_units);
    // Every thread packs all of what it does not split: op(A) for a column split (unless
    // read in place), op(B) for a row split. Take the split that repacks less, unless it
    // leaves threads idle.
    double redo_cols = pl.a_in_place ? 0.0 : (double)p->m * (double)p->k;
    double redo_rows = (double)p->k * (double)p->n;
    bool split_rows = nt_rows > nt_cols || (nt_rows == nt_cols && redo_rows < redo_cols);
    int nt = split_rows ? nt_rows : nt_cols;
#pragma omp parallel num_threads(nt)
    {
        int64_t lo, hi;
        if (split_rows) {
            share(row_units, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
            if (hi > lo) packed_block(p, &pl, lo * MR, min64(p->m, hi * MR), 0, p->n);
        } else {
            share(col_units, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
            if (hi > lo) packed_block(p, &pl, 0, p->m, lo * NR, min64(p->n, hi * NR));
        }
    }
}

// ---------------------------------------------------------------- small path
// fp32 only. A is read in place; B too when its rows are contiguous (op(B) as stored),
// otherwise this thread's columns are packed into NR slivers first. K is not blocked.
static void small_worker(const gemm_problem *p, const md_gemm_kernel *kern, bool rows_split,
                         int t, int nt) {
    const int MR = kern->mr, NR = kern->nr;
    int64_t i0 = 0, i1 = p->m, j0 = 0, j1 = p->n, lo, hi;
    if (rows_split) {
        share((p->m + MR - 1) / MR, t, nt, &lo, &hi);
        i0 = lo * MR, i1 = min64(p->m, hi * MR);
    } else {
        share((p->n + NR - 1) / NR, t, nt, &lo, &hi);
        j0 = lo * NR, j1 = min64(p->n, hi * NR);
    }
    if (i1 <= i0 || j1 <= j0) return;
    const float *a = p->a.base;
    const float *b = p->b.base;
    int64_t rsb = p->b.rs;
    bool pack = p->b.cs != 1;
    if (pack) {
        size_t bytes = (size_t)(round_up(j1 - j0, NR) * p->k) * sizeof(float);
        float *bp = buf_reserve(&tl_b, bytes);
        kern->pack_b(&p->b, 0, p->k, j0, j1 - j0, bp);
        b = bp, rsb = NR;
    }
    for (int64_t jc = j0; jc < j1; jc += 512)  // a column block of B stays in L2
        for (int64_t ir = i0; ir < i1; ir += MR) {
            const float *as = a + ir * p->a.rs;
            int m = (int)min64(MR, i1 - ir);
            for (int64_t jr = jc; jr < min64(j1, jc + 512); jr += NR) {
                const float *bs = pack ? b + (jr - j0) * p->k : b + jr;
                kern->ukernel_strided(p->k, as, p->a.rs, p->a.cs, bs, rsb,
                                      p->c + ir * p->ldc + jr, p->ldc, p->alpha, p->beta, m,
                                      (int)min64(NR, j1 - jr));
            }
        }
}

static void run_small(const gemm_problem *p, kernel_id id) {
    const md_gemm_kernel *kern = kernel_set(id);
    int64_t col_units = (p->n + kern->nr - 1) / kern->nr, row_units = (p->m + kern->mr - 1) / kern->mr;
    int nt_cols = threads_for(p, col_units), nt_rows = threads_for(p, row_units);
    bool rows_split = nt_rows > nt_cols && col_units < 4 * (int64_t)nt_rows;
    int nt = rows_split ? nt_rows : nt_cols;
#pragma omp parallel num_threads(nt)
    small_worker(p, kern, rows_split, omp_get_thread_num(), omp_get_num_threads());
}

// The path AUTO takes, from bench-gemm measurements on the 2-core Zen 4 (tensor/GEMM.md):
// GEMV-like products go to the skinny kernels; a few rows with op(B) as stored (fp32) are
// best served by the in-place kernel with no packing at all when they fit one MR tile (or
// up to 16 rows); everything else is packed.
static md_gemm_path auto_path(const gemm_problem *p, const md_gemm_kernel *kern, bool small_ok,
                              bool skinny_ok) {
    int64_t narrow = min64(p->m, p->n);
    bool b_in_place = small_ok && p->b.cs == 1;
    double work = (double)p->m * (double)p->n * (double)p->k;
    if (skinny_ok && narrow <= 4) return MD_GEMM_PATH_SKINNY;
    if (b_in_place && p->m <= kern->mr) return MD_GEMM_PATH_SMALL;
    if (skinny_ok && narrow <= MD_SKINNY_M) return MD_GEMM_PATH_SKINNY;
    if (b_in_place && p->m <= 16) return MD_GEMM_PATH_SMALL;
    if (small_ok && work <= 64.0 * 64.0 * 64.0) return MD_GEMM_PATH_SMALL;
    return MD_GEMM_PATH_PACKED;
}

// ---------------------------------------------------------------- skinny path
// At most MD_SKINNY_M rows (or columns: then C^T = op(B)^T op(A)^T is the skinny one).
// The short operand becomes a dense fp32 block (converted if needed), the long one is
// read in place; threads split the long dimension.
static md_gemm_operand transposed(md_gemm_operand o) {
    md_gemm_operand t = o;
    t.rs = o.cs, t.cs = o.rs;
    return t;
}

static bool skinny_fits(const gemm_problem *p) {
    bool flip = p->m > MD_SKINNY_M;
    if (flip && p->n > MD_SKINNY_M) return false;
    // The long operand is read by the kernels as fp32 or bf16 only.
    return (flip ? p->a.src : p->b.src) != MD_GEMM_SRC_F32_TO_BF16;
}

static void run_skinny(const gemm_problem *p) {
    bool flip = p->m > MD_SKINNY_M;
    int m = (int)(flip ? p->n : p->m);
    int64_t cols = flip ? p->m : p->n;
    md_gemm_operand rows = flip ? transposed(p->b) : p->a;  // (m, K)
    md_gemm_operand lng = flip ? transposed(p->a) : p->b;   // (K, cols)
    int64_t rsc = flip ? 1 : p->ldc, csc = flip ? p->ldc : 1;
    const float *a = rows.base;
    int64_t lda = rows.rs;
    if (rows.src != MD_GEMM_SRC_F32 || rows.cs != 1) {
        float *d = buf_reserve(&tl_a[0], sizeof(float) * (size_t)(m * p->k));  // (m, K)
        for (int i = 0; i < m; i++) {
            if (rows.cs == 1) {
                md_gp_to_f32(&rows, i * rows.rs, p->k, d + i * p->k);
            } else {
                for (int64_t q = 0; q < p->k; q++) md_gp_to_f32(&rows, i + q * rows.cs, 1, d + i * p->k + q);
            }
        }
        a = d, lda = p->k;
    }
    md_gemm_skinny_fn fn = md_gemm_skinny_generic;
#if defined(__x86_64__)
    if (md_isa_active() >= MD_ISA_AVX2) fn = md_gemm_skinny_avx2;
#endif
    int64_t units = (cols + MD_SKINNY_UNIT - 1) / MD_SKINNY_UNIT;
    int nt = threads_for(p, units);
#pragma omp parallel num_threads(nt)
    {
        int64_t u0, u1;
        share(units, omp_get_thread_num(), omp_get_num_threads(), &u0, &u1);
        int64_t c0 = u0 * MD_SKINNY_UNIT, c1 = min64(cols, u1 * MD_SKINNY_UNIT);
        if (c1 > c0) fn(m, c0, c1, p->k, a, lda, &lng, p->c, rsc, csc, p->alpha, p->beta);
    }
}

// ---------------------------------------------------------------- entry points
static void gemm(const gemm_problem *p, bool bf16) {
    if (p->m <= 0 || p->n <= 0) return;
    if (p->k <= 0 || p->alpha == 0.0f) {
        scale_c(p);
        return;
    }
#ifdef MD_GEMM_BLIS
    (void)bf16;
    md_gemm_blis(&p->a, &p->b, p->c, p->ldc, p->m, p->n, p->k, p->alpha, p->beta);
    return;
#endif
    kernel_id id = kernel_for(bf16);
    bool in_place_ok = p->a.src == MD_GEMM_SRC_F32 && p->b.src == MD_GEMM_SRC_F32 &&
                       kernel_set(id)->ukernel_strided != NULL;
    bool skinny_ok = skinny_fits(p);
    md_gemm_path path = forced_path;
    if (path == MD_GEMM_PATH_AUTO) path = auto_path(p, kernel_set(id), in_place_ok, skinny_ok);
    if (path == MD_GEMM_PATH_SKINNY && skinny_ok)
        run_skinny(p);
    else if (path == MD_GEMM_PATH_SMALL && in_place_ok)
        run_small(p, id);
    else
        run_packed(p, id);
}

void md_sgemm(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc) {
    gemm_problem p = {.a = operand(A, ta, lda, MD_GEMM_SRC_F32),
                      .b = operand(B, tb, ldb, MD_GEMM_SRC_F32),
                      .c = C, .ldc = ldc, .m = M, .n = N, .k = K, .alpha = alpha, .beta = beta};
    gemm(&p, false);
}

void md_gemm_bf16(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const md_bf16 *A, int64_t lda, const md_bf16 *B, int64_t ldb, float beta,
                  float *C, int64_t ldc) {
    gemm_problem p = {.a = operand(A, ta, lda, MD_GEMM_SRC_BF16),
                      .b = operand(B, tb, ldb, MD_GEMM_SRC_BF16),
                      .c = C, .ldc = ldc, .m = M, .n = N, .k = K, .alpha = alpha, .beta = beta};
    gemm(&p, true);
}

void md_gemm_f32_bf16(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const md_bf16 *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
    gemm_problem p = {.a = operand(A, ta, lda, MD_GEMM_SRC_F32_TO_BF16),
                      .b = operand(B, tb, ldb, MD_GEMM_SRC_BF16),
                      .c = C, .ldc = ldc, .m = M, .n = N, .k = K, .alpha = alpha, .beta = beta};
    gemm(&p, true);
}
