/* 12x32 fp32 GEMM microkernel for x86-64 AVX-512F on packed A, and its A packer.
 *
 * A arrives as a micro-panel packed by ember_f32_pack_a12_avx512f: k steps of 12 contiguous floats
 * (row r of step p at ap[12 p + r]), so the 12 broadcasts of a k step come from one pointer at
 * constant offsets (one cache line every 4/3 k steps, no strided rows, no GPR pressure). Per k step:
 * two zmm loads of B (two adjacent 16-column panels, `panel_stride` floats apart), 12 broadcasts,
 * 24 FMAs into 24 zmm accumulators. The row count is a compile-time constant of each specialization
 * (mr = 1..12 rows, 16 or 32 columns), so a ragged last micro-panel costs only its own rows.
 * Compiled with -mavx512f; only called when cpuid and XCR0 report AVX-512F. */
#include <immintrin.h>

#include "../fast/f32_gemm.h"

#define MRP EMBER_GEMM_MR_PACK /* 12 floats per packed k step */

#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL_ALL _Pragma("GCC unroll 12")
#elif defined(__clang__)
#define UNROLL_ALL _Pragma("unroll")
#else
#define UNROLL_ALL
#endif

/* One vbroadcastss into a register per A value, used by both FMAs: without this barrier GCC folds
 * the broadcast into each FMA ({1to16} memory operand), doubling the loads per k step, which measured
 * ~5% slower once B and C come from L2 (the load ports are the second-busiest resource). */
#if defined(__GNUC__) || defined(__clang__)
#define KEEP_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define KEEP_IN_REGISTER(v) ((void)0)
#endif

static inline __attribute__((always_inline)) void tile(const int MR, const int WIDE, size_t nr, size_t k,
                                                        const float *ap, const float *b, const float *b2, float *c,
                                                        size_t ldc, int accumulate) {
  __m512 lo[MRP], hi[MRP];
  UNROLL_ALL for (int r = 0; r < MR; r++) {
    lo[r] = _mm512_setzero_ps();
    hi[r] = _mm512_setzero_ps();
  }
  /* C is needed only at the end: ask for it now so the stores hit L1 */
  UNROLL_ALL for (int r = 0; r < MR; r++) {
    _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
    if (WIDE) _mm_prefetch((const char *)(c + (size_t)r * ldc + 16), _MM_HINT_T0);
  }
  size_t p = 0;
  for (; p + 4 <= k; p += 4) {
#define STEP(q)                                                                \
  {                                                                            \
    const __m512 b0 = _mm512_load_ps(b + 16 * (q));                            \
    const __m512 b1 = WIDE ? _mm512_load_ps(b2 + 16 * (q)) : b0;               \
    UNROLL_ALL for (int r = 0; r < MR; r++) {                                  \
      __m512 av = _mm512_set1_ps(ap[MRP * (q) + r]);                           \
      KEEP_IN_REGISTER(av);                                                    \
      lo[r] = _mm512_fmadd_ps(av, b0, lo[r]);                                  \
      if (WIDE) hi[r] = _mm512_fmadd_ps(av, b1, hi[r]);                        \
    }                                                                          \
  }
    STEP(0) STEP(1) STEP(2) STEP(3)
    ap += 4 * MRP;
    b += 64;
    if (WIDE) b2 += 64;
  }
  for (; p < k; p++) {
    STEP(0)
    ap += MRP;
    b += 16;
    if (WIDE) b2 += 16;
  }
#undef STEP
  if (WIDE) {
    const __mmask16 mask = (__mmask16)((1u << (nr - 16)) - 1u);
    UNROLL_ALL for (int r = 0; r < MR; r++) {
      float *cr = c + (size_t)r * ldc;
      __m512 v0 = lo[r], v1 = hi[r];
      if (accumulate) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask, cr + 16));
      }
      _mm512_storeu_ps(cr, v0);
      _mm512_mask_storeu_ps(cr + 16, mask, v1);
    }
  } else {
    const __mmask16 mask = (__mmask16)((1u << nr) - 1u);
    UNROLL_ALL for (int r = 0; r < MR; r++) {
      float *cr = c + (size_t)r * ldc;
      __m512 v = lo[r];
      if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, cr));
      _mm512_mask_storeu_ps(cr, mask, v);
    }
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
/* The full 12x32 tile (nearly all the work) in inline assembly, so that the schedule is the one
 * measured: per k step two B loads, twelve register broadcasts (temporaries zmm2..7 in rotation) and
 * 24 FMAs into zmm8..31; k unrolled by 4; C prefetched at entry, added to (accumulate) and stored at
 * the end. Compilers left alone either fold each broadcast into both FMAs or reorder the loads; the
 * assembly measured 3-10% faster inside the blocked GEMM (B and C arriving from L2).
 *
 * The streaming twin adds, per k step, one prefetcht0 per B panel PF_AHEAD bytes (64 k steps) ahead.
 * The driver calls it for the first micro-panel of each B slice, the one pass that brings the slice
 * from L3 or memory; the L2 streamer alone restarts at every 4 KiB page of each of the two panels and
 * left that pass waiting. In the blocked 1024^3 GEMM with the caches cold (as after another
 * program's GEMM) it measured +3-5% over the plain kernel for that pass; prefetching in every pass
 * (256-4096 bytes ahead, B or A) measured 1-2% slower, since later passes find the slice in L2.
 *
 * Both also issue one prefetcht1 per 4 k steps at `pf`, 64 bytes further each time: the driver gives
 * each micro-panel's call its share of the next B slice, so that slice is in L2 before its first
 * pass. With the data in L3 it measured even; with the GEMM's operands in memory (a 256 MiB scrub
 * between runs, as when another model ran in between on a device with a small cache) +1.1%. */
