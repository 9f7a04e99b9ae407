/*
 * ctlsrv.h - the daemon's end of the control socket (lib/control.h has the
 * protocol). Access: root, or a member of settings.control_group, checked
 * with SO_PEERCRED on every request, besides the socket's mode 0660.
 */
#ifndef SEGD_CTLSRV_H
#define SEGD_CTLSRV_H

#include <sys/socket.h>
#include <sys/types.h>
#include "control.h"
#include "loop.h"

/* Fills resp (status=ok|error first) for req; cred is the verified peer. */
typedef void (*seg_ctl_handler)(void *ctx, const struct ucred *cred,
				const struct seg_kvlist *req, struct seg_kvlist *resp);

struct seg_ctlsrv;

/* Creates the socket at path (replacing a stale one), group-owned by group
 * (ignored when the group does not exist), and registers it on the loop. */
int seg_ctlsrv_open(struct seg_loop *loop, const char *path, const char *group,
		    seg_ctl_handler fn, void *ctx, struct seg_ctlsrv **ret);
void seg_ctlsrv_close(struct seg_ctlsrv *s);
/* Closes clients that have not sent a request within the timeout. */
void seg_ctlsrv_sweep(struct seg_ctlsrv *s);

/* The response helpers every handler uses. */
void seg_ctl_error(struct seg_kvlist *resp, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void seg_ctl_ok(struct seg_kvlist *resp);

#endif
