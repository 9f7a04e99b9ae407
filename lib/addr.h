/*
 * addr.h - the small value parsers shared by the configuration file and the
 * command line (one parse_<value> per kind of value, as in wireguard-tools).
 *
 * Each returns 0 on success or -EINVAL, and on failure points *why at a static
 * explanation that can follow "'<value>': " in a diagnostic.
 */
#ifndef SEGD_ADDR_H
#define SEGD_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include "model.h"

/* "10.0.0.0/24", "10.0.0.5" (= /32), "fd00::/64", "fd00::5" (= /128).
 * Host bits set after the prefix are an error ("10.0.0.1/24"). */
int seg_prefix_parse(const char *s, struct seg_prefix *out, const char **why);
/* An address without prefix length (for explain). */
int seg_addr_parse(const char *s, int *family, uint8_t addr[16], const char **why);
/* Writes "10.0.0.0/24" or "10.0.0.5" (host prefixes without /len). */
void seg_prefix_format(const struct seg_prefix *p, char *buf, size_t len);
void seg_addr_format(int family, const uint8_t addr[16], char *buf, size_t len);
bool seg_prefix_contains(const struct seg_prefix *outer, const struct seg_prefix *inner);
bool seg_prefix_overlaps(const struct seg_prefix *a, const struct seg_prefix *b);
bool seg_prefix_has(const struct seg_prefix *p, int family, const uint8_t addr[16]);
/* What p is when it lies in a block no segment host can be (loopback,
 * multicast, link-local, unspecified, reserved), e.g. "a multicast address";
 * NULL for unicast addresses. */
const char *seg_prefix_special(const struct seg_prefix *p);
/* Link scope: what never leaves the wire it is on (224.0.0.0/24, the local
 * broadcast, fe80::/10, ff02::/16): the kernel's ls4/ls6 sets and explain's
 * test, from this one list. */
const struct seg_prefix *seg_link_scope(size_t *n);
bool seg_addr_link_scope(int family, const uint8_t addr[16]);

/* "02:00:5e:00:00:05" (six hex pairs, ':' or '-'): a unicast MAC address. */
int seg_mac_parse(const char *s, uint8_t mac[6], const char **why);
void seg_mac_format(const uint8_t mac[6], char *buf, size_t len);

/* "tcp/443", "udp/1000-2000", "icmp", "icmpv6", "any". */
int seg_service_parse(const char *s, struct seg_service *out, const char **why);
void seg_service_format(const struct seg_service *s, char *buf, size_t len);
/* IPPROTO_* number of a service protocol, or -1 for any. */
int seg_proto_ipproto(enum seg_proto p);

/* "2027-03-31" -> days since 1970-01-01; rejects 2027-02-30. */
int seg_date_parse(const char *s, int64_t *ret_day, const char **why);
/* Approvals are dated in Japan Standard Time, UTC+9 without daylight
 * saving: "expires = 2027-03-31" ends at midnight JST, not at 09:00 JST the
 * day after (as a UTC day would). A fixed offset, not TZ or /etc/localtime,
 * so that no environment moves an expiry. */
#define SEG_APPROVAL_UTC_OFFSET (9 * 3600)
/* The day number (days since 1970-01-01) of JST that Unix time t falls in. */
int64_t seg_day_of(int64_t t);
/* Today's day number, in JST. */
int64_t seg_today(void);

/* Free text of the configuration (approval, comment): UTF-8 without
 * control, escape or direction-override characters; with need_content, not
 * only white space (U+3000 included). */
int seg_text_check(const char *s, bool need_content, const char **why);

/* Writes s for a medium: control characters, escape sequences, direction
 * overrides and invalid UTF-8 become '?' (a terminal cannot be driven and a
 * report cannot be forged by a configuration, a spool or a journal text);
 * for HTML also & < > " ' as entities. */
enum seg_medium { SEG_MEDIUM_TERMINAL, SEG_MEDIUM_HTML };
void seg_put_text(FILE *f, const char *s, enum seg_medium m);

/* A name Linux accepts for a network interface (dev_valid_name()). */
bool seg_ifname_valid(const char *s, const char **why);
/* segd's own rules on top: ASCII only (nothing invisible) and no '+'. */
bool seg_ifname_plain(const char *s, const char **why);
/* s with control and non-ASCII bytes as \xNN, truncated to fit buf. */
void seg_text_escape(const char *s, char *buf, size_t len);
/* Zone/conduit names: 1..SEG_MAX_NAME of [a-z0-9_-], starting with a letter. */
bool seg_name_valid(const char *s, const char **why);

#endif
