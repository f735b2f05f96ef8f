/* 6x16 fp32 GEMM microkernel for AArch64 NEON: 24 q-register accumulators, 4 B loads per k step and
 * 24 FMLA-by-scalar. */
#include <arm_neon.h>

#include "../fast/f32_gemm.h"

void ember_f32_gemm_6x16_neon(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                              size_t panel_stride, float *c, size_t ldc, int accumulate) {
  (void)panel_stride; /* 16-wide: one panel */
  const float *ar[6];
  ar[0] = a;
  for (size_t r = 1; r < 6; r++) ar[r] = r < mr ? a + r * lda : ar[r - 1];
  float32x4_t acc[6][4];
  for (size_t r = 0; r < 6; r++)
    for (size_t j = 0; j < 4; j++) acc[r][j] = vdupq_n_f32(0.f);
  for (size_t p = 0; p < k; p++) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
    b += 16;
    for (size_t r = 0; r < 6; r++) {
      const float av = ar[r][p];
      acc[r][0] = vfmaq_n_f32(acc[r][0], b0, av);
      acc[r][1] = vfmaq_n_f32(acc[r][1], b1, av);
      acc[r][2] = vfmaq_n_f32(acc[r][2], b2, av);
      acc[r][3] = vfmaq_n_f32(acc[r][3], b3, av);
    }
  }
  float tile[EMBER_GEMM_MR * EMBER_GEMM_NR];
  for (size_t r = 0; r < 6; r++)
    for (size_t j = 0; j < 4; j++) vst1q_f32(tile + r * 16 + 4 * j, acc[r][j]);
  ember_tile_store(tile, mr, nr, c, ldc, accumulate);
}
