/* For tests of what a module does when jansson's first allocation fails:
 * jansson then leaves its error code unset, so the code under test must not
 * read it. Install fail_once_malloc with json_set_alloc_funcs(), call
 * dirty_stack(), arm jansson_fail_next, make the call, and put malloc back. */
#ifndef EG_TEST_JANSSON_FAIL_H
#define EG_TEST_JANSSON_FAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* Fails the next allocation once armed; false again once it has. */
static bool jansson_fail_next;

static void *fail_once_malloc(size_t n) {
  if (jansson_fail_next) {
    jansson_fail_next = false;
    return NULL;
  }
  return malloc(n);
}

/* Fills the stack where the next call's locals will live with a pattern, so
 * that reading a field nobody set shows. */
static __attribute__((noinline)) void dirty_stack(void) {
  volatile unsigned char junk[32768];

  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = 0xAA;
}

#endif /* EG_TEST_JANSSON_FAIL_H */
