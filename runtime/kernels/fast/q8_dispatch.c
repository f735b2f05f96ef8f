/* Pick the int8 dot-product microkernel by CPU features at run time; scalar always works. */
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "q8_gemm.h"

static const ember_q8_config kScalar = {ember_q8_dot_4x4_scalar, 0, "q8_dot_4x4_scalar", NULL, NULL};
#if defined(__x86_64__) || defined(__i386__)
static const ember_q8_config kAvx2 = {ember_q8_dot_2x4_avx2, 0, "q8_gemm_8x32_avx2", ember_q8_gemm_8x32_avx2, NULL};
static const ember_q8_config kAvxVnni = {ember_q8_dot_2x4_avxvnni, 128, "q8_dot_2x4_avxvnni", NULL, NULL};
static const ember_q8_config kAvx512Vnni = {ember_q8_dot_4x4_avx512vnni, 128, "q8_gemm_8x32_avx512vnni",
                                             ember_q8_gemm_8x32_avx512vnni, ember_q8_gemm_8x32_rq_avx512vnni};
#endif
#if defined(__aarch64__)
static const ember_q8_config kNeon = {ember_q8_dot_2x4_neon, 0, "q8_dot_2x4_neon", NULL, NULL};
static const ember_q8_config kNeonDot = {ember_q8_dot_4x4_neondot, 0, "q8_dot_4x4_neondot", NULL, NULL};
#endif

static int env_is(const char *name, const char *value) {
  const char *v = getenv(name);
  return v && strcmp(v, value) == 0;
}

int ember_q8_available(const ember_q8_config **out, int max) {
  int n = 0;
#define ADD(c) \
  if (n < max) out[n++] = &(c)
  ADD(kScalar);
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) ADD(kAvx2);
#if __GNUC__ >= 11 && !defined(__clang__) /* clang 14 has no "avxvnni" feature name */
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("avxvnni")) ADD(kAvxVnni);
#endif
  if (ember_cpu_avx512vnni()) ADD(kAvx512Vnni);
#endif
#if defined(__aarch64__)
  ADD(kNeon);
  if (ember_cpu_neon_dot()) ADD(kNeonDot);
#endif
#undef ADD
  return n;
}

static const ember_q8_config *pick(void) { /* cheap: cpuid bits are cached by libgcc */
  const ember_q8_config *all[8];
  int n = ember_q8_available(all, 8);
  if (env_is("EMBER_FORCE_SCALAR", "1")) return &kScalar;
  if (env_is("EMBER_MAX_ISA", "avx2")) /* no VNNI, no AVX-512: the AVX2 path if present */
    for (int i = n - 1; i >= 0; i--)
      if (all[i]->a_offset == 0) return all[i];
  return all[n - 1]; /* listed from slowest to fastest */
}

const ember_q8_config *ember_q8_select(void) { return pick(); }
