/* fp32 GEMM building blocks shared by the fast linear and conv2d kernels.
 *
 * Microkernel contract (MR rows and NR columns are properties of each microkernel, see
 * ember_f32_gemm_config; MR <= EMBER_GEMM_MR_MAX, NR is 16 or 32):
 *   C[0..mr, 0..nr) (+)= A[0..mr, 0..k) * B[0..k, 0..nr)
 * A is read in place (row r at a + r * lda). B is stored as 16-column panels: k rows of 16 contiguous
 * floats, 64-byte aligned, columns past the matrix edge zero; columns 16..31 (32-wide kernels) come
 * from the next panel, `panel_stride` floats further, read only when nr > 16. C row r is at
 * c + r * ldc. With accumulate == 0 C is overwritten, else added to. Only C[0..mr, 0..nr) is touched. */
#ifndef EMBER_F32_GEMM_H
#define EMBER_F32_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define EMBER_GEMM_MR 6      /* rows of the scalar, AVX2 and NEON microkernels */
#define EMBER_GEMM_MR_MAX 12 /* the widest microkernel (AVX-512) */
#define EMBER_GEMM_NR 16
#define EMBER_GEMM_KC 256 /* K block: a 256 x 16 panel slice (16 KiB) stays in L1 */
#define EMBER_GEMM_MR_PACK 12 /* rows of a packed A micro-panel (AVX-512 packed-A microkernel) */

typedef void (*ember_f32_ukernel)(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  size_t panel_stride, float *c, size_t ldc, int accumulate);

void ember_f32_gemm_6x16_scalar(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                size_t panel_stride, float *c, size_t ldc, int accumulate);
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
void ember_f32_gemm_12x32_avx512f(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  size_t panel_stride, float *c, size_t ldc, int accumulate);
void ember_f32_gemm_12x16_avx512f(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  size_t panel_stride, float *c, size_t ldc, int accumulate);
void ember_f32_gemm_6x16_avx2_fma(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  size_t panel_stride, float *c, size_t ldc, int accumulate);
#endif
#if defined(__aarch64__)
void ember_f32_gemm_6x16_neon(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                              size_t panel_stride, float *c, size_t ldc, int accumulate);
#endif

/* Packed-A microkernel (a second entry point beside ember_f32_ukernel, used by the linear driver):
 *   C[0..mr, 0..nr) (+)= Ap[0..mr, 0..k) * B[0..k, 0..nr)
 * Ap is an A micro-panel written by the matching ember_f32_pack_a_fn: k steps of EMBER_GEMM_MR_PACK
 * contiguous floats (row r of step p at ap[p * EMBER_GEMM_MR_PACK + r]), 64-byte aligned. B, C, nr,
 * panel_stride and accumulate are as for ember_f32_ukernel; mr <= EMBER_GEMM_MR_PACK.
 * pf (or NULL): a hint, never read as data: the full tile prefetches into L2 the k / 4 cache lines
 * starting there, one every 4 k steps (the driver points it at its share of the next B slice). */
typedef void (*ember_f32_ukernel_pa)(size_t mr, size_t nr, size_t k, const float *ap, const float *b,
                                     size_t panel_stride, float *c, size_t ldc, int accumulate, const float *pf);
/* Pack rows [0, mr) x columns [0, k) of A (row r at a + r * lda) into one micro-panel at ap
 * (k * EMBER_GEMM_MR_PACK floats; rows mr..EMBER_GEMM_MR_PACK-1 are written as zeros). */
typedef void (*ember_f32_pack_a_fn)(size_t mr, size_t k, const float *a, size_t lda, float *ap);
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
void ember_f32_gemm_12x32p_avx512f(size_t mr, size_t nr, size_t k, const float *ap, const float *b,
                                   size_t panel_stride, float *c, size_t ldc, int accumulate, const float *pf);
void ember_f32_gemm_12x32ps_avx512f(size_t mr, size_t nr, size_t k, const float *ap, const float *b,
                                    size_t panel_stride, float *c, size_t ldc, int accumulate, const float *pf);
void ember_f32_pack_a12_avx512f(size_t mr, size_t k, const float *a, size_t lda, float *ap);
#endif

