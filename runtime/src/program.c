/* Loading is validation: every offset, length, id, dtype, rank and shape in a .ember file is checked
 * here before anything uses it. A bad file gives a status and a message, never a crash or over-read.
 * The layout is specified in docs/format.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define EMBER_NO_MMAP 1
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "program.h"

#define HEADER_SIZE 128u
#define SECTION_ENTRY 24u
#define TENSOR_RECORD 96u
#define NODE_RECORD 40u
#define MAX_SECTIONS 64u
#define MAX_TENSORS (1u << 24)
#define MAX_NODES (1u << 24)
#define MAX_DIM (INT64_C(1) << 40)
#define MAX_NUMEL (INT64_C(1) << 48)
#define MAX_ARENA (UINT64_C(1) << 46)

static const uint8_t kMagic[8] = {0x89, 'E', 'M', 'B', '\r', '\n', 0x1a, '\n'};

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* CRC-32 (IEEE 802.3, reflected, as zlib.crc32), slicing by 8. */
static uint32_t crc_table[8][256];
static int crc_ready;
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
  crc_ready = 1; /* benign race: every thread computes identical tables */
}
uint32_t ember_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  if (!crc_ready) crc_init();
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo = crc ^ rd32(p), hi = rd32(p + 4);
    crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
          crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
          crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#define FAIL(st, ...) ember_fail(err, err_len, st, __VA_ARGS__)

/* [off, off+len) inside [lo, hi)? Overflow-safe. */
static int in_range(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi) {
  return off >= lo && off <= hi && len <= hi - off;
}

void ember_program_free(ember_program *p) {
  if (!p) return;
#if !defined(EMBER_NO_MMAP)
  if (p->map) munmap(p->map, p->map_len);
#endif
  free(p->owned);
  for (uint32_t i = 0; p->nodes && i < p->n_nodes; i++) free(p->nodes[i].packed);
  free(p->tensors);
  free(p->nodes);
  free(p->edges);
  free(p->attrs);
  free(p->io);
  free(p);
}

static ember_status parse_header(ember_program *p, uint32_t flags, char *err, size_t err_len) {
  const uint8_t *b = p->base;
  uint64_t size = p->size;
  if (size < HEADER_SIZE)
    return FAIL(EMBER_ERR_FORMAT, "file is %llu bytes, smaller than the %u-byte .ember header: it is truncated "
                "or not an .ember file", (unsigned long long)size, HEADER_SIZE);
  if (memcmp(b, kMagic, 8) != 0)
    return FAIL(EMBER_ERR_FORMAT, "not an .ember file (bad magic bytes); export the model with `ember export`");
  uint32_t major = rd32(b + 8), minor = rd32(b + 12);
  if (major != EMBER_FORMAT_VERSION_MAJOR)
    return FAIL(EMBER_ERR_VERSION, "file format version %u.%u, this runtime reads %d.x: re-export the model "
                "with a matching ember, or update the runtime", major, minor, EMBER_FORMAT_VERSION_MAJOR);
  uint64_t file_size = rd64(b + 16);
  if (file_size != size)
    return FAIL(EMBER_ERR_FORMAT, "header says the file is %llu bytes but it is %llu: the file is truncated or "
                "has trailing data; download or export it again", (unsigned long long)file_size,
                (unsigned long long)size);
  if (rd32(b + 24) != HEADER_SIZE) return FAIL(EMBER_ERR_FORMAT, "unexpected header size %u", rd32(b + 24));
  for (uint32_t i = 68; i < HEADER_SIZE; i++)
    if (b[i]) return FAIL(EMBER_ERR_FORMAT, "reserved header byte %u is not zero", i);
  p->n_sections = rd32(b + 28);
  p->section_table = rd64(b + 32);
  p->const_off = rd64(b + 40);
  p->const_size = rd64(b + 48);
  uint32_t meta_crc = rd32(b + 56), const_crc = rd32(b + 60);
  if (rd32(b + 64) != 0) return FAIL(EMBER_ERR_FORMAT, "unknown header flags %#x", rd32(b + 64));
  if (p->const_off % EMBER_ALIGN || !in_range(p->const_off, p->const_size, HEADER_SIZE, size) ||
      p->const_off + p->const_size != size)
    return FAIL(EMBER_ERR_FORMAT, "constant segment [%llu, +%llu) is misplaced in a %llu-byte file",
                (unsigned long long)p->const_off, (unsigned long long)p->const_size, (unsigned long long)size);
  /* metadata checksum: bytes [0, const_off) with both checksum fields read as zero */
  static const uint8_t zeros[8] = {0};
  uint32_t c = ember_crc32(0, b, 56);
  c = ember_crc32(c, zeros, 8);
  c = ember_crc32(c, b + 64, p->const_off - 64);
#if defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) /* the fuzzer skips checksums to reach the validators */
  (void)meta_crc;
#else
  if (c != meta_crc)
    return FAIL(EMBER_ERR_FORMAT, "metadata checksum mismatch (file %08x, computed %08x): the file is corrupt "
                "or was modified; download or export it again", meta_crc, c);
#endif
  if (flags & EMBER_LOAD_VERIFY_WEIGHTS) {
    uint32_t w = ember_crc32(0, b + p->const_off, p->const_size);
    if (w != const_crc)
      return FAIL(EMBER_ERR_FORMAT, "weights checksum mismatch (file %08x, computed %08x): the weights are "
                  "corrupt; download or export the model again", const_crc, w);
  }
  if (p->n_sections == 0 || p->n_sections > MAX_SECTIONS ||
      !in_range(p->section_table, (uint64_t)p->n_sections * SECTION_ENTRY, HEADER_SIZE, p->const_off))
    return FAIL(EMBER_ERR_FORMAT, "section table (%u entries at %llu) is out of bounds", p->n_sections,
                (unsigned long long)p->section_table);
  return EMBER_OK;
}

