/* int4 group-wise GEMV / GEMM microkernels for the q4linear fast kernel (q4_linear.c).
 *
 * The int4 weight is read in place from the mapped file: rows of kb = K/2 bytes, value k of a row is the
 * low nibble of byte k/2 when k is even, the high nibble when odd (two's complement). A tile is 16
 * consecutive output columns. prepare() makes a small side table per tile, group-major so one vector
 * load gives 16 columns: the float16 scales (copied bit for bit) and the int16 weight sums of each group
 * (for the activation zero point): 4 bytes per group and column, so a decode streams 16 + 4 bytes per 32
 * weights at group 32 (5 bits/weight) and never touches the file's own scale tensor after load.
 *
 * Activation rows are prepared once per call (rule 5 of docs/quantization.md) into ev (the int8 values
 * at even k, K/2 bytes) and od (odd k), each zero padded to a multiple of 64 bytes, so the low and high
 * nibbles of the same weight bytes meet their activations with no shuffles; q8sum[g] = 8 * (sum of the
 * group's int8 values) is there for kernels that read a nibble as the unsigned u = w + 8.
 *
 * Contract of every kernel: for r < mr, c < nc (nc <= 16, columns n0 + c), acc[r * 16 + c] = the float
 * accumulation of rule 7 before the row scale:
 *   acc = 0; for g in order: acc = acc + float(isum_g) * float(scale[n, g]) (two roundings),
 *   isum_g = sum over the group of (q - zp) * w, exact in int32,
 * so every kernel equals the reference bit for bit (integer sums are exact in any order, the float steps
 * are the same operations in the same order per column). */
#ifndef EMBER_Q4_GEMM_H
#define EMBER_Q4_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define EMBER_Q4_NR 16 /* columns per tile */
#define EMBER_Q4_MR 3  /* rows per kernel call (decode: M = 1..3) */

typedef struct ember_q4_rows {
  const int8_t *ev[EMBER_Q4_MR], *od[EMBER_Q4_MR]; /* [kbp] each, zero padded */
  const int32_t *q8sum[EMBER_Q4_MR];                /* [groups] */
  int32_t zp[EMBER_Q4_MR];
} ember_q4_rows;

typedef struct ember_q4_weights {
  const uint8_t *w;      /* [n, kb] packed int4, in place */
  const uint16_t *scale; /* side table [tiles][groups][16] float16 */
  const int16_t *wsum;   /* side table [tiles][groups][16] */
  size_t n, kb, groups, gs;
} ember_q4_weights;

typedef void (*ember_q4_fn)(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                            float *acc);

void ember_q4_gemv_scalar(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                          float *acc);
#if defined(__x86_64__) || defined(__i386__)
void ember_q4_gemv_avx2(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                        float *acc);
void ember_q4_gemv_avx512vnni(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                              float *acc);
#endif
#if defined(__aarch64__)
void ember_q4_gemv_neon(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                        float *acc);
void ember_q4_gemv_neondot(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                           float *acc);
#endif

/* Prefill GEMM (x86 AVX-512 VNNI; see q4_gemm_avx512vnni.c): unpack a 16-column panel once per tile,
 * then 8 rows x 32 columns per call. eq correction quads per group: ember_q4_gemm_eq(gs). */
typedef void (*ember_q4_unpack_fn)(const ember_q4_weights *w, size_t n0, size_t nc, size_t eq, int8_t *panel);
typedef void (*ember_q4_gemm_fn)(size_t mr, size_t groups, size_t slot, const uint8_t *a, const int8_t *p0,
                                 const int8_t *p1, const uint16_t *s0, const uint16_t *s1, float *acc);
#define EMBER_Q4_GEMM_MR 8
#define EMBER_Q4_GEMM_NR 32
static inline size_t ember_q4_gemm_eq(size_t gs) { return (8 * gs + 507) / 508; }
#if defined(__x86_64__) || defined(__i386__)
void ember_q4_unpack_panel_avx512vnni(const ember_q4_weights *w, size_t n0, size_t nc, size_t eq, int8_t *panel);
void ember_q4_gemm_8x32_avx512vnni(size_t mr, size_t groups, size_t slot, const uint8_t *a, const int8_t *p0,
                                   const int8_t *p1, const uint16_t *s0, const uint16_t *s1, float *acc);
#endif

typedef struct ember_q4_config {
  ember_q4_fn fn;
  const char *name;
  ember_q4_unpack_fn unpack; /* NULL: the GEMV kernel serves every M */
  ember_q4_gemm_fn gemm;
} ember_q4_config;

/* The best kernel this CPU runs (EMBER_FORCE_SCALAR=1: scalar; EMBER_MAX_ISA=avx2: no AVX-512). */
const ember_q4_config *ember_q4_select(void);
/* Every kernel this CPU can run (for tests): fills up to max entries, returns the count. */
int ember_q4_available(const ember_q4_config **out, int max);

/* Rule 5 (dynamic per-row int8 quantization), as ember_q_quantize_row; the SIMD version equals it bit for
 * bit. ember_q_quantize_select picks by CPU (scalar under EMBER_FORCE_SCALAR=1 or EMBER_MAX_ISA=avx2). */
typedef void (*ember_q_quantize_fn)(const float *x, int64_t k, int8_t *q, float *scale, int32_t *zp);
void ember_q_quantize_row_scalar(const float *x, int64_t k, int8_t *q, float *scale, int32_t *zp);
#if defined(__x86_64__) || defined(__i386__)
void ember_q_quantize_row_avx512(const float *x, int64_t k, int8_t *q, float *scale, int32_t *zp);
#endif
ember_q_quantize_fn ember_q_quantize_select(void);

/* Split k (even) int8 values into the even and odd positions. */
void ember_q4_split(const int8_t *src, size_t k, int8_t *ev, int8_t *od);

#endif
