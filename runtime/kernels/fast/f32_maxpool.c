/* Fast max_pool2d (NCHW, float32) per channel plane and output row: the row starts at -inf and each
 * window tap takes an elementwise max with a shifted input row over the columns whose input is
 * inside the image (padding never wins a max, as in the reference). Stride-2 rows are split into
 * even/odd columns once so every tap reads contiguously. Planes are spread over the thread pool. */
#include <math.h>
#include <stddef.h>

#include "../../src/threadpool.h"
#include "internal.h"

typedef struct {
  const float *x;
  float *y;
  size_t h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
} mp_job;

static void mp_plane(void *ctx, size_t plane, int thread) {
  (void)thread;
  const mp_job *j = ctx;
  const float *in = j->x + plane * j->h * j->w;
  float *out = j->y + plane * j->oh * j->ow;
  float split[2][1024];
  const int deint = j->sw == 2 && j->w <= 2048;
  for (size_t oy = 0; oy < j->oh; oy++) {
    float *orow = out + oy * j->ow;
    for (size_t ox = 0; ox < j->ow; ox++) orow[ox] = -INFINITY;
    for (size_t ky = 0; ky < j->kh; ky++) {
      ptrdiff_t iy = (ptrdiff_t)(oy * j->sh + ky * j->dh) - (ptrdiff_t)j->ph;
      if (iy < 0 || iy >= (ptrdiff_t)j->h) continue;
      const float *irow = in + (size_t)iy * j->w;
      if (deint) {
        for (size_t i = 0; i < j->w / 2; i++) {
          split[0][i] = irow[2 * i];
          split[1][i] = irow[2 * i + 1];
        }
        if (j->w % 2) split[0][j->w / 2] = irow[j->w - 1];
      }
      for (size_t kx = 0; kx < j->kw; kx++) {
        ptrdiff_t sw = (ptrdiff_t)j->sw, off = (ptrdiff_t)(kx * j->dw) - (ptrdiff_t)j->pw;
        if ((ptrdiff_t)j->w - 1 - off < 0) continue;
        size_t lo = off >= 0 ? 0 : (size_t)((-off + sw - 1) / sw);
        size_t hi = (size_t)(((ptrdiff_t)j->w - 1 - off) / sw) + 1;
        if (hi > j->ow) hi = j->ow;
        if (j->sw == 1) {
          for (size_t ox = lo; ox < hi; ox++) {
            float v = irow[(ptrdiff_t)ox + off];
            orow[ox] = v > orow[ox] || v != v ? v : orow[ox];
          }
        } else if (deint) {
          ptrdiff_t half = off >= 0 ? off / 2 : -((-off + 1) / 2);
          const float *src = split[off & 1];
          for (size_t ox = lo; ox < hi; ox++) {
            float v = src[(ptrdiff_t)ox + half];
            orow[ox] = v > orow[ox] || v != v ? v : orow[ox];
          }
        } else {
          for (size_t ox = lo; ox < hi; ox++) {
            float v = irow[(ptrdiff_t)(ox * j->sw) + off];
            orow[ox] = v > orow[ox] || v != v ? v : orow[ox];
          }
        }
      }
    }
  }
}

static int mp_applies(const ember_kargs *a) { return a->in[0]->dtype == EMBER_DTYPE_F32; }

static ember_status mp_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  (void)a;
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

static ember_status mp_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  mp_job j;
  j.x = x->data;
  j.y = y->data;
  j.h = (size_t)x->dims[2];
  j.w = (size_t)x->dims[3];
  j.oh = (size_t)y->dims[2];
  j.ow = (size_t)y->dims[3];
  j.kh = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_KERNEL_H);
  j.kw = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_KERNEL_W);
  j.sh = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_STRIDE_H);
  j.sw = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_STRIDE_W);
  j.ph = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_PAD_H);
  j.pw = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_PAD_W);
  j.dh = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_DIL_H);
  j.dw = (size_t)ember_attr_i(a, EMBER_A_MAX_POOL2D_DIL_W);
  ember_pool_run(a->pool, (size_t)(x->dims[0] * x->dims[1]), mp_plane, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_maxpool = {"f32_maxpool_rows", mp_applies, mp_prepare, mp_eval};
