/* The CPU feature probes the int8 / int4 dispatchers share (cpuid bits cached by libgcc; auxv on
 * Linux aarch64). Each says whether the kernels built for that extension may run here. */
#ifndef EMBER_CPU_FEATURES_H
#define EMBER_CPU_FEATURES_H
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

/* AVX-512 F + BW with VNNI (vpdpbusd / vpdpwssd on zmm) */
static inline int ember_cpu_avx512vnni(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
#else
  return 0;
#endif
}

/* the Armv8.2 dot-product extension (sdot / udot) */
static inline int ember_cpu_neon_dot(void) {
#if defined(__aarch64__) && defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
  return 0;
#endif
}
#endif
