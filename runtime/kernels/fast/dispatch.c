/* Pick microkernels by CPU features at run time; the scalar path always works. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "f32_attention.h"
#include "f32_dwconv.h"
#include "f32_vec.h"
#include "f32_gemm.h"

static int force_scalar(void) {
  const char *v = getenv("EMBER_FORCE_SCALAR");
  return v && v[0] == '1';
}

#if defined(__x86_64__) || defined(__i386__)
static int cap_avx2(void) {
  const char *v = getenv("EMBER_MAX_ISA");
  return v && strcmp(v, "avx2") == 0;
}
#endif

static const ember_f32_gemm_config kScalar = {ember_f32_gemm_6x16_scalar, 6, 16, "f32_gemm_6x16_scalar", ember_f32_gemv_p16_scalar, NULL, NULL, NULL, NULL};
#if defined(__x86_64__) || defined(__i386__)
static const ember_f32_gemm_config kAvx2 = {ember_f32_gemm_6x16_avx2_fma, 6, 16, "f32_gemm_6x16_avx2_fma",
                                                ember_f32_gemv_p16_avx2, NULL, NULL, NULL, NULL};
static const ember_f32_gemm_config kAvx512 = {ember_f32_gemm_12x32_avx512f, 12, 32, "f32_gemm_12x32_avx512f",
                                              ember_f32_gemv_p16_avx512, ember_f32_gemm_12x32p_avx512f,
                                              ember_f32_pack_a12_avx512f, ember_f32_gemm_12x32e_avx512f,
                                              ember_f32_gemm_12x32ps_avx512f};
#endif
#if defined(__aarch64__)
static const ember_f32_gemm_config kNeon = {ember_f32_gemm_6x16_neon, 6, 16, "f32_gemm_6x16_neon", ember_f32_gemv_p16_scalar, NULL, NULL, NULL, NULL};
#endif

static const ember_f32_gemm_config *gemm_select_uncached(void) {
  if (force_scalar()) return &kScalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!cap_avx2() && __builtin_cpu_supports("avx512f")) return &kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &kAvx2;
#endif
#if defined(__aarch64__)
  return &kNeon; /* NEON is architectural on AArch64 */
#endif
  return &kScalar;
}

/* Selections are made once per process (CPU features and the environment do not change while
 * running); atomics make the lazy first call safe from any thread. */
static _Atomic(const ember_f32_gemm_config *) g_gemm;
static _Atomic(const ember_f32_vec_ops *) g_vec;

const ember_f32_gemm_config *ember_f32_gemm_select(void) {
  const ember_f32_gemm_config *c = atomic_load_explicit(&g_gemm, memory_order_acquire);
  if (!c) {
    c = gemm_select_uncached();
    atomic_store_explicit(&g_gemm, c, memory_order_release);
  }
  return c;
}

ember_f32_ukernel ember_f32_gemm_ukernel(void) { return ember_f32_gemm_select()->fn; }
const char *ember_f32_gemm_ukernel_name(void) { return ember_f32_gemm_select()->name; }

ember_f32_dwconv_fn ember_f32_dwconv_plane(void) {
  if (force_scalar()) return ember_f32_dwconv_plane_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ember_f32_dwconv_plane_avx2;
#endif
  return ember_f32_dwconv_plane_scalar;
}

static const ember_f32_vec_ops *vec_uncached(void) {
  if (force_scalar()) return &ember_f32_vec_ops_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!cap_avx2() && __builtin_cpu_supports("avx512f")) return &ember_f32_vec_ops_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &ember_f32_vec_ops_avx2;
#endif
  return &ember_f32_vec_ops_scalar;
}

ember_f32_dwconv_padded_fn ember_f32_dwconv_padded(void) {
  if (force_scalar()) return ember_f32_dwconv_padded_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ember_f32_dwconv_padded_avx2;
#endif
  return ember_f32_dwconv_padded_scalar;
}

ember_f32_sdpa_softmax_fn ember_f32_sdpa_softmax(void) {
  if (force_scalar()) return ember_f32_sdpa_softmax_scalar;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!cap_avx2() && __builtin_cpu_supports("avx512f")) return ember_f32_sdpa_softmax_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ember_f32_sdpa_softmax_avx2;
#endif
  return ember_f32_sdpa_softmax_scalar;
}

const ember_f32_vec_ops *ember_f32_vec(void) {
  const ember_f32_vec_ops *v = atomic_load_explicit(&g_vec, memory_order_acquire);
  if (!v) {
    v = vec_uncached();
    atomic_store_explicit(&g_vec, v, memory_order_release);
  }
  return v;
}
