/* Fast permute when the last axis stays last (the attention head split/merge pattern, e.g. [0,2,1,3]):
 * each output row of the last dimension is one contiguous copy from the input. Any dtype. */
#include <string.h>

#include "../../src/threadpool.h"
#include "internal.h"

typedef struct {
  const unsigned char *src;
  unsigned char *dst;
  int rank;
  int64_t odims[EMBER_MAX_RANK], sstr[EMBER_MAX_RANK]; /* source strides (elements) per output axis */
  size_t rows, row_bytes, es, blocks;
} perm_job;

static void perm_tile(void *ctx, size_t tile, int thread) {
  (void)thread;
  const perm_job *j = ctx;
  size_t r0 = j->rows * tile / j->blocks, r1 = j->rows * (tile + 1) / j->blocks;
  for (size_t r = r0; r < r1; r++) {
    int64_t rem = (int64_t)r, off = 0;
    for (int d = j->rank - 2; d >= 0; d--) {
      int64_t idx = rem % j->odims[d];
      rem /= j->odims[d];
      off += idx * j->sstr[d];
    }
    memcpy(j->dst + r * j->row_bytes, j->src + (size_t)off * j->es, j->row_bytes);
  }
}

static int permute_applies(const ember_kargs *a) {
  const ember_tensor *x = a->in[0];
  int r = x->rank;
  return r >= 2 && ember_attr_i(a, EMBER_A_PERMUTE_PERM + r - 1) == r - 1 && x->dims[r - 1] >= 4;
}

static ember_status permute_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  (void)a;
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

static ember_status permute_eval(const ember_kargs *a) {
  const ember_tensor *x = a->in[0], *y = a->out[0];
  perm_job j;
  int r = x->rank;
  int64_t xs[EMBER_MAX_RANK], s = 1;
  for (int d = r - 1; d >= 0; d--) {
    xs[d] = s;
    s *= x->dims[d];
  }
  j.rank = r;
  for (int d = 0; d < r; d++) {
    j.odims[d] = y->dims[d];
    j.sstr[d] = xs[ember_attr_i(a, EMBER_A_PERMUTE_PERM + d)];
  }
  j.es = ember_dtype_size(x->dtype);
  j.row_bytes = (size_t)y->dims[r - 1] * j.es;
  j.rows = (size_t)y->numel / (size_t)y->dims[r - 1];
  j.src = x->data;
  j.dst = y->data;
  j.blocks = (size_t)y->nbytes >= (1u << 18) && j.rows >= 16 ? 16 : 1;
  ember_pool_run(a->pool, j.blocks, perm_tile, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_permute = {"permute_rows", permute_applies, permute_prepare, permute_eval};
