/* Ember runtime internals shared by the loader, the session and the kernels. Not a public header. */
#ifndef EMBER_INTERNAL_H
#define EMBER_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ember/ember.h"
#include "ember_ops.h"

#define EMBER_ALIGN 64u
#define EMBER_MAX_INPUTS 64

/* Tensor storage classes (docs/format.md). */
#define EMBER_STORAGE_ARENA 0
#define EMBER_STORAGE_CONST 1

/* Node flags. */
#define EMBER_NODE_ALIAS 1u   /* output is a view of input 0: same bytes, the node does no work */
#define EMBER_NODE_INPLACE 2u /* output may occupy input 0's bytes (elementwise kernels allow it) */

typedef struct ember_fast_kernel ember_fast_kernel;

typedef struct ember_tensor {
  int32_t dtype;
  int32_t rank;
  int64_t dims[EMBER_MAX_RANK];
  int64_t numel;
  uint64_t nbytes;
  uint64_t offset; /* into the constant segment or the arena */
  uint32_t storage;
  uint32_t name; /* offset into the string table */
  void *data;    /* resolved per session (arena) or per program (constants); NULL while validating */
} ember_tensor;

typedef struct ember_node {
  int32_t op;
  uint32_t flags;
  uint32_t name;
  int32_t n_in, n_out, n_attr;
  const uint32_t *in;  /* tensor indices */
  const uint32_t *out; /* tensor indices */
  const int64_t *attr; /* attribute slots (unaligned-safe copy made at load) */
  uint64_t scratch;    /* bytes of scratch the reference kernel asked for */
  const ember_fast_kernel *fast; /* NULL: the reference kernel runs */
  void *packed;
  uint64_t packed_bytes;
  uint64_t fast_scratch; /* per thread */
} ember_node;

/* What a kernel sees: tensor descriptors with data pointers, attributes, scratch and an error sink. */
typedef struct ember_kargs {
  int32_t op; /* the node's op id (kernels shared by several ops switch on it) */
  const ember_tensor *const *in;
  int32_t n_in;
  ember_tensor *const *out;
  int32_t n_out;
  const int64_t *attr;
  int32_t n_attr;
  void *scratch; /* EMBER_ALIGN-aligned, at least the bytes `check` asked for */
  uint32_t flags;
  const void *packed;        /* fast kernels: what prepare() made at load (e.g. packed weights) */
  struct ember_pool *pool;   /* fast kernels: the session's thread pool */
  uint64_t scratch_stride;   /* fast kernels: thread t's scratch is scratch + t * scratch_stride */
  char *err;
  size_t err_len;
} ember_kargs;

/* check: validate dtypes, shapes and attributes against the op's rule (data pointers are NULL) and
 * report scratch bytes. eval: compute. Both return EMBER_OK or a status with a message in err. */
typedef ember_status (*ember_check_fn)(const ember_kargs *a, uint64_t *scratch_bytes);
typedef ember_status (*ember_eval_fn)(const ember_kargs *a);

typedef struct ember_kernel {
  const char *name;
  ember_check_fn check;
  ember_eval_fn eval;
  uint32_t dtypes; /* bit (1 << dtype) for each dtype of the keyed input this kernel accepts */
  int32_t key_input; /* which input's dtype selects the kernel (usually 0) */
} ember_kernel;

/* A fast kernel replaces the reference eval for nodes it applies to. applies() and prepare() run at
 * load, when constant tensors have data; prepare() may allocate `packed` once (counted in the
 * program's packed bytes, freed with the program) and reports per-thread scratch. */
struct ember_fast_kernel {
  const char *name;
  int (*applies)(const ember_kargs *a);
  ember_status (*prepare)(const ember_kargs *a, void **packed, uint64_t *packed_bytes,
                          uint64_t *scratch_per_thread);
  ember_eval_fn eval;
};
const ember_fast_kernel *ember_fast_kernel_for(int32_t op);
/* The fast kernel for this node (by op and shapes), or NULL for the reference kernel. */
const ember_fast_kernel *ember_fast_kernel_select(const ember_kargs *a);

/* The kernel table, indexed by op id (kernels.c). Entries with eval == NULL are not supported. */
const ember_kernel *ember_kernel_for(int32_t op);
const char *ember_op_name(int32_t op);

/* Helpers for kernels ------------------------------------------------------------------------ */
ember_status ember_fail(char *err, size_t err_len, ember_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define KFAIL(a, ...) ember_fail((a)->err, (a)->err_len, EMBER_ERR_FORMAT, __VA_ARGS__)

static inline double ember_attr_f(const ember_kargs *a, int slot) {
  double d;
  int64_t v = a->attr[slot];
  memcpy(&d, &v, sizeof d);
  return d;
}
static inline int64_t ember_attr_i(const ember_kargs *a, int slot) { return a->attr[slot]; }

size_t ember_dtype_size(int32_t dtype);
bool ember_same_shape(const ember_tensor *x, const ember_tensor *y);
/* out dims == numpy broadcast of a and b (right-aligned)? */
bool ember_broadcast_ok(const ember_tensor *out, const ember_tensor *const *ins, int n);
/* Element strides (in elements) of `t` viewed at rank `rank` aligned right with broadcasting (0 stride). */
void ember_broadcast_strides(const ember_tensor *t, int rank, const int64_t *out_dims, int64_t *strides);
/* Apply an epilogue activation. */
float ember_act(float v, int act, float lo, float hi);
int ember_act_valid(int64_t act);
float ember_erff(float x);

/* Monotonic clock in nanoseconds (profiling). */
uint64_t ember_now_ns(void);

#endif /* EMBER_INTERNAL_H */
