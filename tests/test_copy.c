/*
 * test_copy.c: irs__copy (common/copy.h), the short copies of keys, values and rows,
 * copies exactly n bytes, at every length across each of its branches (1-3, 4-7, 8-16,
 * 17-32, 33-64, longer) and at every alignment of source and destination, and writes
 * nothing outside them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/copy.h"

#define MAXN 200
#define GUARD 16
#define FILL 0xA5

static void test_every_length_and_alignment(void **state)
{
	(void)state;
	uint8_t src[MAXN + 8], dst[GUARD + MAXN + 8 + GUARD];
	for (size_t i = 0; i < sizeof src; i++)
		src[i] = (uint8_t)(i * 7 + 1); /* never FILL in the first bytes, all distinct mod 256 */
	for (size_t n = 0; n <= MAXN; n++) {
		for (size_t so = 0; so < 8; so++) {
			for (size_t d0 = 0; d0 < 8; d0++) {
				memset(dst, FILL, sizeof dst);
				uint8_t *d = dst + GUARD + d0;
				irs__copy(d, src + so, n);
				for (size_t i = 0; i < sizeof dst; i++) {
					uint8_t want = (dst + i >= d && dst + i < d + n) ? src[so + (size_t)(dst + i - d)]
											 : FILL;
					if (dst[i] != want)
						fail_msg("n %zu, source offset %zu, destination offset %zu: byte %td "
							 "is %u, want %u", n, so, d0, (ptrdiff_t)(dst + i - d), dst[i], want);
				}
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_length_and_alignment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
