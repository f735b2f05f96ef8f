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
 * broadcasts 4 bytes of a row and multiplies them with 16 columns x 4 k at once: no horizontal sums. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void ember_q8_gemm_8x32_avx512vnni(
    size_t mr, size_t kp, const uint8_t *a, const int8_t *b, int32_t *c, size_t ldc) {
  const uint8_t *ai[8];
  for (size_t i = 0; i < 8; i++) ai[i] = a + (i < mr ? i : 0) * kp;
  const int8_t *b1 = b + kp * 16;
  __m512i acc[8][2];
  for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
  for (size_t k = 0; k < kp; k += 4) {
    __m512i w0 = _mm512_load_si512((const void *)(b + k * 16)), w1 = _mm512_load_si512((const void *)(b1 + k * 16));
    for (int i = 0; i < 8; i++) {
      int32_t q;
      memcpy(&q, ai[i] + k, 4);
      __m512i x = _mm512_set1_epi32(q);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], x, w0);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], x, w1);
    }
  }
  for (size_t i = 0; i < mr; i++) {
    _mm512_storeu_si512((void *)(c + i * ldc), acc[i][0]);
    _mm512_storeu_si512((void *)(c + i * ldc + 16), acc[i][1]);
  }
}
