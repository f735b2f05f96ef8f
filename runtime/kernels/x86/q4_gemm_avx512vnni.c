/* int4 GEMM for prefill with AVX-512 VNNI: a 16-column weight panel is unpacked once per tile to int8
 * in VNNI order and reused by every row block (8 rows x 32 columns per microkernel call).
 *
 * Panel (one per 16 columns): per group, gs/4 data quads then eq correction quads; a quad is 16 columns
 * x 4 bytes (k = 4j .. 4j + 3 of column c, sign-extended nibbles, w in [-8, 7]). The A rows hold the
 * same quads: (q ^ 0x80) = q + 128 as u8 for the data, then eq quads of (128 + zp) bytes. The correction
 * bytes of column c are -wsum(g, c) split into 4 * eq int8 values (each clamped, |-wsum| <= 8 * gs <=
 * 508 * eq), so one vpdpbusd chain gives, per group, exactly
 *   sum (q + 128) * w + (128 + zp) * (-sum w) = sum (q - zp) * w   (rule 7's isum, exact in int32),
 * and the float steps (convert, multiply by the group scale, add; no FMA) run once per group in order. */
#include <immintrin.h>
#include <string.h>

#include "../fast/q4_gemm.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c")))

/* 8 x 8 transpose of 32-bit elements in 8 ymm registers (in place). */
TARGET static inline void tr8(__m256i *r) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
  }
}

/* 16 words (one quad, columns 0..15) -> 16 dwords of 4 sign-extended nibbles; bytes pre-XORed with 0x88. */
TARGET static inline __m512i expand(__m256i v) {
  const __m512i dup = _mm512_set4_epi32(0x0D0D0C0C, 0x09090808, 0x05050404, 0x01010000), /* in-lane */
                m0f = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
  __m512i e = _mm512_shuffle_epi8(_mm512_cvtepu16_epi32(v), dup); /* bytes B0 B0 B1 B1 */
  __m512i t = _mm512_mask_blend_epi8((__mmask64)0xAAAAAAAAAAAAAAAAull, e, _mm512_srli_epi16(e, 4));
  return _mm512_sub_epi8(_mm512_and_si512(t, m0f), eight);
}

TARGET void ember_q4_unpack_panel_avx512vnni(const ember_q4_weights *w, size_t n0, size_t nc, size_t eq,
                                            int8_t *panel) {
  const size_t kb = w->kb, qpg = w->gs / 4, slot = qpg + eq, G = w->groups;
  const uint8_t *wr[16];
  for (size_t c = 0; c < 16; c++) wr[c] = w->w + (n0 + (c < nc ? c : nc - 1)) * kb;
  const __m256i m88 = _mm256_set1_epi8((char)0x88);
  for (size_t off = 0; off < kb; off += 32) { /* 32 bytes per column = quads j0 .. j0 + 15 */
    int full = kb - off >= 32;
    __m256i lo[8], hi[8];
    for (size_t c = 0; c < 16; c += 2) {
      __m256i a = full ? _mm256_loadu_si256((const __m256i *)(wr[c] + off))
                       : _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(wr[c] + off)));
      __m256i b = full ? _mm256_loadu_si256((const __m256i *)(wr[c + 1] + off))
                       : _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(wr[c + 1] + off)));
      a = _mm256_xor_si256(a, m88);
      b = _mm256_xor_si256(b, m88);
      lo[c / 2] = _mm256_unpacklo_epi16(a, b); /* dword (L, i) = words j = 8L + i of columns c, c + 1 */
      hi[c / 2] = _mm256_unpackhi_epi16(a, b); /* j = 8L + 4 + i */
    }
    tr8(lo);
    tr8(hi);
    size_t j0 = off / 2;
    for (size_t e = 0; e < 8; e++) {
      size_t jl = j0 + 8 * (e / 4) + e % 4, jh = jl + 4;
      if (full || e < 4) {
        _mm512_storeu_si512((void *)(panel + ((jl / qpg) * slot + jl % qpg) * 64), expand(lo[e]));
        _mm512_storeu_si512((void *)(panel + ((jh / qpg) * slot + jh % qpg) * 64), expand(hi[e]));
      }
    }
  }
  const int16_t *wt = w->wsum + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR;
  for (size_t g = 0; g < G; g++) {
    int8_t *cq = panel + (g * slot + qpg) * 64;
    for (size_t c = 0; c < 16; c++) {
      int32_t v = -(int32_t)wt[g * EMBER_Q4_NR + c];
      for (size_t e = 0; e < eq; e++)
        for (size_t b = 0; b < 4; b++) {
          int32_t p = v > 127 ? 127 : v < -128 ? -128 : v;
          cq[e * 64 + c * 4 + b] = (int8_t)p;
          v -= p;
        }
    }
  }
}

/* acc[r * 32 + c] for r < mr <= 8, c < 32: rule 7 without the row scale; a: mr rows of G * slot quads;
 * p0, p1: the panels of columns 0..15 and 16..31; s0, s1: their side-table scales [G][16]. */
TARGET void ember_q4_gemm_8x32_avx512vnni(size_t mr, size_t groups, size_t slot, const uint8_t *a, const int8_t *p0,
                                         const int8_t *p1, const uint16_t *s0, const uint16_t *s1, float *acc) {
  const size_t lda = groups * slot * 4;
  const uint8_t *ar[8];
  for (size_t i = 0; i < 8; i++) ar[i] = a + (i < mr ? i : 0) * lda;
  __m512 f[8][2];
  for (int i = 0; i < 8; i++) f[i][0] = f[i][1] = _mm512_setzero_ps();
  for (size_t g = 0; g < groups; g++) {
    __m512i c[8][2];
    for (int i = 0; i < 8; i++) c[i][0] = c[i][1] = _mm512_setzero_si512();
    for (size_t q = g * slot; q < (g + 1) * slot; q++) {
      __m512i w0 = _mm512_loadu_si512((const void *)(p0 + q * 64)), w1 = _mm512_loadu_si512((const void *)(p1 + q * 64));
      for (int i = 0; i < 8; i++) {
        int32_t v;
        memcpy(&v, ar[i] + q * 4, 4);
        __m512i x = _mm512_set1_epi32(v);
        c[i][0] = _mm512_dpbusd_epi32(c[i][0], x, w0);
        c[i][1] = _mm512_dpbusd_epi32(c[i][1], x, w1);
      }
    }
    __m512 sc0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s0 + g * EMBER_Q4_NR)));
    __m512 sc1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s1 + g * EMBER_Q4_NR)));
    for (int i = 0; i < 8; i++) {
      f[i][0] = _mm512_add_ps(f[i][0], _mm512_mul_ps(_mm512_cvtepi32_ps(c[i][0]), sc0));
      f[i][1] = _mm512_add_ps(f[i][1], _mm512_mul_ps(_mm512_cvtepi32_ps(c[i][1]), sc1));
    }
  }
  for (size_t i = 0; i < mr; i++) {
    _mm512_storeu_ps(acc + i * 32, f[i][0]);
    _mm512_storeu_ps(acc + i * 32 + 16, f[i][1]);
  }
}
