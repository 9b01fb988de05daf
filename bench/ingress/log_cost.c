/* What the ingress's per-request "enqueued" log line costs: times N calls of
 * the same eg_log() line, with the webhook secret registered for redaction as
 * envgate-ingress does, writing to a file (default /dev/null).
 * usage: envgate-bench-log-cost [FILE [N]] (see docs/BENCHMARKS.md) */
#include "eg/error.h"
#include "eg/log.h"
#include "eg/process.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

/* CPU time of this process, which has one thread. */
static double cpu_seconds(void) {
  struct timespec ts;

  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/dev/null";
  long n = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
  int fd;

  if (argc > 3 || n <= 0) {
    fprintf(stderr, "usage: envgate-bench-log-cost [FILE [N]]\n");
    return EG_EXIT_USAGE;
  }
  fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    fprintf(stderr, "envgate-bench-log-cost: error: cannot open %s\n", path);
    return EG_EXIT_FAILURE;
  }
  eg_log_init("ingress", EG_LOG_INFO, fd);
  if (eg_log_add_secret("bench-secret-0123456789abcdef") != EG_OK) {
    fprintf(stderr, "envgate-bench-log-cost: error: eg_log_add_secret\n");
    close(fd);
    return EG_EXIT_FAILURE;
  }
  printf("%ld lines per round to %s\n", n, path);
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = cpu_seconds();

    for (long i = 0; i < n; i++)
      eg_log(EG_LOG_INFO, "enqueued",
             EG_LSTR("delivery", "64dc6deb-20e3-4342-98a6-430ff009b22e"),
             EG_LINT("partition", i % 12), EG_LINT("offset", i),
             EG_LDBL("kafka_ms", 3.684 + (double)(i % 1000) * 1e-3));
    printf("round %d: %.2f us CPU per line\n", r + 1,
           (cpu_seconds() - t0) / (double)n * 1e6);
  }
  eg_log_clear_secrets();
  close(fd);
  return EG_EXIT_OK;
}
