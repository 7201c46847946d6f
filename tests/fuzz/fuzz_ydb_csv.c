/*
 * fuzz_ydb_csv.c: libFuzzer target for the YDB dump line parser (cli/ydb_value.h) and
 * the change-metadata rule (cli/ydb_change.h). Each input line is split at ','; field i
 * is parsed as YDB type (i mod the number of types). An accepted value must be valid
 * for its increstore type and inside its YDB type's range, and must come back identical
 * when printed the way YDB's dump writer prints it and parsed again (a differential
 * check of parser and printer). The last field of a line is also run through the
 * metadata parser and the restore rule, which must never read outside its input.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/schema.h"
#include "ydb_change.h"
#include "ydb_value.h"

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#define DAY_US (86400LL * 1000000LL)
#define MAX_TS (49673LL * DAY_US)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Y-M-D of a day count since 1970-01-01 (Howard Hinnant's civil_from_days). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The dump writer's text of v (of kind k) into out; its length. */
static size_t print(irs_ydb_kind k, const irs_value *v, char *out, size_t cap)
{
	switch (irs_ydb_kind_type(k)) {
	case IRS_TYPE_BOOL:
		return (size_t)snprintf(out, cap, "%d", v->v.b);
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
		return (size_t)snprintf(out, cap, "%" PRId64, v->v.i64);
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64:
		return (size_t)snprintf(out, cap, "%" PRIu64, v->v.u64);
	case IRS_TYPE_DOUBLE:
		if (isnan(v->v.d))
			return (size_t)snprintf(out, cap, "nan");
		if (isinf(v->v.d))
			return (size_t)snprintf(out, cap, v->v.d > 0 ? "inf" : "-inf");
		return (size_t)snprintf(out, cap, "%.17g", v->v.d);
	case IRS_TYPE_TIMESTAMP: {
		int64_t y;
		unsigned m, d;
		int64_t us = v->v.i64, days = us / DAY_US, rem = us % DAY_US;
		civil(days, &y, &m, &d);
		return (size_t)snprintf(out, cap, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ", y, m, d,
					(unsigned)(rem / 3600000000LL), (unsigned)(rem / 60000000LL % 60),
					(unsigned)(rem / 1000000 % 60), (unsigned)(rem % 1000000));
	}
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES: {
		static const char special[] = "\"#%&'()+,:<=>?[\\]^`{|}";
		const uint8_t *p = v->v.s.ptr;
		size_t o = 0;
		out[o++] = '"';
		for (size_t i = 0; i < v->v.s.len; i++) {
			uint8_t c = p[i];
			if (c == ' ')
				out[o++] = '+';
			else if (c < 0x20 || c >= 0x7F || strchr(special, c))
				o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
			else
				out[o++] = (char)c;
		}
		out[o++] = '"';
		return o;
	}
	}
	return 0;
}

static bool same(irs_type t, const irs_value *a, const irs_value *b)
{
	if (a->state != b->state)
		return false;
	switch (t) {
	case IRS_TYPE_DOUBLE:
		return (isnan(a->v.d) && isnan(b->v.d)) || memcmp(&a->v.d, &b->v.d, sizeof(double)) == 0;
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		return a->v.s.len == b->v.s.len && (!a->v.s.len || !memcmp(a->v.s.ptr, b->v.s.ptr, a->v.s.len));
	case IRS_TYPE_BOOL:
		return a->v.b == b->v.b;
	default:
		return a->v.u64 == b->v.u64;
	}
}

