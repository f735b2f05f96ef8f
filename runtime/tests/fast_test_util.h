/* Shared by the fast-kernel tests: a deterministic RNG, float tensors, pass/fail counting, and
 * compare_op (one op through its reference kernel and through the fast kernel ember_fast_kernel_select
 * picks, with prepare, per-thread scratch and the thread pool, then the outputs compared: float outputs
 * within a relative tolerance, or bit for bit when the tolerance is negative). */
#ifndef EMBER_FAST_TEST_UTIL_H
#define EMBER_FAST_TEST_UTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ref_kernels.h"
#include "threadpool.h"

static int g_pass, g_fail;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}
static inline float frand(void) { return (float)(rnd() % 20001) / 10000.f - 1.f; }
static inline size_t irand(size_t lo, size_t hi) { return lo + rnd() % (hi - lo + 1); }

static inline void check(int ok, const char *what, double err) {
  if (ok) {
    g_pass++;
  } else {
    g_fail++;
    printf("FAIL %s (max err %g)\n", what, err);
  }
}

static inline double max_rel_err(const float *a, const float *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

static inline float *frand_array(int64_t n) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = frand();
  return p;
}

static inline ember_tensor tensor(int rank, const int64_t *dims, int storage, float *data) {
  ember_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = EMBER_DTYPE_F32;
  t.rank = rank;
  t.numel = 1;
  for (int i = 0; i < rank; i++) {
    t.dims[i] = dims[i];
    t.numel *= dims[i];
  }
  t.nbytes = (uint64_t)t.numel * 4;
  t.storage = (uint32_t)storage;
  t.data = data;
  return t;
}


/* run op through the ref kernel and the fast kernel (prepare + eval), compare */
static inline void compare_op_tol(int32_t op, const ember_tensor **in, int n_in, ember_tensor *y_ref, ember_tensor *y_fast,
                           const int64_t *attr, int n_attr, ember_pool *pool, const char *what, double tol) {
  char err[256] = {0};
  ember_kargs a;
  memset(&a, 0, sizeof a);
  a.op = op;
  a.in = in;
  a.n_in = n_in;
  a.n_out = 1;
  a.attr = attr;
  a.n_attr = n_attr;
  a.err = err;
  a.err_len = sizeof err;
  ember_tensor *outs[1] = {y_ref};
  a.out = outs;
  uint64_t scratch = 0;
  if (ember_kernel_for(op)->check(&a, &scratch) != EMBER_OK) {
    check(0, err, 0);
    return;
  }
  void *ref_scratch = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
  a.scratch = ref_scratch;
  ember_kernel_for(op)->eval(&a);
  const ember_fast_kernel *fk = ember_fast_kernel_select(&a);
  if (!fk) {
    check(0, "fast kernel does not apply", 0);
    free(ref_scratch);
    return;
  }
  void *packed = NULL;
  uint64_t packed_bytes = 0, per_thread = 0;
  fk->prepare(&a, &packed, &packed_bytes, &per_thread);
  int threads = ember_pool_threads(pool);
  uint64_t stride = (per_thread + 63) / 64 * 64;
  void *scratch_mem = aligned_alloc(64, stride * (uint64_t)threads + 64);
  outs[0] = y_fast;
  a.scratch = scratch_mem;
  a.scratch_stride = stride;
  a.packed = packed;
  a.pool = pool;
  fk->eval(&a);
  if (tol < 0) { /* integer outputs: bit for bit */
    check(memcmp(y_fast->data, y_ref->data, (size_t)y_ref->nbytes) == 0, what, 0);
  } else {
    double e = max_rel_err(y_fast->data, y_ref->data, (size_t)y_ref->numel);
    check(e < tol, what, e);
  }
  free(packed);
  free(scratch_mem);
  free(ref_scratch);
}

static inline void compare_op(int32_t op, const ember_tensor **in, int n_in, ember_tensor *y_ref, ember_tensor *y_fast,
                       const int64_t *attr, int n_attr, ember_pool *pool, const char *what) {
  compare_op_tol(op, in, n_in, y_ref, y_fast, attr, n_attr, pool, what, 2e-5);
}
#endif
