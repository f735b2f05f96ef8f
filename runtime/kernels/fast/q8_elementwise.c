/* Fast quantize (float32 -> int8) and qadd (int8 + int8 -> int8): chunks over the thread pool, each by
 * the per-ISA loops of q8_dwnhwc.inc, which do the reference's float32 operations in the same order
 * (bit-identical; runtime/tests/test_conv_nhwc.c). */
#include <stdlib.h>
#include <string.h>

#include "../../src/threadpool.h"
#include "../ref/quant_util.h"
#include "internal.h"
#include "f32_dwnhwc.h"
#include "q8_dwnhwc.h"

#define CHUNK 16384 /* elements per task */


typedef struct {
  const void *a, *b;
  int8_t *y;
  size_t n;
  float s, am, bm;
  int32_t zp, az, bz, lo, hi;
  int isa;
} ew_job;

static void quantize_chunk(void *ctx, size_t t, int thread) {
  (void)thread;
  const ew_job *j = ctx;
  size_t i0 = t * CHUNK, n = j->n - i0 < CHUNK ? j->n - i0 : CHUNK;
  const float *x = (const float *)j->a + i0;
#if defined(__x86_64__) || defined(__i386__)
  if (j->isa == EMBER_CONV_ISA_AVX512) ember_q8_dwnhwc_quantize_avx512(n, x, j->s, j->zp, j->y + i0);
  else if (j->isa == EMBER_CONV_ISA_AVX2) ember_q8_dwnhwc_quantize_avx2(n, x, j->s, j->zp, j->y + i0);
  else
#endif
    ember_q8_dwnhwc_quantize_scalar(n, x, j->s, j->zp, j->y + i0);
}

static void qadd_chunk(void *ctx, size_t t, int thread) {
  (void)thread;
  const ew_job *j = ctx;
  size_t i0 = t * CHUNK, n = j->n - i0 < CHUNK ? j->n - i0 : CHUNK;
  const int8_t *a = (const int8_t *)j->a + i0, *b = (const int8_t *)j->b + i0;
#if defined(__x86_64__) || defined(__i386__)
  if (j->isa == EMBER_CONV_ISA_AVX512) ember_q8_dwnhwc_qadd_avx512(n, a, b, j->az, j->bz, j->am, j->bm, j->zp, j->lo, j->hi, j->y + i0);
  else if (j->isa == EMBER_CONV_ISA_AVX2) ember_q8_dwnhwc_qadd_avx2(n, a, b, j->az, j->bz, j->am, j->bm, j->zp, j->lo, j->hi, j->y + i0);
  else
#endif
    ember_q8_dwnhwc_qadd_scalar(n, a, b, j->az, j->bz, j->am, j->bm, j->zp, j->lo, j->hi, j->y + i0);
}

static int quantize_applies(const ember_kargs *a) { return a->in[0]->dtype == EMBER_DTYPE_F32; }
static int qadd_applies(const ember_kargs *a) { return a->in[0]->dtype == EMBER_DTYPE_I8; }

static ember_status ew_prepare(const ember_kargs *a, void **packed, uint64_t *bytes, uint64_t *scratch) {
  (void)a;
  *packed = NULL;
  *bytes = 0;
  *scratch = 0;
  return EMBER_OK;
}

static ember_status quantize_eval(const ember_kargs *a) {
  ew_job j;
  memset(&j, 0, sizeof j);
  j.a = a->in[0]->data;
  j.y = a->out[0]->data;
  j.n = (size_t)a->in[0]->numel;
  j.s = rf_attr_float(a, EMBER_A_QUANTIZE_SCALE);
  j.zp = (int32_t)ember_attr_i(a, EMBER_A_QUANTIZE_ZERO_POINT);
  j.isa = ember_conv_isa();
  ember_pool_run(a->pool, (j.n + CHUNK - 1) / CHUNK, quantize_chunk, &j);
  return EMBER_OK;
}

static ember_status qadd_eval(const ember_kargs *a) {
  ew_job j;
  memset(&j, 0, sizeof j);
  j.a = a->in[0]->data;
  j.b = a->in[1]->data;
  j.y = a->out[0]->data;
  j.n = (size_t)a->out[0]->numel;
  j.az = (int32_t)ember_attr_i(a, EMBER_A_QADD_A_ZP);
  j.bz = (int32_t)ember_attr_i(a, EMBER_A_QADD_B_ZP);
  j.zp = (int32_t)ember_attr_i(a, EMBER_A_QADD_Y_ZP);
  j.lo = (int32_t)ember_attr_i(a, EMBER_A_QADD_QMIN);
  j.hi = (int32_t)ember_attr_i(a, EMBER_A_QADD_QMAX);
  j.am = rf_attr_float(a, EMBER_A_QADD_A_MULT);
  j.bm = rf_attr_float(a, EMBER_A_QADD_B_MULT);
  j.isa = ember_conv_isa();
  ember_pool_run(a->pool, (j.n + CHUNK - 1) / CHUNK, qadd_chunk, &j);
  return EMBER_OK;
}

const ember_fast_kernel ember_fast_q8_quantize = {"q8_quantize_rows", quantize_applies, ew_prepare, quantize_eval};
const ember_fast_kernel ember_fast_q8_qadd = {"q8_qadd_rows", qadd_applies, ew_prepare, qadd_eval};
