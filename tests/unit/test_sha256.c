/* SHA-256 against the FIPS 180-4 examples and a multi-block input. */
#include <string.h>
#include "sha256.h"
#include "suites.h"

static const struct { const char *in; const char *hex; } vec[] = {
	{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
};

START_TEST(vectors)
{
	char hex[SEG_SHA256_HEX];

	seg_sha256_hex(vec[_i].in, strlen(vec[_i].in), hex);
	ck_assert_str_eq(hex, vec[_i].hex);
}
END_TEST

START_TEST(million_a)
{
	static char a[1000000];
	char hex[SEG_SHA256_HEX];

	memset(a, 'a', sizeof(a));
	seg_sha256_hex(a, sizeof(a), hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

Suite *sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("fips180");

	tcase_add_loop_test(tc, vectors, 0, sizeof(vec) / sizeof(vec[0]));
	tcase_add_test(tc, million_a);
	suite_add_tcase(s, tc);
	return s;
}
