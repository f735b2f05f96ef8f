/* Embedding the Ember runtime in an app, with no Python:
 *     ember_run model.ember [input.bin [expected.bin]]
 * Loads the model (mmap, validated), fills each input from input.bin (raw little-endian tensors, in
 * order) or with zeros, runs it, prints the outputs' first values, and compares them with
 * expected.bin (raw outputs, in order) if given. Exit status 0 on success. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/ember.h"

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = n > 0 ? (size_t)n : 0;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s model.ember [input.bin [expected.bin]]\n", argv[0]);
    return 2;
  }
  char err[512];
  ember_program *prog = NULL;
  ember_status st = ember_program_load_file(argv[1], EMBER_LOAD_VERIFY_WEIGHTS, &prog, err, sizeof err);
  if (st != EMBER_OK) {
    fprintf(stderr, "load failed (%s): %s\n", ember_status_name(st), err);
    return 1;
  }
  ember_session *sess = NULL;
  ember_session_options opts = {1, NULL, 0, 1};
  st = ember_session_create(prog, &opts, &sess, err, sizeof err);
  if (st != EMBER_OK) {
    fprintf(stderr, "session failed (%s): %s\n", ember_status_name(st), err);
    ember_program_free(prog);
    return 1;
  }
  size_t in_len = 0, pos = 0;
  unsigned char *in = argc > 2 ? read_all(argv[2], &in_len) : NULL;
  int rc = 0;
  for (int32_t i = 0; i < ember_program_num_inputs(prog); i++) {
    ember_tensor_info info;
    ember_program_input_info(prog, i, &info);
    unsigned char *buf = calloc(1, info.nbytes ? info.nbytes : 1);
    if (in && pos + info.nbytes <= in_len) memcpy(buf, in + pos, info.nbytes);
    pos += info.nbytes;
    st = ember_session_set_input(sess, i, buf, info.nbytes);
    free(buf);
    if (st != EMBER_OK) {
      fprintf(stderr, "set_input: %s\n", ember_session_last_error(sess));
      rc = 1;
      goto out;
    }
  }
  st = ember_session_run(sess);
  if (st != EMBER_OK) {
    fprintf(stderr, "run failed: %s\n", ember_session_last_error(sess));
    rc = 1;
    goto out;
  }
  size_t exp_len = 0, epos = 0;
  unsigned char *expected = argc > 3 ? read_all(argv[3], &exp_len) : NULL;
  for (int32_t i = 0; i < ember_program_num_outputs(prog); i++) {
    ember_tensor_info info;
    ember_program_output_info(prog, i, &info);
    const void *data;
    size_t n;
    ember_session_get_output(sess, i, &data, &n);
    printf("output %d '%s' [", i, info.name);
    for (int d = 0; d < info.rank; d++) printf(d ? ", %lld" : "%lld", (long long)info.dims[d]);
    printf("] %s:", ember_dtype_name(info.dtype));
    if (info.dtype == 1) {
      const float *f = data;
      for (size_t k = 0; k < n / 4 && k < 6; k++) printf(" %.6g", f[k]);
      if (expected) {
        double max_err = 0;
        for (size_t k = 0; k < n / 4; k++) {
          float e;
          if (epos + 4 * k + 4 > exp_len) break;
          memcpy(&e, expected + epos + 4 * k, 4);
          double d = fabs((double)f[k] - e);
          if (!(d <= max_err)) max_err = d;
        }
        printf("  max |err| vs expected = %.3g", max_err);
        if (!(max_err <= 1e-4)) rc = 1;
      }
    }
    epos += n;
    printf("\n");
  }
  const uint64_t *ns;
  int32_t count;
  ember_session_node_times(sess, &ns, &count);
  uint64_t total = 0;
  for (int32_t k = 0; k < count; k++) total += ns[k];
  printf("%d nodes, %.3f ms, arena %llu bytes, weights %llu bytes (mapped)\n", count, total / 1e6,
         (unsigned long long)ember_program_arena_bytes(prog), (unsigned long long)ember_program_weight_bytes(prog));
  printf(rc ? "FAILED\n" : "OK\n");
  free(expected);
out:
  free(in);
  ember_session_free(sess);
  ember_program_free(prog);
  return rc;
}
