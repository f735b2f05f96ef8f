/* Pick microkernels by CPU features at run time; the scalar path always works. */
#include <stdlib.h>
#include <string.h>

#include "f32_dwconv.h"
#include "f32_gemm.h"

static int force_scalar(void) {
  const char *v = getenv("EMBER_FORCE_SCALAR");
  return v && v[0] == '1';
}

ember_f32_ukernel ember_f32_gemm_ukernel(void) {
  if (force_scalar()) return ember_f32_gemm_6x16_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ember_f32_gemm_6x16_avx2_fma;
#endif
#if defined(__aarch64__)
  return ember_f32_gemm_6x16_neon; /* NEON is architectural on AArch64 */
#endif
  return ember_f32_gemm_6x16_scalar;
}

const char *ember_f32_gemm_ukernel_name(void) {
  ember_f32_ukernel k = ember_f32_gemm_ukernel();
#if defined(__x86_64__) || defined(__i386__)
  if (k == ember_f32_gemm_6x16_avx2_fma) return "f32_gemm_6x16_avx2_fma";
#endif
#if defined(__aarch64__)
  if (k == ember_f32_gemm_6x16_neon) return "f32_gemm_6x16_neon";
#endif
  return "f32_gemm_6x16_scalar";
}

ember_f32_dwconv_fn ember_f32_dwconv_plane(void) {
  if (force_scalar()) return ember_f32_dwconv_plane_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ember_f32_dwconv_plane_avx2;
#endif
  return ember_f32_dwconv_plane_scalar;
}
