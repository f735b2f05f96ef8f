/* Per-ISA row primitives (kernels/fast/f32_vec.inc), picked once by CPU features. */
#ifndef EMBER_F32_VEC_H
#define EMBER_F32_VEC_H
#include <stddef.h>

typedef struct ember_f32_vec_ops {
  const char *isa;
  void (*act_row)(float *y, size_t n, const float *bias_col, float bias_scalar, int act, float lo, float hi);
  void (*binary_row)(int op, const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n, int act,
                     float lo, float hi);
  void (*norm_row)(const float *x, size_t n, const float *w, const float *b, float eps, int rms, float *y);
  void (*softmax_row)(const float *x, size_t n, int log, float *y);
  void (*unary_row)(int op, const float *x, float *y, size_t n, float lo, float hi);
  /* GEMM epilogue over a tile: c[r * ldc + i] = act(c[r * ldc + i] + bias[i] + res[r * ldres + i]) for
   * r < rows, i < cols (bias and res may be NULL), one pass per row; the loop over rows is inside */
  void (*bias_act_rows)(float *c, size_t rows, size_t cols, size_t ldc, const float *bias, const float *res,
                        size_t ldres, int act, float lo, float hi);
  /* o[i] = max(o[i], x[i]) with the reference max pool's NaN rule (a NaN input wins) */
  void (*max_into)(float *o, const float *x, size_t n);
} ember_f32_vec_ops;

#define EMBER_DECLARE_VEC_OPS(sfx) extern const ember_f32_vec_ops ember_f32_vec_ops_##sfx;
EMBER_DECLARE_VEC_OPS(scalar)
#if defined(__x86_64__) || defined(__i386__)
EMBER_DECLARE_VEC_OPS(avx2)
EMBER_DECLARE_VEC_OPS(avx512)
#endif
const ember_f32_vec_ops *ember_f32_vec(void);
#endif