#define PF_AHEAD "4096"
#define ROW(q, r, t, lo, hi)                                      \
  "vbroadcastss 4*" #r "+48*" #q "(%[a]), %%zmm" #t "\n\t"        \
  "vfmadd231ps %%zmm0, %%zmm" #t ", %%zmm" #lo "\n\t"             \
  "vfmadd231ps %%zmm1, %%zmm" #t ", %%zmm" #hi "\n\t"
#define KSTEP_PF(q, PF)                                                                                  \
  "vmovaps 64*" #q "(%[b]), %%zmm0\n\t"                                                                  \
  "vmovaps 64*" #q "(%[b],%[ps]), %%zmm1\n\t"                                                            \
  ROW(q, 0, 2, 8, 9) ROW(q, 1, 3, 10, 11) ROW(q, 2, 4, 12, 13) ROW(q, 3, 5, 14, 15) ROW(q, 4, 6, 16, 17) \
  ROW(q, 5, 7, 18, 19) PF(q) ROW(q, 6, 2, 20, 21) ROW(q, 7, 3, 22, 23) ROW(q, 8, 4, 24, 25)             \
  ROW(q, 9, 5, 26, 27) ROW(q, 10, 6, 28, 29) ROW(q, 11, 7, 30, 31)
#define NO_PF(q) ""
#define B_PF(q) "prefetcht0 " PF_AHEAD "+64*" #q "(%[b])\n\tprefetcht0 " PF_AHEAD "+64*" #q "(%[b],%[ps])\n\t"
#define KSTEP(q) KSTEP_PF(q, NO_PF)
#define KSTEP_STREAM(q) KSTEP_PF(q, B_PF)
#define CPREF "prefetcht0 (%[t])\n\t prefetcht0 64(%[t])\n\t add %[ldc], %[t]\n\t"
#define CADD(lo, hi)                                         \
  "vaddps (%[t]), %%zmm" #lo ", %%zmm" #lo "\n\t"            \
  "vaddps 64(%[t]), %%zmm" #hi ", %%zmm" #hi "\n\t"          \
  "vmovups %%zmm" #lo ", (%[t])\n\t"                         \
  "vmovups %%zmm" #hi ", 64(%[t])\n\t"                       \
  "add %[ldc], %[t]\n\t"
#define CSET(lo, hi)                                         \
  "vmovups %%zmm" #lo ", (%[t])\n\t"                         \
  "vmovups %%zmm" #hi ", 64(%[t])\n\t"                       \
  "add %[ldc], %[t]\n\t"
#define ZERO(z) "vpxord %%zmm" #z ", %%zmm" #z ", %%zmm" #z "\n\t"

