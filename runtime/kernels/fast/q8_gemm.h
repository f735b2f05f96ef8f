/* int8 dot-product microkernels for the quantized fast kernels (quant_fast.c).
 *
 * Contract: C[i * ldc + j] = sum_{k < kp} A[i * kp + k] * B[j * kp + k] + a_offset * sum_k B[j * kp + k],
 * for i < mr <= 4, j < nr <= 4, with A and B int8 rows of kp bytes (kp a multiple of EMBER_Q8_KP,
 * 64-byte aligned rows). a_offset is 0, or 128 for the VNNI kernels, which read A as unsigned
 * (a ^ 0x80 = a + 128); callers subtract a_offset * rowsum(B). Integer sums: every kernel gives the
 * same int32 for the same inputs (docs/quantization.md, rule 3). */
#ifndef EMBER_Q8_GEMM_H
#define EMBER_Q8_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define EMBER_Q8_KP 64
#define EMBER_Q8_MR 4
#define EMBER_Q8_NR 4

typedef void (*ember_q8_dot_fn)(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                                size_t ldc);

/* Panel GEMM (kernels that have one; kp is then a multiple of 4 only, rows need no alignment):
 * C[i * ldc + j] for i < mr <= 8, j < 32 = sum over k < kp of A'[i * kp + k] * B(k, j), where A' is the
 * A row as stored: XORed with 0x80 by the caller (read as u8, = a + 128) when a_offset is 128 (VNNI),
 * plain signed int8 when a_offset is 0; so C = raw sum + a_offset * colsum(B), as above. B is two
 * 16-column panels (panel stride kp * 16 bytes) in VNNI order: per quad of k, 16 columns x 4 k bytes. */
typedef void (*ember_q8_panel_fn)(size_t mr, size_t kp, const uint8_t *a, const int8_t *b, int32_t *c, size_t ldc);
#define EMBER_Q8_PANEL_MR 8
#define EMBER_Q8_PANEL_NR 32

/* The requantizing epilogue of qlinear / qconv2d_nhwc for columns n.. of a panel call: y = requant(c + qb)
 * per column with qb = clamped bias - (a_offset + x_zp) * colsum(W), in the reordered form that needs
 * finite scales: clamp(c * scale, lo - zp, hi - zp), round to nearest even, + zp (equal to
 * ember_q_requant for finite scales; kernels/fast/q8_dwpair.h says why). */
typedef struct ember_q8_requant {
  const int32_t *qb;
  const float *scale;
  int32_t zp, lo, hi;
} ember_q8_requant;
/* Panel GEMM + that epilogue in registers: int8 rows of y (ldy apart), columns j < nr <= 32. */
typedef void (*ember_q8_panel_rq_fn)(size_t mr, size_t nr, size_t kp, const uint8_t *a, const int8_t *b, int8_t *y,
                                     size_t ldy, const ember_q8_requant *r);

typedef struct ember_q8_config {
  ember_q8_dot_fn fn;
  int32_t a_offset;
  const char *name;
  ember_q8_panel_fn panel;        /* NULL: rows-of-B dot kernel only */
  ember_q8_panel_rq_fn panel_rq; /* NULL: the panel kernel, then a separate epilogue */
} ember_q8_config;

void ember_q8_dot_4x4_scalar(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                             size_t ldc);
#if defined(__x86_64__) || defined(__i386__)
void ember_q8_dot_2x4_avx2(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                           size_t ldc);
void ember_q8_dot_2x4_avxvnni(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                              size_t ldc);
void ember_q8_dot_4x4_avx512vnni(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                                 size_t ldc);
void ember_q8_gemm_8x32_avx2(size_t mr, size_t kp, const uint8_t *a, const int8_t *b, int32_t *c, size_t ldc);
void ember_q8_gemm_8x32_avx512vnni(size_t mr, size_t kp, const uint8_t *a, const int8_t *b, int32_t *c, size_t ldc);
void ember_q8_gemm_8x32_rq_avx512vnni(size_t mr, size_t nr, size_t kp, const uint8_t *a, const int8_t *b, int8_t *y,
                                      size_t ldy, const ember_q8_requant *r);
#endif
#if defined(__aarch64__)
void ember_q8_dot_2x4_neon(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                           size_t ldc);
void ember_q8_dot_4x4_neondot(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                              size_t ldc);
#endif

/* The best kernel this CPU runs (EMBER_FORCE_SCALAR=1: scalar; EMBER_MAX_ISA=avx2: no VNNI). */
const ember_q8_config *ember_q8_select(void);
/* Every kernel this CPU can run (for tests): fills up to max entries, returns the count. */
int ember_q8_available(const ember_q8_config **out, int max);

#endif
