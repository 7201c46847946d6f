/*
 * batch_wire.c: reads the protobuf wire format of a ChangeBatch in place.
 *
 * WIRE FORMAT (protobuf encoding, the subset proto/collection.proto uses)
 *     field   = key value; key = varint (field_number << 3 | wire_type)
 *     wire 0  varint (count)                  wire 1  8 bytes (skipped)
 *     wire 2  varint length, then the bytes   wire 5  4 bytes (skipped)
 *   ChangeBatch: 1 count (varint), 2 ops, 3 changed, 4 nulls (bytes), 5 columns
 *   (ColumnValues, repeated). ColumnValues: 1 fixed, 2 lengths, 3 data (bytes).
 *
 * Why not protobuf-c's unpack: it copies every bytes field and allocates per message,
 * so a hostile frame of millions of empty `columns` entries or unknown fields made it
 * hold gigabytes. Here every field is a slice of the payload; a column past the
 * table's count is counted, not stored; unknown fields are skipped (forward
 * compatibility) and cost nothing. As protobuf says, when a field repeats, the last
 * one wins. Groups (wire types 3 and 4) are not used by this format and are refused.
 */
#include "batch.h"

#include "common/error.h"

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

typedef struct wire {
	const uint8_t *p, *start, *end;
} wire;

/* Reads a varint; false when it is truncated or longer than 10 bytes. */
static bool wire_varint(wire *w, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (w->p == w->end)
			return false;
		uint8_t b = *w->p++;
		x |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Reads a length-delimited field's bytes as a slice. */
static bool wire_bytes(wire *w, const uint8_t **s, size_t *n)
{
	uint64_t len;
	if (!wire_varint(w, &len) || len > (uint64_t)(w->end - w->p))
		return false;
	*s = w->p;
	*n = (size_t)len;
	w->p += len;
	return true;
}

/* Skips the value of an unknown field of wire type wt. */
static bool wire_skip(wire *w, unsigned wt)
{
	uint64_t v;
	const uint8_t *s;
	size_t n;
	switch (wt) {
	case WIRE_VARINT: return wire_varint(w, &v);
	case WIRE_I64:
		if (w->end - w->p < 8)
			return false;
		w->p += 8;
		return true;
	case WIRE_LEN: return wire_bytes(w, &s, &n);
	case WIRE_I32:
		if (w->end - w->p < 4)
			return false;
		w->p += 4;
		return true;
	default: return false; /* groups (3, 4) and the undefined 6, 7 */
	}
}

static int malformed(irs_error *err, const wire *w, const char *what)
{
	return irs__seterr(err, IRS_ECORRUPT, "payload is not a valid ChangeBatch message: %s at byte %zu",
			   what, (size_t)(w->p - w->start));
}

/* Reads one ColumnValues message from s[0..n) into cs. */
static int parse_column(const uint8_t *s, size_t n, irs_col_slice *cs, const wire *outer,
			irs_error *err)
{
	static const uint8_t empty[1];
	wire w = {s, s, s + n};
	cs->fixed = cs->lengths = cs->data = empty;
	cs->fixed_len = cs->lengths_len = cs->data_len = 0;
	while (w.p < w.end) {
		uint64_t key;
		if (!wire_varint(&w, &key))
			return malformed(err, outer, "a truncated field in a column");
		unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
		const uint8_t **dst = field == 1 ? &cs->fixed : field == 2 ? &cs->lengths
				    : field == 3 ? &cs->data : NULL;
		size_t *dst_len = field == 1 ? &cs->fixed_len : field == 2 ? &cs->lengths_len
				: &cs->data_len;
		if (key >> 3 == 0)
			return malformed(err, outer, "field number 0 in a column");
		if (!dst) {
			if (!wire_skip(&w, wt))
				return malformed(err, outer, "a malformed unknown field in a column");
			continue;
		}
		if (wt != WIRE_LEN || !wire_bytes(&w, dst, dst_len))
			return malformed(err, outer, "a malformed column field");
	}
	return 0;
}

int irs__batch_parse(const uint8_t *payload, size_t len, uint32_t ncols, irs_col_slice *cols,
		     irs_batch_view *b, irs_error *err)
{
	static const uint8_t empty[1];
	wire w = {payload, payload, payload + len};
	memset(b, 0, sizeof *b);
	b->ops = b->changed = b->nulls = empty;
	uint64_t ncolumns = 0;
	while (w.p < w.end) {
		uint64_t key, v;
		if (!wire_varint(&w, &key))
			return malformed(err, &w, "a truncated field key");
		unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
		if (key >> 3 == 0)
			return malformed(err, &w, "field number 0");
		if (key >> 3 > 5) {
			if (!wire_skip(&w, wt))
				return malformed(err, &w, "a malformed unknown field");
			continue;
		}
		if (field == 1) {
			if (wt != WIRE_VARINT || !wire_varint(&w, &v) || v > UINT32_MAX)
				return malformed(err, &w, "a malformed count");
			b->count = (uint32_t)v;
			continue;
		}
		const uint8_t *s;
		size_t n;
		if (wt != WIRE_LEN || !wire_bytes(&w, &s, &n))
			return malformed(err, &w, "a malformed bytes field");
		switch (field) {
		case 2: b->ops = s, b->ops_len = n; break;
		case 3: b->changed = s, b->changed_len = n; break;
		case 4: b->nulls = s, b->nulls_len = n; break;
		case 5:
			/* columns beyond the table's are counted for the message, never stored */
			if (ncolumns < ncols) {
				int rc = parse_column(s, n, &cols[ncolumns], &w, err);
				if (rc)
					return rc;
			}
			ncolumns++;
			break;
		}
	}
	b->ncolumns = ncolumns > UINT32_MAX ? UINT32_MAX : (uint32_t)ncolumns;
	return 0;
}
