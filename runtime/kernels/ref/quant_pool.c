/* int8 kernels of dtype-generic ops that stay exact on quantized tensors (the scale and zero point
 * carry over unchanged): max_pool2d and reshape. f32 (and other) tensors go to the original reference
 * kernels; int8 tensors are validated by those same checks (run on a copy of the descriptors relabeled
 * f32, since the shape rules do not depend on the dtype) and computed here. */
#include "quant_util.h"

typedef struct relabeled {
  ember_tensor t[2];
  const ember_tensor *in[1];
  ember_tensor *out[1];
  ember_kargs a;
} relabeled;

static void relabel_f32(const ember_kargs *a, relabeled *r) {
  r->t[0] = *a->in[0];
  r->t[1] = *a->out[0];
  r->t[0].dtype = r->t[1].dtype = EMBER_DTYPE_F32;
  r->in[0] = &r->t[0];
  r->out[0] = &r->t[1];
  r->a = *a;
  r->a.in = r->in;
  r->a.out = r->out;
}

static ember_status i8_unary_check(const ember_kargs *a, ember_check_fn f32_check, uint64_t *scratch) {
  if (a->n_in != 1 || a->n_out != 1) return KFAIL(a, "%s takes 1 input and 1 output", ember_op_name(a->op));
  if (a->out[0]->dtype != EMBER_DTYPE_I8) return KFAIL(a, "%s: output dtype must equal input dtype", ember_op_name(a->op));
  relabeled r;
  relabel_f32(a, &r);
  return f32_check(&r.a, scratch);
}

ember_status ember_ref_qany_max_pool2d_check(const ember_kargs *a, uint64_t *scratch) {
  if (a->n_in == 1 && a->in[0]->dtype == EMBER_DTYPE_I8) return i8_unary_check(a, ember_ref_max_pool2d_check, scratch);
  return ember_ref_max_pool2d_check(a, scratch);
}

ember_status ember_ref_qany_max_pool2d_eval(const ember_kargs *a) {
  const ember_tensor *xt = a->in[0], *yt = a->out[0];
  if (xt->dtype != EMBER_DTYPE_I8) return ember_ref_max_pool2d_eval(a);
  const int8_t *x = xt->data;
  int8_t *y = yt->data;
  int64_t kh = ember_attr_i(a, EMBER_A_MAX_POOL2D_KERNEL_H), kw = ember_attr_i(a, EMBER_A_MAX_POOL2D_KERNEL_W);
  int64_t sh = ember_attr_i(a, EMBER_A_MAX_POOL2D_STRIDE_H), sw = ember_attr_i(a, EMBER_A_MAX_POOL2D_STRIDE_W);
  int64_t ph = ember_attr_i(a, EMBER_A_MAX_POOL2D_PAD_H), pw = ember_attr_i(a, EMBER_A_MAX_POOL2D_PAD_W);
  int64_t dh = ember_attr_i(a, EMBER_A_MAX_POOL2D_DIL_H), dw = ember_attr_i(a, EMBER_A_MAX_POOL2D_DIL_W);
  int64_t NC = xt->dims[0] * xt->dims[1], H = xt->dims[2], W = xt->dims[3], OH = yt->dims[2], OW = yt->dims[3];
  for (int64_t nc = 0; nc < NC; nc++) {
    const int8_t *xc = x + nc * H * W;
    for (int64_t oy = 0; oy < OH; oy++) {
      for (int64_t ox = 0; ox < OW; ox++) {
        int32_t m = -128; /* the check guarantees at least one in-bounds tap per window */
        for (int64_t ky = 0; ky < kh; ky++) {
          int64_t iy = oy * sh - ph + ky * dh;
          if (iy < 0 || iy >= H) continue;
          for (int64_t kx = 0; kx < kw; kx++) {
            int64_t ix = ox * sw - pw + kx * dw;
            if (ix < 0 || ix >= W) continue;
            if (xc[iy * W + ix] > m) m = xc[iy * W + ix];
          }
        }
        y[(nc * OH + oy) * OW + ox] = (int8_t)m;
      }
    }
  }
  return EMBER_OK;
}

ember_status ember_ref_qany_reshape_check(const ember_kargs *a, uint64_t *scratch) {
  if (a->n_in == 1 && a->in[0]->dtype == EMBER_DTYPE_I8) return i8_unary_check(a, ember_ref_reshape_check, scratch);
  return ember_ref_reshape_check(a, scratch);
}

/* reshape's reference eval moves bytes by the dtype's size, so it serves int8 unchanged */
ember_status ember_ref_qany_reshape_eval(const ember_kargs *a) { return ember_ref_reshape_eval(a); }
