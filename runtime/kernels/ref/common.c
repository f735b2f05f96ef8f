/* Helpers shared by the reference kernels. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"

ember_status ember_fail(char *err, size_t err_len, ember_status s, const char *fmt, ...) {
  if (err && err_len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
  }
  return s;
}

size_t ember_dtype_size(int32_t dtype) {
  switch (dtype) {
    case EMBER_DTYPE_F32: return 4;
    case EMBER_DTYPE_F16: return 2;
    case EMBER_DTYPE_BF16: return 2;
    case EMBER_DTYPE_I8: return 1;
    case EMBER_DTYPE_U8: return 1;
    case EMBER_DTYPE_I32: return 4;
    case EMBER_DTYPE_I64: return 8;
    case EMBER_DTYPE_BOOL: return 1;
    default: return 0;
  }
}

const char *ember_dtype_name(int32_t dtype) {
  switch (dtype) {
    case EMBER_DTYPE_F32: return "f32";
    case EMBER_DTYPE_F16: return "f16";
    case EMBER_DTYPE_BF16: return "bf16";
    case EMBER_DTYPE_I8: return "i8";
    case EMBER_DTYPE_U8: return "u8";
    case EMBER_DTYPE_I32: return "i32";
    case EMBER_DTYPE_I64: return "i64";
    case EMBER_DTYPE_BOOL: return "bool";
    default: return "?";
  }
}

bool ember_same_shape(const ember_tensor *x, const ember_tensor *y) {
  if (x->rank != y->rank) return false;
  for (int i = 0; i < x->rank; i++)
    if (x->dims[i] != y->dims[i]) return false;
  return true;
}

bool ember_broadcast_ok(const ember_tensor *out, const ember_tensor *const *ins, int n) {
  int rank = 0;
  for (int k = 0; k < n; k++)
    if (ins[k]->rank > rank) rank = ins[k]->rank;
  if (out->rank != rank) return false;
  for (int i = 0; i < rank; i++) {
    int64_t d = 1;
    for (int k = 0; k < n; k++) {
      int j = i - (rank - ins[k]->rank);
      if (j < 0) continue;
      int64_t e = ins[k]->dims[j];
      if (e == 1) continue;
      if (d != 1 && d != e) return false;
      d = e;
    }
    if (out->dims[i] != d) return false;
  }
  return true;
}

void ember_broadcast_strides(const ember_tensor *t, int rank, const int64_t *out_dims, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    int j = i - (rank - t->rank);
    if (j < 0) {
      strides[i] = 0;
      continue;
    }
    strides[i] = (t->dims[j] == 1 && out_dims[i] != 1) ? 0 : s;
    s *= t->dims[j];
  }
}

int ember_act_valid(int64_t act) { return act >= EMBER_ACT_NONE && act <= EMBER_ACT_HARDSWISH; }

float ember_erff(float x) { return erff(x); }

float ember_act(float v, int act, float lo, float hi) {
  switch (act) {
    case EMBER_ACT_RELU: return v > 0.f ? v : 0.f;
    case EMBER_ACT_CLAMP: return v < lo ? lo : (v > hi ? hi : v);
    case EMBER_ACT_SIGMOID: return 1.f / (1.f + expf(-v));
    case EMBER_ACT_TANH: return tanhf(v);
    case EMBER_ACT_SILU: return v / (1.f + expf(-v));
    case EMBER_ACT_GELU: return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    case EMBER_ACT_GELU_TANH: {
      float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v);
      return 0.5f * v * (1.f + tanhf(inner));
    }
    case EMBER_ACT_HARDSWISH: {
      float r = v + 3.f;
      r = r < 0.f ? 0.f : (r > 6.f ? 6.f : r);
      return v * r / 6.f;
    }
    default: return v;
  }
}

uint64_t ember_now_ns(void) {
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
