/* int4 x int8 group dot products on NEON: nibbles by and/shift, sign-corrected (v ^ 8) - 8, then
 * vmull_s8 (exact int16 products) accumulated pairwise into int32. */
#include <arm_neon.h>

#include "../fast/q4_gemm.h"

void ember_q4_dot_neon(size_t groups, size_t gs, const int8_t *a, const uint8_t *w, int32_t *isum) {
  const uint8x16_t mask = vdupq_n_u8(0x0F), eight = vdupq_n_u8(8);
  for (size_t g = 0; g < groups; g++) {
    int32x4_t acc = vdupq_n_s32(0);
    for (size_t c = g * gs; c < (g + 1) * gs; c += 32) {
      uint8x16_t b = vld1q_u8(w + c / 2);
      int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vandq_u8(b, mask), eight)), vreinterpretq_s8_u8(eight));
      int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(veorq_u8(vshrq_n_u8(b, 4), eight)), vreinterpretq_s8_u8(eight));
      int8x16_t ae = vld1q_s8(a + c), ao = vld1q_s8(a + c + 16);
      acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(ae), vget_low_s8(lo)));
      acc = vpadalq_s16(acc, vmull_high_s8(ae, lo));
      acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(ao), vget_low_s8(hi)));
      acc = vpadalq_s16(acc, vmull_high_s8(ao, hi));
    }
    isum[g] = vaddvq_s32(acc);
  }
}
