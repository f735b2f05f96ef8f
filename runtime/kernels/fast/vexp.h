/* exp(x) for float32 arrays in a form compilers vectorize: x = n ln2 + r with |r| <= ln2/2, e^r by a
 * degree-6 polynomial, 2^n put into the exponent bits. Maximum relative error 3e-7 (2.4e-7 measured,
 * against exp() in double over [-87, 88] in runtime/tests/test_fast_kernels.c); x < -87.3 gives 0, NaN gives NaN.
 * Results differ from expf by at most a few ulp, so attention/softmax outputs stay within 1e-6 of the
 * reference kernels. */
#ifndef EMBER_VEXP_H
#define EMBER_VEXP_H

#include <stdint.h>
#include <string.h>

static inline float ember_expf_poly(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447505531f;
  float xc = x > hi ? hi : x;
  int under = xc < lo;
  xc = xc < lo ? lo : xc;
  xc = xc == xc ? xc : 0.0f; /* NaN: compute on 0 (no float-to-int UB), return NaN below */
  /* n = round(x / ln2) via the 1.5 * 2^23 trick (exact in float for |x / ln2| < 2^22) */
  const float shifter = 12582912.0f;
  float t = xc * 1.44269504088896341f + shifter;
  float n = t - shifter;
  float r = xc - n * 0.693145751953125f; /* ln2 split in two for exact reduction */
  r = r - n * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t ni = (int32_t)n;
  uint32_t bits = (uint32_t)(ni + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float y = p * scale;
  y = under ? 0.0f : y;
  return x != x ? x : y;
}

#endif
