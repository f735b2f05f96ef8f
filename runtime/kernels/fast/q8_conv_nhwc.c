/* Fast int8 NHWC depthwise convolution (qdwconv2d_nhwc): output rows spread over the thread pool, each
 * row by the per-ISA row kernel (q8_dwnhwc.inc) that vectorizes along channels. The clamped bias is
 * prepared once at load. Bit-identical to the reference kernel (runtime/tests/test_conv_nhwc.c). */
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "../ref/quant_util.h"
#include "internal.h"
#include "f32_dwnhwc.h"
#include "q8_dwnhwc.h"

/* the NHWC kernels' ISA choice (f32_conv_nhwc.c); NEON takes the portable loops */
#define Q8_AVX2 EMBER_CONV_ISA_AVX2
#define Q8_AVX512 EMBER_CONV_ISA_AVX512

static ember_q8dw_row_fn row_select(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (ember_conv_isa() == Q8_AVX512) return ember_q8_dwnhwc_row_avx512;
  if (ember_conv_isa() == Q8_AVX2) return ember_q8_dwnhwc_row_avx2;
#endif
  return ember_q8_dwnhwc_row_scalar;
}

ember_q8_epilogue_fn ember_q8_epilogue_select(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (ember_conv_isa() == Q8_AVX512) return ember_q8_dwnhwc_epilogue_avx512;
  if (ember_conv_isa() == Q8_AVX2) return ember_q8_dwnhwc_epilogue_avx2;
#endif
  return ember_q8_dwnhwc_epilogue_scalar;
}

static int qdw_applies(const ember_kargs *a) {
  return a->in[0]->dtype == EMBER_DTYPE_I8 && a->in[1]->storage == EMBER_STORAGE_CONST && a->in[1]->data &&
         a->in[2]->storage == EMBER_STORAGE_CONST && a->in[2]->data && a->in[3]->storage == EMBER_STORAGE_CONST &&
         a->in[3]->data;
}

static ember_status qdw_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  size_t c = (size_t)a->in[0]->dims[3];
  int32_t *b = malloc(c * sizeof(int32_t) + 1);
  if (!b) return ember_fail(a->err, a->err_len, EMBER_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", c * 4);
  const int32_t *src = a->in[2]->data;
  for (size_t i = 0; i < c; i++) b[i] = ember_q_bias(src[i]);
  *packed = b;
  *bytes = c * sizeof(int32_t);
  *scratch = c * sizeof(int32_t);
  return EMBER_OK;
}

typedef struct {
  ember_q8dw_args args;
  int8_t *y;
  uint8_t *scratch;
  uint64_t stride;
  size_t oh, rows, rows_per_tile, img_in, img_out;
  ember_q8dw_row_fn row;
} qdw_job;

static void qdw_tile(void *ctx, size_t tile, int thread) {
  const qdw_job *j = ctx;
  int32_t *acc = (int32_t *)(void *)(j->scratch + (size_t)thread * j->stride);
  size_t r0 = tile * j->rows_per_tile, r1 = r0 + j->rows_per_tile < j->rows ? r0 + j->rows_per_tile : j->rows;
  for (size_t r = r0; r < r1; r++) {
    size_t img = r / j->oh, oy = r % j->oh;
    ember_q8dw_args a = j->args;
    a.x += img * j->img_in;
    j->row(&a, oy, j->y + img * j->img_out + oy * a.ow * a.c, acc);
  }
}

static ember_status qdw_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *w = a->in[1], *y = a->out[0];
  qdw_job j;
  memset(&j, 0, sizeof j);
  ember_q8dw_args *d = &j.args;
  d->x = x->data;
  d->w = w->data;
  d->bias = a->packed;
  d->scale = a->in[3]->data;
  d->h = (size_t)x->dims[1];
  d->w_in = (size_t)x->dims[2];
  d->c = (size_t)x->dims[3];
  d->kh = (size_t)w->dims[0];
  d->kw = (size_t)w->dims[1];
  d->sh = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_STRIDE_H);
  d->sw = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_STRIDE_W);
  d->ph = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_PAD_H);
  d->pw = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_PAD_W);
  d->dh = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_DIL_H);
  d->dw = (size_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_DIL_W);
  d->ow = (size_t)y->dims[2];
  d->x_zp = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_X_ZP);
  d->y_zp = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_Y_ZP);
  d->qmin = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_QMIN);
  d->qmax = (int32_t)ember_attr_i(a, EMBER_A_QDWCONV2D_NHWC_QMAX);
  j.y = y->data;
  j.scratch = a->scratch;
  j.stride = a->scratch_stride;
  j.oh = (size_t)y->dims[1];
  j.rows = (size_t)x->dims[0] * j.oh;
  j.img_in = d->h * d->w_in * d->c;
  j.img_out = j.oh * d->ow * d->c;
  size_t threads = (size_t)ember_pool_threads(a->pool), tiles = 4 * (threads > 0 ? threads : 1);
  j.rows_per_tile = (j.rows + tiles - 1) / tiles;
  j.row = row_select();
#if defined(__x86_64__) || defined(__i386__)
  if (ember_conv_isa() == Q8_AVX512 && d->c % 16 == 0) j.row = ember_q8_dwnhwc_row16_avx512;
#endif
  ember_pool_run(a->pool, (j.rows + j.rows_per_tile - 1) / j.rows_per_tile, qdw_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_qdwconv_nhwc = {"q8_dwconv_nhwc", qdw_applies, qdw_prepare, qdw_eval};
