/* 12x32 fp32 GEMM microkernel for x86-64 AVX-512F. Per k step: two zmm loads of B (from two adjacent
 * 16-column panels, `panel_stride` floats apart), 12 broadcasts of A, 24 FMAs into 24 accumulators,
 * so broadcasts cost half a load per FMA. When nr <= 16 only the first panel is read (the second may
 * not exist). Compiled with -mavx512f; only called when cpuid and XCR0 report AVX-512F. */
#include <immintrin.h>

#include "../fast/f32_gemm.h"
#include "ember_ops.h"

/* bias, residual, relu / clamp on 16 columns of row r (lanes in `m`), as bias_act_rows does them */
static inline __m512 epi16(__m512 v, const ember_f32_epi *e, size_t r, size_t col, __mmask16 m) {
  if (e->bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e->bias + col));
  if (e->res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e->res + r * e->ldr + col));
  if (e->act == EMBER_ACT_RELU) {
    v = _mm512_max_ps(v, _mm512_setzero_ps()); /* v > 0 ? v : 0: NaN gives 0 */
  } else if (e->act == EMBER_ACT_CLAMP) {        /* v < lo ? lo : (v > hi ? hi : v): NaN stays */
    const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);
    const __mmask16 below = _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ), v, hi);
    v = _mm512_mask_blend_ps(below, v, lo);
  }
  return v;
}

/* one row of the tile: add C when accumulating, the epilogue when given, store (columns 16.. masked) */
static inline __attribute__((always_inline)) void store_row(float *cr, __m512 v0, __m512 v1, __mmask16 mask,
                                                            int accumulate, const ember_f32_epi *e, size_t r) {
  if (accumulate) {
    v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr));
    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask, cr + 16));
  }
  if (e) {
    v0 = epi16(v0, e, r, 0, 0xFFFF);
    v1 = epi16(v1, e, r, 16, mask);
  }
  _mm512_storeu_ps(cr, v0);
  _mm512_mask_storeu_ps(cr + 16, mask, v1);
}

/* The 24 accumulators are named variables and the rows are stored by constant index: with arrays GCC
 * zeroed them on the stack (rep stos) and spilled them all after the K loop, which cost as much as the
 * multiplies at the short K (16..32) of MobileNet's pointwise convolutions. */
static inline __attribute__((always_inline)) void gemm_12x32(size_t mr, size_t nr, size_t k, const float *a,
                                                             size_t lda, const float *b, size_t panel_stride,
                                                             float *c, size_t ldc, int accumulate,
                                                             const ember_f32_epi *e) {
  /* rows past mr repeat the last real row (computed, never stored) */
  const float *a0 = a, *a1 = mr > 1 ? a0 + lda : a0, *a2 = mr > 2 ? a1 + lda : a1, *a3 = mr > 3 ? a2 + lda : a2;
  const float *a4 = mr > 4 ? a3 + lda : a3, *a5 = mr > 5 ? a4 + lda : a4, *a6 = mr > 6 ? a5 + lda : a5;
  const float *a7 = mr > 7 ? a6 + lda : a6, *a8 = mr > 8 ? a7 + lda : a7, *a9 = mr > 9 ? a8 + lda : a8;
  const float *a10 = mr > 10 ? a9 + lda : a9, *a11 = mr > 11 ? a10 + lda : a10;
  const float *b2 = b + panel_stride;
  __m512 l0 = _mm512_setzero_ps(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
  __m512 l4 = l0, h4 = l0, l5 = l0, h5 = l0, l6 = l0, h6 = l0, l7 = l0, h7 = l0;
  __m512 l8 = l0, h8 = l0, l9 = l0, h9 = l0, l10 = l0, h10 = l0, l11 = l0, h11 = l0;
  for (size_t p = 0; p < k; p++) {
    const __m512 b0 = _mm512_load_ps(b + 16 * p), b1 = _mm512_load_ps(b2 + 16 * p);
#define STEP(r)                                      \
  {                                                  \
    const __m512 av = _mm512_set1_ps(a##r[p]);       \
    l##r = _mm512_fmadd_ps(av, b0, l##r);            \
    h##r = _mm512_fmadd_ps(av, b1, h##r);            \
  }
    STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
#undef STEP
  }
  const __mmask16 mask = (__mmask16)((1u << (nr - 16)) - 1u);
#define STORE(r) \
  if (mr > r) store_row(c + r * ldc, l##r, h##r, mask, accumulate, e, r);
  STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7) STORE(8) STORE(9) STORE(10) STORE(11)
#undef STORE
}

void ember_f32_gemm_12x32_avx512f(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  size_t panel_stride, float *c, size_t ldc, int accumulate) {
  if (nr <= 16) {
    ember_f32_gemm_12x16_avx512f(mr, nr, k, a, lda, b, 0, c, ldc, accumulate);
    return;
  }
  gemm_12x32(mr, nr, k, a, lda, b, panel_stride, c, ldc, accumulate, NULL);
}

/* The same with the linear epilogue (ember_f32_epi) applied in registers before the store. Up to 16
 * columns the 12x16 kernel runs, then the epilogue on its block while it is in L1. */
void ember_f32_gemm_12x32e_avx512f(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                   size_t panel_stride, float *c, size_t ldc, int accumulate, const ember_f32_epi *e) {
  if (nr > 16) {
    gemm_12x32(mr, nr, k, a, lda, b, panel_stride, c, ldc, accumulate, e);
    return;
  }
  ember_f32_gemm_12x16_avx512f(mr, nr, k, a, lda, b, 0, c, ldc, accumulate);
  const __mmask16 m = (__mmask16)((1u << nr) - 1u);
  for (size_t r = 0; r < mr; r++)
    _mm512_mask_storeu_ps(c + r * ldc, m, epi16(_mm512_maskz_loadu_ps(m, c + r * ldc), e, r, 0, m));
}
