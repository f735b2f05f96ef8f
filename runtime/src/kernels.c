/* The kernel table: a plain array indexed by op id, no static initializers or registration magic.
 * Faster kernels (runtime/kernels/x86, arm) will be selected here by CPU features at run time. */
#include "../kernels/ref/ref_kernels.h"

#define F32 (1u << EMBER_DTYPE_F32)
#define I32 (1u << EMBER_DTYPE_I32)
#define I64 (1u << EMBER_DTYPE_I64)
#define BOOL (1u << EMBER_DTYPE_BOOL)
#define ANY (F32 | I32 | I64 | BOOL)
#define I8 (1u << EMBER_DTYPE_I8)
#define U8 (1u << EMBER_DTYPE_U8)

#define K(op, fn, dt) [EMBER_OP_##op] = {#op, ember_ref_##fn##_check, ember_ref_##fn##_eval, dt, 0}
#define KI(op, fn, dt, key) [EMBER_OP_##op] = {#op, ember_ref_##fn##_check, ember_ref_##fn##_eval, dt, key}

static const ember_kernel kTable[EMBER_OP_ID_LIMIT] = {
    K(CONV2D, conv2d, F32),
    K(LINEAR, linear, F32),
    K(LINEAR_PACKED, linear_packed, F32),
    K(CONV2D_NHWC, conv2d_nhwc, F32),
    K(DWCONV2D_NHWC, dwconv2d_nhwc, F32),
    K(CONV2D_WINOGRAD, conv2d_winograd, F32),
    K(PWDW_NHWC, pwdw_nhwc, F32),
    K(QDWCONV2D_NHWC, qdwconv2d_nhwc, I8),
    K(QCONV2D_NHWC, qconv2d_nhwc, I8),
    K(MATMUL, matmul, F32),
    K(ADD, binary, F32 | I32 | I64),
    K(SUB, binary, F32 | I32 | I64),
    K(MUL, binary, F32 | I32 | I64),
    K(DIV, binary, F32 | I32 | I64),
    K(POW, binary, F32),
    K(MAXIMUM, binary, F32 | I32 | I64),
    K(MINIMUM, binary, F32 | I32 | I64),
    K(EQ, compare, F32 | I32 | I64 | BOOL),
    K(NE, compare, F32 | I32 | I64 | BOOL),
    K(LT, compare, F32 | I32 | I64),
    K(LE, compare, F32 | I32 | I64),
    K(GT, compare, F32 | I32 | I64),
    K(GE, compare, F32 | I32 | I64),
    K(LOGICAL_AND, compare, BOOL),
    K(LOGICAL_OR, compare, BOOL),
    KI(WHERE, where, F32 | I32 | I64 | BOOL, 1),
    K(RELU, unary, F32),
    K(SIGMOID, unary, F32),
    K(TANH, unary, F32),
    K(SILU, unary, F32),
    K(GELU, unary, F32),
    K(HARDSWISH, unary, F32),
    K(HARDSIGMOID, unary, F32),
    K(SQRT, unary, F32),
    K(RSQRT, unary, F32),
    K(EXP, unary, F32),
    K(LOG, unary, F32),
    K(NEG, unary, F32),
    K(ABS, unary, F32),
    K(SIN, unary, F32),
    K(COS, unary, F32),
    K(ERF, unary, F32),
    K(RECIPROCAL, unary, F32),
    K(LOGICAL_NOT, unary, BOOL),
    K(CLAMP, clamp, F32),
    K(SOFTMAX, softmax, F32),
    K(LOG_SOFTMAX, softmax, F32),
    K(LAYER_NORM, layer_norm, F32),
    K(RMS_NORM, rms_norm, F32),
    K(BATCH_NORM, batch_norm, F32),
    K(MAX_POOL2D, qany_max_pool2d, F32 | I8), /* int8 in quant_pool.c */
    K(MAX_POOL2D_NHWC, max_pool2d_nhwc, F32 | I8),
    K(AVG_POOL2D, avg_pool2d, F32),
    K(ADAPTIVE_AVG_POOL2D, adaptive_avg_pool2d, F32),
    K(REDUCE_MEAN, reduce, F32),
    K(REDUCE_SUM, reduce, F32 | I32 | I64),
    K(REDUCE_MAX, reduce, F32 | I32 | I64),
    K(RESHAPE, qany_reshape, ANY | I8), /* int8 in quant_pool.c */
    K(PERMUTE, permute, ANY | I8),
    K(EXPAND, expand, ANY),
    K(CONCAT, concat, ANY),
    K(SLICE, slice, ANY),
    K(PAD, pad, F32),
    K(COPY, copy, ANY),
    K(CAST, cast, ANY),
    K(EMBEDDING, embedding, ANY),
    K(SDPA, sdpa, F32),
    /* quantized ops (runtime/kernels/ref/quant_*.c) */
    K(QUANTIZE, quantize, F32),
    K(DEQUANTIZE, dequantize, I8),
    K(QCONV2D, qconv2d, I8),
    K(QLINEAR, qlinear, I8),
    K(DQLINEAR, dqlinear, F32),
    K(Q4LINEAR, q4linear, F32),
    K(Q4EMBEDDING, q4embedding, U8),
    K(Q8EMBEDDING, q8embedding, I8),
    K(QADD, qadd, I8),
};

const ember_kernel *ember_kernel_for(int32_t op) {
  if (op < 0 || op >= EMBER_OP_ID_LIMIT || !kTable[op].eval) return NULL;
  return &kTable[op];
}

static const char *op_lower_name(int32_t op) {
  switch (op) {
#define NAME(n, id, mi, ma, no, ns) \
  case id: return #n;
    EMBER_OP_LIST(NAME)
#undef NAME
    default: return "?";
  }
}

const char *ember_op_name(int32_t op) { return op_lower_name(op); }

int32_t ember_kernel_count(void) {
  int32_t n = 0;
  for (int32_t op = 0; op < EMBER_OP_ID_LIMIT; op++)
    if (kTable[op].eval)
      for (int32_t d = 0; d < 32; d++) n += (kTable[op].dtypes >> d) & 1u;
  return n;
}

ember_status ember_kernel_at(int32_t index, ember_kernel_desc *out) {
  if (!out || index < 0) return EMBER_ERR_INVALID_ARGUMENT;
  int32_t n = 0;
  for (int32_t op = 0; op < EMBER_OP_ID_LIMIT; op++) {
    if (!kTable[op].eval) continue;
    for (int32_t d = 0; d < 32; d++) {
      if (!((kTable[op].dtypes >> d) & 1u)) continue;
      if (n++ == index) {
        out->op = op;
        out->op_name = op_lower_name(op);
        out->dtype = d;
        return EMBER_OK;
      }
    }
  }
  return EMBER_ERR_INVALID_ARGUMENT;
}
