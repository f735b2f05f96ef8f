/* int4 GEMV with AVX2: 8 output columns x up to 3 rows per pass (a 16-column tile in two halves), the
 * int4 weight rows streamed once in place, 32 bytes (2 blocks of 32 weights) per column per step.
 *
 * x = b ^ 0x88 makes each nibble the unsigned u = w + 8 in 0..15 (see q4_gemv_avx512vnni.c).
 * vpmaddubsw (u8 x s8, adjacent pairs summed to int16 with saturation) cannot saturate here: one lane is
 * u0 * a0 + u1 * a1 with u in [0, 15] and a in [-128, 127], so it lies in [-3840, 3810]; the low- and
 * high-nibble results added in int16 lie in [-7680, 7620], far inside [-32768, 32767]. vpmaddwd with ones
 * then widens to int32 lanes of 4 bytes (8 weights), exact. Lanes, reduction and the float steps follow
 * the AVX-512 kernel with 128-bit lanes = blocks and vperm2i128 as the transpose. */
#include <immintrin.h>

#include "../fast/q4_gemm.h"

#define TARGET __attribute__((target("avx2,fma,f16c")))

TARGET static inline __m256i reduce4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  __m256i t0 = _mm256_add_epi32(_mm256_unpacklo_epi32(a0, a1), _mm256_unpackhi_epi32(a0, a1));
  __m256i t1 = _mm256_add_epi32(_mm256_unpacklo_epi32(a2, a3), _mm256_unpackhi_epi32(a2, a3));
  return _mm256_add_epi32(_mm256_unpacklo_epi64(t0, t1), _mm256_unpackhi_epi64(t0, t1));
}

TARGET static inline __attribute__((always_inline)) void gemv8(const ember_q4_weights *w, size_t n0, size_t h,
                                                               size_t nc, const ember_q4_rows *rows, const size_t MR,
                                                               float *out) {
  const size_t kb = w->kb, G = w->groups, bpg = w->gs / 32;
  const uint8_t *wr[8];
  for (size_t c = 0; c < 8; c++) wr[c] = w->w + (n0 + h + (h + c < nc ? c : nc - 1 - h)) * kb;
  const uint16_t *st = w->scale + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR + h;
  const int16_t *wt = w->wsum + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR + h;
  const __m256i m0f = _mm256_set1_epi8(0x0F), m88 = _mm256_set1_epi8((char)0x88), ones = _mm256_set1_epi16(1);
  __m256 facc[EMBER_Q4_MR];
  __m256i gacc[EMBER_Q4_MR], zpv[EMBER_Q4_MR];
  for (size_t r = 0; r < MR; r++) {
    facc[r] = _mm256_setzero_ps();
    gacc[r] = _mm256_setzero_si256();
    zpv[r] = _mm256_set1_epi32(rows->zp[r]);
  }
  const size_t pf = kb <= 512 ? 8 * kb : 256; /* software prefetch, as in q4_gemv_avx512vnni.c */
  size_t g = 0, inb = 0;
  for (size_t off = 0; off < kb; off += 32) {
    size_t nb = kb - off >= 32 ? 2 : 1;
    __m256i u[EMBER_Q4_MR][2];
    for (size_t q = 0; q < 2; q++) {
      __m256i a[EMBER_Q4_MR][4];
      for (size_t c = 0; c < 4; c++) {
        const uint8_t *p = wr[4 * q + c] + off;
        if (off % 64 == 0) _mm_prefetch((const char *)(p + pf), _MM_HINT_T0);
        __m256i b = nb == 2 ? _mm256_loadu_si256((const __m256i *)p)
                            : _mm256_inserti128_si256(_mm256_setzero_si256(), _mm_loadu_si128((const __m128i *)p), 0);
        __m256i x = _mm256_xor_si256(b, m88);
        __m256i lo = _mm256_and_si256(x, m0f), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m0f);
        for (size_t r = 0; r < MR; r++) {
          __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_load_si256((const __m256i *)(rows->ev[r] + off))),
                                       _mm256_maddubs_epi16(hi, _mm256_load_si256((const __m256i *)(rows->od[r] + off))));
          a[r][c] = _mm256_madd_epi16(s, ones);
        }
      }
      for (size_t r = 0; r < MR; r++) u[r][q] = reduce4(a[r][0], a[r][1], a[r][2], a[r][3]);
    }
    for (size_t r = 0; r < MR; r++) {
      __m256i b0 = _mm256_permute2x128_si256(u[r][0], u[r][1], 0x20), b1 = _mm256_permute2x128_si256(u[r][0], u[r][1], 0x31);
      u[r][0] = b0;
      u[r][1] = b1;
    }
    for (size_t b = 0; b < nb; b++) {
      for (size_t r = 0; r < MR; r++) gacc[r] = _mm256_add_epi32(gacc[r], u[r][b]);
      if (++inb < bpg) continue;
      __m256i ws = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(wt + g * EMBER_Q4_NR)));
      __m256 sc = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(st + g * EMBER_Q4_NR)));
      for (size_t r = 0; r < MR; r++) {
        __m256i corr = _mm256_add_epi32(_mm256_set1_epi32(rows->q8sum[r][g]), _mm256_mullo_epi32(zpv[r], ws));
        __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(gacc[r], corr)), sc);
        facc[r] = _mm256_add_ps(facc[r], p);
        gacc[r] = _mm256_setzero_si256();
      }
      g++;
      inb = 0;
    }
  }
  for (size_t r = 0; r < MR; r++) _mm256_storeu_ps(out + r * EMBER_Q4_NR + h, facc[r]);
}

TARGET void ember_q4_gemv_avx2(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                               float *acc) {
  for (size_t h = 0; h < nc; h += 8) {
    if (mr == 1)
      gemv8(w, n0, h, nc, rows, 1, acc);
    else if (mr == 2)
      gemv8(w, n0, h, nc, rows, 2, acc);
    else
      gemv8(w, n0, h, nc, rows, 3, acc);
  }
}
