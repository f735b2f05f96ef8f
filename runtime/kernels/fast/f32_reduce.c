/* Fast f32 reduce_mean / reduce_sum over one contiguous run of middle axes: the input seen as
 * [outer, R, inner] with inner >= 4 (NHWC global average pooling: axes H, W of [N, H, W, C]). Each
 * output row of `inner` values sums the R input rows in double, in the reference's order (reduced index
 * ascending), so the result equals the reference kernel's bit for bit; the inner loop runs along
 * contiguous memory instead of the reference's per-element index walk. */
#include <string.h>

#include "../../src/threadpool.h"
#include "internal.h"

#define RED_INNER_BLOCK 256 /* doubles of accumulators per block: 2 KiB, stays in L1 */

typedef struct {
  size_t outer, r, inner;
} red_shape;

/* the [outer, R, inner] view, or 0 when the reduced axes are not one contiguous run with inner >= 4 */
static int red_view(const ember_kargs *a, red_shape *s) {
  const ember_tensor *x = a->in[0];
  int64_t mask = ember_attr_i(a, 0);
  int first = -1, last = -1;
  for (int i = 0; i < x->rank; i++)
    if ((mask >> i) & 1) {
      if (first < 0) first = i;
      else if (last != i - 1) return 0; /* a gap: not one run */
      last = i;
    }
  if (first < 0) return 0;
  s->outer = s->r = s->inner = 1;
  for (int i = 0; i < x->rank; i++) {
    size_t d = (size_t)x->dims[i];
    if (i < first) s->outer *= d;
    else if (i <= last) s->r *= d;
    else s->inner *= d;
  }
  return s->inner >= 4 && s->r > 0;
}

static int red_applies(const ember_kargs *a) {
  red_shape s;
  return (a->op == EMBER_OP_REDUCE_MEAN || a->op == EMBER_OP_REDUCE_SUM) && a->in[0]->dtype == EMBER_DTYPE_F32 &&
         red_view(a, &s);
}

static ember_status red_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  (void)a;
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

static ember_status red_eval(const ember_kargs *a) {
  red_shape s;
  red_view(a, &s);
  const float *x = a->in[0]->data;
  float *y = a->out[0]->data;
  const int mean = a->op == EMBER_OP_REDUCE_MEAN;
  double acc[RED_INNER_BLOCK];
  for (size_t o = 0; o < s.outer; o++)
    for (size_t c0 = 0; c0 < s.inner; c0 += RED_INNER_BLOCK) {
      const size_t n = s.inner - c0 < RED_INNER_BLOCK ? s.inner - c0 : RED_INNER_BLOCK;
      const float *xo = x + o * s.r * s.inner + c0;
      for (size_t c = 0; c < n; c++) acc[c] = 0.0;
      for (size_t r = 0; r < s.r; r++)
        for (size_t c = 0; c < n; c++) acc[c] += (double)xo[r * s.inner + c];
      float *yo = y + o * s.inner + c0;
      for (size_t c = 0; c < n; c++) yo[c] = (float)(mean ? acc[c] / (double)s.r : acc[c]);
    }
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_reduce = {"f32_reduce_rows", red_applies, red_prepare, red_eval};
