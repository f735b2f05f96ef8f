/* Portable int8 dot-product microkernel (the fallback on every CPU). */
#include "q8_gemm.h"

void ember_q8_dot_4x4_scalar(size_t mr, size_t nr, size_t kp, const int8_t *a, const int8_t *b, int32_t *c,
                             size_t ldc) {
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) {
      int32_t s = 0;
      for (size_t k = 0; k < kp; k++) s += (int32_t)a[i * kp + k] * (int32_t)b[j * kp + k];
      c[i * ldc + j] = s;
    }
}
