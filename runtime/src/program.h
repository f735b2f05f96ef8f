/* The validated, immutable program behind an ember_program handle. */
#ifndef EMBER_PROGRAM_H
#define EMBER_PROGRAM_H

#include "internal.h"

enum {
  EMBER_SECTION_STRINGS = 1,
  EMBER_SECTION_TENSORS = 2,
  EMBER_SECTION_NODES = 3,
  EMBER_SECTION_EDGES = 4,
  EMBER_SECTION_ATTRS = 5,
  EMBER_SECTION_GRAPH = 6,
  EMBER_SECTION_METADATA = 7,
  EMBER_SECTION_COUNT = 8
};

struct ember_program {
  const uint8_t *base; /* the file bytes: mmap, borrowed memory, or `owned` */
  uint64_t size;
  void *owned;
  void *map;
  size_t map_len;
  uint32_t n_sections;
  uint64_t section_table, const_off, const_size;
  const char *strings;
  uint64_t strings_size;
  const char *meta;
  uint64_t meta_size;
  ember_tensor *tensors; /* constants have data set; arena tensors get data per session */
  uint32_t n_tensors;
  ember_node *nodes;
  uint32_t n_nodes;
  uint32_t *edges;
  int64_t *attrs;
  uint32_t *io; /* n_inputs input tensor ids, then n_outputs output ids */
  uint32_t n_inputs, n_outputs;
  uint64_t arena_size, lower_bound;
  uint64_t scratch_ref;    /* largest reference-kernel scratch (used by thread 0 only) */
  uint64_t scratch_thread; /* largest fast-kernel scratch per thread */
  uint64_t packed_bytes;
  uint32_t flags;
};

uint32_t ember_crc32(uint32_t crc, const uint8_t *p, size_t n);
void ember_node_args(const ember_program *p, const ember_node *nd, ember_tensor *const *tensors,
                     const ember_tensor **in, ember_kargs *a, char *err, size_t err_len);

#endif
