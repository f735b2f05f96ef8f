/* Loader and session tests, in C with no Python: a real model file runs and matches PyTorch's output;
 * every truncation and many bit flips and field corruptions are rejected with a status, never a crash
 * (run under ASan/UBSan in CI); caller-provided arenas; API misuse. Prints "N passed, M failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/ember.h"

static int g_pass, g_fail;
#define CHECK(cond, ...)                      \
  do {                                        \
    if (cond) {                               \
      g_pass++;                               \
    } else {                                  \
      g_fail++;                               \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);                    \
      printf("\n");                           \
    }                                         \
  } while (0)

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = aligned_alloc(64, ((size_t)n + 63) / 64 * 64);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static double run_and_compare(ember_program *p, const float *in, const float *expected, size_t n_expected,
                              void *arena, size_t arena_size) {
  char err[256];
  ember_session *s = NULL;
  ember_session_options o = {1, arena, arena_size, 0};
  if (ember_session_create(p, &o, &s, err, sizeof err) != EMBER_OK) return 1e9;
  ember_tensor_info info;
  ember_program_input_info(p, 0, &info);
  double worst = 1e9;
  if (ember_session_set_input(s, 0, in, info.nbytes) == EMBER_OK && ember_session_run(s) == EMBER_OK) {
    const void *out;
    size_t nbytes;
    ember_session_get_output(s, 0, &out, &nbytes);
    worst = 0;
    if (nbytes != n_expected * 4) worst = 1e9;
    for (size_t i = 0; i < n_expected && nbytes == n_expected * 4; i++) {
      double d = fabs((double)((const float *)out)[i] - expected[i]);
      if (d > worst) worst = d;
    }
  }
  ember_session_free(s);
  return worst;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/data";
  char path[1024];
  size_t len = 0, in_len = 0, exp_len = 0;
  snprintf(path, sizeof path, "%s/tiny_cnn.ember", dir);
  unsigned char *file = read_all(path, &len);
  snprintf(path, sizeof path, "%s/tiny_cnn.input.bin", dir);
  unsigned char *in = read_all(path, &in_len);
  snprintf(path, sizeof path, "%s/tiny_cnn.expected.bin", dir);
  unsigned char *expected = read_all(path, &exp_len);
  if (!file || !in || !expected) {
    printf("cannot read test data in %s\n0 passed, 1 failed\n", dir);
    return 1;
  }
  char err[512];
  ember_program *p = NULL;

  /* 1. the real file loads (from memory and from disk) and matches PyTorch */
  CHECK(ember_program_load_memory(file, len, EMBER_LOAD_VERIFY_WEIGHTS, &p, err, sizeof err) == EMBER_OK, "%s", err);
  if (p) {
    double e = run_and_compare(p, (const float *)in, (const float *)expected, exp_len / 4, NULL, 0);
    CHECK(e < 1e-5, "output differs from PyTorch by %g", e);
    /* caller-provided arena */
    size_t need = (size_t)ember_session_required_bytes(p, 1);
    void *arena = malloc(need);
    e = run_and_compare(p, (const float *)in, (const float *)expected, exp_len / 4, arena, need);
    CHECK(e < 1e-5, "caller arena: output differs by %g", e);
    ember_session *s = NULL;
    ember_session_options small = {1, arena, need - 1, 0};
    CHECK(ember_session_create(p, &small, &s, err, sizeof err) == EMBER_ERR_INVALID_ARGUMENT, "small arena accepted");
    free(arena);
    /* misuse */
    CHECK(ember_session_create(p, NULL, &s, err, sizeof err) == EMBER_OK, "default session");
    CHECK(ember_session_set_input(s, 5, in, 4) == EMBER_ERR_INVALID_ARGUMENT, "bad input index accepted");
    CHECK(ember_session_set_input(s, 0, in, 4) == EMBER_ERR_INVALID_ARGUMENT, "bad input size accepted");
    CHECK(strstr(ember_session_last_error(s), "takes") != NULL, "message: %s", ember_session_last_error(s));
    const void *o;
    size_t n;
    CHECK(ember_session_get_output(s, 9, &o, &n) == EMBER_ERR_INVALID_ARGUMENT, "bad output index accepted");
    /* bound input: read in place, same output as a copied one; the bound bytes are never written */
    ember_tensor_info info;
    ember_program_input_info(p, 0, &info);
    unsigned char *bound = aligned_alloc(64, (info.nbytes + 63) / 64 * 64);
    memcpy(bound, in, info.nbytes);
    CHECK(ember_session_bind_input(s, 0, bound + 4, info.nbytes) == EMBER_ERR_INVALID_ARGUMENT, "misaligned bind accepted");
    CHECK(ember_session_bind_input(s, 0, bound, info.nbytes - 4) == EMBER_ERR_INVALID_ARGUMENT, "bad bind size accepted");
    CHECK(ember_session_bind_input(s, 0, bound, info.nbytes) == EMBER_OK && ember_session_run(s) == EMBER_OK,
          "bound run: %s", ember_session_last_error(s));
    CHECK(ember_session_get_output(s, 0, &o, &n) == EMBER_OK && n == exp_len, "bound output");
    double worst = 0;
    for (size_t i = 0; i < n / 4; i++) {
      double d = fabs((double)((const float *)o)[i] - ((const float *)expected)[i]);
      worst = d > worst ? d : worst;
    }
    CHECK(worst < 1e-5, "bound input: output differs by %g", worst);
    CHECK(memcmp(bound, in, info.nbytes) == 0, "the session wrote into a bound input");
    memset(bound, 0, info.nbytes); /* set_input after a bind copies into the arena again */
    CHECK(ember_session_set_input(s, 0, in, info.nbytes) == EMBER_OK && ember_session_run(s) == EMBER_OK, "set after bind");
    CHECK(ember_session_get_output(s, 0, &o, &n) == EMBER_OK && fabs((double)((const float *)o)[0] - ((const float *)expected)[0]) < 1e-5,
          "set_input after bind_input still read the bound memory");
    /* bound output: written straight into caller memory, same bytes as the arena's; unbinding restores it */
    unsigned char *obuf = aligned_alloc(64, (exp_len + 63) / 64 * 64 + 64);
    memset(obuf, 0xAB, exp_len);
    CHECK(ember_session_bind_output(s, 0, obuf + 4, exp_len) == EMBER_ERR_INVALID_ARGUMENT, "misaligned output bind");
    CHECK(ember_session_bind_output(s, 0, obuf, exp_len - 4) == EMBER_ERR_INVALID_ARGUMENT, "bad output bind size");
    CHECK(ember_session_bind_output(s, 3, obuf, exp_len) == EMBER_ERR_INVALID_ARGUMENT, "bad output bind index");
    /* (the input is set again before each run: the arena may reuse its bytes once it is consumed) */
    CHECK(ember_session_bind_output(s, 0, obuf, exp_len) == EMBER_OK &&
              ember_session_set_input(s, 0, in, info.nbytes) == EMBER_OK && ember_session_run(s) == EMBER_OK,
          "bound output run: %s", ember_session_last_error(s));
    CHECK(ember_session_get_output(s, 0, &o, &n) == EMBER_OK && o == (const void *)obuf, "get_output of a bound output");
    worst = 0;
    for (size_t i = 0; i < exp_len / 4; i++) {
      double d = fabs((double)((const float *)obuf)[i] - ((const float *)expected)[i]);
      worst = d > worst ? d : worst;
    }
    CHECK(worst < 1e-5, "bound output differs by %g", worst);
    CHECK(ember_session_bind_output(s, 0, NULL, 0) == EMBER_OK, "unbind output");
    memset(obuf, 0xAB, exp_len);
    CHECK(ember_session_set_input(s, 0, in, info.nbytes) == EMBER_OK && ember_session_run(s) == EMBER_OK &&
              ember_session_get_output(s, 0, &o, &n) == EMBER_OK && o != (const void *)obuf && obuf[0] == 0xAB &&
              fabs((double)((const float *)o)[1] - ((const float *)expected)[1]) < 1e-5,
          "an unbound output still wrote caller memory");
    free(obuf);
    free(bound);
    ember_session_free(s);
    ember_program_free(p);
    p = NULL;
  }
  snprintf(path, sizeof path, "%s/tiny_cnn.ember", dir);
  CHECK(ember_program_load_file(path, 0, &p, err, sizeof err) == EMBER_OK, "load_file: %s", err);
  ember_program_free(p);
  p = NULL;
  CHECK(ember_program_load_file("/nonexistent/x.ember", 0, &p, err, sizeof err) == EMBER_ERR_IO, "missing file");
  CHECK(p == NULL, "program set on failure");

  /* 2. every truncation fails cleanly */
  unsigned char *copy = aligned_alloc(64, (len + 63) / 64 * 64);
  int trunc_ok = 1;
  for (size_t cut = 0; cut < len; cut++) {
    memcpy(copy, file, cut);
    ember_status st = ember_program_load_memory(copy, cut, EMBER_LOAD_VERIFY_WEIGHTS, &p, err, sizeof err);
    if (st == EMBER_OK || p != NULL || err[0] == 0) trunc_ok = 0;
    ember_program_free(p);
    p = NULL;
  }
  CHECK(trunc_ok, "a truncated file was accepted or gave no message");

  /* 3. single-bit flips everywhere are rejected (checksums) */
  int flips_ok = 1;
  for (size_t pos = 0; pos < len; pos += 3) {
    memcpy(copy, file, len);
    copy[pos] ^= (unsigned char)(1u << (pos % 8));
    ember_status st = ember_program_load_memory(copy, len, EMBER_LOAD_VERIFY_WEIGHTS, &p, err, sizeof err);
    if (st == EMBER_OK) flips_ok = 0;
    ember_program_free(p);
    p = NULL;
  }
  CHECK(flips_ok, "a bit flip was accepted");

  /* 4. bad version is a version error with advice */
  memcpy(copy, file, len);
  copy[8] = 9;
  CHECK(ember_program_load_memory(copy, len, 0, &p, err, sizeof err) == EMBER_ERR_VERSION, "version");
  CHECK(strstr(err, "re-export") != NULL, "version message: %s", err);

  /* 5. misaligned borrowed memory is refused, EMBER_LOAD_COPY accepts it */
  unsigned char *odd = malloc(len + 1);
  memcpy(odd + 1, file, len);
  CHECK(ember_program_load_memory(odd + 1, len, 0, &p, err, sizeof err) == EMBER_ERR_INVALID_ARGUMENT, "misaligned");
  CHECK(ember_program_load_memory(odd + 1, len, EMBER_LOAD_COPY, &p, err, sizeof err) == EMBER_OK, "copy: %s", err);
  ember_program_free(p);
  free(odd);

  /* 6. the kernel list names every op */
  int32_t nk = ember_kernel_count();
  CHECK(nk > 50, "only %d kernels", nk);
  ember_kernel_desc d;
  CHECK(ember_kernel_at(0, &d) == EMBER_OK && d.op_name && d.op_name[0], "kernel 0");
  CHECK(ember_kernel_at(nk, &d) == EMBER_ERR_INVALID_ARGUMENT, "kernel index past the end");

  free(copy);
  free(file);
  free(in);
  free(expected);
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail != 0;
}
