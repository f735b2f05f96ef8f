/* int4 GEMV on NEON: 4 output columns x up to 3 rows per pass (a 16-column tile in four quarters), the
 * int4 weight rows streamed once in place, 16 bytes (one block of 32 weights) per column per step.
 * Nibbles are sign-extended by shifts (low: shl 4 then arithmetic shr 4; high: arithmetic shr 4), so
 * sum (q - zp) * w = sum q * w - zp * sum w with no other correction. The dot products: sdot
 * (vdotq_s32, exact int32) when the CPU has the dot-product extension (HWCAP_ASIMDDP, compiled for it by
 * a target attribute), otherwise vmull_s8 (|q * w| <= 1024, exact in int16) and pairwise widening adds.
 * Per block, vpaddq reduces 4 columns to one vector; the float steps of rule 7 run per group across the
 * 4 columns, multiply then add (no FMA): the reference result bit for bit. */
#include <arm_neon.h>

#include "../fast/q4_gemm.h"

#define DOT_PLAIN(acc, w, a)                                                      \
  vpadalq_s16(vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(a))), \
              vmull_high_s8(w, a))
#define DOT_SDOT(acc, w, a) vdotq_s32(acc, w, a)

#define DEFINE_GEMV(NAME, ATTR, DOT)                                                                               \
  ATTR static inline __attribute__((always_inline)) void NAME##_4(const ember_q4_weights *w, size_t n0, size_t h,  \
                                                                  size_t nc, const ember_q4_rows *rows,            \
                                                                  const size_t MR, float *out) {                   \
    const size_t kb = w->kb, G = w->groups, bpg = w->gs / 32;                                                      \
    const uint8_t *wr[4];                                                                                          \
    for (size_t c = 0; c < 4; c++) wr[c] = w->w + (n0 + h + (h + c < nc ? c : nc - 1 - h)) * kb;                  \
    const uint16_t *st = w->scale + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR + h;                                      \
    const int16_t *wt = w->wsum + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR + h;                                        \
    float32x4_t facc[EMBER_Q4_MR];                                                                                 \
    int32x4_t gacc[EMBER_Q4_MR];                                                                                   \
    for (size_t r = 0; r < MR; r++) {                                                                              \
      facc[r] = vdupq_n_f32(0.0f);                                                                                 \
      gacc[r] = vdupq_n_s32(0);                                                                                    \
    }                                                                                                              \
    size_t g = 0, inb = 0;                                                                                         \
    for (size_t off = 0; off < kb; off += 16) {                                                                    \
      int32x4_t x[EMBER_Q4_MR][4];                                                                                 \
      for (size_t c = 0; c < 4; c++) {                                                                             \
        int8x16_t b = vreinterpretq_s8_u8(vld1q_u8(wr[c] + off));                                                  \
        int8x16_t lo = vshrq_n_s8(vshlq_n_s8(b, 4), 4), hi = vshrq_n_s8(b, 4);                                     \
        for (size_t r = 0; r < MR; r++) {                                                                          \
          int32x4_t t = DOT(vdupq_n_s32(0), lo, vld1q_s8(rows->ev[r] + off));                                      \
          x[r][c] = DOT(t, hi, vld1q_s8(rows->od[r] + off));                                                       \
        }                                                                                                          \
      }                                                                                                            \
      for (size_t r = 0; r < MR; r++)                                                                              \
        gacc[r] = vaddq_s32(gacc[r], vpaddq_s32(vpaddq_s32(x[r][0], x[r][1]), vpaddq_s32(x[r][2], x[r][3])));     \
      if (++inb < bpg) continue;                                                                                   \
      int32x4_t ws = vmovl_s16(vld1_s16(wt + g * EMBER_Q4_NR));                                                    \
      float32x4_t sc = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(st + g * EMBER_Q4_NR)));                         \
      for (size_t r = 0; r < MR; r++) {                                                                            \
        int32x4_t isum = vsubq_s32(gacc[r], vmulq_n_s32(ws, rows->zp[r]));                                         \
        facc[r] = vaddq_f32(facc[r], vmulq_f32(vcvtq_f32_s32(isum), sc));                                          \
        gacc[r] = vdupq_n_s32(0);                                                                                  \
      }                                                                                                            \
      g++;                                                                                                         \
      inb = 0;                                                                                                     \
    }                                                                                                              \
    for (size_t r = 0; r < MR; r++) vst1q_f32(out + r * EMBER_Q4_NR + h, facc[r]);                                 \
  }                                                                                                                \
  ATTR void NAME(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,           \
                 float *acc) {                                                                                     \
    for (size_t h = 0; h < nc; h += 4) {                                                                           \
      if (mr == 1)                                                                                                 \
        NAME##_4(w, n0, h, nc, rows, 1, acc);                                                                      \
      else if (mr == 2)                                                                                            \
        NAME##_4(w, n0, h, nc, rows, 2, acc);                                                                      \
      else                                                                                                         \
        NAME##_4(w, n0, h, nc, rows, 3, acc);                                                                      \
    }                                                                                                              \
  }

DEFINE_GEMV(ember_q4_gemv_neon, , DOT_PLAIN)
DEFINE_GEMV(ember_q4_gemv_neondot, __attribute__((target("arch=armv8.2-a+dotprod"))), DOT_SDOT)
