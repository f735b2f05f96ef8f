/* Depthwise NHWC convolution, one output row at a time, vectorized along channels (the row kernel is
 * compiled per ISA from f32_dwnhwc.inc). */
#ifndef EMBER_F32_DWNHWC_H
#define EMBER_F32_DWNHWC_H
#include <stddef.h>

typedef struct ember_dwnhwc_args {
  const float *x; /* one image, [H, W, C] */
  const float *w; /* [KH, KW, C] */
  const float *bias; /* [C] or NULL */
  size_t h, w_in, c, kh, kw, sh, sw, ph, pw, dh, dw, ow;
  int act;    /* EMBER_ACT_NONE / RELU / CLAMP are fused here; others by the caller */
  float lo, hi;
} ember_dwnhwc_args;

/* y[ox, c] for ox < ow of output row oy (y points at the row) */
typedef void (*ember_dwnhwc_row_fn)(const ember_dwnhwc_args *a, size_t oy, float *y);
void ember_f32_dwnhwc_row_scalar(const ember_dwnhwc_args *a, size_t oy, float *y);
#if defined(__x86_64__) || defined(__i386__)
void ember_f32_dwnhwc_row_avx2(const ember_dwnhwc_args *a, size_t oy, float *y);
void ember_f32_dwnhwc_row_avx512(const ember_dwnhwc_args *a, size_t oy, float *y);
#endif
#if defined(__aarch64__)
void ember_f32_dwnhwc_row_neon(const ember_dwnhwc_args *a, size_t oy, float *y);
#endif
#endif
