/* int8 depthwise NHWC row kernel (kernels/fast/q8_dwnhwc.inc) compiled for avx512. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../fast/q8_dwnhwc.h"
#define Q8DW_FN(name) ember_q8_dwnhwc_##name##_avx512
#include "../fast/q8_dwnhwc.inc"

#include <immintrin.h>

/* C a multiple of 16: register-blocked rows. Per output pixel, blocks of 64 channels (4 zmm int32
 * accumulators) take every tap in registers, then requantize in registers: the same float32 operations
 * in the same order as ember_q_requant (cvt, mul, round to nearest even, + zero point, NaN -> zero point,
 * clamp), so the bytes equal the reference's. */
static inline __m512i q8_tap16(__m512i acc, const int8_t *x, const int8_t *w, __m512i zp) {
  __m512i xv = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)x)), zp);
  return _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)w))));
}

static inline void q8_store16(int8_t *y, __m512i acc, const float *scale, __m512 fzp, __m512 flo, __m512 fhi) {
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(scale));
  __m512 t = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), fzp);
  t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q), t, fzp);
  t = _mm512_min_ps(_mm512_max_ps(t, flo), fhi);
  _mm_storeu_si128((__m128i *)y, _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(t)));
}

void ember_q8_dwnhwc_row16_avx512(const ember_q8dw_args *a, size_t oy, int8_t *y, int32_t *unused) {
  (void)unused;
  const size_t C = a->c;
  const __m512i zp = _mm512_set1_epi32(a->x_zp);
  const __m512 fzp = _mm512_set1_ps((float)a->y_zp), flo = _mm512_set1_ps((float)a->qmin),
               fhi = _mm512_set1_ps((float)a->qmax);
  size_t ky0 = 0, ky1 = a->kh;
  while (ky0 < ky1 && (ptrdiff_t)(oy * a->sh + ky0 * a->dh) - (ptrdiff_t)a->ph < 0) ky0++;
  while (ky1 > ky0 && (ptrdiff_t)(oy * a->sh + (ky1 - 1) * a->dh) - (ptrdiff_t)a->ph >= (ptrdiff_t)a->h) ky1--;
  for (size_t ox = 0; ox < a->ow; ox++) {
    size_t kx0 = 0, kx1 = a->kw; /* taps inside the image along x */
    while (kx0 < kx1 && (ptrdiff_t)(ox * a->sw + kx0 * a->dw) - (ptrdiff_t)a->pw < 0) kx0++;
    while (kx1 > kx0 && (ptrdiff_t)(ox * a->sw + (kx1 - 1) * a->dw) - (ptrdiff_t)a->pw >= (ptrdiff_t)a->w_in) kx1--;
    int8_t *yo = y + ox * C;
    size_t c0 = 0;
    for (; c0 + 64 <= C; c0 += 64) {
      __m512i s0 = _mm512_loadu_si512(a->bias + c0), s1 = _mm512_loadu_si512(a->bias + c0 + 16);
      __m512i s2 = _mm512_loadu_si512(a->bias + c0 + 32), s3 = _mm512_loadu_si512(a->bias + c0 + 48);
      for (size_t ky = ky0; ky < ky1; ky++) {
        const size_t iy = oy * a->sh + ky * a->dh - a->ph;
        for (size_t kx = kx0; kx < kx1; kx++) {
          const size_t ix = ox * a->sw + kx * a->dw - a->pw;
          const int8_t *xp = a->x + (iy * a->w_in + ix) * C + c0, *wp = a->w + (ky * a->kw + kx) * C + c0;
          s0 = q8_tap16(s0, xp, wp, zp);
          s1 = q8_tap16(s1, xp + 16, wp + 16, zp);
          s2 = q8_tap16(s2, xp + 32, wp + 32, zp);
          s3 = q8_tap16(s3, xp + 48, wp + 48, zp);
        }
      }
      q8_store16(yo + c0, s0, a->scale + c0, fzp, flo, fhi);
      q8_store16(yo + c0 + 16, s1, a->scale + c0 + 16, fzp, flo, fhi);
      q8_store16(yo + c0 + 32, s2, a->scale + c0 + 32, fzp, flo, fhi);
      q8_store16(yo + c0 + 48, s3, a->scale + c0 + 48, fzp, flo, fhi);
    }
    for (; c0 < C; c0 += 16) {
      __m512i s0 = _mm512_loadu_si512(a->bias + c0);
      for (size_t ky = ky0; ky < ky1; ky++) {
        const size_t iy = oy * a->sh + ky * a->dh - a->ph;
        for (size_t kx = kx0; kx < kx1; kx++) {
          const size_t ix = ox * a->sw + kx * a->dw - a->pw;
          s0 = q8_tap16(s0, a->x + (iy * a->w_in + ix) * C + c0, a->w + (ky * a->kw + kx) * C + c0, zp);
        }
      }
      q8_store16(yo + c0, s0, a->scale + c0, fzp, flo, fhi);
    }
  }
}

/* qlinear epilogue of a whole microkernel tile (mr rows, nr <= 32 columns, C rows `ldc` int32 apart):
 * y = requant((bias + c) - k) per column, in registers with masks for the ragged edge: no call per row */
void ember_q8_epilogue_tile_avx512(size_t mr, size_t nr, const int32_t *c, size_t ldc, const int32_t *bias,
                                   const int32_t *k, const float *scale, int32_t zp, int32_t lo, int32_t hi,
                                   int8_t *y, size_t ldy) {
  const __m512 fzp = _mm512_set1_ps((float)zp), flo = _mm512_set1_ps((float)lo), fhi = _mm512_set1_ps((float)hi);
  for (size_t c0 = 0; c0 < nr; c0 += 16) {
    const size_t w = nr - c0 < 16 ? nr - c0 : 16;
    const __mmask16 m = (__mmask16)((1u << w) - 1u);
    const __m512i b = _mm512_maskz_loadu_epi32(m, bias + c0), kk = _mm512_maskz_loadu_epi32(m, k + c0);
    const __m512 s = _mm512_maskz_loadu_ps(m, scale + c0);
    for (size_t r = 0; r < mr; r++) {
      __m512i acc = _mm512_sub_epi32(_mm512_add_epi32(b, _mm512_maskz_loadu_epi32(m, c + r * ldc + c0)), kk);
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), s);
      __m512 t = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), fzp);
      t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q), t, fzp);
      t = _mm512_min_ps(_mm512_max_ps(t, flo), fhi);
      _mm512_mask_cvtepi32_storeu_epi8(y + r * ldy + c0, m, _mm512_cvttps_epi32(t));
    }
  }
}
