/* libFuzzer target for the loader: any bytes must give a status, never a crash, over-read or hang.
 * A loaded program is also run once on zero inputs (kernels must stay in bounds for anything that
 * passed validation).  Build: clang -fsanitize=fuzzer,address,undefined (see .ci/run). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ember/ember.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  ember_program *p = NULL;
  if (ember_program_load_memory(data, size, EMBER_LOAD_COPY, &p, err, sizeof err) != EMBER_OK) return 0;
  if (ember_session_required_bytes(p, 1) < (64u << 20)) {
    ember_session *s = NULL;
    if (ember_session_create(p, NULL, &s, err, sizeof err) == EMBER_OK) {
      ember_session_run(s);
      ember_session_free(s);
    }
  }
  ember_program_free(p);
  return 0;
}
