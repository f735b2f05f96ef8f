/* Shared arithmetic of the quantized kernels: the rounding rules of docs/quantization.md. Every
 * quantized kernel (reference and fast) uses these, so they agree bit for bit. Plain C, no SIMD. */
#ifndef EMBER_QUANT_UTIL_H
#define EMBER_QUANT_UTIL_H

#include <math.h>

#include "ref_util.h"

#define EMBER_Q_BIAS_LIMIT (1 << 30) /* int32 bias clamped to +-2^30 (ops.Q_BIAS_LIMIT) */
#define EMBER_Q_MAX_K 32768          /* reduction length bound: 32768*255*128 + 2^30 < 2^31 */

/* float32 -> int8: rint (ties to even) in float32, + zero point in float32, NaN -> zero point, then
 * saturate to [lo, hi]. */
static inline int8_t ember_q_sat(float v, int32_t zp, int32_t lo, int32_t hi) {
  float t = rintf(v) + (float)zp;
  if (t != t) t = (float)zp;
  if (t < (float)lo) t = (float)lo;
  if (t > (float)hi) t = (float)hi;
  return (int8_t)(int32_t)t;
}

/* Clamp an int32 bias to +-2^30. */
static inline int32_t ember_q_bias(int32_t b) {
  return b > EMBER_Q_BIAS_LIMIT ? EMBER_Q_BIAS_LIMIT : b < -EMBER_Q_BIAS_LIMIT ? -EMBER_Q_BIAS_LIMIT : b;
}

/* Requantize an exact int32 accumulator (bias included): float(acc) * scale, then ember_q_sat. */
static inline int8_t ember_q_requant(int32_t acc, float scale, int32_t zp, int32_t lo, int32_t hi) {
  return ember_q_sat((float)acc * scale, zp, lo, hi);
}

/* Dynamic per-row parameters (ops.q_row_params): range [min(0, min x), max(0, max x)], scale =
 * (hi - lo) / 255 in float32 (1 when 0), zero point = saturate(-128 - rint(lo / scale)). */
static inline void ember_q_row_params(const float *x, int64_t k, float *scale, int32_t *zp) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < k; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  float s = (hi - lo) / 255.0f;
  if (s == 0.0f) s = 1.0f;
  *scale = s;
  *zp = ember_q_sat(0.0f - rintf(lo / s), -128, -128, 127);
}

/* Quantize one row with its dynamic parameters. */
static inline void ember_q_quantize_row(const float *x, int64_t k, int8_t *q, float *scale, int32_t *zp) {
  ember_q_row_params(x, k, scale, zp);
  for (int64_t i = 0; i < k; i++) q[i] = ember_q_sat(x[i] / *scale, *zp, -128, 127);
}

/* IEEE half -> float (exact). */
static inline float ember_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
  if (exp == 0x1Fu) {
    bits = sign | 0x7F800000u | (man << 13);
  } else if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalize */
      int e = -1;
      do {
        man <<= 1;
        e++;
      } while (!(man & 0x400u));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
    }
  } else {
    bits = sign | ((exp + 112u) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* int4 value k of a packed row (low nibble first, two's complement). */
static inline int32_t ember_q4_get(const uint8_t *row, int64_t k) {
  uint8_t b = row[k >> 1];
  int32_t v = (k & 1) ? (b >> 4) : (b & 0x0F);
  return v >= 8 ? v - 16 : v;
}

/* Check the int8 zero point / bound attributes. */
static inline bool ember_q_is_i8(int64_t v) { return v >= -128 && v <= 127; }

#endif /* EMBER_QUANT_UTIL_H */
