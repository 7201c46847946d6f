/*
 * fuzz_common.h (private to the fuzz targets): the fixed table the importer targets
 * parse into, and a checking sink. The sink verifies what the importer promises
 * (key columns SET, every value valid for its type per irs__value_check, erases carry
 * only key columns) and, for rows, re-renders each row with engine/textout.h and
 * re-imports it, which must give back exactly the same values: a differential oracle
 * for both textout and the importer. Any violation calls __builtin_trap().
 */
#ifndef IRS_FUZZ_COMMON_H
#define IRS_FUZZ_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/schema.h"
#include "engine/textout.h"
#include "import.h"

enum { FZ_ID, FZ_I32, FZ_I64, FZ_U32, FZ_D, FZ_S, FZ_B, FZ_F, FZ_TS, FZ_NCOL };

static const irs_column_def fz_cols[FZ_NCOL] = {
	{"id", IRS_TYPE_UINT64}, {"i32", IRS_TYPE_INT32}, {"i64", IRS_TYPE_INT64},
	{"u32", IRS_TYPE_UINT32}, {"d", IRS_TYPE_DOUBLE}, {"s", IRS_TYPE_UTF8},
	{"b", IRS_TYPE_BYTES},    {"f", IRS_TYPE_BOOL},   {"ts", IRS_TYPE_TIMESTAMP},
};
/* A composite key (s, id) so that both string and integer key parts are exercised. */
static const uint32_t fz_pk[2] = {FZ_S, FZ_ID};
static const irs_table_def fz_table = {"t", fz_cols, FZ_NCOL, fz_pk, 2};

#define FZ_CHECK(cond)                    \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static inline bool fz_is_key(uint32_t c)
{
	return c == FZ_S || c == FZ_ID;
}

static inline void fz_check_values(const irs_value *v, bool erase)
{
	for (uint32_t c = 0; c < FZ_NCOL; c++) {
		FZ_CHECK(v[c].state <= IRS_VALUE_SET);
		if (fz_is_key(c))
			FZ_CHECK(v[c].state == IRS_VALUE_SET);
		if (erase && !fz_is_key(c))
			FZ_CHECK(v[c].state == IRS_VALUE_ABSENT);
		FZ_CHECK(irs__value_check(fz_cols[c].type, &v[c]) == NULL);
	}
}

/* The values of one re-imported row, for the round-trip comparison. */
typedef struct fz_expect {
	const irs_value *want;
	int seen;
} fz_expect;

static inline bool fz_same(irs_type t, const irs_value *a, const irs_value *b)
{
	/* A full row's ABSENT and NULL both mean NULL. */
	int sa = a->state == IRS_VALUE_SET, sb = b->state == IRS_VALUE_SET;
	if (sa != sb)
		return false;
	if (!sa)
		return true;
	switch (t) {
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		return a->v.s.len == b->v.s.len &&
		       (a->v.s.len == 0 || memcmp(a->v.s.ptr, b->v.s.ptr, a->v.s.len) == 0);
	case IRS_TYPE_DOUBLE:
		if (isnan(a->v.d))
			return isnan(b->v.d);
		return memcmp(&a->v.d, &b->v.d, sizeof(double)) == 0;
	case IRS_TYPE_BOOL:
		return a->v.b == b->v.b;
	default:
		return a->v.u64 == b->v.u64;
	}
}

static inline int fz_expect_upsert(void *ctx, uint32_t table, const irs_value *v, uint64_t tag,
			    irs_error *err)
{
	fz_expect *e = ctx;
	(void)table;
	(void)tag;
	(void)err;
	FZ_CHECK(e->seen == 0);
	e->seen++;
	for (uint32_t c = 0; c < FZ_NCOL; c++)
		FZ_CHECK(fz_same(fz_cols[c].type, &v[c], &e->want[c]));
	return 0;
}

static inline int fz_no_erase(void *ctx, uint32_t table, const irs_value *v, uint64_t tag, irs_error *err)
{
	(void)ctx;
	(void)table;
	(void)v;
	(void)tag;
	(void)err;
	__builtin_trap();
}

static irs_schema_column fz_scols[FZ_NCOL];
static irs_schema_table fz_stable;

static inline const irs_schema_table *fz_schema_table(void)
{
	if (!fz_stable.cols) {
		for (uint32_t c = 0; c < FZ_NCOL; c++) {
			fz_scols[c].name = (char *)fz_cols[c].name;
			fz_scols[c].type = fz_cols[c].type;
		}
		fz_stable.name = "t";
		fz_stable.ncols = FZ_NCOL;
		fz_stable.cols = fz_scols;
	}
	return &fz_stable;
}

/* Renders row v as JSONL (or a CSV header + line) and checks it imports back equal. */
static inline void fz_roundtrip(const irs_value *v, bool as_csv)
{
	irs_textbuf b;
	irs__textbuf_init(&b, NULL);
	const irs_schema_table *st = fz_schema_table();
	int rc = as_csv ? irs__text_csv_header(&b, st) : 0;
	if (!rc)
		rc = as_csv ? irs__text_csv_row(&b, st, v) : irs__text_jsonl_row(&b, st, v);
	FZ_CHECK(rc == 0);
	fz_expect e = {v, 0};
	irs_import_sink sink = {fz_expect_upsert, fz_no_erase, &e};
	irs_import_options o;
	irs_import_options_init(&o);
	o.format = as_csv ? IRS_IMPORT_ROWS_CSV : IRS_IMPORT_ROWS_JSONL;
	irs_error err;
	rc = irs_import_buffer(&fz_table, b.data, b.len, &o, &sink, NULL, &err);
	FZ_CHECK(rc == 0);
	FZ_CHECK(e.seen == 1);
	irs__textbuf_free(&b);
}

static inline int fz_row_upsert(void *ctx, uint32_t table, const irs_value *v, uint64_t tag, irs_error *err)
{
	(void)ctx;
	(void)table;
	(void)tag;
	(void)err;
	fz_check_values(v, false);
	fz_roundtrip(v, false);
	fz_roundtrip(v, true);
	return 0;
}

static inline int fz_change_upsert(void *ctx, uint32_t table, const irs_value *v, uint64_t tag,
			    irs_error *err)
{
	(void)ctx;
	(void)table;
	(void)tag;
	(void)err;
	fz_check_values(v, false);
	return 0;
}

static inline int fz_change_erase(void *ctx, uint32_t table, const irs_value *v, uint64_t tag,
			   irs_error *err)
{
	(void)ctx;
	(void)table;
	(void)tag;
	(void)err;
	fz_check_values(v, true);
	return 0;
}

/* Runs one importer over the input; errors must be one line with the input's name. */
static inline void fz_import(const uint8_t *data, size_t size, irs_import_format f, const irs_import_sink *sink)
{
	irs_import_options o;
	irs_import_options_init(&o);
	o.format = f;
	o.name = "fuzz";
	o.max_line = 1 << 16;
	irs_error err;
	memset(&err, 0, sizeof err);
	int rc = irs_import_buffer(&fz_table, data, size, &o, sink, NULL, &err);
	if (rc) {
		FZ_CHECK(rc == IRS_EINPUT);
		FZ_CHECK(strncmp(err.message, "fuzz:", 5) == 0);
		FZ_CHECK(strchr(err.message, '\n') == NULL);
	}
}

#endif