/* one function per k-step flavour (the asm text differs only in KS) */
#define TILE_12X32_ASM(NAME, KS)                                                                                   \
  static void NAME(size_t k, const float *ap, const float *b, size_t panel_stride, float *c, size_t ldc,        \
                   int accumulate, const float *pf) {                                                           \
    size_t ku = k / 4, kr = k % 4;                                                                              \
    const size_t ps = panel_stride * sizeof(float), ldcb = ldc * sizeof(float);                                 \
    float *t;                                                                                                   \
    __asm__ volatile(                                                                                           \
        "mov %[c], %[t]\n\t" CPREF CPREF CPREF CPREF CPREF CPREF CPREF CPREF CPREF CPREF CPREF CPREF           \
        ZERO(8) ZERO(9) ZERO(10) ZERO(11) ZERO(12) ZERO(13) ZERO(14) ZERO(15) ZERO(16) ZERO(17) ZERO(18)        \
        ZERO(19) ZERO(20) ZERO(21) ZERO(22) ZERO(23) ZERO(24) ZERO(25) ZERO(26) ZERO(27) ZERO(28) ZERO(29)      \
        ZERO(30) ZERO(31)                                                                                       \
        "test %[ku], %[ku]\n\t"                                                                                 \
        "jz 2f\n\t"                                                                                             \
        "1:\n\t" KS(0) "prefetcht1 (%[pf])\n\t" KS(1) KS(2) KS(3)                                               \
        "add $192, %[a]\n\t"                                                                                    \
        "add $256, %[b]\n\t"                                                                                    \
        "add $64, %[pf]\n\t"                                                                                    \
        "dec %[ku]\n\t"                                                                                         \
        "jnz 1b\n\t"                                                                                            \
        "2:\n\t"                                                                                                \
        "test %[kr], %[kr]\n\t"                                                                                 \
        "jz 4f\n\t"                                                                                             \
        "3:\n\t" KS(0)                                                                                          \
        "add $48, %[a]\n\t"                                                                                     \
        "add $64, %[b]\n\t"                                                                                     \
        "dec %[kr]\n\t"                                                                                         \
        "jnz 3b\n\t"                                                                                            \
        "4:\n\t"                                                                                                \
        "mov %[c], %[t]\n\t"                                                                                    \
        "test %[acc], %[acc]\n\t"                                                                               \
        "jz 5f\n\t"                                                                                             \
        CADD(8, 9) CADD(10, 11) CADD(12, 13) CADD(14, 15) CADD(16, 17) CADD(18, 19)                             \
        CADD(20, 21) CADD(22, 23) CADD(24, 25) CADD(26, 27) CADD(28, 29) CADD(30, 31)                           \
        "jmp 6f\n\t"                                                                                            \
        "5:\n\t"                                                                                                \
        CSET(8, 9) CSET(10, 11) CSET(12, 13) CSET(14, 15) CSET(16, 17) CSET(18, 19)                             \
        CSET(20, 21) CSET(22, 23) CSET(24, 25) CSET(26, 27) CSET(28, 29) CSET(30, 31)                           \
        "6:\n\t"                                                                                                \
        "vzeroupper\n\t" /* the callers are SSE code: leave no dirty upper state behind */                      \
        : [a] "+r"(ap), [b] "+r"(b), [ku] "+r"(ku), [kr] "+r"(kr), [t] "=&r"(t), [pf] "+r"(pf)                \
        : [ps] "r"(ps), [ldc] "r"(ldcb), [c] "r"(c), [acc] "r"(accumulate)                                      \
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",       \
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",    \
          "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");   \
  }
TILE_12X32_ASM(tile_12x32_asm, KSTEP)
TILE_12X32_ASM(tile_12x32_asm_stream, KSTEP_STREAM)
#undef TILE_12X32_ASM
#undef ROW
#undef KSTEP
#undef KSTEP_PF
#undef KSTEP_STREAM
#undef NO_PF
#undef B_PF
#undef PF_AHEAD
#undef CPREF
#undef CADD
#undef CSET
#undef ZERO
#define HAVE_TILE_ASM 1
#endif

#define CASE(m)                                                             \
  case m:                                                                   \
    if (wide)                                                               \
      tile(m, 1, nr, k, ap, b, b + panel_stride, c, ldc, accumulate);       \
    else                                                                    \
      tile(m, 0, nr, k, ap, b, b, c, ldc, accumulate);                      \
    break;

