/*
 * incident.h - aggregate denied packets (decoded NFLOG records) into
 * incidents: one per flow (event, zones, addresses, protocol, destination
 * port or ICMP type/code) per settings.incident_window, with packet count,
 * first/last time and interfaces; and render a closed incident as journal
 * fields (an iovec array for sd_journal_sendv) and as one JSON line.
 *
 * Bounded: the table holds at most max_open incidents plus max_overflow
 * overflow incidents (one per event and zone pair, plus one catch-all per
 * event); all memory is allocated by seg_incidents_new(). Past max_open a
 * packet of a new flow is folded into its overflow incident, which counts
 * packets exactly and distinct flows by estimate (HyperLogLog, ~3%).
 * Because an incident closes window seconds after it opened, all incidents
 * that close within any window were open at the same time: at most
 * max_open + max_overflow + SEG_NFLOG_EVENT_COUNT journal entries per window.
 *
 * Pure: no I/O, no clock reads (the caller passes times), no globals, not
 * thread-safe (one table per thread). The caller owns the table and frees it
 * with seg_incidents_free() (NULL-safe).
 */
#ifndef SEGD_INCIDENT_H
#define SEGD_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "model.h"
#include "nflog.h"

/* The events of the contract (SEGD_EVENT) and their fixed MESSAGE_IDs. */
enum seg_event {
	SEG_EVENT_FLOW_DENIED,
	SEG_EVENT_SPOOFED_SOURCE,
	SEG_EVENT_TO_GATEWAY,
	SEG_EVENT_TAMPER,
	SEG_EVENT_CONDUIT_EXPIRED,
	SEG_EVENT_RELOAD,
	SEG_EVENT_RELOAD_FAILED,
	SEG_EVENT_INTERFACE,
	SEG_EVENT_COUNT
};

struct seg_event_info {
	const char *name;            /* SEGD_EVENT value */
	const char *message_id;      /* MESSAGE_ID: 32 hex digits, never changed */
};

/* Generated once with python3 -c 'import uuid;print(uuid.uuid4().hex)';
 * documented in docs/incidents.md. Never change or reuse them. */
#define SEG_EVENT_TABLE { \
	[SEG_EVENT_FLOW_DENIED]     = { "flow-denied",     "6c4adeefc8ef443f8ce94bb12b9b459e" }, \
	[SEG_EVENT_SPOOFED_SOURCE]  = { "spoofed-source",  "df2f1a8877044e93966d01bfd19ed0c3" }, \
	[SEG_EVENT_TO_GATEWAY]      = { "to-gateway",      "367ccd5ece284adb909c0bbeaa6b04c1" }, \
	[SEG_EVENT_TAMPER]          = { "tamper",          "1651bf681c604427b52b1a455d99fd84" }, \
	[SEG_EVENT_CONDUIT_EXPIRED] = { "conduit-expired", "a3c46035dee84689b98a38453f88e687" }, \
	[SEG_EVENT_RELOAD]          = { "reload",          "798bd7cc90454946a9dd3dacc71e92dc" }, \
	[SEG_EVENT_RELOAD_FAILED]   = { "reload-failed",   "588c8766f89043dd8c48e3e6e64f57bc" }, \
	[SEG_EVENT_INTERFACE]       = { "interface",       "287bcf9196724279af6ea7ecb3446d68" }, \
}

const struct seg_event_info *seg_event_info(enum seg_event ev);   /* NULL out of range */
/* The contract event of an NFLOG prefix letter: D, M, U -> flow-denied, ... */
enum seg_event seg_event_of_nflog(enum seg_nflog_event ev);

#define SEG_INCIDENT_MAX_OPEN      4096   /* default bound on open incidents */
#define SEG_INCIDENT_MAX_OVERFLOW  256    /* default bound on overflow incidents */
#define SEG_INCIDENT_LIMIT         (1u << 22)   /* hard limit on either setting */

struct seg_incident {
	uint64_t id;                 /* set when emitted; increasing */
	enum seg_nflog_event cause;  /* D/M/U/S/G: what denied it */
	enum seg_event event;
	int priority;                /* 2, 3 or 4 (see seg_incident_priority) */
	char src_zone[SEG_MAX_NAME + 1], dst_zone[SEG_MAX_NAME + 1];   /* "" = none */
	/* the flow (not for overflow incidents) */
	int family;
	uint8_t src[16], dst[16];
	uint8_t proto;
	enum seg_nflog_l4 l4;
	uint16_t sport, dport;       /* sport: of the first packet */
	uint8_t icmp_type, icmp_code;
	uint32_t in_ifindex, out_ifindex;   /* of the first packet; 0 unknown */
	/* counts */
	uint64_t packets;
	int64_t first_us, last_us;   /* record timestamps (read time when absent), µs epoch */
	bool overflow;               /* folded flows past max_open */
	uint64_t folded;             /* overflow: distinct flows, estimated */
};

