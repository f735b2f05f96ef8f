/* int8 dot products on AVX2 with the exact path: sign-extend both operands to int16 (vpmovsxbw) and
 * multiply-add pairs into int32 (vpmaddwd). No vpmaddubsw, so nothing saturates. Also the AVX-VNNI
 * (256-bit vpdpbusd) variant, compiled for that ISA by a target attribute and run only when cpuid
 * reports it. 2 rows of A x 4 rows of B per block; missing rows reuse row 0 and are not stored. */
#include <immintrin.h>
#include <string.h>

#include "../fast/q8_gemm.h"

static inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

void ember_q8_dot_2x4_avx2(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                           size_t ldc) {
  const int8_t *bj[4];
  for (size_t j = 0; j < 4; j++) bj[j] = b + (j < nr ? j : 0) * kp;
  for (size_t i0 = 0; i0 < mr; i0 += 2) {
    const int8_t *a0 = a + i0 * kp, *a1 = i0 + 1 < mr ? a0 + kp : a0;
    __m256i acc[2][4];
    for (int r = 0; r < 2; r++)
      for (int j = 0; j < 4; j++) acc[r][j] = _mm256_setzero_si256();
    for (size_t k = 0; k < kp; k += 16) {
      __m256i x0 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(a0 + k)));
      __m256i x1 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(a1 + k)));
      for (int j = 0; j < 4; j++) {
        __m256i w = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(bj[j] + k)));
        acc[0][j] = _mm256_add_epi32(acc[0][j], _mm256_madd_epi16(x0, w));
        acc[1][j] = _mm256_add_epi32(acc[1][j], _mm256_madd_epi16(x1, w));
      }
    }
    for (size_t r = 0; r < 2 && i0 + r < mr; r++)
      for (size_t j = 0; j < nr; j++) c[(i0 + r) * ldc + j] = hsum_epi32(acc[r][j]);
  }
}

#if defined(__GNUC__) && (__GNUC__ >= 11 || defined(__clang__))
__attribute__((target("avx2,avxvnni"))) void ember_q8_dot_2x4_avxvnni(size_t mr, size_t nr, size_t kp,
                                                                       const int8_t *a, const int8_t *b,
                                                                       int32_t *c, size_t ldc) {
  const int8_t *bj[4];
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  for (size_t j = 0; j < 4; j++) bj[j] = b + (j < nr ? j : 0) * kp;
  for (size_t i0 = 0; i0 < mr; i0 += 2) {
    const int8_t *a0 = a + i0 * kp, *a1 = i0 + 1 < mr ? a0 + kp : a0;
    __m256i acc[2][4];
    for (int r = 0; r < 2; r++)
      for (int j = 0; j < 4; j++) acc[r][j] = _mm256_setzero_si256();
    for (size_t k = 0; k < kp; k += 32) {
      __m256i x0 = _mm256_xor_si256(_mm256_load_si256((const __m256i *)(a0 + k)), flip);
      __m256i x1 = _mm256_xor_si256(_mm256_load_si256((const __m256i *)(a1 + k)), flip);
      for (int j = 0; j < 4; j++) {
        __m256i w = _mm256_load_si256((const __m256i *)(bj[j] + k));
        acc[0][j] = _mm256_dpbusd_avx_epi32(acc[0][j], x0, w);
        acc[1][j] = _mm256_dpbusd_avx_epi32(acc[1][j], x1, w);
      }
    }
    for (size_t r = 0; r < 2 && i0 + r < mr; r++)
      for (size_t j = 0; j < nr; j++) c[(i0 + r) * ldc + j] = hsum_epi32(acc[r][j]);
  }
}
#else
void ember_q8_dot_2x4_avxvnni(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                              size_t ldc) {
  ember_q8_dot_2x4_avx2(mr, nr, kp, a, b, c, ldc); /* never selected without compiler support */
}
#endif

/* Panel GEMM on AVX2 (same VNNI-ordered panels as the AVX-512 kernel, A signed: a_offset 0). For a
 * quad of k, 16 bytes of a panel hold 4 columns x 4 k; sign-extended to int16 and multiplied by the
 * row's 4 activations (broadcast) with vpmaddwd, each int32 lane holds half of a column's quad sum;
 * the halves are added once at the end (hadd), so no horizontal sums run inside the K loop. */
void ember_q8_gemm_8x32_avx2(size_t mr, size_t kp, const uint8_t *a, const int8_t *b, int32_t *c, size_t ldc) {
  for (size_t pn = 0; pn < 2; pn++) {
    const int8_t *bp = b + pn * kp * 16;
    for (size_t i0 = 0; i0 < mr; i0 += 2) {
      const uint8_t *a0 = a + i0 * kp, *a1 = i0 + 1 < mr ? a0 + kp : a0;
      __m256i acc[2][4];
      for (int r = 0; r < 2; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm256_setzero_si256();
      for (size_t k = 0; k < kp; k += 4) {
        int32_t q0, q1;
        memcpy(&q0, a0 + k, 4);
        memcpy(&q1, a1 + k, 4);
        __m256i x0 = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(q0)));
        __m256i x1 = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(q1)));
        for (int q = 0; q < 4; q++) {
          __m256i w = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(bp + k * 16 + q * 16)));
          acc[0][q] = _mm256_add_epi32(acc[0][q], _mm256_madd_epi16(x0, w));
          acc[1][q] = _mm256_add_epi32(acc[1][q], _mm256_madd_epi16(x1, w));
        }
      }
      for (size_t r = 0; r < 2 && i0 + r < mr; r++) {
        int32_t *cr = c + (i0 + r) * ldc + pn * 16;
        __m256i lo = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
        __m256i hi = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][2], acc[r][3]), 0xD8);
        _mm256_storeu_si256((__m256i *)cr, lo);
        _mm256_storeu_si256((__m256i *)(cr + 8), hi);
      }
    }
  }
}
