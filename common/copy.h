/*
 * copy.h (private): copies of the short, variable-length byte strings that change
 * records and rows are made of (keys, values of 1 to a few dozen bytes).
 *
 * Why not plain memcpy: with a length the compiler cannot bound, GCC either calls
 * memcpy or expands it inline as `rep movsq`, whose start-up cost is several times
 * that of copying 20 bytes; measured on the apply path it was the largest single cost
 * of building a row. Lengths up to 64 are copied with two overlapping loads and
 * stores of 8, 16 or 32 bytes, which cost the same for any length in their range.
 */
#ifndef IRS_COMMON_COPY_H
#define IRS_COMMON_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Copies n bytes from s to d; the ranges must not overlap. */
static inline void irs__copy(void *d, const void *s, size_t n)
{
	uint8_t *o = d;
	const uint8_t *i = s;
	if (n >= 8) {
		if (n > 32) {
			if (n > 64) {
				memcpy(o, i, n);
				return;
			}
			/* the first 32 bytes and the last 32, overlapping */
			uint64_t w[8];
			memcpy(w, i, 32);
			memcpy(w + 4, i + n - 32, 32);
			memcpy(o, w, 32);
			memcpy(o + n - 32, w + 4, 32);
			return;
		}
		uint64_t a, b;
		if (n > 16) {
			uint64_t c, e;
			memcpy(&a, i, 8);
			memcpy(&b, i + 8, 8);
			memcpy(&c, i + n - 16, 8);
			memcpy(&e, i + n - 8, 8);
			memcpy(o, &a, 8);
			memcpy(o + 8, &b, 8);
			memcpy(o + n - 16, &c, 8);
			memcpy(o + n - 8, &e, 8);
			return;
		}
		memcpy(&a, i, 8);
		memcpy(&b, i + n - 8, 8);
		memcpy(o, &a, 8);
		memcpy(o + n - 8, &b, 8);
		return;
	}
	if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, i, 4);
		memcpy(&b, i + n - 4, 4);
		memcpy(o, &a, 4);
		memcpy(o + n - 4, &b, 4);
		return;
	}
	if (n) {
		/* 1 to 3 bytes: first, middle, last */
		uint8_t a = i[0], b = i[n / 2], c = i[n - 1];
		o[0] = a;
		o[n / 2] = b;
		o[n - 1] = c;
	}
}

#endif
