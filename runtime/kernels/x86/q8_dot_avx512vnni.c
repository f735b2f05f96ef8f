/* int8 dot products with AVX-512 VNNI (vpdpbusd: u8 x s8 -> int32, 4 products per lane, no
 * saturation). A is read as unsigned by flipping its sign bit (a + 128); the caller subtracts
 * 128 * rowsum(B) (a_offset = 128). 4 rows of A x 4 rows of B, 64 bytes of K per step. */
#include <immintrin.h>
#include <string.h>

#include "../fast/q8_gemm.h"

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void ember_q8_dot_4x4_avx512vnni(
    size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c, size_t ldc) {
  const int8_t *ai[4], *bj[4];
  for (size_t i = 0; i < 4; i++) ai[i] = a + (i < mr ? i : 0) * kp;
  for (size_t j = 0; j < 4; j++) bj[j] = b + (j < nr ? j : 0) * kp;
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  __m512i acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_si512();
  for (size_t k = 0; k < kp; k += 64) {
    __m512i x[4];
    for (int i = 0; i < 4; i++) x[i] = _mm512_xor_si512(_mm512_load_si512((const void *)(ai[i] + k)), flip);
    for (int j = 0; j < 4; j++) {
      __m512i w = _mm512_load_si512((const void *)(bj[j] + k));
      for (int i = 0; i < 4; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x[i], w);
    }
  }
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) c[i * ldc + j] = _mm512_reduce_add_epi32(acc[i][j]);
}

/* Panel GEMM: 8 rows of A (unsigned, pre-flipped) x 32 columns (two VNNI-ordered panels). Each step
 * broadcasts 4 bytes of a row and multiplies them with 16 columns x 4 k at once: no horizontal sums.
 * The 16 accumulators are named variables: with an array GCC copies them between registers on every
 * step. PANEL_8X32 declares c00 .. c71 and runs the K loop. */
#define RQ_ROW(i)                                                \
  {                                                              \
    int32_t q##i;                                                \
    memcpy(&q##i, ai##i + k, 4);                                 \
    __m512i x = _mm512_set1_epi32(q##i);                          \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, x, w0);                \
    c##i##1 = _mm512_dpbusd_epi32(c##i##1, x, w1);                \
  }
#define PANEL_8X32                                                                                                  \
  const uint8_t *ai0 = a, *ai1 = a + (mr > 1 ? 1 : 0) * kp, *ai2 = a + (mr > 2 ? 2 : 0) * kp;                       \
  const uint8_t *ai3 = a + (mr > 3 ? 3 : 0) * kp, *ai4 = a + (mr > 4 ? 4 : 0) * kp, *ai5 = a + (mr > 5 ? 5 : 0) * kp; \
  const uint8_t *ai6 = a + (mr > 6 ? 6 : 0) * kp, *ai7 = a + (mr > 7 ? 7 : 0) * kp;                                 \
  const int8_t *b1 = b + kp * 16;                                                                                   \
  __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00; \
  __m512i c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;                   \
  for (size_t k = 0; k < kp; k += 4) {                                                                              \
    const __m512i w0 = _mm512_load_si512((const void *)(b + k * 16));                                               \
    const __m512i w1 = _mm512_load_si512((const void *)(b1 + k * 16));                                              \
    RQ_ROW(0) RQ_ROW(1) RQ_ROW(2) RQ_ROW(3) RQ_ROW(4) RQ_ROW(5) RQ_ROW(6) RQ_ROW(7)                                 \
  }

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void ember_q8_gemm_8x32_avx512vnni(
    size_t mr, size_t kp, const uint8_t *a, const int8_t *b, int32_t *c, size_t ldc) {
  PANEL_8X32
  const __m512i acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                             {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  for (size_t i = 0; i < mr; i++) {
    _mm512_storeu_si512((void *)(c + i * ldc), acc[i][0]);
    _mm512_storeu_si512((void *)(c + i * ldc + 16), acc[i][1]);
  }
}

/* The same panel GEMM with qlinear's requantization in registers (q8_gemm.h, ember_q8_requant): the int32
 * tile never leaves the registers, and y gets int8 directly (masked for nr < 32). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline void rq_store(
    int8_t *y, __m512i a0, __m512i a1, const __m512i *qb, const __m512 *s, __m512 flo, __m512 fhi, __m512i zp,
    __mmask16 m0, __mmask16 m1) {
  __m512 v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a0, qb[0])), s[0]);
  __m512 v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a1, qb[1])), s[1]);
  v0 = _mm512_min_ps(_mm512_max_ps(v0, flo), fhi);
  v1 = _mm512_min_ps(_mm512_max_ps(v1, flo), fhi);
  __m512i q0 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
  __m512i q1 = _mm512_add_epi32(_mm512_cvt_roundps_epi32(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
  _mm512_mask_cvtepi32_storeu_epi8(y, m0, q0);
  if (m1) _mm512_mask_cvtepi32_storeu_epi8(y + 16, m1, q1);
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void ember_q8_gemm_8x32_rq_avx512vnni(
    size_t mr, size_t nr, size_t kp, const uint8_t *a, const int8_t *b, int8_t *y, size_t ldy,
    const ember_q8_requant *r) {
  PANEL_8X32
  const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1u);
  const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1u) : 0;
  const __m512i qb[2] = {_mm512_maskz_loadu_epi32(m0, r->qb), _mm512_maskz_loadu_epi32(m1, r->qb + 16)};
  const __m512 s[2] = {_mm512_maskz_loadu_ps(m0, r->scale), _mm512_maskz_loadu_ps(m1, r->scale + 16)};
  const __m512 flo = _mm512_set1_ps((float)(r->lo - r->zp)), fhi = _mm512_set1_ps((float)(r->hi - r->zp));
  const __m512i zp = _mm512_set1_epi32(r->zp);
  rq_store(y, c00, c01, qb, s, flo, fhi, zp, m0, m1);
  if (mr > 1) rq_store(y + ldy, c10, c11, qb, s, flo, fhi, zp, m0, m1);
  if (mr > 2) rq_store(y + 2 * ldy, c20, c21, qb, s, flo, fhi, zp, m0, m1);
  if (mr > 3) rq_store(y + 3 * ldy, c30, c31, qb, s, flo, fhi, zp, m0, m1);
  if (mr > 4) rq_store(y + 4 * ldy, c40, c41, qb, s, flo, fhi, zp, m0, m1);
  if (mr > 5) rq_store(y + 5 * ldy, c50, c51, qb, s, flo, fhi, zp, m0, m1);
  if (mr > 6) rq_store(y + 6 * ldy, c60, c61, qb, s, flo, fhi, zp, m0, m1);
  if (mr > 7) rq_store(y + 7 * ldy, c70, c71, qb, s, flo, fhi, zp, m0, m1);
}
#undef PANEL_8X32
#undef RQ_ROW
