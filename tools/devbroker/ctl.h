/* `envgate-devbroker ctl`: sends one command to a running devbroker's
 * control socket and prints the reply, so scripts need no socat or nc. */
#ifndef DBK_CTL_H
#define DBK_CTL_H

/* Runs the ctl subcommand; argv[0] is "ctl".
 * @returns the process exit code: 0 when the reply is "ok...", 1 when it is
 * "error: ..." or the devbroker cannot be reached, 2 on bad usage. */
int dbk_ctl_main(int argc, char **argv);

#endif /* DBK_CTL_H */
