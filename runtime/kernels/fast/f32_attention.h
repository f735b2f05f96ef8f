#ifndef EMBER_F32_ATTENTION_H
#define EMBER_F32_ATTENTION_H
#include <stddef.h>

typedef void (*ember_f32_sdpa_row_fn)(const float *q, size_t e, const float *kt, size_t s_len, size_t lim,
                                      const float *v, size_t ldv, size_t ev, float scale, const void *mask,
                                      int mask_is_bool, ptrdiff_t mstride, float *scores, float *out);
#define EMBER_DECLARE_SDPA_ROW(name)                                                                        \
  void name(const float *q, size_t e, const float *kt, size_t s_len, size_t lim, const float *v, size_t ldv, \
            size_t ev, float scale, const void *mask, int mask_is_bool, ptrdiff_t mstride, float *scores,     \
            float *out);
EMBER_DECLARE_SDPA_ROW(ember_f32_sdpa_row_scalar)
#if defined(__x86_64__) || defined(__i386__)
EMBER_DECLARE_SDPA_ROW(ember_f32_sdpa_row_avx2)
EMBER_DECLARE_SDPA_ROW(ember_f32_sdpa_row_avx512)
#endif
ember_f32_sdpa_row_fn ember_f32_sdpa_row(void);
#endif