/* Where a packed-A call should fetch ahead (its `pf`): the driver's loop over a tile of columns
 * [col0, col0 + cols) walks K blocks of kc_max (the last may be shorter), 32-column B slices inside
 * each, and the micro-panels of a row block over each slice. Call number `call` over the slice at
 * (c0, pc), of kc k steps, gets its share of the next slice the loop reads: the next 32 columns;
 * after the last, the first columns of the next K block, or of K block 0 (what the next row tile
 * starts with). B is 16-column panels of k rows (panel p at b + p * k * 16). Each call prefetches
 * kc / 4 cache lines; a slice is its K block's rows in each of its one or two panels. NULL once the
 * next slice is covered. */
static inline const float *ember_f32_next_slice_share(const float *b, size_t k, size_t kc_max, size_t col0,
                                                      size_t cols, size_t c0, size_t pc, size_t kc, size_t call) {
  size_t nc0 = c0 + 32, npc = pc;
  if (nc0 >= col0 + cols) {
    nc0 = col0;
    npc = pc + kc < k ? pc + kc : 0;
  }
  const size_t nkc = k - npc < kc_max ? k - npc : kc_max;
  const size_t npanels = col0 + cols - nc0 > EMBER_GEMM_NR ? 2 : 1, per_call = kc / 4;
  const size_t line = call * per_call, q = nkc ? line / nkc : npanels;
  if (per_call == 0 || q >= npanels) return NULL;
  return b + (nc0 / EMBER_GEMM_NR + q) * k * EMBER_GEMM_NR + (npc + line % nkc) * EMBER_GEMM_NR;
}

/* One row: y[0..n) = x . W^T with W as 16-column panels (k x 16 floats each, panel p at w + p*k*16). */
typedef void (*ember_f32_gemv_fn)(size_t n, size_t k, const float *x, const float *w, float *y);
void ember_f32_gemv_p16_scalar(size_t n, size_t k, const float *x, const float *w, float *y);
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
void ember_f32_gemv_p16_avx2(size_t n, size_t k, const float *x, const float *w, float *y);
void ember_f32_gemv_p16_avx512(size_t n, size_t k, const float *x, const float *w, float *y);
#endif

/* The linear epilogue a microkernel can apply in registers on the last K block: per column bias (pointer
 * at the tile's first column, or NULL), then a residual (rows `ldr` floats apart, at the tile's corner,
 * or NULL), then relu or clamp (act EMBER_ACT_NONE / RELU / CLAMP only), with the comparisons of
 * bias_act_rows (NaN: relu gives 0, clamp keeps it), so the bytes equal the unfused path's. */
typedef struct ember_f32_epi {
  const float *bias, *res;
  size_t ldr;
  int act;
  float lo, hi;
} ember_f32_epi;
typedef void (*ember_f32_ukernel_epi)(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                      size_t panel_stride, float *c, size_t ldc, int accumulate,
                                      const ember_f32_epi *e);
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
void ember_f32_gemm_12x32e_avx512f(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                   size_t panel_stride, float *c, size_t ldc, int accumulate, const ember_f32_epi *e);
#endif

typedef struct ember_f32_gemm_config {
  ember_f32_ukernel fn;
  size_t mr, nr;
  const char *name;
  ember_f32_gemv_fn gemv;
  ember_f32_ukernel_pa packed; /* NULL: this ISA has no packed-A kernel (the driver reads A in place) */
  ember_f32_pack_a_fn pack_a;
  ember_f32_ukernel_epi fn_epi; /* fn with ember_f32_epi applied in registers, or NULL */
  /* packed, for the first micro-panel over a B slice (B still in L3 or memory): prefetches B ahead.
   * Set whenever packed is. */
  ember_f32_ukernel_pa packed_stream;
} ember_f32_gemm_config;

/* The best microkernel for this CPU, or the scalar one if EMBER_FORCE_SCALAR=1; EMBER_MAX_ISA=avx2
 * caps x86 at AVX2 (for comparisons). */
const ember_f32_gemm_config *ember_f32_gemm_select(void);
ember_f32_ukernel ember_f32_gemm_ukernel(void);
const char *ember_f32_gemm_ukernel_name(void);

/* Store a computed mr x nr tile (row-major, NR floats per row in `tile`) into C. */
static inline void ember_tile_store(const float *tile, size_t mr, size_t nr, float *c, size_t ldc, int accumulate) {
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nr; j++) c[r * ldc + j] = accumulate ? c[r * ldc + j] + tile[r * EMBER_GEMM_NR + j]
                                                                : tile[r * EMBER_GEMM_NR + j];
}

#endif
