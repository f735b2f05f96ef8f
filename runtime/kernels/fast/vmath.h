/* Vectorizable float32 math for activations: every function is branch-free straight-line code so
 * that loops calling it vectorize. Stated maximum errors are checked in runtime/tests/test_fast_kernels.c:
 *   ember_expf_poly   relative 3e-7 (vexp.h)
 *   ember_erff_poly   absolute 5e-7 (Abramowitz & Stegun 7.1.26: 1.5e-7, plus float rounding; 4.7e-7 measured)
 *   ember_tanhf_poly  absolute 5e-7
 *   ember_sigmoidf    absolute 2e-7 */
#ifndef EMBER_VMATH_H
#define EMBER_VMATH_H

#include "vexp.h"

static inline float ember_erff_poly(float x) {
  const float ax = x < 0.f ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * ember_expf_poly(-ax * ax);
  return x < 0.f ? -y : y;
}

static inline float ember_tanhf_poly(float x) {
  /* tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)); for |x| < 2^-4 the series x - x^3/3 (+ 2x^5/15) */
  const float ax = x < 0.f ? -x : x;
  const float e = ember_expf_poly(2.0f * (ax < 20.f ? ax : 20.f));
  float y = 1.0f - 2.0f / (e + 1.0f);
  const float x2 = x * x;
  const float small = ax * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f)));
  y = ax < 0.0625f ? small : y;
  return x < 0.f ? -y : y;
}

static inline float ember_sigmoidf(float x) { return 1.0f / (1.0f + ember_expf_poly(-x)); }

#endif
