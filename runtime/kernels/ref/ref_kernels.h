/* Reference kernels: one plain scalar check/eval pair per op. They are the oracle for every faster
 * kernel and are never deleted. Each check mirrors the shape rule of src/ember/ir/ops.py exactly. */
#ifndef EMBER_REF_KERNELS_H
#define EMBER_REF_KERNELS_H

#include "internal.h"

#define EMBER_DECLARE_KERNEL(name)                                        \
  ember_status ember_ref_##name##_check(const ember_kargs *a, uint64_t *scratch); \
  ember_status ember_ref_##name##_eval(const ember_kargs *a);

EMBER_DECLARE_KERNEL(conv2d)
EMBER_DECLARE_KERNEL(linear)
EMBER_DECLARE_KERNEL(linear_packed)
EMBER_DECLARE_KERNEL(conv2d_nhwc)
EMBER_DECLARE_KERNEL(dwconv2d_nhwc)
EMBER_DECLARE_KERNEL(conv2d_winograd)
EMBER_DECLARE_KERNEL(pwdw_nhwc)
EMBER_DECLARE_KERNEL(qdwconv2d_nhwc)
EMBER_DECLARE_KERNEL(qconv2d_nhwc)
EMBER_DECLARE_KERNEL(matmul)
EMBER_DECLARE_KERNEL(binary)  /* add sub mul div pow maximum minimum, with epilogue */
EMBER_DECLARE_KERNEL(compare) /* eq ne lt le gt ge logical_and logical_or -> bool */
EMBER_DECLARE_KERNEL(where)
EMBER_DECLARE_KERNEL(unary) /* relu .. reciprocal, gelu, logical_not */
EMBER_DECLARE_KERNEL(clamp)
EMBER_DECLARE_KERNEL(softmax) /* softmax and log_softmax */
EMBER_DECLARE_KERNEL(layer_norm)
EMBER_DECLARE_KERNEL(rms_norm)
EMBER_DECLARE_KERNEL(batch_norm)
EMBER_DECLARE_KERNEL(max_pool2d)
EMBER_DECLARE_KERNEL(max_pool2d_nhwc)
EMBER_DECLARE_KERNEL(avg_pool2d)
EMBER_DECLARE_KERNEL(adaptive_avg_pool2d)
EMBER_DECLARE_KERNEL(reduce) /* reduce_mean reduce_sum reduce_max */
EMBER_DECLARE_KERNEL(reshape)
EMBER_DECLARE_KERNEL(permute)
EMBER_DECLARE_KERNEL(expand)
EMBER_DECLARE_KERNEL(concat)
EMBER_DECLARE_KERNEL(slice)
EMBER_DECLARE_KERNEL(pad)
EMBER_DECLARE_KERNEL(copy)
EMBER_DECLARE_KERNEL(cast)
EMBER_DECLARE_KERNEL(embedding)
EMBER_DECLARE_KERNEL(sdpa)
/* quantized ops (quant_*.c; rounding rules in docs/quantization.md) */
EMBER_DECLARE_KERNEL(quantize)
EMBER_DECLARE_KERNEL(dequantize)
EMBER_DECLARE_KERNEL(qlinear)
EMBER_DECLARE_KERNEL(qconv2d)
EMBER_DECLARE_KERNEL(dqlinear)
EMBER_DECLARE_KERNEL(q4linear)
EMBER_DECLARE_KERNEL(q4embedding)
EMBER_DECLARE_KERNEL(q8embedding)
EMBER_DECLARE_KERNEL(qadd)
EMBER_DECLARE_KERNEL(qany_max_pool2d) /* max_pool2d: f32 -> max_pool2d, i8 -> quant_pool.c */
EMBER_DECLARE_KERNEL(qany_reshape)    /* reshape: any dtype including i8 */

#endif
