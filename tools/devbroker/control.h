/* The devbroker's control socket: a Unix stream socket taking one command
 * per line and answering each with one line. Single-threaded: the caller
 * drives it with dbk_control_poll() from its main loop. */
#ifndef DBK_CONTROL_H
#define DBK_CONTROL_H

#include <stddef.h>

/* Longest Unix socket path (sun_path minus its NUL). */
#define DBK_CONTROL_PATH_MAX 107

/* Clients served at once; more wait in the listen backlog. */
#define DBK_CONTROL_MAX_CLIENTS 16

typedef struct dbk_control_s dbk_control_t;

/* Runs one command line (no newline) and writes the reply (no newline). */
typedef void (*dbk_control_cmd_fn)(const char *line,
                                   char *reply,
                                   size_t reply_len,
                                   void *ud);

/* Listens on the Unix socket path (mode 0600). A stale socket left by a dead
 * devbroker is replaced; a live one or any other file is an error.
 * fn is called from dbk_control_poll() for each line.
 * @returns EG_OK, EG_EINVAL (path too long), EG_EEXIST or EG_EIO with errbuf
 * set. Free *out with dbk_control_close(). */
int dbk_control_open(const char *path,
                     dbk_control_cmd_fn fn,
                     void *ud,
                     dbk_control_t **out,
                     char *errbuf,
                     size_t errbuf_len);

/* Waits up to timeout_ms for socket activity and serves it: accepts
 * clients, runs complete lines, drops clients that hang up or misbehave.
 * Returns early when a signal interrupts the wait. */
void dbk_control_poll(dbk_control_t *ctl, int timeout_ms);

/* Closes every connection and removes the socket file. NULL is a no-op. */
void dbk_control_close(dbk_control_t *ctl);

#endif /* DBK_CONTROL_H */
