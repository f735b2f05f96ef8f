/* int4 group-wise dot products for the q4linear fast kernel (q4_linear.c).
 *
 * Contract: isum[g] = sum_{t < gs} a[g * gs + t] * w4[g * gs + t] for g < groups, exact in int32, where
 * w is a packed int4 row (value t: low nibble of byte t / 2 when t is even, high nibble when odd,
 * two's complement) and a is the int8 row "deinterleaved" per chunk of 32: a chunk holds the 16 even
 * positions, then the 16 odd ones, so the low and high nibbles of 16 weight bytes meet their
 * activations with no shuffles. gs is a multiple of 32. */
#ifndef EMBER_Q4_GEMM_H
#define EMBER_Q4_GEMM_H

#include <stddef.h>
#include <stdint.h>

typedef void (*ember_q4_dot_fn)(size_t groups, size_t gs, const int8_t *a, const uint8_t *w, int32_t *isum);

void ember_q4_dot_scalar(size_t groups, size_t gs, const int8_t *a, const uint8_t *w, int32_t *isum);
#if defined(__x86_64__) || defined(__i386__)
void ember_q4_dot_avx2(size_t groups, size_t gs, const int8_t *a, const uint8_t *w, int32_t *isum);
#endif
#if defined(__aarch64__)
void ember_q4_dot_neon(size_t groups, size_t gs, const int8_t *a, const uint8_t *w, int32_t *isum);
#endif

typedef struct ember_q4_config {
  ember_q4_dot_fn fn;
  const char *name;
} ember_q4_config;

const ember_q4_config *ember_q4_select(void);
int ember_q4_available(const ember_q4_config **out, int max);

/* Rearrange k (a multiple of 32) int8 values into the deinterleaved chunk order above. */
void ember_q4_deinterleave(const int8_t *src, size_t k, int8_t *dst);

#endif
