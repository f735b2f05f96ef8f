/* int8 dot products on NEON: vmull_s8 (int8 x int8 -> int16, exact: |product| <= 16384) with
 * pairwise accumulation into int32 (vpadalq_s16); and the dot-product extension (sdot, 4 products per
 * int32 lane), compiled for it by a target attribute and run only when HWCAP_ASIMDDP is set. */
#include <arm_neon.h>

#include "../fast/q8_gemm.h"

void ember_q8_dot_2x4_neon(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                           size_t ldc) {
  const int8_t *bj[4];
  for (size_t j = 0; j < 4; j++) bj[j] = b + (j < nr ? j : 0) * kp;
  for (size_t i0 = 0; i0 < mr; i0 += 2) {
    const int8_t *a0 = a + i0 * kp, *a1 = i0 + 1 < mr ? a0 + kp : a0;
    int32x4_t acc[2][4];
    for (int r = 0; r < 2; r++)
      for (int j = 0; j < 4; j++) acc[r][j] = vdupq_n_s32(0);
    for (size_t k = 0; k < kp; k += 16) {
      int8x16_t x0 = vld1q_s8(a0 + k), x1 = vld1q_s8(a1 + k);
      for (int j = 0; j < 4; j++) {
        int8x16_t w = vld1q_s8(bj[j] + k);
        acc[0][j] = vpadalq_s16(acc[0][j], vmull_s8(vget_low_s8(x0), vget_low_s8(w)));
        acc[0][j] = vpadalq_s16(acc[0][j], vmull_high_s8(x0, w));
        acc[1][j] = vpadalq_s16(acc[1][j], vmull_s8(vget_low_s8(x1), vget_low_s8(w)));
        acc[1][j] = vpadalq_s16(acc[1][j], vmull_high_s8(x1, w));
      }
    }
    for (size_t r = 0; r < 2 && i0 + r < mr; r++)
      for (size_t j = 0; j < nr; j++) c[(i0 + r) * ldc + j] = vaddvq_s32(acc[r][j]);
  }
}

__attribute__((target("arch=armv8.2-a+dotprod"))) void ember_q8_dot_4x4_neondot(size_t mr, size_t nr, size_t kp,
                                                                               const int8_t *a, const int8_t *b,
                                                                               int32_t *c, size_t ldc) {
  const int8_t *ai[4], *bj[4];
  for (size_t i = 0; i < 4; i++) ai[i] = a + (i < mr ? i : 0) * kp;
  for (size_t j = 0; j < 4; j++) bj[j] = b + (j < nr ? j : 0) * kp;
  int32x4_t acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_s32(0);
  for (size_t k = 0; k < kp; k += 16) {
    int8x16_t x[4];
    for (int i = 0; i < 4; i++) x[i] = vld1q_s8(ai[i] + k);
    for (int j = 0; j < 4; j++) {
      int8x16_t w = vld1q_s8(bj[j] + k);
      for (int i = 0; i < 4; i++) acc[i][j] = vdotq_s32(acc[i][j], x[i], w);
    }
  }
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) c[i * ldc + j] = vaddvq_s32(acc[i][j]);
}