typedef struct {
  uint64_t off, size;
  int present;
} section;

static ember_status parse_sections(ember_program *p, section *sec, char *err, size_t err_len) {
  const uint8_t *t = p->base + p->section_table;
  for (uint32_t i = 0; i < p->n_sections; i++, t += SECTION_ENTRY) {
    uint32_t kind = rd32(t), sflags = rd32(t + 4);
    uint64_t off = rd64(t + 8), size = rd64(t + 16);
    if (!in_range(off, size, HEADER_SIZE, p->const_off) || off % 8)
      return FAIL(EMBER_ERR_FORMAT, "section %u (kind %u) [%llu, +%llu) is out of bounds or misaligned", i, kind,
                  (unsigned long long)off, (unsigned long long)size);
    if (kind == 0 || kind >= EMBER_SECTION_COUNT) {
      if (sflags & 1u) continue; /* optional section from a newer writer: skip */
      return FAIL(EMBER_ERR_VERSION, "required section of unknown kind %u: the file needs a newer runtime", kind);
    }
    if (sec[kind].present) return FAIL(EMBER_ERR_FORMAT, "section kind %u appears twice", kind);
    sec[kind].off = off;
    sec[kind].size = size;
    sec[kind].present = 1;
  }
  for (uint32_t k = 1; k < EMBER_SECTION_COUNT; k++)
    if (!sec[k].present) return FAIL(EMBER_ERR_FORMAT, "required section kind %u is missing", k);
  return EMBER_OK;
}

