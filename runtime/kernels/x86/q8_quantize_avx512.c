/* Rule 5 of docs/quantization.md (dynamic per-row int8 quantization) with AVX-512, equal to
 * ember_q_quantize_row bit for bit: the range uses vminps / vmaxps with the running value as the second
 * operand (which they return when x is NaN, or when both are zeros of either sign: exactly the scalar
 * `x < lo ? x : lo`); the scale and zero point are the scalar code; each element is then an IEEE
 * division, vrndscaleps to nearest even (= rintf in the default mode), + zp, NaN -> zp, clamp, and a
 * conversion of an integral float. */
#include <immintrin.h>

#include "../ref/quant_util.h"

__attribute__((target("avx512f,avx512bw,avx512vl"))) void ember_q_quantize_row_avx512(const float *x, int64_t k,
                                                                                       int8_t *q, float *scale,
                                                                                       int32_t *zp) {
  __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    vlo = _mm512_min_ps(v, vlo);
    vhi = _mm512_max_ps(v, vhi);
  }
  if (i < k) {
    __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << (k - i)) - 1), x + i); /* zeros: neutral for the range */
    vlo = _mm512_min_ps(v, vlo);
    vhi = _mm512_max_ps(v, vhi);
  }
  float l[16], h[16], lo = 0.0f, hi = 0.0f;
  _mm512_storeu_ps(l, vlo);
  _mm512_storeu_ps(h, vhi);
  for (int t = 0; t < 16; t++) {
    lo = l[t] < lo ? l[t] : lo;
    hi = h[t] > hi ? h[t] : hi;
  }
  float s = (hi - lo) / 255.0f;
  if (s == 0.0f) s = 1.0f;
  *scale = s;
  int32_t z = ember_q_sat(0.0f - rintf(lo / s), -128, -128, 127);
  *zp = z;
  const __m512 vs = _mm512_set1_ps(s), vz = _mm512_set1_ps((float)z), qmin = _mm512_set1_ps(-128.0f),
               qmax = _mm512_set1_ps(127.0f);
  for (i = 0; i < k; i += 16) {
    __mmask16 m = k - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - i)) - 1);
    __m512 t = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                             vz);
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q), t, vz);
    t = _mm512_min_ps(_mm512_max_ps(t, qmin), qmax);
    _mm512_mask_cvtepi32_storeu_epi8(q + i, m, _mm512_cvtps_epi32(t));
  }
}
