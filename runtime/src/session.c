/* Sessions: one arena (activations + scratch) allocated at creation or given by the caller, tensor
 * data pointers resolved once, and a run loop that calls one kernel per node. Running never allocates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "threadpool.h"

struct ember_session {
  const ember_program *p;
  uint8_t *arena; /* 64-byte aligned */
  void *owned_arena;
  uint8_t *scratch;
  ember_tensor *tensors;  /* per-session copies with data pointers */
  ember_tensor **tptr;    /* pointers into `tensors`, indexed by tensor id */
  uint64_t *node_ns;
  ember_pool *pool;
  uint64_t scratch_stride;
  int32_t profile;
  int32_t threads;
  char err[256];
};

static uint64_t align_up(uint64_t v) { return (v + EMBER_ALIGN - 1) / EMBER_ALIGN * EMBER_ALIGN; }

static uint64_t scratch_bytes(const ember_program *p, int32_t threads) {
  uint64_t per_thread = align_up(p->scratch_thread) * (uint64_t)(threads > 1 ? threads : 1);
  return per_thread > align_up(p->scratch_ref) ? per_thread : align_up(p->scratch_ref);
}

uint64_t ember_session_required_bytes(const ember_program *p, int32_t threads) {
  if (!p) return 0;
  return align_up(p->arena_size) + scratch_bytes(p, threads) + EMBER_ALIGN;
}

void ember_session_free(ember_session *s) {
  if (!s) return;
  free(s->owned_arena);
  free(s->tensors);
  free(s->tptr);
  free(s->node_ns);
  ember_pool_free(s->pool);
  free(s);
}

