#ifndef SEGD_TEST_SUITES_H
#define SEGD_TEST_SUITES_H
#include <check.h>
#define SUITE(name) Suite *name##_suite(void);
#include "suites.def"
#undef SUITE
/* Directory of test inputs, relative to the top of the tree. */
#define TEST_CONFIGS "tests/configs"
#endif
