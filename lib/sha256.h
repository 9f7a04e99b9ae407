/*
 * sha256.h - SHA-256 (FIPS 180-4), for the hash of the running configuration
 * that `segctl status`, revisions and the audit report show: an auditor can
 * compare it with `sha256sum segd.conf`.
 */
#ifndef SEGD_SHA256_H
#define SEGD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SEG_SHA256_HEX (64 + 1)

void seg_sha256(const void *data, size_t len, uint8_t out[32]);
void seg_sha256_hex(const void *data, size_t len, char out[SEG_SHA256_HEX]);
/* Hashes a file's bytes; -errno when it cannot be read. */
int seg_sha256_file(const char *path, char out[SEG_SHA256_HEX]);

#endif