static ember_status parse_tensors(ember_program *p, const section *s, char *err, size_t err_len) {
  if (s->size % TENSOR_RECORD || s->size / TENSOR_RECORD > MAX_TENSORS)
    return FAIL(EMBER_ERR_FORMAT, "tensor section size %llu is not a whole number of %u-byte records",
                (unsigned long long)s->size, TENSOR_RECORD);
  p->n_tensors = (uint32_t)(s->size / TENSOR_RECORD);
  p->tensors = calloc(p->n_tensors ? p->n_tensors : 1, sizeof(ember_tensor));
  if (!p->tensors) return FAIL(EMBER_ERR_OUT_OF_MEMORY, "out of memory for %u tensor records", p->n_tensors);
  const uint8_t *r = p->base + s->off;
  for (uint32_t i = 0; i < p->n_tensors; i++, r += TENSOR_RECORD) {
    ember_tensor *t = &p->tensors[i];
    t->name = rd32(r);
    t->dtype = r[4];
    t->rank = r[5];
    t->storage = r[6];
    if (t->name >= p->strings_size) return FAIL(EMBER_ERR_FORMAT, "tensor %u: name offset out of bounds", i);
    size_t es = ember_dtype_size(t->dtype);
    if (!es) return FAIL(EMBER_ERR_FORMAT, "tensor %u: unknown dtype code %d", i, t->dtype);
    if (t->rank > EMBER_MAX_RANK) return FAIL(EMBER_ERR_FORMAT, "tensor %u: rank %d exceeds %d", i, t->rank, EMBER_MAX_RANK);
    if (r[7] != 0) return FAIL(EMBER_ERR_FORMAT, "tensor %u: reserved byte set", i);
    int64_t numel = 1;
    for (int d = 0; d < EMBER_MAX_RANK; d++) {
      int64_t v = (int64_t)rd64(r + 8 + 8 * d);
      if (d >= t->rank) {
        if (v != 0) return FAIL(EMBER_ERR_FORMAT, "tensor %u: dimension %d beyond rank %d is not zero", i, d, t->rank);
        continue;
      }
      if (v < 1 || v > MAX_DIM)
        return FAIL(EMBER_ERR_FORMAT, "tensor %u: dimension %d has absurd size %lld", i, d, (long long)v);
      t->dims[d] = v;
      if (numel > MAX_NUMEL / v) return FAIL(EMBER_ERR_FORMAT, "tensor %u: element count overflows", i);
      numel *= v;
    }
    t->numel = numel;
    t->offset = rd64(r + 72);
    t->nbytes = rd64(r + 80);
    if (t->nbytes != (uint64_t)numel * es)
      return FAIL(EMBER_ERR_FORMAT, "tensor %u: byte size %llu does not match shape (%llu expected)", i,
                  (unsigned long long)t->nbytes, (unsigned long long)numel * es);
    if (rd64(r + 88) != 0) return FAIL(EMBER_ERR_FORMAT, "tensor %u: reserved field set", i);
    if (t->offset % EMBER_ALIGN) return FAIL(EMBER_ERR_FORMAT, "tensor %u: offset not 64-byte aligned", i);
    if (t->storage == EMBER_STORAGE_CONST) {
      if (!in_range(t->offset, t->nbytes, 0, p->const_size))
        return FAIL(EMBER_ERR_FORMAT, "tensor %u: constant data [%llu, +%llu) lies outside the constant segment", i,
                    (unsigned long long)t->offset, (unsigned long long)t->nbytes);
      t->data = (void *)(p->base + p->const_off + t->offset);
    } else if (t->storage == EMBER_STORAGE_ARENA) {
      if (!in_range(t->offset, t->nbytes, 0, p->arena_size))
        return FAIL(EMBER_ERR_FORMAT, "tensor %u: arena range [%llu, +%llu) exceeds the planned arena (%llu bytes)",
                    i, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                    (unsigned long long)p->arena_size);
    } else {
      return FAIL(EMBER_ERR_FORMAT, "tensor %u: unknown storage class %u", i, t->storage);
    }
  }
  return EMBER_OK;
}

