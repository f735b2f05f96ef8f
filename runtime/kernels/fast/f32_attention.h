#ifndef EMBER_F32_ATTENTION_H
#define EMBER_F32_ATTENTION_H
#include <stddef.h>

typedef void (*ember_f32_sdpa_softmax_fn)(float *sc, size_t s_len, size_t lim, float scale, const void *mask,
                                          int mask_is_bool, ptrdiff_t mstride);
#define EMBER_DECLARE_SDPA_SOFTMAX(name)                                                                     \
  void name(float *sc, size_t s_len, size_t lim, float scale, const void *mask, int mask_is_bool, ptrdiff_t mstride);
EMBER_DECLARE_SDPA_SOFTMAX(ember_f32_sdpa_softmax_scalar)
#if defined(__x86_64__) || defined(__i386__)
EMBER_DECLARE_SDPA_SOFTMAX(ember_f32_sdpa_softmax_avx2)
EMBER_DECLARE_SDPA_SOFTMAX(ember_f32_sdpa_softmax_avx512)
#endif
ember_f32_sdpa_softmax_fn ember_f32_sdpa_softmax(void);
#endif
