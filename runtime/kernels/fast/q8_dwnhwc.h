/* int8 depthwise NHWC convolution row kernel (q8_dwnhwc.inc, compiled per ISA). Accumulates exactly in
 * int32 along contiguous channels, then requantizes with the shared rounding rule (bit-identical to
 * ember_q_requant in kernels/ref/quant_util.h: float32 product, rint, + zero point, NaN -> zero point,
 * clamp). */
#ifndef EMBER_Q8_DWNHWC_H
#define EMBER_Q8_DWNHWC_H
#include <stddef.h>
#include <stdint.h>

typedef struct ember_q8dw_args {
  const int8_t *x;     /* one image, [H, W, C] */
  const int8_t *w;     /* [KH, KW, C] */
  const int32_t *bias; /* [C], already clamped to +-2^30 */
  const float *scale;  /* [C] */
  size_t h, w_in, c, kh, kw, sh, sw, ph, pw, dh, dw, ow;
  int32_t x_zp, y_zp, qmin, qmax;
} ember_q8dw_args;

/* output row oy into y (ow x C int8); acc: C int32 of scratch */
typedef void (*ember_q8dw_row_fn)(const ember_q8dw_args *a, size_t oy, int8_t *y, int32_t *acc);
/* qlinear's epilogue for one row of n columns: y = requant((bias + c) - k); tmp: n int32 */
typedef void (*ember_q8_epilogue_fn)(size_t n, const int32_t *c, const int32_t *bias, const int32_t *k,
                                     const float *scale, int32_t zp, int32_t lo, int32_t hi, int8_t *y, int32_t *tmp);
#define EMBER_DECLARE_Q8DW(isa)                                                                                  \
  void ember_q8_dwnhwc_row_##isa(const ember_q8dw_args *a, size_t oy, int8_t *y, int32_t *acc);                 \
  void ember_q8_dwnhwc_epilogue_##isa(size_t n, const int32_t *c, const int32_t *bias, const int32_t *k,         \
                                      const float *scale, int32_t zp, int32_t lo, int32_t hi, int8_t *y, int32_t *tmp); \
  void ember_q8_dwnhwc_quantize_##isa(size_t n, const float *x, float s, int32_t zp, int8_t *y);                 \
  void ember_q8_dwnhwc_qadd_##isa(size_t n, const int8_t *a, const int8_t *b, int32_t az, int32_t bz, float am,  \
                                  float bm, int32_t yz, int32_t lo, int32_t hi, int8_t *o);
EMBER_DECLARE_Q8DW(scalar)
#if defined(__x86_64__) || defined(__i386__)
EMBER_DECLARE_Q8DW(avx2)
EMBER_DECLARE_Q8DW(avx512)
/* C % 16 == 0: channels in registers across all taps (intrinsics), same bytes as the others */
void ember_q8_dwnhwc_row16_avx512(const ember_q8dw_args *a, size_t oy, int8_t *y, int32_t *unused);
/* qlinear's epilogue over a whole microkernel tile (nr <= 32), bit-identical to the row epilogue */
void ember_q8_epilogue_tile_avx512(size_t mr, size_t nr, const int32_t *c, size_t ldc, const int32_t *bias,
                                   const int32_t *k, const float *scale, int32_t zp, int32_t lo, int32_t hi,
                                   int8_t *y, size_t ldy);
#endif
/* the widest of the above this CPU runs (EMBER_FORCE_SCALAR / EMBER_MAX_ISA honoured), chosen once */
ember_q8_epilogue_fn ember_q8_epilogue_select(void);
#endif
