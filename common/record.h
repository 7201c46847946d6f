/*
 * record.h (private): the change record, the one in-memory form of a change that the
 * writer sorts and spills, the coordinator routes to shards, and the shards apply.
 *
 * FORMAT (all integers little-endian, records 8-byte aligned in their buffers)
 *
 *     u32  size         bytes of the whole record, header included, before padding
 *     u8   op           IRS_REC_UPSERT or IRS_REC_ERASE
 *     u8   flags        IRS_REC_ROW_DIGEST or 0
 *     u16  key_len      bytes of the encoded primary key (common/keycodec.h)
 *     u64  hash         irs__key_hash(key): partition and hash-table slot
 *     u64  tag          the writer's tag (input line) or the engine's change ordinal;
 *                       with IRS_REC_ROW_DIGEST, the content digest (common/digest.h)
 *                       of the row an UPSERT listing every column makes
 *     u8   key[key_len]
 *     u8   changed[B]   B = table->value_bitmap_bytes; bit vi: value column vi listed
 *     u8   nulls[B]     bit vi: listed as NULL (implies changed)
 *     values            for each vi with changed && !null, in vi order:
 *                         fixed-width type: `width` bytes
 *                         utf8/bytes:       u32 length, then the bytes
 *
 * An ERASE has both bitmaps all zero and no values. A full-backup row is an UPSERT
 * with every bit of `changed` set.
 *
 * INVARIANTS: size == IRS_REC_HEADER + key_len + 2*B + sum(value sizes); a record that
 * came from disk was validated (types, UTF-8, lengths) before it was built, so readers
 * of records do not re-check.
 */
#ifndef IRS_COMMON_RECORD_H
#define IRS_COMMON_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "schema.h"

enum { IRS_REC_UPSERT = 0, IRS_REC_ERASE = 1 };

/* flags: the tag holds the digest of the row this UPSERT (listing every column) inserts,
 * set by a restore's decoder so the shard need not serialize the row again. */
#define IRS_REC_ROW_DIGEST 0x1u

#define IRS_REC_HEADER 24u

typedef struct irs_rec {
	uint32_t size;
	uint8_t op;
	uint8_t flags;
	uint16_t key_len;
	uint64_t hash;
	uint64_t tag;
	uint8_t data[]; /* key, changed, nulls, values */
} irs_rec;

static inline size_t irs__rec_padded(size_t size)
{
	return (size + 7u) & ~(size_t)7u;
}
static inline const uint8_t *irs__rec_key(const irs_rec *r)
{
	return r->data;
}
static inline const uint8_t *irs__rec_changed(const irs_rec *r)
{
	return r->data + r->key_len;
}
static inline const uint8_t *irs__rec_nulls(const irs_rec *r, const irs_schema_table *t)
{
	return r->data + r->key_len + t->value_bitmap_bytes;
}
static inline const uint8_t *irs__rec_values(const irs_rec *r, const irs_schema_table *t)
{
	return r->data + r->key_len + 2u * t->value_bitmap_bytes;
}

/* Bytes of one stored value of column type t at p (fixed width or 4 + length). */
static inline size_t irs__value_size_at(irs_type t, const uint8_t *p)
{
	uint8_t w = irs__type_width(t);
	return w ? w : 4u + irs__load_le32(p);
}

/* Orders two encoded keys bytewise (the typed key order, see keycodec.h). */
static inline int irs__key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}



/*
 * Builds a record for `row` (one irs_value per column, checked with irs__value_check)
 * into out[0..cap). full: ABSENT value columns count as listed NULL. Returns the
 * record size, or 0 when it does not fit in cap or the key is too long.
 */
size_t irs__rec_build(const irs_schema_table *t, int op, bool full, const irs_value *row,
		      uint64_t tag, uint8_t *out, size_t cap);

/* Collapses older-then-newer changes to one key into out (see record.c). Returns the
 * size, or 0 when out is too small (cap >= older->size + newer->size always fits). */
size_t irs__rec_collapse(const irs_schema_table *t, const irs_rec *older, const irs_rec *newer,
			 uint8_t *out, size_t cap);

/* Decodes a record into row[] (key columns SET; value columns ABSENT/NULL/SET).
 * Strings point into r, or into scratch (>= key_len bytes) for keys holding 0x00. */
int irs__rec_decode(const irs_schema_table *t, const irs_rec *r, irs_value *row, uint8_t *scratch);

/* Reads one stored value of type ty at p into v (state untouched); returns the end. */
const uint8_t *irs__value_read(irs_type ty, const uint8_t *p, irs_value *v);

/* Formats the key of r for messages, like "id=5" or "(a=1, b=\"x\")", into out[cap];
 * long values are cut with "...". Always NUL-terminates. */
void irs__rec_key_format(const irs_schema_table *t, const uint8_t *key, size_t key_len, char *out,
			 size_t cap);
#endif