ember_status ember_session_create(const ember_program *p, const ember_session_options *opts, ember_session **out,
                                  char *err, size_t err_len) {
  if (err && err_len) err[0] = 0;
  if (!p || !out) return ember_fail(err, err_len, EMBER_ERR_INVALID_ARGUMENT, "null argument");
  *out = NULL;
  ember_session_options o = {0, NULL, 0, 0};
  if (opts) o = *opts;
  int32_t threads = o.threads > 1 ? o.threads : 1;
  uint64_t need = ember_session_required_bytes(p, threads);
  if (o.arena && o.arena_size < need)
    return ember_fail(err, err_len, EMBER_ERR_INVALID_ARGUMENT,
                      "caller arena is %zu bytes; this model needs %llu with %d threads "
                      "(ember_session_required_bytes)",
                      o.arena_size, (unsigned long long)need, threads);
  if (need > (uint64_t)SIZE_MAX) return ember_fail(err, err_len, EMBER_ERR_OUT_OF_MEMORY, "arena too large");
  ember_session *s = calloc(1, sizeof *s);
  if (!s) return ember_fail(err, err_len, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  s->p = p;
  s->profile = o.profile;
  s->threads = threads;
  s->scratch_stride = align_up(p->scratch_thread);
  s->pool = ember_pool_create(threads);
  uint8_t *base = o.arena;
  if (!base) {
    s->owned_arena = calloc(1, (size_t)need);
    if (!s->owned_arena) {
      ember_session_free(s);
      return ember_fail(err, err_len, EMBER_ERR_OUT_OF_MEMORY, "cannot allocate the %llu-byte arena",
                        (unsigned long long)need);
    }
    base = s->owned_arena;
  }
  s->arena = (uint8_t *)(((uintptr_t)base + EMBER_ALIGN - 1) / EMBER_ALIGN * EMBER_ALIGN);
  s->scratch = s->arena + align_up(p->arena_size);
  s->tensors = malloc(sizeof(ember_tensor) * (p->n_tensors ? p->n_tensors : 1));
  s->tptr = malloc(sizeof(ember_tensor *) * (p->n_tensors ? p->n_tensors : 1));
  s->node_ns = calloc(p->n_nodes ? p->n_nodes : 1, sizeof(uint64_t));
  if (!s->tensors || !s->tptr || !s->node_ns || !s->pool) {
    ember_session_free(s);
    return ember_fail(err, err_len, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  }
  for (uint32_t i = 0; i < p->n_tensors; i++) {
    s->tensors[i] = p->tensors[i];
    if (p->tensors[i].storage == EMBER_STORAGE_ARENA) s->tensors[i].data = s->arena + p->tensors[i].offset;
    s->tptr[i] = &s->tensors[i];
  }
  *out = s;
  return EMBER_OK;
}

/* input `index` if it exists and takes `nbytes`, else NULL with the error recorded */
static ember_tensor *input_tensor(ember_session *s, int32_t index, size_t nbytes) {
  if (index < 0 || (uint32_t)index >= s->p->n_inputs) {
    ember_fail(s->err, sizeof s->err, EMBER_ERR_INVALID_ARGUMENT, "input index %d out of range (model has %u)", index,
               s->p->n_inputs);
    return NULL;
  }
  ember_tensor *t = s->tptr[s->p->io[index]];
  if (nbytes != t->nbytes) {
    ember_fail(s->err, sizeof s->err, EMBER_ERR_INVALID_ARGUMENT,
               "input %d (%s) takes %llu bytes, got %zu: check its shape and dtype", index, s->p->strings + t->name,
               (unsigned long long)t->nbytes, nbytes);
    return NULL;
  }
  return t;
}

ember_status ember_session_set_input(ember_session *s, int32_t index, const void *data, size_t nbytes) {
  if (!s || !data) return EMBER_ERR_INVALID_ARGUMENT;
  ember_tensor *t = input_tensor(s, index, nbytes);
  if (!t) return EMBER_ERR_INVALID_ARGUMENT;
  t->data = s->arena + s->p->tensors[s->p->io[index]].offset; /* back in the arena if it was bound */
  memcpy(t->data, data, nbytes);
  return EMBER_OK;
}

ember_status ember_session_bind_input(ember_session *s, int32_t index, const void *data, size_t nbytes) {
  if (!s || !data) return EMBER_ERR_INVALID_ARGUMENT;
  ember_tensor *t = input_tensor(s, index, nbytes);
  if (!t) return EMBER_ERR_INVALID_ARGUMENT;
  if ((uintptr_t)data % EMBER_ALIGN)
    return ember_fail(s->err, sizeof s->err, EMBER_ERR_INVALID_ARGUMENT,
                      "input %d: bound memory must be %d-byte aligned (use ember_session_set_input to copy)", index,
                      EMBER_ALIGN);
  /* kernels only read graph inputs: in-place reuse never picks a buffer that holds one */
  t->data = (void *)(uintptr_t)data;
  return EMBER_OK;
}

/* 1 when output `index` can be written straight into caller memory: an arena tensor made by a node that
 * computes it (not a view, whose bytes are its input's), not a graph input, listed once among outputs */
static int output_bindable(const ember_session *s, uint32_t tid) {
  const ember_program *p = s->p;
  if (p->tensors[tid].storage != EMBER_STORAGE_ARENA) return 0;
  for (uint32_t i = 0; i < p->n_inputs; i++)
    if (p->io[i] == tid) return 0;
  int listed = 0;
  for (uint32_t i = 0; i < p->n_outputs; i++) listed += p->io[p->n_inputs + i] == tid;
  if (listed != 1) return 0;
  for (uint32_t i = 0; i < p->n_nodes; i++)
    if (p->nodes[i].out[0] == tid) return !(p->nodes[i].flags & EMBER_NODE_ALIAS);
  return 0;
}

ember_status ember_session_bind_output(ember_session *s, int32_t index, void *data, size_t nbytes) {
  if (!s) return EMBER_ERR_INVALID_ARGUMENT;
  if (index < 0 || (uint32_t)index >= s->p->n_outputs)
    return ember_fail(s->err, sizeof s->err, EMBER_ERR_INVALID_ARGUMENT, "output index %d out of range", index);
  uint32_t tid = s->p->io[s->p->n_inputs + (uint32_t)index];
  ember_tensor *t = s->tptr[tid];
  if (!data) { /* back to the arena */
    if (s->p->tensors[tid].storage == EMBER_STORAGE_ARENA) t->data = s->arena + s->p->tensors[tid].offset;
    return EMBER_OK;
  }
  if (nbytes != t->nbytes)
    return ember_fail(s->err, sizeof s->err, EMBER_ERR_INVALID_ARGUMENT,
                      "output %d (%s) has %llu bytes, got %zu: check its shape and dtype", index,
                      s->p->strings + t->name, (unsigned long long)t->nbytes, nbytes);
  if ((uintptr_t)data % EMBER_ALIGN)
    return ember_fail(s->err, sizeof s->err, EMBER_ERR_INVALID_ARGUMENT,
                      "output %d: bound memory must be %d-byte aligned (read the output instead)", index,
                      EMBER_ALIGN);
  if (!output_bindable(s, tid))
    return ember_fail(s->err, sizeof s->err, EMBER_ERR_UNSUPPORTED,
                      "output %d (%s) is a view, a graph input or listed twice: read it instead", index,
                      s->p->strings + t->name);
  /* its producer (and any reader, or view of it) now uses these bytes; nothing else lives there */
  t->data = data;
  return EMBER_OK;
}

ember_status ember_session_run(ember_session *s) {
  if (!s) return EMBER_ERR_INVALID_ARGUMENT;
  const ember_program *p = s->p;
  s->err[0] = 0;
  for (uint32_t i = 0; i < p->n_nodes; i++) {
    const ember_node *nd = &p->nodes[i];
    uint64_t t0 = s->profile ? ember_now_ns() : 0;
    if (!(nd->flags & EMBER_NODE_ALIAS)) {
      const ember_tensor *in[EMBER_MAX_INPUTS];
      ember_tensor *outs[1] = {s->tptr[nd->out[0]]};
      ember_kargs a;
      char kerr[160];
      kerr[0] = 0;
      ember_node_args(p, nd, s->tptr, in, &a, kerr, sizeof kerr);
      a.out = outs;
      a.scratch = s->scratch;
      a.pool = s->pool;
      a.scratch_stride = s->scratch_stride;
      a.packed = nd->packed;
      ember_status st = nd->fast ? nd->fast->eval(&a) : ember_kernel_for(nd->op)->eval(&a);
      if (st != EMBER_OK)
        return ember_fail(s->err, sizeof s->err, st, "node %u (%s, %s): %s", i, p->strings + nd->name,
                          ember_op_name(nd->op), kerr);
    }
    else /* a view (reshape) shares its input's bytes, wherever they are (a bound input) */
      s->tptr[nd->out[0]]->data = s->tptr[nd->in[0]]->data;
    if (s->profile) s->node_ns[i] = ember_now_ns() - t0;
  }
  return EMBER_OK;
}

ember_status ember_session_get_output(ember_session *s, int32_t index, const void **data, size_t *nbytes) {
  if (!s || !data || !nbytes) return EMBER_ERR_INVALID_ARGUMENT;
  if (index < 0 || (uint32_t)index >= s->p->n_outputs)
    return ember_fail(s->err, sizeof s->err, EMBER_ERR_INVALID_ARGUMENT, "output index %d out of range", index);
  const ember_tensor *t = s->tptr[s->p->io[s->p->n_inputs + (uint32_t)index]];
  *data = t->data;
  *nbytes = (size_t)t->nbytes;
  return EMBER_OK;
}

ember_status ember_session_node_times(const ember_session *s, const uint64_t **ns, int32_t *count) {
  if (!s || !ns || !count) return EMBER_ERR_INVALID_ARGUMENT;
  *ns = s->node_ns;
  *count = (int32_t)s->p->n_nodes;
  return EMBER_OK;
}

ember_status ember_session_set_profiling(ember_session *s, int32_t enabled) {
  if (!s) return EMBER_ERR_INVALID_ARGUMENT;
  s->profile = enabled;
  return EMBER_OK;
}

const char *ember_session_last_error(const ember_session *s) { return s ? s->err : "null session"; }
