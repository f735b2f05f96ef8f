/* Portable 6x16 fp32 GEMM microkernel (the fallback every CPU can run). */
#include "../fast/f32_gemm.h"

void ember_f32_gemm_6x16_scalar(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                size_t panel_stride, float *c, size_t ldc, int accumulate) {
  (void)panel_stride; /* 16-wide: one panel */
  float acc[EMBER_GEMM_MR * EMBER_GEMM_NR] = {0};
  for (size_t p = 0; p < k; p++) {
    const float *bp = b + p * EMBER_GEMM_NR;
    for (size_t r = 0; r < mr; r++) {
      float av = a[r * lda + p];
      for (size_t j = 0; j < EMBER_GEMM_NR; j++) acc[r * EMBER_GEMM_NR + j] += av * bp[j];
    }
  }
  ember_tile_store(acc, mr, nr, c, ldc, accumulate);
}
