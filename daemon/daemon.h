/*
 * daemon.h - segd's long-running part: one epoll loop over the NFLOG watcher,
 * the nftables event monitor (tamper detection), the control socket, signals
 * and timers; sd_notify READY/RELOADING/STOPPING/STATUS and the watchdog.
 */
#ifndef SEGD_DAEMON_H
#define SEGD_DAEMON_H

/* Runs until SIGTERM/SIGINT; returns the process exit status. The rules stay
 * in the kernel whatever happens here (fail closed). */
int segd_serve(const char *config_path);

#endif