static void packed_tile(size_t mr, size_t nr, size_t k, const float *ap, const float *b, size_t panel_stride,
                        float *c, size_t ldc, int accumulate, const float *pf, int stream) {
  const int wide = nr > 16; /* nr <= 16: only the first panel is read (the second may not exist) */
#if defined(HAVE_TILE_ASM)
  if (mr == 12 && nr == 32) {
    if (!pf) pf = b; /* nothing to fetch ahead: the prefetches hit lines this call reads anyway */
    if (stream)
      tile_12x32_asm_stream(k, ap, b, panel_stride, c, ldc, accumulate, pf);
    else
      tile_12x32_asm(k, ap, b, panel_stride, c, ldc, accumulate, pf);
    return;
  }
#endif
  (void)pf; /* ragged tiles (a few per GEMM) do not prefetch the next slice */
  (void)stream;
  switch (mr) {
    CASE(12) CASE(11) CASE(10) CASE(9) CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) CASE(1)
    default: break;
  }
}

void ember_f32_gemm_12x32p_avx512f(size_t mr, size_t nr, size_t k, const float *ap, const float *b,
                                   size_t panel_stride, float *c, size_t ldc, int accumulate, const float *pf) {
  packed_tile(mr, nr, k, ap, b, panel_stride, c, ldc, accumulate, pf, 0);
}

/* the same product; the full tile prefetches B ahead (the first pass over a B slice, see above) */
void ember_f32_gemm_12x32ps_avx512f(size_t mr, size_t nr, size_t k, const float *ap, const float *b,
                                    size_t panel_stride, float *c, size_t ldc, int accumulate, const float *pf) {
  packed_tile(mr, nr, k, ap, b, panel_stride, c, ldc, accumulate, pf, 1);
}
#undef CASE

/* ap[12 p + r] = a[r * lda + p] for r < mr, 0 for mr <= r < 12; p < k. Full micro-panels go 16 k
 * steps at a time, in three groups of 4 rows: 4 row loads, a 4x4 transpose inside each 128-bit lane
 * (8 shuffles), after which lane L of vector j holds the group's 4 rows at k step 4L + j: one 16-byte
 * store each. 24 shuffles per 16 x 12 block instead of the 64 a full 16x16 transpose needed; the pack
 * pass of the 1024^3 GEMM measured 0.33 -> 0.16 ms (A in L2). */
void ember_f32_pack_a12_avx512f(size_t mr, size_t k, const float *a, size_t lda, float *ap) {
  size_t p = 0;
  if (mr == MRP) {
    for (; p + 16 <= k; p += 16) {
      for (size_t g = 0; g < 3; g++) {
        const float *row = a + 4 * g * lda + p;
        const __m512 r0 = _mm512_loadu_ps(row), r1 = _mm512_loadu_ps(row + lda);
        const __m512 r2 = _mm512_loadu_ps(row + 2 * lda), r3 = _mm512_loadu_ps(row + 3 * lda);
        const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(r0, r1)); /* r0 k0, r1 k0, r0 k1, r1 k1 */
        const __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(r0, r1)); /* the same for k2, k3 */
        const __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(r2, r3));
        const __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(r2, r3));
        const __m512 v[4] = {_mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2)), _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2)),
                             _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)), _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3))};
        float *d = ap + MRP * p + 4 * g;
        for (int j = 0; j < 4; j++) {
          _mm_storeu_ps(d + MRP * (size_t)j, _mm512_castps512_ps128(v[j]));
          _mm_storeu_ps(d + MRP * (size_t)(4 + j), _mm512_extractf32x4_ps(v[j], 1));
          _mm_storeu_ps(d + MRP * (size_t)(8 + j), _mm512_extractf32x4_ps(v[j], 2));
          _mm_storeu_ps(d + MRP * (size_t)(12 + j), _mm512_extractf32x4_ps(v[j], 3));
        }
      }
    }
  }
  for (; p < k; p++) {
    float *d = ap + MRP * p;
    size_t r = 0;
    for (; r < mr; r++) d[r] = a[r * lda + p];
    for (; r < MRP; r++) d[r] = 0.f;
  }
}
