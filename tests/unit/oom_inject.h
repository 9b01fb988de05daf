/* Allocation failure injection for unit tests: glibc lets a program replace
 * malloc, so the library's allocations (strdup, fopen and friends included)
 * can be made to fail one by one. Include from exactly one file per test
 * executable. Sanitizers bring their own allocator, so their builds leave it
 * out (OOM_INJECTION is 0). Valgrind replaces malloc in the executable too,
 * which makes the injector inert (oom_works() says so); run valgrind with
 * --soname-synonyms=somalloc=nouserintercepts to keep it and still have
 * every allocation checked. */
#ifndef EG_TEST_OOM_INJECT_H
#define EG_TEST_OOM_INJECT_H

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OOM_INJECTION 0
#else
#define OOM_INJECTION 1
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static _Atomic long oom_countdown = -1; /* fail when it reaches 0 */
static _Atomic bool oom_hit;

static bool oom_now(void) {
  long left = atomic_load(&oom_countdown);

  if (left < 0)
    return false;
  atomic_store(&oom_countdown, left - 1);
  if (left == 0) {
    /* As the real malloc does on failure. */
    errno = ENOMEM;
    atomic_store(&oom_hit, true);
    return true;
  }
  return false;
}

/* Arms the injector: the n-th allocation from now (0 = the next) fails. */
__attribute__((unused)) static void oom_arm(long n) {
  atomic_store(&oom_hit, false);
  atomic_store(&oom_countdown, n);
}

/* Disarms it and says whether an allocation was made to fail. */
__attribute__((unused)) static bool oom_disarm(void) {
  atomic_store(&oom_countdown, -1);
  return atomic_load(&oom_hit);
}

/* True when allocations really go through this file (not under a plain
 * valgrind). */
__attribute__((unused)) static bool oom_works(void) {
  void *volatile p; /* keeps the compiler from folding malloc() away */

  oom_arm(0);
  p = malloc(1);
  oom_disarm();
  free(p);
  return p == NULL;
}

void *malloc(size_t n) {
  return oom_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
  return oom_now() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
  return oom_now() ? NULL : __libc_realloc(p, n);
}

void free(void *p) {
  __libc_free(p);
}
/* Runs scenario with the n-th allocation failing, for n = 0, 1, ... until
 * a run hits no failure. Each failed run must return one of the codes in
 * ok_codes (EG_ENOMEM at least); every run must free what it built. Needs
 * cmocka.h included before this file. */
__attribute__((unused)) static void
oom_run(int (*scenario)(void), const int *ok_codes, size_t n_ok) {
  for (long n = 0;; n++) {
    int rc;
    bool hit;

    oom_arm(n);
    rc = scenario();
    hit = oom_disarm();
    if (rc != 0) {
      bool listed = false;

      for (size_t i = 0; i < n_ok; i++)
        listed = listed || rc == ok_codes[i];
      if (!hit || !listed)
        fail_msg("allocation %ld failing: unexpected result %d", n, rc);
    }
    if (!hit)
      break;
    assert_true(n < 100000);
  }
}
#endif

#endif /* EG_TEST_OOM_INJECT_H */
