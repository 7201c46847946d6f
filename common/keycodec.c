/*
 * keycodec.c: the order-preserving encoding of primary keys (FORMAT in keycodec.h).
 *
 * The encoded key is what the tables hash, compare and sort, so its bytewise order
 * (memcmp, then length) must equal the typed order of the key tuple:
 *
 *   - Fixed-width numbers are written big-endian so that memcmp compares the most
 *     significant byte first. Signed integers get their sign bit flipped, which maps
 *     INT_MIN..INT_MAX onto 0..UINT_MAX monotonically.
 *   - Doubles: for a positive number (sign bit clear) the IEEE bits already order like
 *     unsigned integers, so flipping the sign bit puts positives above every negative.
 *     For a negative number a larger magnitude must sort lower, so every bit is
 *     flipped. -0.0 (0x8000...) becomes 0x7FFF... and +0.0 becomes 0x8000...: distinct,
 *     adjacent keys, -0 first.
 *   - Strings must be self-delimiting so that ("a", "b") and ("ab", ...) cannot
 *     collide, and a shorter string must sort before its extensions. The terminator
 *     0x00 0x00 is lower than any continuation (a literal 0x00 is written 0x00 0xFF,
 *     any other byte is >= 0x01), so "ab" < "ab\0" < "ab\x01" all hold.
 *
 * DECODING trusts nothing: every read is bounds-checked against key_len, bool bytes
 * must be 0 or 1, an escape must be 0x00 0x00 or 0x00 0xFF, and the encoding must end
 * exactly after the last key column. Anything else is IRS_ECORRUPT. The encoding is
 * canonical (one byte string per key tuple), so decode(encode(k)) == k and
 * encode(decode(b)) == b for every b that decodes. utf8 validity of decoded strings
 * is not re-checked: keys are only built from values that passed irs__value_check.
 */
#include "keycodec.h"

#include <string.h>

#include <xxhash.h>

static inline double key_to_double(uint64_t k)
{
	uint64_t bits = (k & IRS_KEY_SIGN64) ? k ^ IRS_KEY_SIGN64 : ~k;
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

size_t irs__key_part_bound(irs_type type, const irs_value *v)
{
	uint8_t w = irs__type_width(type);
	if (w)
		return w;
	/* Worst case every byte is 0x00 (two bytes each), plus the terminator. */
	return 2u * v->v.s.len + 2u;
}

size_t irs__key_encode_var(irs_type ty, const uint8_t *v, size_t len, uint8_t *out, size_t room)
{
	if (!irs__type_is_var(ty))
		return 0;
	/* Copy runs between 0x00 bytes with memcpy: keys rarely hold 0x00. */
	size_t n = 0;
	while (len) {
		const uint8_t *z = memchr(v, 0, len);
		size_t run = z ? (size_t)(z - v) : len;
		if (room - n < run)
			return 0;
		memcpy(out + n, v, run);
		n += run;
		v += run;
		len -= run;
		if (z) {
			if (room - n < 2)
				return 0;
			out[n++] = 0x00;
			out[n++] = 0xFF;
			v++;
			len--;
		}
	}
	if (room - n < 2)
		return 0;
	out[n++] = 0x00;
	out[n++] = 0x00;
	return n;
}

size_t irs__key_encode(const irs_schema_table *t, const irs_value *row, uint8_t *out, size_t cap)
{
	size_t limit = cap < IRS_MAX_KEY_BYTES ? cap : IRS_MAX_KEY_BYTES;
	size_t n = 0;
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = t->key_cols[k];
		irs_type ty = t->cols[c].type;
		const irs_value *v = &row[c];
		uint8_t stored[8];
		const uint8_t *src = stored;
		size_t len = irs__type_width(ty);
		switch (ty) {
		case IRS_TYPE_BOOL: stored[0] = (uint8_t)(v->v.b != 0); break;
		case IRS_TYPE_INT32:
		case IRS_TYPE_UINT32: irs__store_le32(stored, (uint32_t)v->v.u64); break;
		case IRS_TYPE_DOUBLE: memcpy(stored, &v->v.d, 8); break;
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES:
			src = v->v.s.ptr;
			len = v->v.s.len;
			break;
		default: irs__store_le64(stored, v->v.u64); break;
		}
		size_t w = irs__key_encode_part(ty, src, len, out + n, limit - n);
		if (!w)
			return 0;
		n += w;
	}
	return n;
}

int irs__key_decode(const irs_schema_table *t, const uint8_t *key, size_t key_len, irs_value *row,
		    uint8_t *scratch)
{
	size_t n = 0;
	size_t used = 0; /* bytes of scratch handed out */
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = t->key_cols[k];
		irs_type ty = t->cols[c].type;
		irs_value *v = &row[c];
		uint8_t w = irs__type_width(ty);
		if (w) {
			if (key_len - n < w)
				return IRS_ECORRUPT;
			const uint8_t *p = key + n;
			switch (ty) {
			case IRS_TYPE_BOOL:
				if (*p > 1)
					return IRS_ECORRUPT;
				v->v.b = *p;
				break;
			case IRS_TYPE_INT32: v->v.i64 = (int32_t)(irs__load_be32(p) ^ IRS_KEY_SIGN32); break;
			case IRS_TYPE_UINT32: v->v.u64 = irs__load_be32(p); break;
			case IRS_TYPE_INT64:
			case IRS_TYPE_TIMESTAMP: v->v.i64 = (int64_t)(irs__load_be64(p) ^ IRS_KEY_SIGN64); break;
			case IRS_TYPE_UINT64: v->v.u64 = irs__load_be64(p); break;
			case IRS_TYPE_DOUBLE: v->v.d = key_to_double(irs__load_be64(p)); break;
			default: return IRS_ECORRUPT;
			}
			v->state = IRS_VALUE_SET;
			n += w;
			continue;
		}
		if (!irs__type_is_var(ty))
			return IRS_ECORRUPT;
		/*
		 * Find the terminator. The first 0x00 decides: 0x00 0x00 ends the string
		 * (the common case: the value points into key), 0x00 0xFF is an escaped
		 * 0x00 and the value must be unescaped into scratch.
		 */
		const uint8_t *s = key + n;
		size_t avail = key_len - n;
		const uint8_t *z = memchr(s, 0, avail);
		if (!z || (size_t)(z - s) + 1 >= avail)
			return IRS_ECORRUPT;
		if (z[1] == 0x00) {
			size_t len = (size_t)(z - s);
			v->v.s.ptr = s;
			v->v.s.len = len;
			v->state = IRS_VALUE_SET;
			n += len + 2;
			continue;
		}
		uint8_t *o = scratch + used;
		size_t olen = 0;
		size_t i = 0;
		for (;;) {
			if (i >= avail)
				return IRS_ECORRUPT;
			uint8_t b = s[i++];
			if (b != 0x00) {
				o[olen++] = b;
				continue;
			}
			if (i >= avail)
				return IRS_ECORRUPT;
			uint8_t e = s[i++];
			if (e == 0x00)
				break;
			if (e != 0xFF)
				return IRS_ECORRUPT;
			o[olen++] = 0x00;
		}
		/* olen < i, so scratch use never exceeds key_len in total. */
		v->v.s.ptr = o;
		v->v.s.len = olen;
		v->state = IRS_VALUE_SET;
		used += olen;
		n += i;
	}
	return n == key_len ? 0 : IRS_ECORRUPT;
}

uint64_t irs__key_hash(const uint8_t *key, size_t len)
{
	return XXH3_64bits(key, len);
}
