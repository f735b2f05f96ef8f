/* Depthwise NHWC convolution, one output row at a time, vectorized along channels (the row kernel is
 * compiled per ISA from f32_dwnhwc.inc). */
#ifndef EMBER_F32_DWNHWC_H
#define EMBER_F32_DWNHWC_H
#include <stddef.h>

/* ISA level of the NHWC kernels (f32_conv_nhwc.c), chosen once per process */
enum { EMBER_CONV_ISA_SCALAR = 1, EMBER_CONV_ISA_AVX2, EMBER_CONV_ISA_AVX512, EMBER_CONV_ISA_NEON };
int ember_conv_isa(void);

typedef struct ember_dwnhwc_args {
  const float *x; /* one image, [H, W, C] */
  const float *const *rows; /* or NULL: else input row iy is rows[iy] (W x C floats) instead of x + iy*W*C */
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

/* Winograd F(2x2, 3x3) tile transforms along contiguous channels (f32_wino.inc, compiled per ISA).
 * V / M hold 16 matrices of tb rows: V[xi][t][0..c), M[xi][t][0..o). */
typedef struct ember_wino_geom {
  const float *x, *bias, *res; /* res: optional residual added before the activation, the output's layout */
  float *y;
  size_t h, w, c, oh, ow, o, ph, pw, th, tw, tb;
  int act; /* EMBER_ACT_NONE / RELU / CLAMP fused; the caller applies any other */
  float lo, hi;
} ember_wino_geom;
typedef void (*ember_wino_in_fn)(const ember_wino_geom *g, size_t tile, size_t t, float *V, float *tmp,
                                 const float *zeros);
/* output channels [o0, o1) of tile t (row t of the M matrices) */
typedef void (*ember_wino_out_fn)(const ember_wino_geom *g, size_t tile, size_t t, const float *M, size_t o0, size_t o1);
#define EMBER_DECLARE_WINO(isa)                                                                                \
  void ember_f32_wino_in_##isa(const ember_wino_geom *g, size_t tile, size_t t, float *V, float *tmp,        \
                               const float *zeros);                                                          \
  void ember_f32_wino_out_##isa(const ember_wino_geom *g, size_t tile, size_t t, const float *M, size_t o0,    \
                                size_t o1);
EMBER_DECLARE_WINO(scalar)
#if defined(__x86_64__) || defined(__i386__)
EMBER_DECLARE_WINO(avx2)
EMBER_DECLARE_WINO(avx512)
#endif
#endif
