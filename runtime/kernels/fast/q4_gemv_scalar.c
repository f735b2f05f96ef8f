/* Portable int4 GEMV kernel (the fallback, and the model for the SIMD ones), and the dispatch of the q4
 * kernels by CPU features at run time. */
#include <stdlib.h>
#include <string.h>

#include "../ref/quant_util.h"
#include "cpu_features.h"
#include "q4_gemm.h"

void ember_q4_split(const int8_t *src, size_t k, int8_t *ev, int8_t *od) {
  for (size_t t = 0; t < k / 2; t++) {
    ev[t] = src[2 * t];
    od[t] = src[2 * t + 1];
  }
}

void ember_q4_gemv_scalar(const ember_q4_weights *w, size_t n0, size_t nc, const ember_q4_rows *rows, size_t mr,
                          float *acc) {
  size_t hg = w->gs / 2, G = w->groups;
  const uint16_t *st = w->scale + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR;
  const int16_t *wt = w->wsum + (n0 / EMBER_Q4_NR) * G * EMBER_Q4_NR;
  for (size_t c = 0; c < nc; c++) {
    const uint8_t *wr = w->w + (n0 + c) * w->kb;
    for (size_t r = 0; r < mr; r++) {
      const int8_t *ev = rows->ev[r], *od = rows->od[r];
      float f = 0.0f;
      for (size_t g = 0; g < G; g++) {
        int32_t s = 0;
        for (size_t t = g * hg; t < (g + 1) * hg; t++) {
          uint8_t b = wr[t];
          int32_t lo = (int32_t)(b & 0x0F) - ((b & 0x08) << 1), hi = (int32_t)(b >> 4) - ((b & 0x80) >> 3);
          s += ev[t] * lo + od[t] * hi;
        }
        s -= rows->zp[r] * wt[g * EMBER_Q4_NR + c];
        float p = (float)s * ember_f16_to_f32(st[g * EMBER_Q4_NR + c]);
        f = f + p;
      }
      acc[r * EMBER_Q4_NR + c] = f;
    }
  }
}

static const ember_q4_config kScalar = {ember_q4_gemv_scalar, "q4_gemv_scalar", NULL, NULL};
#if defined(__x86_64__) || defined(__i386__)
static const ember_q4_config kAvx2 = {ember_q4_gemv_avx2, "q4_gemv_8col_avx2", NULL, NULL};
static const ember_q4_config kAvx512 = {ember_q4_gemv_avx512vnni, "q4_gemv_16col_avx512vnni",
                                         ember_q4_unpack_panel_avx512vnni, ember_q4_gemm_8x32_avx512vnni};
#endif
#if defined(__aarch64__)
static const ember_q4_config kNeon = {ember_q4_gemv_neon, "q4_gemv_4col_neon", NULL, NULL};
static const ember_q4_config kNeonDot = {ember_q4_gemv_neondot, "q4_gemv_4col_neondot", NULL, NULL};
#endif

int ember_q4_available(const ember_q4_config **out, int max) {
  int n = 0;
#define ADD(c) \
  if (n < max) out[n++] = &(c)
  ADD(kScalar);
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ADD(kAvx2); /* AVX2 CPUs have F16C */
  if (ember_cpu_avx512vnni()) ADD(kAvx512);
#endif
#if defined(__aarch64__)
  ADD(kNeon);
  if (ember_cpu_neon_dot()) ADD(kNeonDot);
#endif
#undef ADD
  return n;
}

void ember_q_quantize_row_scalar(const float *x, int64_t k, int8_t *q, float *scale, int32_t *zp) {
  ember_q_quantize_row(x, k, q, scale, zp);
}

ember_q_quantize_fn ember_q_quantize_select(void) {
  const char *v = getenv("EMBER_FORCE_SCALAR"), *isa = getenv("EMBER_MAX_ISA");
  if ((v && strcmp(v, "1") == 0) || (isa && strcmp(isa, "avx2") == 0)) return ember_q_quantize_row_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return ember_q_quantize_row_avx512;
#endif
  return ember_q_quantize_row_scalar;
}

const ember_q4_config *ember_q4_select(void) {
  const char *v = getenv("EMBER_FORCE_SCALAR");
  if (v && strcmp(v, "1") == 0) return &kScalar;
  const ember_q4_config *all[4];
  int n = ember_q4_available(all, 4);
  v = getenv("EMBER_MAX_ISA");
  if (v && strcmp(v, "avx2") == 0)
    for (int i = n - 1; i >= 0; i--)
      if (!strstr(all[i]->name, "avx512")) return all[i];
  return all[n - 1]; /* listed from slowest to fastest */
}
