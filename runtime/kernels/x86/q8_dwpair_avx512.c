/* int8 depthwise NHWC by tap pairs, AVX-512 (kernels/fast/q8_dwpair.h): 16 channels per register,
 * blocks of 64 channels keep four accumulators across every tap of an output pixel. The VNNI variant
 * fuses multiply-add and accumulate (vpdpwssd); the plain one is vpmaddwd + vpaddd. Same int32 sums. */
#include <immintrin.h>

#include "../fast/q8_dwpair.h"

void ember_q8dwp_build_avx512(const ember_q8dwp_plan *p, const int8_t *x, int32_t *pr) {
  const size_t C = p->c;
  const __m512i zp = _mm512_set1_epi32(p->x_zp);
  for (size_t k = 0; k < p->pn; k++, pr += C) {
    const ptrdiff_t a = (ptrdiff_t)(k * p->g) - (ptrdiff_t)p->pw, b = a + (ptrdiff_t)p->dw;
    const int8_t *xa = a >= 0 && a < (ptrdiff_t)p->w_in ? x + (size_t)a * C : NULL;
    const int8_t *xb = b >= 0 && b < (ptrdiff_t)p->w_in ? x + (size_t)b * C : NULL;
    for (size_t c = 0; c < C; c += 16) {
      __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
      if (xa) lo = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(xa + c))), zp);
      if (xb) hi = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(xb + c))), zp);
      /* low 16 bits from lo, high 16 bits from hi */
      _mm512_storeu_si512(pr + c, _mm512_mask_blend_epi16(0xAAAAAAAAu, lo, _mm512_slli_epi32(hi, 16)));
    }
  }
}

static inline void store16(int8_t *y, __m512i acc, const float *scale, __m512 flo, __m512 fhi, __m512i zp) {
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(scale));
  v = _mm512_min_ps(_mm512_max_ps(v, flo), fhi);
  __m512i q = _mm512_add_epi32(_mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
  _mm_storeu_si128((__m128i *)y, _mm512_cvtepi32_epi8(q));
}

/* Q output pixels (ox .. ox + Q - 1) of 16 channels at c0: Q independent accumulators, each weight pair
 * loaded once for all Q (a vpdpwssd chain per pixel would otherwise wait on its own latency). */
#define Q8DWP_PIXELS(NAME, ATTR, DOT)                                                                               \
  static inline __attribute__((always_inline)) ATTR void NAME(const ember_q8dwp_plan *p, const int32_t *const *rows, \
                                                             int8_t *y, size_t ox, size_t c0, const int Q) {        \
    const size_t C = p->c, np = p->np, jo = p->joff * C, ps = p->step * C;                                          \
    const __m512 flo = _mm512_set1_ps((float)(p->qmin - p->y_zp)), fhi = _mm512_set1_ps((float)(p->qmax - p->y_zp)); \
    __m512i s[8];                                                                                                   \
    const __m512i b = _mm512_loadu_si512(p->bias + c0);                                                             \
    for (int q = 0; q < Q; q++) s[q] = b;                                                                           \
    for (size_t ky = 0; ky < p->kh; ky++) {                                                                         \
      if (!rows[ky]) continue;                                                                                      \
      const int32_t *r = rows[ky] + ox * ps + c0, *w = p->wp + ky * np * C + c0;                                    \
      for (size_t j = 0; j < np; j++, r += jo, w += C) {                                                            \
        const __m512i wv = _mm512_loadu_si512(w);                                                                   \
        for (int q = 0; q < Q; q++) s[q] = DOT(s[q], _mm512_loadu_si512(r + (size_t)q * ps), wv);                   \
      }                                                                                                             \
    }                                                                                                               \
    for (int q = 0; q < Q; q++)                                                                                     \
      store16(y + (ox + (size_t)q) * C + c0, s[q], p->scale + c0, flo, fhi, _mm512_set1_epi32(p->y_zp));           \
  }

/* One output row: 16-channel blocks, 8 pixels at a time, then 4, then 1. */
#define Q8DWP_ROW(NAME, PIX, ATTR)                                                                                   \
  ATTR void NAME(const ember_q8dwp_plan *p, const int32_t *const *rows, int8_t *y) {                                \
    for (size_t c0 = 0; c0 < p->c; c0 += 16) {                                                                      \
      size_t ox = 0;                                                                                                \
      for (; ox + 8 <= p->ow; ox += 8) PIX(p, rows, y, ox, c0, 8);                                                  \
      for (; ox + 4 <= p->ow; ox += 4) PIX(p, rows, y, ox, c0, 4);                                                  \
      for (; ox < p->ow; ox++) PIX(p, rows, y, ox, c0, 1);                                                          \
    }                                                                                                               \
  }

#define DOT_MADD(acc, a, b) _mm512_add_epi32((acc), _mm512_madd_epi16((a), (b)))
#define DOT_VNNI(acc, a, b) _mm512_dpwssd_epi32((acc), (a), (b))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
Q8DWP_PIXELS(pixels_madd, , DOT_MADD)
Q8DWP_PIXELS(pixels_vnni, VNNI, DOT_VNNI)
Q8DWP_ROW(ember_q8dwp_row_avx512, pixels_madd, )
Q8DWP_ROW(ember_q8dwp_row_avx512vnni, pixels_vnni, VNNI)
