/* 6x16 fp32 GEMM microkernel for x86-64 AVX2 + FMA: 12 ymm accumulators, 2 B loads and 6 broadcasts
 * per k step (12 FMAs). Compiled with -mavx2 -mfma; only called when cpuid reports both. */
#include <immintrin.h>

#include "../fast/f32_gemm.h"

void ember_f32_gemm_6x16_avx2_fma(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  size_t panel_stride, float *c, size_t ldc, int accumulate) {
  (void)panel_stride; /* 16-wide: one panel */
  /* rows past mr re-read the last valid row (safe, in bounds) and are discarded on store */
  const float *a0 = a;
  const float *a1 = mr > 1 ? a + lda : a0;
  const float *a2 = mr > 2 ? a + 2 * lda : a1;
  const float *a3 = mr > 3 ? a + 3 * lda : a2;
  const float *a4 = mr > 4 ? a + 4 * lda : a3;
  const float *a5 = mr > 5 ? a + 5 * lda : a4;
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (size_t p = 0; p < k; p++) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    b += 16;
    __m256 av = _mm256_broadcast_ss(a0 + p);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a1 + p);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a2 + p);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a3 + p);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a4 + p);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a5 + p);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  if (mr == 6 && nr == 16) {
    __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    for (size_t r = 0; r < 6; r++) {
      float *cr = c + r * ldc;
      __m256 lo = acc[2 * r], hi = acc[2 * r + 1];
      if (accumulate) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(cr));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(cr + 8));
      }
      _mm256_storeu_ps(cr, lo);
      _mm256_storeu_ps(cr + 8, hi);
    }
    return;
  }
  float tile[EMBER_GEMM_MR * EMBER_GEMM_NR];
  _mm256_storeu_ps(tile + 0, c00);
  _mm256_storeu_ps(tile + 8, c01);
  _mm256_storeu_ps(tile + 16, c10);
  _mm256_storeu_ps(tile + 24, c11);
  _mm256_storeu_ps(tile + 32, c20);
  _mm256_storeu_ps(tile + 40, c21);
  _mm256_storeu_ps(tile + 48, c30);
  _mm256_storeu_ps(tile + 56, c31);
  _mm256_storeu_ps(tile + 64, c40);
  _mm256_storeu_ps(tile + 72, c41);
  _mm256_storeu_ps(tile + 80, c50);
  _mm256_storeu_ps(tile + 88, c51);
  ember_tile_store(tile, mr, nr, c, ldc, accumulate);
}
