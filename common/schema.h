/*
 * schema.h (private): the in-memory schema of a table and the per-type facts the
 * codecs need. Built once from the MANIFEST (format/manifest.c) and immutable after.
 *
 * Columns split into key columns (primary_key order) and value columns (every other
 * column, schema order). Rows and change records store value columns by their
 * "value index" vi = 0..nvalues-1; key columns live only in the encoded key.
 */
#ifndef IRS_COMMON_SCHEMA_H
#define IRS_COMMON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"

#define IRS_MAX_COLUMNS 4096      /* per table */
#define IRS_MAX_TABLES 4096       /* per collection */
#define IRS_MAX_NAME 255          /* bytes in a table, column or backup name */
#define IRS_MAX_PARTITIONS 4096   /* restore --partition I/K: K at most */
/* bytes in one '/'-separated component of a table name: "<component>.jsonl" must fit
 * the 255 bytes of a file name, since restore --out DIR/ writes one file per table */
#define IRS_MAX_NAME_COMPONENT 249
#define IRS_MAX_KEY_BYTES 65535   /* encoded primary key */
#define IRS_MAX_VALUE_BYTES (16u << 20) /* one utf8/bytes value */

typedef struct irs_schema_column {
	char *name;
	irs_type type;
	uint8_t width;      /* bytes of a fixed-width value: 1, 4 or 8; 0 for utf8/bytes */
	bool is_key;
	uint32_t key_pos;   /* position in the primary key when is_key */
	uint32_t value_idx; /* position among value columns when !is_key */
} irs_schema_column;

typedef struct irs_schema_table {
	char *name;
	uint32_t index;            /* in the collection */
	uint32_t ncols;
	irs_schema_column *cols;
	uint32_t nkey;
	uint32_t *key_cols;        /* column index of each key part, key order */
	uint32_t nvalues;
	uint32_t *value_cols;      /* column index of each value column */
	uint32_t value_bitmap_bytes; /* (nvalues + 7) / 8 */
} irs_schema_table;

/* Width in bytes of a fixed-width type, 0 for utf8 and bytes. */
static inline uint8_t irs__type_width(irs_type t)
{
	switch (t) {
	case IRS_TYPE_BOOL: return 1;
	case IRS_TYPE_INT32:
	case IRS_TYPE_UINT32: return 4;
	case IRS_TYPE_INT64:
	case IRS_TYPE_UINT64:
	case IRS_TYPE_DOUBLE:
	case IRS_TYPE_TIMESTAMP: return 8;
	default: return 0;
	}
}

static inline bool irs__type_valid(int t)
{
	return t >= IRS_TYPE_BOOL && t <= IRS_TYPE_TIMESTAMP;
}

static inline bool irs__type_is_var(irs_type t)
{
	return t == IRS_TYPE_UTF8 || t == IRS_TYPE_BYTES;
}

/* True when buf[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool irs__utf8_valid(const uint8_t *buf, size_t len);

/*
 * Checks a value against a column type: state, range (int32/uint32), bool 0/1,
 * UTF-8 validity, length limits. Returns NULL when fine, else a static reason.
 */
const char *irs__value_check(irs_type type, const irs_value *v);

/* Little-endian loads and stores (the on-disk byte order). */
static inline uint32_t irs__load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t irs__load_le64(const uint8_t *p)
{
	return (uint64_t)irs__load_le32(p) | (uint64_t)irs__load_le32(p + 4) << 32;
}
static inline void irs__store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void irs__store_le64(uint8_t *p, uint64_t v)
{
	irs__store_le32(p, (uint32_t)v);
	irs__store_le32(p + 4, (uint32_t)(v >> 32));
}

static inline bool irs__bit_get(const uint8_t *bm, size_t i)
{
	return (bm[i >> 3] >> (i & 7)) & 1;
}
static inline void irs__bit_set(uint8_t *bm, size_t i)
{
	bm[i >> 3] |= (uint8_t)(1u << (i & 7));
}

#endif
