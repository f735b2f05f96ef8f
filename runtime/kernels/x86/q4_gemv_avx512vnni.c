/* int4 GEMV with AVX-512 VNNI: 16 output columns x up to 3 rows per pass, the int4 weight rows streamed
 * once in place, 64 bytes (128 weights, 4 blocks of 32) per column per step.
 *
 * A weight byte b holds w[2t] (low nibble) and w[2t+1] (high); x = b ^ 0x88 makes each nibble the
 * unsigned u = w + 8 in 0..15, so vpdpbusd (u8 x s8 -> int32, 4 products per lane, exact) multiplies
 * the nibbles with the int8 activations (ev: even k, od: odd k) directly:
 *   sum (q - zp) * w = sum q * u - 8 * sum q - zp * sum w,
 * with 8 * sum q per group from the row preparation and sum w per group from the side table.
 * Lane j of a column's accumulator holds bytes 4j..4j+3, so the 4 lanes of each 128-bit lane are one
 * block of 32 weights; four columns' accumulators reduce to one vector (128-bit lane = block, dword =
 * column) by unpack/add, and four of those transpose (vshufi32x4) to one vector per block with the 16
 * columns in its lanes. The float accumulation of rule 7 then runs per group across the 16 columns at
 * once, with separate multiply and add (no FMA), in group order: the reference result bit for bit. */
#include <immintrin.h>

#include "../fast/q4_gemm.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c")))

TARGET static inline __m512i reduce4(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
}

TARGET static inline __attribute__((always_inline)) void gemv(const ember_q4_weights *w, size_t n0, size_t nc,
                                                              const ember_q4_rows *rows, const size_t MR, float *out) {
  const size_t kb = w->kb, G = w->groups, bpg = w->gs / 32;
  const uint8_t *wr[16];
  for (size_t c = 0; c < 16; c++) wr[c] = w->w + (n0 + (c < nc ? c : nc - 1)) * kb;
  const uint16_t *st = w->scale + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR;
  const int16_t *wt = w->wsum + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR;
  const __m512i m0f = _mm512_set1_epi8(0x0F), m88 = _mm512_set1_epi8((char)0x88), zero = _mm512_setzero_si512();
  __m512 facc[EMBER_Q4_MR];
  __m512i gacc[EMBER_Q4_MR], zpv[EMBER_Q4_MR];
  for (size_t r = 0; r < MR; r++) {
    facc[r] = _mm512_setzero_ps();
    gacc[r] = zero;
    zpv[r] = _mm512_set1_epi32(rows->zp[r]);
  }
  /* software prefetch: 256 bytes ahead in each row (the best of 64..4096 on this machine), or the same bytes of the next tile for short rows, so
   * the next DRAM reads overlap the arithmetic (the hardware prefetchers see 16 interleaved streams) */
  const size_t pf = kb <= 512 ? 16 * kb : 256;
  size_t g = 0, inb = 0;
  for (size_t off = 0; off < kb; off += 64) {
    size_t rem = kb - off, nb = rem >= 64 ? 4 : rem / 16;
    __mmask64 km = rem >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << rem) - 1);
    __m512i u[EMBER_Q4_MR][4];
    for (size_t q = 0; q < 4; q++) {
      __m512i a[EMBER_Q4_MR][4];
      for (size_t c = 0; c < 4; c++) {
        _mm_prefetch((const char *)(wr[4 * q + c] + off + pf), _MM_HINT_T0);
        __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(km, wr[4 * q + c] + off), m88);
        __m512i lo = _mm512_and_si512(x, m0f), hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m0f);
        for (size_t r = 0; r < MR; r++) {
          __m512i t = _mm512_dpbusd_epi32(zero, lo, _mm512_load_si512((const void *)(rows->ev[r] + off)));
          a[r][c] = _mm512_dpbusd_epi32(t, hi, _mm512_load_si512((const void *)(rows->od[r] + off)));
        }
      }
      for (size_t r = 0; r < MR; r++) u[r][q] = reduce4(a[r][0], a[r][1], a[r][2], a[r][3]);
    }
    for (size_t r = 0; r < MR; r++) { /* 4 x 4 transpose of 128-bit lanes: b[L] = block L, 16 columns */
      __m512i t0 = _mm512_shuffle_i32x4(u[r][0], u[r][1], 0x44), t1 = _mm512_shuffle_i32x4(u[r][0], u[r][1], 0xEE);
      __m512i t2 = _mm512_shuffle_i32x4(u[r][2], u[r][3], 0x44), t3 = _mm512_shuffle_i32x4(u[r][2], u[r][3], 0xEE);
      u[r][0] = _mm512_shuffle_i32x4(t0, t2, 0x88);
      u[r][1] = _mm512_shuffle_i32x4(t0, t2, 0xDD);
      u[r][2] = _mm512_shuffle_i32x4(t1, t3, 0x88);
      u[r][3] = _mm512_shuffle_i32x4(t1, t3, 0xDD);
    }
    for (size_t b = 0; b < nb; b++) {
      for (size_t r = 0; r < MR; r++) gacc[r] = _mm512_add_epi32(gacc[r], u[r][b]);
      if (++inb < bpg) continue;
      __m512i ws = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(wt + g * EMBER_Q4_NR)));
      __m512 sc = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(st + g * EMBER_Q4_NR)));
      for (size_t r = 0; r < MR; r++) {
        __m512i corr = _mm512_add_epi32(_mm512_set1_epi32(rows->q8sum[r][g]), _mm512_mullo_epi32(zpv[r], ws));
        __m512 p = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(gacc[r], corr)), sc);
        facc[r] = _mm512_add_ps(facc[r], p);
        gacc[r] = zero;
      }
      g++;
      inb = 0;
    }
  }
  for (size_t r = 0; r < MR; r++) _mm512_storeu_ps(out + r * EMBER_Q4_NR, facc[r]);
}

TARGET void ember_q4_gemv_avx512vnni(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows,
                                     size_t mr, float *acc) {
  if (mr == 1)
    gemv(w, n0, nc, rows, 1, acc);
  else if (mr == 2)
    gemv(w, n0, nc, rows, 2, acc);
  else
    gemv(w, n0, nc, rows, 3, acc);
}
