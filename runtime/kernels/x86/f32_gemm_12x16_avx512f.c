/* 12x16 fp32 GEMM microkernel for x86-64 AVX-512F: one zmm of B per k step, 12 broadcast FMAs into
 * 12 zmm accumulators (enough independent chains to cover FMA latency on two FMA ports). Compiled with
 * -mavx512f; only called when cpuid and XCR0 report AVX-512F. */
#include <immintrin.h>

#include "../fast/f32_gemm.h"

void ember_f32_gemm_12x16_avx512f(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  size_t panel_stride, float *c, size_t ldc, int accumulate) {
  (void)panel_stride; /* 16-wide: one panel */
  const float *ar[12];
  ar[0] = a;
  for (size_t r = 1; r < 12; r++) ar[r] = r < mr ? a + r * lda : ar[r - 1];
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
  __m512 c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps(), c6 = _mm512_setzero_ps(), c7 = _mm512_setzero_ps();
  __m512 c8 = _mm512_setzero_ps(), c9 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
  const float *a6 = ar[6], *a7 = ar[7], *a8 = ar[8], *a9 = ar[9], *a10 = ar[10], *a11 = ar[11];
  for (size_t p = 0; p < k; p++) {
    const __m512 bv = _mm512_load_ps(b);
    b += 16;
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[p]), bv, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[p]), bv, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[p]), bv, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[p]), bv, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[p]), bv, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[p]), bv, c5);
    c6 = _mm512_fmadd_ps(_mm512_set1_ps(a6[p]), bv, c6);
    c7 = _mm512_fmadd_ps(_mm512_set1_ps(a7[p]), bv, c7);
    c8 = _mm512_fmadd_ps(_mm512_set1_ps(a8[p]), bv, c8);
    c9 = _mm512_fmadd_ps(_mm512_set1_ps(a9[p]), bv, c9);
    c10 = _mm512_fmadd_ps(_mm512_set1_ps(a10[p]), bv, c10);
    c11 = _mm512_fmadd_ps(_mm512_set1_ps(a11[p]), bv, c11);
  }
  __m512 acc[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
  const __mmask16 mask = (__mmask16)((1u << nr) - 1u);
  for (size_t r = 0; r < mr; r++) {
    float *cr = c + r * ldc;
    __m512 v = acc[r];
    if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, cr));
    _mm512_mask_storeu_ps(cr, mask, v);
  }
}