/* Accounting. kernel log-rule counters (delta since the group was bound)
 * == packets + not_sampled, where not_sampled = seq_gaps + undecodable. */
struct seg_incident_totals {
	uint64_t records;            /* records passed to seg_incidents_add */
	uint64_t packets;            /* in incidents, open or emitted, overflow included */
	uint64_t folded_packets;     /* of those, in overflow incidents */
	uint64_t undecodable;        /* not usable, not foreign: a denied packet we cannot describe */
	uint64_t foreign;            /* another rule's record on our group: not counted */
	uint64_t seq_gaps;           /* numbers the kernel gave to records that never arrived */
	uint64_t unnumbered;         /* records without NFULA_SEQ */
	uint64_t seq_resets;         /* the numbering went backwards (instance re-created) */
	uint64_t not_sampled;        /* seq_gaps + undecodable */
	uint64_t emitted;            /* incidents emitted */
	uint64_t open;               /* incidents open now */
};

struct seg_incidents_opts {
	uint32_t window_s;           /* settings.incident_window; 0 -> 60 */
	uint32_t max_open;           /* 0 -> SEG_INCIDENT_MAX_OPEN */
	uint32_t max_overflow;       /* 0 -> SEG_INCIDENT_MAX_OVERFLOW */
	uint64_t hash_seed;          /* random per process: flows cannot be chosen to collide */
	uint64_t first_id;           /* id of the first incident emitted (seg_incident_next_id) */
};

struct seg_incidents;

/* 0 or -EINVAL (a limit out of range) / -ENOMEM. */
int seg_incidents_new(const struct seg_incidents_opts *o, struct seg_incidents **ret);
void seg_incidents_free(struct seg_incidents *t);

/* Counts one record. st is what seg_nflog_decode returned. cfg (may be NULL)
 * gives zone kinds for the priority. real_us is the wall clock, used for
 * first/last when the record has no timestamp; mono_us (CLOCK_MONOTONIC)
 * starts the incident's window. Never fails: every record lands in a
 * counter. */
void seg_incidents_add(struct seg_incidents *t, const struct seg_nflog_rec *rec,
		       enum seg_nflog_status st, const struct seg_config *cfg,
		       int64_t real_us, int64_t mono_us);

/* Emits (calls cb, then forgets) every incident whose window has ended at
 * mono_us, oldest first; cb must copy what it keeps. Returns the count. */
typedef void (*seg_incident_cb)(const struct seg_incident *inc, void *ctx);
size_t seg_incidents_expire(struct seg_incidents *t, int64_t mono_us, seg_incident_cb cb, void *ctx);
/* Emits every open incident now (shutdown, reload of the window). */
size_t seg_incidents_flush(struct seg_incidents *t, seg_incident_cb cb, void *ctx);
/* When the next incident closes (CLOCK_MONOTONIC µs); false when none is open. */
bool seg_incidents_next_deadline(const struct seg_incidents *t, int64_t *ret_mono_us);
void seg_incidents_totals(const struct seg_incidents *t, struct seg_incident_totals *ret);
/* The group was (re)bound: its numbering starts again at 0. */
void seg_incidents_seq_restart(struct seg_incidents *t);

/* Priority of a flow between zones of these kinds (-1: no zone / unknown):
 * 2 mynumber on either side, 3 lgwan <-> internet/external, 4 otherwise. */
int seg_incident_priority(int src_kind, int dst_kind);

/* The first id to use after a restart: past the last id in the spool and
 * past now_s * 1000000, so ids stay unique even when the spool was lost. */
uint64_t seg_incident_next_id(uint64_t last_spooled, int64_t real_us);

/* ---- rendering -------------------------------------------------------- */

#define SEG_INCIDENT_MAX_FIELDS 28

/* Journal fields "KEY=value", ready for sd_journal_sendv(e->iov, e->n).
 * One allocation: free(e). */
struct seg_journal_entry {
	size_t n;
	struct iovec iov[SEG_INCIDENT_MAX_FIELDS];
	char text[];
};

/* in_name/out_name: interface names resolved by the caller (NULL: unknown,
 * the field is then "if<index>" or left out when the index is 0). */
int seg_incident_journal(const struct seg_incident *inc, const char *in_name,
			 const char *out_name, struct seg_journal_entry **ret);
/* The spool line: one JSON object and '\n'; *ret_line is malloc'ed. */
int seg_incident_json(const struct seg_incident *inc, const char *in_name,
		      const char *out_name, char **ret_line, size_t *ret_len);
/* "2025-11-26T03:04:05.123Z" */
void seg_time_format(int64_t us, char *buf, size_t len);

#endif
