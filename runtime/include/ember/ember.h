/*
 * Ember runtime: the public C API.
 *
 * A program is an immutable, validated .ember file (read in place from mmap or caller memory). It is
 * thread-safe: any number of sessions may run it at once, one session per thread. A session owns one
 * arena allocated at creation (or memory the caller provides); running never allocates.
 *
 * Every function returns an ember_status. Functions that can fail before an object exists take an
 * error buffer; sessions keep their last error message (ember_session_last_error).
 */
#ifndef EMBER_EMBER_H
#define EMBER_EMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_FORMAT_VERSION_MAJOR 1
#define EMBER_FORMAT_VERSION_MINOR 0
#define EMBER_RUNTIME_VERSION "0.1.0"

typedef enum ember_status {
  EMBER_OK = 0,
  EMBER_ERR_INVALID_ARGUMENT = 1, /* a caller passed a bad pointer, index, size or shape */
  EMBER_ERR_FORMAT = 2,           /* the file is corrupt, truncated, tampered or inconsistent */
  EMBER_ERR_VERSION = 3,          /* the file's format version is not one this runtime reads */
  EMBER_ERR_UNSUPPORTED = 4,      /* an op or dtype this runtime has no kernel for */
  EMBER_ERR_IO = 5,               /* the file could not be opened, read or mapped */
  EMBER_ERR_OUT_OF_MEMORY = 6,    /* an allocation at load or session creation failed */
  EMBER_ERR_RUNTIME = 7           /* a kernel rejected its data while running (e.g. index range) */
} ember_status;

typedef struct ember_program ember_program;
typedef struct ember_session ember_session;

/* Load flags. */
#define EMBER_LOAD_VERIFY_WEIGHTS 1u /* check the constant segment's CRC32 (reads every weight page) */
#define EMBER_LOAD_COPY 2u           /* ember_program_load_memory: copy the bytes instead of borrowing */
#define EMBER_LOAD_REFERENCE_KERNELS 4u /* run only the reference kernels (the oracle; for debugging) */

typedef struct ember_tensor_info {
  const char *name;
  int32_t dtype; /* EMBER_DTYPE_* codes, see docs/format.md */
  int32_t rank;
  int64_t dims[8];
  uint64_t nbytes;
} ember_tensor_info;

/* Programs ---------------------------------------------------------------------------------- */

/* Map `path` read-only and validate it. Weights are used in place from the mapping. */
ember_status ember_program_load_file(const char *path, uint32_t flags, ember_program **out, char *err,
                                     size_t err_len);
/* Validate `size` bytes at `data`. Without EMBER_LOAD_COPY the caller keeps `data` alive and unchanged
 * until ember_program_free; `data` must be 64-byte aligned in that case. */
ember_status ember_program_load_memory(const void *data, size_t size, uint32_t flags, ember_program **out,
                                       char *err, size_t err_len);
void ember_program_free(ember_program *program);

int32_t ember_program_num_inputs(const ember_program *p);
int32_t ember_program_num_outputs(const ember_program *p);
ember_status ember_program_input_info(const ember_program *p, int32_t index, ember_tensor_info *out);
ember_status ember_program_output_info(const ember_program *p, int32_t index, ember_tensor_info *out);
uint64_t ember_program_arena_bytes(const ember_program *p);      /* planned activation memory */
uint64_t ember_program_scratch_bytes(const ember_program *p);    /* kernel scratch, per session */
uint64_t ember_program_weight_bytes(const ember_program *p);     /* constant segment, read in place */
uint64_t ember_program_lower_bound_bytes(const ember_program *p); /* planner's lower bound, from the file */
uint64_t ember_program_packed_bytes(const ember_program *p);     /* weights repacked at load for fast kernels */
int32_t ember_program_num_nodes(const ember_program *p);
/* Name, op name and kernel name of node `index` (for profiles); any out-pointer may be NULL. */
ember_status ember_program_node_info(const ember_program *p, int32_t index, const char **name,
                                     const char **op_name);
const char *ember_program_node_kernel(const ember_program *p, int32_t index);
/* The file's JSON metadata (not NUL-terminated; `len` bytes). */
ember_status ember_program_metadata(const ember_program *p, const char **json, size_t *len);

/* Sessions ---------------------------------------------------------------------------------- */

typedef struct ember_session_options {
  int32_t threads;   /* threads running the fast kernels, the caller included; 0 or 1 = the caller only */
  void *arena;       /* caller memory for activations and scratch, or NULL to allocate once */
  size_t arena_size; /* must be >= ember_session_required_bytes(p, threads) when `arena` is given */
  int32_t profile;   /* nonzero: record per-node times on every run */
} ember_session_options;

/* Bytes a caller-provided arena needs (activations + per-thread scratch + alignment slack). */
uint64_t ember_session_required_bytes(const ember_program *p, int32_t threads);
ember_status ember_session_create(const ember_program *p, const ember_session_options *opts,
                                  ember_session **out, char *err, size_t err_len);
void ember_session_free(ember_session *s);

/* Copy `nbytes` (must equal the input's size) into input `index`. The copy lives in the arena, whose bytes
 * are reused once the input has been consumed: set (or bind) every input again before each run. */
ember_status ember_session_set_input(ember_session *s, int32_t index, const void *data, size_t nbytes);
/* Read input `index` straight from caller memory (no copy): `data` must be 64-byte aligned, hold exactly
 * the input's bytes and stay unchanged and alive through every run until the input is set or bound
 * again. The session never writes to it. */
ember_status ember_session_bind_input(ember_session *s, int32_t index, const void *data, size_t nbytes);
ember_status ember_session_run(ember_session *s);
/* Write output `index` straight into caller memory on the following runs (no copy): `data` must be
 * 64-byte aligned, hold exactly the output's bytes and stay alive until the output is bound again or
 * unbound (data = NULL: back to the arena). EMBER_ERR_UNSUPPORTED for an output that is a view of
 * another tensor, a graph input or listed twice: read those with ember_session_get_output. */
ember_status ember_session_bind_output(ember_session *s, int32_t index, void *data, size_t nbytes);
/* Pointer to output `index` (in the session arena, or the bound memory); valid until the next run or free. */
ember_status ember_session_get_output(ember_session *s, int32_t index, const void **data, size_t *nbytes);
/* Per-node wall time of the last run in nanoseconds (profile option); `count` = number of nodes. */
ember_status ember_session_node_times(const ember_session *s, const uint64_t **ns, int32_t *count);
ember_status ember_session_set_profiling(ember_session *s, int32_t enabled);
const char *ember_session_last_error(const ember_session *s);

/* Runtime capabilities ------------------------------------------------------------------------ */

typedef struct ember_kernel_desc {
  int32_t op;
  const char *op_name;
  int32_t dtype;
} ember_kernel_desc;

/* The (op, dtype) pairs this build can run; export checks graphs against this list. */
int32_t ember_kernel_count(void);
ember_status ember_kernel_at(int32_t index, ember_kernel_desc *out);
const char *ember_status_name(ember_status s);
const char *ember_dtype_name(int32_t dtype);

#ifdef __cplusplus
}
#endif
#endif /* EMBER_EMBER_H */
