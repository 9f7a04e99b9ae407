/*
 * fuzz.h - the fuzz targets' entry points, shared by the libFuzzer binaries
 * (fuzz/fuzz_<target>.c built with -DSEG_FUZZ_MAIN, `make fuzz`) and by the
 * unit tests (tests/unit/test_regress.c replays tests/regress/<target>/ and
 * fuzz/corpus/<target>/ through the same functions under ASan and valgrind).
 *
 * Each entry point takes any bytes, drives one parser of outside input and
 * what consumes its result, and checks properties that must hold for every
 * input (a decoded control message encodes back to itself, ...). It returns
 * 0, or -1 when a property is violated; memory errors are the sanitizers'
 * to find. Nothing it allocates outlives the call, except a fixture built
 * once per process (a compiled plan) that stays reachable.
 */
#ifndef SEGD_FUZZ_H
#define SEGD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int seg_fuzz_config(const uint8_t *data, size_t size);
int seg_fuzz_nflog(const uint8_t *data, size_t size);
int seg_fuzz_control(const uint8_t *data, size_t size);
int seg_fuzz_netlink(const uint8_t *data, size_t size);

/* libFuzzer's hook, defined by each target when built with SEG_FUZZ_MAIN. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
