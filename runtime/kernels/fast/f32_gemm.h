/* fp32 GEMM building blocks shared by the fast linear and conv2d kernels.
 *
 * Microkernel contract (MR = 6 rows, NR = 16 columns):
 *   C[0..mr, 0..nr) (+)= A[0..mr, 0..k) * B[0..k, 0..16)
 * A is read in place (row r at a + r * lda). B is a packed panel: k rows of 16 contiguous floats,
 * 64-byte aligned, columns past the matrix edge zero. C row r is at c + r * ldc. With accumulate == 0
 * C is overwritten, else added to. mr in [1, 6], nr in [1, 16]; only that part of C is touched. */
#ifndef EMBER_F32_GEMM_H
#define EMBER_F32_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define EMBER_GEMM_MR 6
#define EMBER_GEMM_NR 16
#define EMBER_GEMM_KC 256 /* K block: a 256 x 16 panel slice (16 KiB) stays in L1 */

typedef void (*ember_f32_ukernel)(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  float *c, size_t ldc, int accumulate);

void ember_f32_gemm_6x16_scalar(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                float *c, size_t ldc, int accumulate);
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
void ember_f32_gemm_6x16_avx2_fma(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                                  float *c, size_t ldc, int accumulate);
#endif
#if defined(__aarch64__)
void ember_f32_gemm_6x16_neon(size_t mr, size_t nr, size_t k, const float *a, size_t lda, const float *b,
                              float *c, size_t ldc, int accumulate);
#endif

/* The best microkernel for this CPU (detected once), or the scalar one if EMBER_FORCE_SCALAR=1. */
ember_f32_ukernel ember_f32_gemm_ukernel(void);
const char *ember_f32_gemm_ukernel_name(void);

/* Store a computed mr x nr tile (row-major, NR floats per row in `tile`) into C. */
static inline void ember_tile_store(const float *tile, size_t mr, size_t nr, float *c, size_t ldc, int accumulate) {
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nr; j++) c[r * ldc + j] = accumulate ? c[r * ldc + j] + tile[r * EMBER_GEMM_NR + j]
                                                                : tile[r * EMBER_GEMM_NR + j];
}

#endif
