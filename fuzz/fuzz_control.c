/*
 * fuzz_control.c - the control protocol's framing (lib/control.h), both ways.
 *
 * 1. The input as a received message: when seg_ctl_decode() accepts it,
 *    seg_ctl_encode() of the result must give back the same bytes (the
 *    encoding is canonical: only '\\' and newline are escaped, and a decoded
 *    value can hold neither unescaped), and lookups walk the list.
 * 2. The input as pairs to send: NUL-separated key, value, key, value...;
 *    the pairs seg_kv_add() accepts must come back unchanged from
 *    decode(encode(list)).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "control.h"
#include "fuzz.h"

static bool same_list(const struct seg_kvlist *a, const struct seg_kvlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) != 0 || strcmp(a->v[i].value, b->v[i].value) != 0)
			return false;
	return true;
}

/* Direction 1: -1 when an accepted message does not encode back to itself. */
static int received(const uint8_t *data, size_t size)
{
	struct seg_kvlist l;
	const char *why = NULL;
	char *out = NULL;
	size_t len = 0;
	int bad = 0;

	seg_kv_init(&l);
	if (seg_ctl_decode((const char *)data, size, &l, &why) == 0) {
		size_t i = 0;
		(void)seg_kv_get(&l, "cmd");
		while (seg_kv_next(&l, "zone", &i))
			;
		if (seg_ctl_encode(&l, &out, &len) != 0 || len != size || memcmp(out, data, size) != 0)
			bad = 1;
	} else if (!why) {
		bad = 1;                 /* a refusal always says why */
	}
	free(out);
	seg_kv_free(&l);
	return bad ? -1 : 0;
}

/* Direction 2: -1 when a list does not survive encode and decode. */
static int sent(const uint8_t *data, size_t size)
{
	struct seg_kvlist l, back;
	char *text = malloc(size + 2), *out = NULL;
	size_t len = 0;
	int bad = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = text[size + 1] = '\0';
	seg_kv_init(&l);
	seg_kv_init(&back);
	for (char *p = text; p < text + size;) {
		char *key = p, *value = p + strlen(p) + 1;
		p = value < text + size ? value + strlen(value) + 1 : text + size;
		if (seg_kv_add(&l, key, value) == -E2BIG)
			break;
	}
	int r = seg_ctl_encode(&l, &out, &len);
	if (r == 0) {
		const char *why = NULL;
		if (l.n > 0 && (seg_ctl_decode(out, len, &back, &why) != 0 || !same_list(&l, &back)))
			bad = 1;
	} else if (r != -EMSGSIZE) {
		bad = 1;
	}
	free(out);
	free(text);
	seg_kv_free(&l);
	seg_kv_free(&back);
	return bad ? -1 : 0;
}

int seg_fuzz_control(const uint8_t *data, size_t size)
{
	int a = received(data, size), b = sent(data, size);

	return a < 0 || b < 0 ? -1 : 0;
}

#ifdef SEG_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (seg_fuzz_control(data, size) < 0)
		abort();
	return 0;
}
#endif