static ember_status parse_graph(ember_program *p, const section *s, char *err, size_t err_len) {
  const uint8_t *g = p->base + s->off;
  if (s->size < 24) return FAIL(EMBER_ERR_FORMAT, "graph section too small");
  p->arena_size = rd64(g);
  p->lower_bound = rd64(g + 8);
  p->n_inputs = rd32(g + 16);
  p->n_outputs = rd32(g + 20);
  if (p->arena_size > MAX_ARENA || p->arena_size % EMBER_ALIGN)
    return FAIL(EMBER_ERR_FORMAT, "absurd or misaligned arena size %llu", (unsigned long long)p->arena_size);
  uint64_t n = (uint64_t)p->n_inputs + p->n_outputs;
  if (p->n_outputs == 0 || n > 4096 || s->size != 24 + 4 * n)
    return FAIL(EMBER_ERR_FORMAT, "graph section: %u inputs and %u outputs do not fit its %llu bytes", p->n_inputs,
                p->n_outputs, (unsigned long long)s->size);
  p->io = malloc(4 * n);
  if (!p->io) return FAIL(EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  for (uint64_t i = 0; i < n; i++) p->io[i] = rd32(g + 24 + 4 * i);
  return EMBER_OK;
}

static ember_status parse_nodes(ember_program *p, const section *ns, const section *es, const section *as,
                                char *err, size_t err_len) {
  if (ns->size % NODE_RECORD || ns->size / NODE_RECORD > MAX_NODES)
    return FAIL(EMBER_ERR_FORMAT, "node section size %llu is not a whole number of records", (unsigned long long)ns->size);
  if (es->size % 4 || as->size % 8) return FAIL(EMBER_ERR_FORMAT, "edge or attribute section size misaligned");
  p->n_nodes = (uint32_t)(ns->size / NODE_RECORD);
  uint64_t n_edges = es->size / 4, n_attrs = as->size / 8;
  p->edges = malloc(n_edges ? 4 * n_edges : 4);
  p->attrs = malloc(n_attrs ? 8 * n_attrs : 8);
  p->nodes = calloc(p->n_nodes ? p->n_nodes : 1, sizeof(ember_node));
  if (!p->edges || !p->attrs || !p->nodes) return FAIL(EMBER_ERR_OUT_OF_MEMORY, "out of memory for %u nodes", p->n_nodes);
  for (uint64_t i = 0; i < n_edges; i++) {
    p->edges[i] = rd32(p->base + es->off + 4 * i);
    if (p->edges[i] >= p->n_tensors)
      return FAIL(EMBER_ERR_FORMAT, "edge %llu refers to tensor %u, but the file has %u tensors",
                  (unsigned long long)i, p->edges[i], p->n_tensors);
  }
  for (uint64_t i = 0; i < n_attrs; i++) p->attrs[i] = (int64_t)rd64(p->base + as->off + 8 * i);
  const uint8_t *r = p->base + ns->off;
  for (uint32_t i = 0; i < p->n_nodes; i++, r += NODE_RECORD) {
    ember_node *nd = &p->nodes[i];
    nd->op = (int32_t)rd32(r);
    nd->flags = rd32(r + 4);
    uint32_t in0 = rd32(r + 8), nin = rd32(r + 12), out0 = rd32(r + 16), nout = rd32(r + 20);
    uint32_t a0 = rd32(r + 24), na = rd32(r + 28);
    nd->name = rd32(r + 32);
    if (rd32(r + 36) != 0) return FAIL(EMBER_ERR_FORMAT, "node %u: reserved field set", i);
    if (nd->name >= p->strings_size) return FAIL(EMBER_ERR_FORMAT, "node %u: name offset out of bounds", i);
    if (nd->flags & ~(uint32_t)(EMBER_NODE_ALIAS | EMBER_NODE_INPLACE))
      return FAIL(EMBER_ERR_FORMAT, "node %u: unknown flags %#x", i, nd->flags);
    if (!in_range(in0, nin, 0, n_edges) || !in_range(out0, nout, 0, n_edges) || !in_range(a0, na, 0, n_attrs))
      return FAIL(EMBER_ERR_FORMAT, "node %u: input, output or attribute range out of bounds", i);
    nd->n_in = (int32_t)nin;
    nd->n_out = (int32_t)nout;
    nd->n_attr = (int32_t)na;
    nd->in = p->edges + in0;
    nd->out = p->edges + out0;
    nd->attr = p->attrs + a0;
  }
  return EMBER_OK;
}

typedef struct {
  int32_t id, min_in, max_in, n_out, n_slots;
} op_shape;
static const op_shape kOps[] = {
#define ROW(n, id, mi, ma, no, ns) {id, mi, ma, no, ns},
    EMBER_OP_LIST(ROW)
#undef ROW
};

static const op_shape *op_info(int32_t op) {
  for (size_t i = 0; i < sizeof kOps / sizeof kOps[0]; i++)
    if (kOps[i].id == op) return &kOps[i];
  return NULL;
}

/* Node i's kernel args over descriptors only (data NULL for arena tensors). */
void ember_node_args(const ember_program *p, const ember_node *nd, ember_tensor *const *tensors,
                     const ember_tensor **in, ember_kargs *a, char *err, size_t err_len) {
  for (int32_t k = 0; k < nd->n_in; k++) in[k] = tensors[nd->in[k]];
  (void)p;
  a->op = nd->op;
  a->in = in;
  a->n_in = nd->n_in;
  a->n_out = nd->n_out;
  a->attr = nd->attr;
  a->n_attr = nd->n_attr;
  a->flags = nd->flags;
  a->err = err;
  a->err_len = err_len;
  a->scratch = NULL;
}

static ember_status check_graph(ember_program *p, char *err, size_t err_len) {
  uint8_t *defined = calloc(p->n_tensors ? p->n_tensors : 1, 1);
  ember_tensor **tp = malloc(sizeof(ember_tensor *) * (p->n_tensors ? p->n_tensors : 1));
  ember_status st = EMBER_OK;
  if (!defined || !tp) {
    st = FAIL(EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  for (uint32_t i = 0; i < p->n_tensors; i++) {
    tp[i] = &p->tensors[i];
    defined[i] = p->tensors[i].storage == EMBER_STORAGE_CONST;
  }
  for (uint32_t i = 0; i < p->n_inputs + p->n_outputs; i++) {
    uint32_t t = p->io[i];
    if (t >= p->n_tensors || p->tensors[t].storage != EMBER_STORAGE_ARENA) {
      st = FAIL(EMBER_ERR_FORMAT, "graph %s %u refers to tensor %u, which is not an activation tensor",
                i < p->n_inputs ? "input" : "output", i, t);
      goto done;
    }
    if (i < p->n_inputs) {
      if (defined[t]) {
        st = FAIL(EMBER_ERR_FORMAT, "graph input tensor %u listed twice", t);
        goto done;
      }
      defined[t] = 1;
    }
  }
  p->scratch_ref = 0;
  p->scratch_thread = 0;
  p->packed_bytes = 0;
  for (uint32_t i = 0; i < p->n_nodes; i++) {
    ember_node *nd = &p->nodes[i];
    const op_shape *info = op_info(nd->op);
    const ember_kernel *k = ember_kernel_for(nd->op);
    if (!info || !k) {
      st = FAIL(EMBER_ERR_UNSUPPORTED, "node %u uses op id %d, which this runtime has no kernel for: update the "
                "runtime or re-export for this runtime version", i, nd->op);
      goto done;
    }
    if (nd->n_in < info->min_in || nd->n_in > info->max_in || nd->n_in > EMBER_MAX_INPUTS ||
        nd->n_out != info->n_out || nd->n_attr != info->n_slots) {
      st = FAIL(EMBER_ERR_FORMAT, "node %u (%s): %d inputs, %d outputs, %d attribute slots do not match the op", i,
                ember_op_name(nd->op), nd->n_in, nd->n_out, nd->n_attr);
      goto done;
    }
    for (int32_t j = 0; j < nd->n_in; j++)
      if (!defined[nd->in[j]]) {
        st = FAIL(EMBER_ERR_FORMAT, "node %u (%s) reads tensor %u before any node writes it (dangling or cyclic "
                  "reference)", i, ember_op_name(nd->op), nd->in[j]);
        goto done;
      }
    for (int32_t j = 0; j < nd->n_out; j++) {
      uint32_t t = nd->out[j];
      if (p->tensors[t].storage != EMBER_STORAGE_ARENA || defined[t]) {
        st = FAIL(EMBER_ERR_FORMAT, "node %u (%s) writes tensor %u, which is constant or already written", i,
                  ember_op_name(nd->op), t);
        goto done;
      }
    }
    const ember_tensor *keyed = &p->tensors[nd->in[k->key_input < nd->n_in ? k->key_input : 0]];
    if (!((k->dtypes >> keyed->dtype) & 1u)) {
      st = FAIL(EMBER_ERR_UNSUPPORTED, "node %u (%s): no kernel for dtype %s", i, ember_op_name(nd->op),
                ember_dtype_name(keyed->dtype));
      goto done;
    }
    if (nd->flags & EMBER_NODE_ALIAS) {
      const ember_tensor *x = &p->tensors[nd->in[0]], *y = &p->tensors[nd->out[0]];
      if ((nd->op != EMBER_OP_RESHAPE && nd->op != EMBER_OP_COPY) || x->storage != EMBER_STORAGE_ARENA ||
          x->offset != y->offset || x->nbytes != y->nbytes) {
        st = FAIL(EMBER_ERR_FORMAT, "node %u (%s) is marked as a view but its output is not its input's bytes", i,
                  ember_op_name(nd->op));
        goto done;
      }
    }
    const ember_tensor *in[EMBER_MAX_INPUTS];
    ember_kargs a;
    char kerr[200] = {0};
    ember_node_args(p, nd, tp, in, &a, kerr, sizeof kerr);
    ember_tensor *outs[1] = {tp[nd->out[0]]};
    a.out = outs;
    uint64_t scratch = 0;
    if (k->check(&a, &scratch) != EMBER_OK) {
      st = FAIL(EMBER_ERR_FORMAT, "node %u (%s): %s", i, ember_op_name(nd->op), kerr);
      goto done;
    }
    if (scratch > MAX_ARENA) {
      st = FAIL(EMBER_ERR_FORMAT, "node %u: absurd scratch size", i);
      goto done;
    }
    nd->scratch = scratch;
    if (scratch > p->scratch_ref) p->scratch_ref = scratch;
    const ember_fast_kernel *fk = (p->flags & EMBER_LOAD_REFERENCE_KERNELS) ? NULL : ember_fast_kernel_select(&a);
    if (fk) {
      uint64_t per_thread = 0, packed_bytes = 0;
      void *packed = NULL;
      ember_status pst = fk->prepare(&a, &packed, &packed_bytes, &per_thread);
      if (pst != EMBER_OK) {
        st = FAIL(pst, "node %u (%s): preparing the fast kernel failed: %s", i, ember_op_name(nd->op), kerr);
        goto done;
      }
      nd->fast = fk;
      nd->packed = packed;
      nd->packed_bytes = packed_bytes;
      nd->fast_scratch = per_thread;
      p->packed_bytes += packed_bytes;
      if (per_thread > p->scratch_thread) p->scratch_thread = per_thread;
    }
    for (int32_t j = 0; j < nd->n_out; j++) defined[nd->out[j]] = 1;
  }
  for (uint32_t i = 0; i < p->n_outputs; i++)
    if (!defined[p->io[p->n_inputs + i]]) {
      st = FAIL(EMBER_ERR_FORMAT, "graph output %u is never computed", i);
      goto done;
    }
done:
  free(defined);
  free(tp);
  return st;
}

static ember_status validate(ember_program *p, uint32_t flags, char *err, size_t err_len) {
  const uint16_t probe = 1;
  if (*(const uint8_t *)&probe != 1)
    return FAIL(EMBER_ERR_UNSUPPORTED, "big-endian hosts are not supported (weights are little-endian)");
  p->flags = flags;
  ember_status st = parse_header(p, flags, err, err_len);
  if (st) return st;
  section sec[EMBER_SECTION_COUNT];
  memset(sec, 0, sizeof sec);
  if ((st = parse_sections(p, sec, err, err_len))) return st;
  const section *strs = &sec[EMBER_SECTION_STRINGS];
  if (strs->size == 0 || p->base[strs->off + strs->size - 1] != 0)
    return FAIL(EMBER_ERR_FORMAT, "string table is empty or not NUL-terminated");
  p->strings = (const char *)p->base + strs->off;
  p->strings_size = strs->size;
  p->meta = (const char *)p->base + sec[EMBER_SECTION_METADATA].off;
  p->meta_size = sec[EMBER_SECTION_METADATA].size;
  if ((st = parse_graph(p, &sec[EMBER_SECTION_GRAPH], err, err_len))) return st;
  if ((st = parse_tensors(p, &sec[EMBER_SECTION_TENSORS], err, err_len))) return st;
  if ((st = parse_nodes(p, &sec[EMBER_SECTION_NODES], &sec[EMBER_SECTION_EDGES], &sec[EMBER_SECTION_ATTRS], err,
                        err_len)))
    return st;
  return check_graph(p, err, err_len);
}

ember_status ember_program_load_memory(const void *data, size_t size, uint32_t flags, ember_program **out,
                                       char *err, size_t err_len) {
  if (err && err_len) err[0] = 0;
  if (!out || (!data && size)) return FAIL(EMBER_ERR_INVALID_ARGUMENT, "null argument");
  *out = NULL;
  ember_program *p = calloc(1, sizeof *p);
  if (!p) return FAIL(EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  if (flags & EMBER_LOAD_COPY) {
    /* 64-byte aligned copy so constants are aligned as the format promises */
    size_t rounded = (size + EMBER_ALIGN - 1) / EMBER_ALIGN * EMBER_ALIGN;
    p->owned = aligned_alloc(EMBER_ALIGN, rounded ? rounded : EMBER_ALIGN);
    if (!p->owned) {
      free(p);
      return FAIL(EMBER_ERR_OUT_OF_MEMORY, "out of memory copying %zu bytes", size);
    }
    if (size) memcpy(p->owned, data, size);
    p->base = p->owned;
  } else {
    if ((uintptr_t)data % EMBER_ALIGN) {
      free(p);
      return FAIL(EMBER_ERR_INVALID_ARGUMENT, "borrowed model memory must be 64-byte aligned; pass "
                  "EMBER_LOAD_COPY or align the buffer");
    }
    p->base = data;
  }
  p->size = size;
  ember_status st = validate(p, flags, err, err_len);
  if (st) {
    ember_program_free(p);
    return st;
  }
  *out = p;
  return EMBER_OK;
}

ember_status ember_program_load_file(const char *path, uint32_t flags, ember_program **out, char *err,
                                     size_t err_len) {
  if (err && err_len) err[0] = 0;
  if (!out || !path) return FAIL(EMBER_ERR_INVALID_ARGUMENT, "null argument");
  *out = NULL;
#if defined(EMBER_NO_MMAP)
  FILE *f = fopen(path, "rb");
  if (!f) return FAIL(EMBER_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = n > 0 ? malloc((size_t)n) : NULL;
  if (n > 0 && (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    free(buf);
    fclose(f);
    return FAIL(EMBER_ERR_IO, "cannot read %s", path);
  }
  fclose(f);
  ember_status st = ember_program_load_memory(buf, (size_t)(n > 0 ? n : 0), flags | EMBER_LOAD_COPY, out, err, err_len);
  free(buf);
  return st;
#else
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FAIL(EMBER_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat stt;
  if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
    close(fd);
    return FAIL(EMBER_ERR_IO, "%s is not a regular file", path);
  }
  size_t size = (size_t)stt.st_size;
  if (size < HEADER_SIZE) {
    close(fd);
    return FAIL(EMBER_ERR_FORMAT, "%s is %zu bytes, smaller than the %u-byte .ember header: it is truncated or not "
                "an .ember file", path, size, HEADER_SIZE);
  }
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return FAIL(EMBER_ERR_IO, "cannot map %s: %s", path, strerror(errno));
  ember_program *p = calloc(1, sizeof *p);
  if (!p) {
    munmap(map, size);
    return FAIL(EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  }
  p->map = map;
  p->map_len = size;
  p->base = map;
  p->size = size;
  ember_status st = validate(p, flags, err, err_len);
  if (st) {
    ember_program_free(p);
    return st;
  }
  *out = p;
  return EMBER_OK;
#endif
}

/* Accessors ---------------------------------------------------------------------------------- */

int32_t ember_program_num_inputs(const ember_program *p) { return p ? (int32_t)p->n_inputs : 0; }
int32_t ember_program_num_outputs(const ember_program *p) { return p ? (int32_t)p->n_outputs : 0; }

static ember_status info_of(const ember_program *p, uint32_t t, ember_tensor_info *out) {
  const ember_tensor *x = &p->tensors[t];
  out->name = p->strings + x->name;
  out->dtype = x->dtype;
  out->rank = x->rank;
  for (int i = 0; i < 8; i++) out->dims[i] = i < x->rank ? x->dims[i] : 0;
  out->nbytes = x->nbytes;
  return EMBER_OK;
}
ember_status ember_program_input_info(const ember_program *p, int32_t i, ember_tensor_info *out) {
  if (!p || !out || i < 0 || (uint32_t)i >= p->n_inputs) return EMBER_ERR_INVALID_ARGUMENT;
  return info_of(p, p->io[i], out);
}
ember_status ember_program_output_info(const ember_program *p, int32_t i, ember_tensor_info *out) {
  if (!p || !out || i < 0 || (uint32_t)i >= p->n_outputs) return EMBER_ERR_INVALID_ARGUMENT;
  return info_of(p, p->io[p->n_inputs + (uint32_t)i], out);
}
uint64_t ember_program_arena_bytes(const ember_program *p) { return p ? p->arena_size : 0; }
uint64_t ember_program_scratch_bytes(const ember_program *p) {
  return p ? (p->scratch_ref > p->scratch_thread ? p->scratch_ref : p->scratch_thread) : 0;
}
uint64_t ember_program_packed_bytes(const ember_program *p) { return p ? p->packed_bytes : 0; }
const char *ember_program_node_kernel(const ember_program *p, int32_t i) {
  if (!p || i < 0 || (uint32_t)i >= p->n_nodes) return "";
  return p->nodes[i].fast ? p->nodes[i].fast->name : "reference";
}
uint64_t ember_program_weight_bytes(const ember_program *p) { return p ? p->const_size : 0; }
uint64_t ember_program_lower_bound_bytes(const ember_program *p) { return p ? p->lower_bound : 0; }
int32_t ember_program_num_nodes(const ember_program *p) { return p ? (int32_t)p->n_nodes : 0; }
ember_status ember_program_node_info(const ember_program *p, int32_t i, const char **name, const char **op) {
  if (!p || i < 0 || (uint32_t)i >= p->n_nodes) return EMBER_ERR_INVALID_ARGUMENT;
  if (name) *name = p->strings + p->nodes[i].name;
  if (op) *op = ember_op_name(p->nodes[i].op);
  return EMBER_OK;
}
ember_status ember_program_metadata(const ember_program *p, const char **json, size_t *len) {
  if (!p || !json || !len) return EMBER_ERR_INVALID_ARGUMENT;
  *json = p->meta;
  *len = (size_t)p->meta_size;
  return EMBER_OK;
}

const char *ember_status_name(ember_status s) {
  switch (s) {
    case EMBER_OK: return "ok";
    case EMBER_ERR_INVALID_ARGUMENT: return "invalid argument";
    case EMBER_ERR_FORMAT: return "format error";
    case EMBER_ERR_VERSION: return "version mismatch";
    case EMBER_ERR_UNSUPPORTED: return "unsupported";
    case EMBER_ERR_IO: return "i/o error";
    case EMBER_ERR_OUT_OF_MEMORY: return "out of memory";
    case EMBER_ERR_RUNTIME: return "runtime error";
    default: return "unknown status";
  }
}
