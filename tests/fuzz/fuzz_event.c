/* libFuzzer target for eg_event_parse(), eg_event_check_delivery_id() and
 * eg_envelope_parse_body() (the tools' reading of a stored event):
 * any input must be answered with a code, never a crash, leak or read out
 * of bounds. Build and run: tools/fuzz.sh fuzz_event. */
#include "eg/envelope.h"
#include "eg/error.h"
#include "eg/event.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static eg_envelope_t env; /* 8 KB: not on the stack */
  eg_event_t ev;
  char err[EG_ERRBUF_LEN];
  char key[EG_EVENT_KEY_LEN];
  int rc;

  rc = eg_event_parse((const char *)data, size, "https://api.github.com",
                      EG_EVENT_ALLOW_OTHER_ACTIONS, &ev, err, sizeof(err));
  if (rc == EG_OK && ev.kind == EG_EVENT_GATE_REQUEST &&
      eg_event_build_key(&ev, key, sizeof(key), NULL) != EG_OK)
    __builtin_trap();
  if (rc != EG_OK && strlen(err) >= sizeof(err))
    __builtin_trap();
  eg_event_check_delivery_id((const char *)data, size, err, sizeof(err));

  /* A stored body is read with the API base from its own callback URL. */
  rc = eg_envelope_parse_body(&env, data, size);
  if ((rc == EG_OK) != env.body_ok)
    __builtin_trap();
  if (rc == EG_OK && (env.key[0] == '\0' || env.run_id == 0 ||
                      env.repository_id == 0 || env.repository[0] == '\0'))
    __builtin_trap();
  if (rc != EG_OK && env.body_error[0] == '\0')
    __builtin_trap();
  return 0;
}
