/* Portable int4 x int8 group dot products, and the dispatch of the q4 kernels. */
#include <stdlib.h>
#include <string.h>

#include "q4_gemm.h"

void ember_q4_deinterleave(const int8_t *src, size_t k, int8_t *dst) {
  for (size_t c = 0; c < k; c += 32)
    for (size_t t = 0; t < 16; t++) {
      dst[c + t] = src[c + 2 * t];
      dst[c + 16 + t] = src[c + 2 * t + 1];
    }
}

void ember_q4_dot_scalar(size_t groups, size_t gs, const int8_t *a, const uint8_t *w, int32_t *isum) {
  for (size_t g = 0; g < groups; g++) {
    int32_t s = 0;
    for (size_t c = g * gs; c < (g + 1) * gs; c += 32)
      for (size_t t = 0; t < 16; t++) {
        uint8_t b = w[c / 2 + t];
        int32_t lo = (int32_t)(b & 0x0F) - ((b & 0x08) << 1), hi = (int32_t)(b >> 4) - ((b & 0x80) >> 3);
        s += a[c + t] * lo + a[c + 16 + t] * hi;
      }
    isum[g] = s;
  }
}

static const ember_q4_config kScalar = {ember_q4_dot_scalar, "q4_dot_scalar"};
#if defined(__x86_64__) || defined(__i386__)
static const ember_q4_config kAvx2 = {ember_q4_dot_avx2, "q4_dot_avx2"};
#endif
#if defined(__aarch64__)
static const ember_q4_config kNeon = {ember_q4_dot_neon, "q4_dot_neon"};
#endif

int ember_q4_available(const ember_q4_config **out, int max) {
  int n = 0;
  if (n < max) out[n++] = &kScalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && n < max) out[n++] = &kAvx2;
#endif
#if defined(__aarch64__)
  if (n < max) out[n++] = &kNeon;
#endif
  return n;
}

const ember_q4_config *ember_q4_select(void) {
  const char *v = getenv("EMBER_FORCE_SCALAR");
  if (v && strcmp(v, "1") == 0) return &kScalar;
  const ember_q4_config *all[4];
  int n = ember_q4_available(all, 4);
  return all[n - 1];
}
