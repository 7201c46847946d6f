/*
 * digest.c: the content digest of rows and tables (definition in digest.h, copied
 * into docs/format.md "Content digest").
 *
 * Content digest
 * --------------
 * row digest   = XXH3_64bits (seed 0) over the row's canonical serialization: for
 *                each column in schema order, one byte 0 = NULL or 1 = value, then
 *                the value: bool 1 byte (0/1); int32/uint32 4 bytes LE; int64,
 *                uint64, timestamp 8 bytes LE; double the 8 IEEE-754 bytes LE;
 *                utf8/bytes u32 LE length + the bytes.
 * table digest = wrapping sum (mod 2^64) of the row digests; 0 for an empty table.
 *
 * WHY a sum of per-row hashes: it is order-independent, so every partition digests
 * alone and any shard count gives the same answer, and a row change can be
 * accounted as "minus old row, plus new row". A presence byte before every value
 * keeps NULL distinct from every value (including the empty string), and the length
 * prefix keeps ("ab","c") distinct from ("a","bc").
 *
 * SPEED: a typical row serializes to well under IRS_DIGEST_INLINE bytes and is hashed
 * with one XXH3 call on a stack buffer; no allocation ever.
 */
#include "digest.h"

#include <string.h>

void irs__digest_begin(irs_digest_stream *d)
{
	d->len = 0;
	d->streaming = 0;
}

/* Moves buf into the streaming state (starting it on first use). */
static void digest_flush(irs_digest_stream *d)
{
	if (!d->streaming) {
		XXH3_64bits_reset(&d->st);
		d->streaming = 1;
	}
	XXH3_64bits_update(&d->st, d->buf, d->len);
	d->len = 0;
}

void irs__digest_put(irs_digest_stream *d, const void *p, size_t n)
{
	const uint8_t *s = p;
	if (n <= sizeof d->buf - d->len) {
		if (n)
			memcpy(d->buf + d->len, s, n);
		d->len += n;
		return;
	}
	digest_flush(d);
	if (n >= sizeof d->buf) {
		XXH3_64bits_update(&d->st, s, n);
		return;
	}
	memcpy(d->buf, s, n);
	d->len = n;
}

void irs__digest_value(irs_digest_stream *d, irs_type type, const irs_value *v)
{
	uint8_t tmp[9];
	if (v->state != IRS_VALUE_SET) {
		tmp[0] = 0;
		irs__digest_put(d, tmp, 1);
		return;
	}
	tmp[0] = 1;
	switch (type) {
	case IRS_TYPE_BOOL:
		tmp[1] = (uint8_t)(v->v.b != 0);
		irs__digest_put(d, tmp, 2);
		return;
	case IRS_TYPE_INT32:
		irs__store_le32(tmp + 1, (uint32_t)(int32_t)v->v.i64);
		irs__digest_put(d, tmp, 5);
		return;
	case IRS_TYPE_UINT32:
		irs__store_le32(tmp + 1, (uint32_t)v->v.u64);
		irs__digest_put(d, tmp, 5);
		return;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP:
		irs__store_le64(tmp + 1, (uint64_t)v->v.i64);
		irs__digest_put(d, tmp, 9);
		return;
	case IRS_TYPE_UINT64:
		irs__store_le64(tmp + 1, v->v.u64);
		irs__digest_put(d, tmp, 9);
		return;
	case IRS_TYPE_DOUBLE: {
		uint64_t bits;
		memcpy(&bits, &v->v.d, sizeof bits);
		irs__store_le64(tmp + 1, bits);
		irs__digest_put(d, tmp, 9);
		return;
	}
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		irs__store_le32(tmp + 1, (uint32_t)v->v.s.len);
		irs__digest_put(d, tmp, 5);
		irs__digest_put(d, v->v.s.ptr, v->v.s.len);
		return;
	}
}

uint64_t irs__digest_end(irs_digest_stream *d)
{
	if (!d->streaming)
		return XXH3_64bits(d->buf, d->len);
	if (d->len)
		XXH3_64bits_update(&d->st, d->buf, d->len);
	d->len = 0;
	return XXH3_64bits_digest(&d->st);
}

uint64_t irs__row_digest(const irs_schema_table *t, const irs_value *row)
{
	irs_digest_stream d;
	irs__digest_begin(&d);
	for (uint32_t c = 0; c < t->ncols; c++)
		irs__digest_value(&d, t->cols[c].type, &row[c]);
	return irs__digest_end(&d);
}
