/*
 * nftexpr.h - the nftables expression builders of the netlink backend
 * (nft_batch.c), shared with the tracing table of trace.c so that both build
 * rules the same way. Each appends one expression to r; 0 or -ENOMEM.
 * Only for files that already include libnftnl.
 */
#ifndef SEGD_NFTEXPR_H
#define SEGD_NFTEXPR_H

#include <stdint.h>
#include <libnftnl/rule.h>

int seg_nx_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
int seg_nx_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len);
int seg_nx_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg);

#endif