static void check_value(irs_ydb_kind k, const irs_value *v)
{
	irs_type t = irs_ydb_kind_type(k);
	CHECK(irs__value_check(t, v) == NULL);
	if (v->state != IRS_VALUE_SET)
		return;
	switch (k) {
	case IRS_YDB_INT8: CHECK(v->v.i64 >= INT8_MIN && v->v.i64 <= INT8_MAX); break;
	case IRS_YDB_INT16: CHECK(v->v.i64 >= INT16_MIN && v->v.i64 <= INT16_MAX); break;
	case IRS_YDB_UINT8: CHECK(v->v.u64 <= UINT8_MAX); break;
	case IRS_YDB_UINT16: CHECK(v->v.u64 <= UINT16_MAX); break;
	case IRS_YDB_DATE: CHECK(v->v.i64 >= 0 && v->v.i64 < MAX_TS && v->v.i64 % DAY_US == 0); break;
	case IRS_YDB_DATETIME: CHECK(v->v.i64 >= 0 && v->v.i64 < MAX_TS && v->v.i64 % 1000000 == 0); break;
	case IRS_YDB_TIMESTAMP: CHECK(v->v.i64 >= 0 && v->v.i64 < MAX_TS); break;
	case IRS_YDB_INTERVAL: CHECK(v->v.i64 > -MAX_TS && v->v.i64 < MAX_TS); break;
	case IRS_YDB_FLOAT: CHECK(isnan(v->v.d) || (double)(float)v->v.d == v->v.d); break;
	default: break;
	}
	/* printed as the writer prints it and parsed again: the same value */
	size_t cap = 3 * v->v.s.len + 64;
	if (t != IRS_TYPE_UTF8 && t != IRS_TYPE_BYTES)
		cap = 64;
	char *text = malloc(cap);
	CHECK(text != NULL);
	size_t n = print(k, v, text, cap);
	CHECK(n > 0 && n < cap);
	irs_value again;
	memset(&again, 0, sizeof again);
	CHECK(irs_ydb_parse_field(k, text, n, &again) == NULL);
	CHECK(same(t, v, &again));
	free(text);
}

static void check_meta(const uint8_t *p, size_t n)
{
	static const uint32_t pos[3] = {2, 3, 4};
	irs_ydb_tagmap map;
	char why[256];
	CHECK(irs_ydb_tagmap_build(pos, 3, pos, 3, &map, why, sizeof why) == 0);
	irs_ydb_meta m = {0};
	uint8_t act[3];
	uint32_t bad;
	for (int gen = 1; gen <= 3; gen++) {
		for (int del = 0; del < 2; del++) {
			irs_ydb_rowsys rs = {del != 0, p, n};
			int r = irs_ydb_row_change(gen, &rs, &m, &map, act, 3, &bad);
			CHECK(r == IRS_YDB_ROW_UPSERT || r == IRS_YDB_ROW_ERASE || r == -2);
			if (r == IRS_YDB_ROW_UPSERT)
				for (int j = 0; j < 3; j++)
					CHECK(act[j] <= IRS_YDB_COL_NULL);
			CHECK(irs_ydb_row_tags(gen, &rs, &m) >= 0);
		}
	}
	irs_ydb_meta_free(&m);
	irs_ydb_tagmap_free(&map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	irs_ydb_field f[64];
	for (size_t start = 0; start <= size;) {
		char *nl = memchr(buf + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (buf + start)) : size - start;
		char *line = buf + start;
		size_t nf = irs_ydb_split(line, len, f, 64);
		CHECK(nf >= 1);
		for (size_t i = 0; i < nf && i < 64; i++) {
			CHECK(f[i].ptr >= line && f[i].ptr + f[i].len <= line + len);
			irs_ydb_kind k = (irs_ydb_kind)(1 + i % (IRS_YDB_KIND_COUNT - 1));
			irs_value v;
			memset(&v, 0, sizeof v);
			const char *why = irs_ydb_parse_field(k, f[i].ptr, f[i].len, &v);
			if (why)
				CHECK(why[0]);
			else
				check_value(k, &v);
		}
		check_meta((const uint8_t *)f[nf > 64 ? 63 : nf - 1].ptr, f[nf > 64 ? 63 : nf - 1].len);
		start += len + 1;
	}
	free(buf);
	return 0;
}
