/* int8 depthwise NHWC by tap pairs, AVX2 (kernels/fast/q8_dwpair.h): 8 channels per register, blocks of
 * 32 channels keep four accumulators across every tap of an output pixel; vpmaddwd + vpaddd. */
#include <immintrin.h>

#include "../fast/q8_dwpair.h"

static inline __m256i load8(const int8_t *x, __m256i zp) {
  return _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)x)), zp);
}

void ember_q8dwp_build_avx2(const ember_q8dwp_plan *p, const int8_t *x, int32_t *pr) {
  const size_t C = p->c;
  const __m256i zp = _mm256_set1_epi32(p->x_zp);
  for (size_t k = 0; k < p->pn; k++, pr += C) {
    const ptrdiff_t a = (ptrdiff_t)(k * p->g) - (ptrdiff_t)p->pw, b = a + (ptrdiff_t)p->dw;
    const int8_t *xa = a >= 0 && a < (ptrdiff_t)p->w_in ? x + (size_t)a * C : NULL;
    const int8_t *xb = b >= 0 && b < (ptrdiff_t)p->w_in ? x + (size_t)b * C : NULL;
    for (size_t c = 0; c < C; c += 8) {
      __m256i lo = xa ? load8(xa + c, zp) : _mm256_setzero_si256();
      __m256i hi = xb ? load8(xb + c, zp) : _mm256_setzero_si256();
      _mm256_storeu_si256((__m256i *)(pr + c), _mm256_blend_epi16(lo, _mm256_slli_epi32(hi, 16), 0xAA));
    }
  }
}

static inline void store8(int8_t *y, __m256i acc, const float *scale, __m256 flo, __m256 fhi, __m256i zp) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(scale));
  v = _mm256_min_ps(_mm256_max_ps(v, flo), fhi);
  v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256i q = _mm256_add_epi32(_mm256_cvttps_epi32(v), zp); /* already inside [qmin, qmax]: packs keep it */
  __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  _mm_storel_epi64((__m128i *)y, _mm_packs_epi16(h, h));
}

#define DOT(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))

void ember_q8dwp_row_avx2(const ember_q8dwp_plan *p, const int32_t *const *rows, int8_t *y) {
  const size_t C = p->c, np = p->np, jo = p->joff * C;
  const __m256 flo = _mm256_set1_ps((float)(p->qmin - p->y_zp)), fhi = _mm256_set1_ps((float)(p->qmax - p->y_zp));
  const __m256i zp = _mm256_set1_epi32(p->y_zp);
  for (size_t ox = 0; ox < p->ow; ox++, y += C) {
    const size_t base = ox * p->step * C;
    size_t c0 = 0;
    for (; c0 + 32 <= C; c0 += 32) {
      __m256i s0 = _mm256_loadu_si256((const __m256i *)(p->bias + c0));
      __m256i s1 = _mm256_loadu_si256((const __m256i *)(p->bias + c0 + 8));
      __m256i s2 = _mm256_loadu_si256((const __m256i *)(p->bias + c0 + 16));
      __m256i s3 = _mm256_loadu_si256((const __m256i *)(p->bias + c0 + 24));
      for (size_t ky = 0; ky < p->kh; ky++) {
        if (!rows[ky]) continue;
        const int32_t *r = rows[ky] + base + c0, *w = p->wp + ky * np * C + c0;
        for (size_t j = 0; j < np; j++, r += jo, w += C) {
          s0 = DOT(s0, _mm256_loadu_si256((const __m256i *)r), _mm256_loadu_si256((const __m256i *)w));
          s1 = DOT(s1, _mm256_loadu_si256((const __m256i *)(r + 8)), _mm256_loadu_si256((const __m256i *)(w + 8)));
          s2 = DOT(s2, _mm256_loadu_si256((const __m256i *)(r + 16)), _mm256_loadu_si256((const __m256i *)(w + 16)));
          s3 = DOT(s3, _mm256_loadu_si256((const __m256i *)(r + 24)), _mm256_loadu_si256((const __m256i *)(w + 24)));
        }
      }
      store8(y + c0, s0, p->scale + c0, flo, fhi, zp);
      store8(y + c0 + 8, s1, p->scale + c0 + 8, flo, fhi, zp);
      store8(y + c0 + 16, s2, p->scale + c0 + 16, flo, fhi, zp);
      store8(y + c0 + 24, s3, p->scale + c0 + 24, flo, fhi, zp);
    }
    for (; c0 < C; c0 += 8) {
      __m256i s0 = _mm256_loadu_si256((const __m256i *)(p->bias + c0));
      for (size_t ky = 0; ky < p->kh; ky++) {
        if (!rows[ky]) continue;
        const int32_t *r = rows[ky] + base + c0, *w = p->wp + ky * np * C + c0;
        for (size_t j = 0; j < np; j++, r += jo, w += C)
          s0 = DOT(s0, _mm256_loadu_si256((const __m256i *)r), _mm256_loadu_si256((const __m256i *)w));
      }
      store8(y + c0, s0, p->scale + c0, flo, fhi, zp);
    }
  }
}
