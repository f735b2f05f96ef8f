/* int4 x int8 group dot products on AVX2: 16 weight bytes give 32 nibbles (and with 0x0F; shift by 4),
 * sign-corrected as (v ^ 8) - 8, then sign-extended to int16 and multiplied with the deinterleaved
 * activations by vpmaddwd (exact; no vpmaddubsw saturation). */
#include <immintrin.h>

#include "../fast/q4_gemm.h"

void ember_q4_dot_avx2(size_t groups, size_t gs, const int8_t *a, const uint8_t *w, int32_t *isum) {
  const __m128i mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
  for (size_t g = 0; g < groups; g++) {
    __m256i acc = _mm256_setzero_si256();
    for (size_t c = g * gs; c < (g + 1) * gs; c += 32) {
      __m128i b = _mm_loadu_si128((const __m128i *)(w + c / 2));
      __m128i lo = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(b, mask), eight), eight);
      __m128i hi = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(_mm_srli_epi16(b, 4), mask), eight), eight);
      __m256i ae = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + c)));
      __m256i ao = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + c + 16)));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(ae, _mm256_cvtepi8_epi16(lo)));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(ao, _mm256_cvtepi8_epi16(hi)));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    isum[g] = _mm_cvtsi128_si32(s);
  }
}
