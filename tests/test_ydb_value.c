/*
 * test_ydb_value.c: the YDB dump's field texts (cli/ydb_value.h): every type's forms,
 * range edges, percent-decoding, line splitting, and malformed fields; plus the
 * change-metadata wire parser, the restore rule and the tag recovery (cli/ydb_change.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "ydb_change.h"
#include "ydb_value.h"

#define DAY_US (86400LL * 1000000LL)

/* Parses text as kind k (on a copy, since strings decode in place). NULL = success. */
static const char *parse(irs_ydb_kind k, const char *text, irs_value *v)
{
	static char buf[256];
	size_t n = strlen(text);
	memcpy(buf, text, n + 1);
	memset(v, 0, sizeof *v);
	return irs_ydb_parse_field(k, buf, n, v);
}

static void ok_i64(irs_ydb_kind k, const char *text, int64_t want)
{
	irs_value v;
	const char *why = parse(k, text, &v);
	if (why)
		print_error("%s '%s': %s\n", irs_ydb_kind_name(k), text, why);
	assert_null(why);
	assert_int_equal(v.state, IRS_VALUE_SET);
	assert_true(v.v.i64 == want);
}

static void ok_u64(irs_ydb_kind k, const char *text, uint64_t want)
{
	irs_value v;
	assert_null(parse(k, text, &v));
	assert_int_equal(v.state, IRS_VALUE_SET);
	assert_true(v.v.u64 == want);
}

static void bad(irs_ydb_kind k, const char *text, const char *why_part)
{
	irs_value v;
	const char *why = parse(k, text, &v);
	if (!why)
		print_error("%s '%s' was accepted\n", irs_ydb_kind_name(k), text);
	assert_non_null(why);
	assert_non_null(strstr(why, why_part));
}

static double dbl(irs_ydb_kind k, const char *text)
{
	irs_value v;
	const char *why = parse(k, text, &v);
	if (why)
		print_error("'%s': %s\n", text, why);
	assert_null(why);
	assert_int_equal(v.state, IRS_VALUE_SET);
	return v.v.d;
}

static void test_null_and_mapping(void **state)
{
	(void)state;
	for (int k = IRS_YDB_BOOL; k < IRS_YDB_KIND_COUNT; k++) {
		irs_value v;
		assert_null(parse((irs_ydb_kind)k, "null", &v));
		assert_int_equal(v.state, IRS_VALUE_NULL);
		assert_true(irs_ydb_kind_type((irs_ydb_kind)k) != 0);
	}
	irs_value v;
	assert_null(parse(IRS_YDB_UTF8, "\"null\"", &v)); /* a string saying null */
	assert_int_equal(v.state, IRS_VALUE_SET);
	assert_int_equal(v.v.s.len, 4);
	bad(IRS_YDB_INT32, "NULL", "not an integer");
	bad(IRS_YDB_UNSUPPORTED, "1", "unsupported");
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_INT8), IRS_TYPE_INT32);
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_UINT16), IRS_TYPE_UINT32);
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_FLOAT), IRS_TYPE_DOUBLE);
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_JSON_DOCUMENT), IRS_TYPE_UTF8);
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_YSON), IRS_TYPE_BYTES);
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_DATE), IRS_TYPE_TIMESTAMP);
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_INTERVAL), IRS_TYPE_INT64);
	assert_int_equal(irs_ydb_kind_type(IRS_YDB_UNSUPPORTED), 0);
	assert_string_equal(irs_ydb_kind_name(IRS_YDB_JSON_DOCUMENT), "JsonDocument");
}

static void test_bool(void **state)
{
	(void)state;
	static const char *const yes[] = {"1", "true", "TRUE", "yes", "On"}, *const no[] = {"0", "false", "No", "off"};
	for (size_t i = 0; i < 5; i++) {
		irs_value v;
		assert_null(parse(IRS_YDB_BOOL, yes[i], &v));
		assert_int_equal(v.v.b, 1);
	}
	for (size_t i = 0; i < 4; i++) {
		irs_value v;
		assert_null(parse(IRS_YDB_BOOL, no[i], &v));
		assert_int_equal(v.v.b, 0);
	}
	bad(IRS_YDB_BOOL, "2", "not a Bool");
	bad(IRS_YDB_BOOL, "", "not a Bool");
	bad(IRS_YDB_BOOL, " 1", "not a Bool");
	bad(IRS_YDB_BOOL, "tru", "not a Bool");
}

static void test_integers(void **state)
{
	(void)state;
	ok_i64(IRS_YDB_INT8, "-128", -128);
	ok_i64(IRS_YDB_INT8, "127", 127);
	bad(IRS_YDB_INT8, "128", "out of range for Int8");
	bad(IRS_YDB_INT8, "-129", "out of range for Int8");
	ok_i64(IRS_YDB_INT16, "-32768", -32768);
	bad(IRS_YDB_INT16, "32768", "out of range for Int16");
	ok_i64(IRS_YDB_INT32, "-2147483648", INT32_MIN);
	ok_i64(IRS_YDB_INT32, "+2147483647", INT32_MAX);
	bad(IRS_YDB_INT32, "2147483648", "out of range for Int32");
	ok_i64(IRS_YDB_INT64, "-9223372036854775808", INT64_MIN);
	ok_i64(IRS_YDB_INT64, "9223372036854775807", INT64_MAX);
	ok_i64(IRS_YDB_INT64, "-0", 0);
	bad(IRS_YDB_INT64, "9223372036854775808", "out of range for Int64");
	bad(IRS_YDB_INT64, "-9223372036854775809", "out of range for Int64");
	bad(IRS_YDB_INT64, "99999999999999999999", "out of range for Int64");
	ok_u64(IRS_YDB_UINT8, "255", 255);
	bad(IRS_YDB_UINT8, "256", "out of range for Uint8");
	ok_u64(IRS_YDB_UINT16, "65535", 65535);
	bad(IRS_YDB_UINT16, "65536", "out of range for Uint16");
	ok_u64(IRS_YDB_UINT32, "4294967295", UINT32_MAX);
	bad(IRS_YDB_UINT32, "4294967296", "out of range for Uint32");
	ok_u64(IRS_YDB_UINT64, "18446744073709551615", UINT64_MAX);
	ok_u64(IRS_YDB_UINT64, "+0", 0);
	bad(IRS_YDB_UINT64, "18446744073709551616", "out of range for Uint64");
	bad(IRS_YDB_UINT64, "-1", "out of range for Uint64");
	bad(IRS_YDB_INT32, "", "not an integer");
	bad(IRS_YDB_INT32, "-", "not an integer");
	bad(IRS_YDB_INT32, "1 ", "not an integer");
	bad(IRS_YDB_INT32, " 1", "not an integer");
	bad(IRS_YDB_INT32, "1.0", "not an integer");
	bad(IRS_YDB_INT32, "0x10", "not an integer");
	bad(IRS_YDB_UINT32, "--1", "out of range");
	ok_i64(IRS_YDB_INTERVAL, "-4291747199999999", -4291747199999999LL);
	ok_i64(IRS_YDB_INTERVAL, "4291747199999999", 4291747199999999LL);
	bad(IRS_YDB_INTERVAL, "4291747200000000", "out of range for Interval");
	bad(IRS_YDB_INTERVAL, "-4291747200000000", "out of range for Interval");
}

static void test_floats(void **state)
{
	(void)state;
	assert_true(dbl(IRS_YDB_DOUBLE, "1.5") == 1.5);
	assert_true(dbl(IRS_YDB_DOUBLE, "-2.25e+20") == -2.25e20);
	assert_true(dbl(IRS_YDB_DOUBLE, "1e-05") == 1e-5);
	assert_true(dbl(IRS_YDB_DOUBLE, "3.141592654") == 3.141592654);
	assert_true(dbl(IRS_YDB_DOUBLE, "  7") == 7.0);       /* leading spaces, as YDB */
	assert_true(dbl(IRS_YDB_DOUBLE, ".5") == 0.5);
	assert_true(dbl(IRS_YDB_DOUBLE, "5.") == 5.0);
	assert_true(dbl(IRS_YDB_DOUBLE, "0x1F") == 31.0);     /* ALLOW_HEX */
	assert_true(isinf(dbl(IRS_YDB_DOUBLE, "inf")) && dbl(IRS_YDB_DOUBLE, "inf") > 0);
	assert_true(isinf(dbl(IRS_YDB_DOUBLE, "-inf")) && dbl(IRS_YDB_DOUBLE, "-inf") < 0);
	assert_true(isinf(dbl(IRS_YDB_DOUBLE, "+inf")));
	assert_true(isnan(dbl(IRS_YDB_DOUBLE, "nan")));
	assert_true(isinf(dbl(IRS_YDB_DOUBLE, "1e999")));    /* out of range: infinity */
	assert_true(dbl(IRS_YDB_DOUBLE, "1e-999") == 0.0);
	assert_true(signbit(dbl(IRS_YDB_DOUBLE, "-0")));
	/* Float: stored as (double)(float)x, as YDB stores a float */
	assert_true(dbl(IRS_YDB_FLOAT, "0.1") == (double)0.1f);
	assert_true(dbl(IRS_YDB_FLOAT, "16777217") == 16777216.0);
	assert_true(isinf(dbl(IRS_YDB_FLOAT, "1e39")));
	assert_true(dbl(IRS_YDB_FLOAT, "3.40282e+38") == (double)3.40282e38f);
	bad(IRS_YDB_DOUBLE, "", "not a number");
	bad(IRS_YDB_DOUBLE, "1.5 ", "not a number");
	bad(IRS_YDB_DOUBLE, "Infinity", "not a number");
	bad(IRS_YDB_DOUBLE, "NaN", "not a number");
	bad(IRS_YDB_DOUBLE, "1e", "not a number");
	bad(IRS_YDB_DOUBLE, ".", "not a number");
	bad(IRS_YDB_DOUBLE, "1,5", "not a number");
	bad(IRS_YDB_DOUBLE, "0x", "not a number");
	bad(IRS_YDB_DOUBLE, "0x1p3", "not a number");
	char longnum[600];
	memset(longnum, '1', sizeof longnum - 1);
	longnum[sizeof longnum - 1] = '\0';
	irs_value v;
	char buf[600];
	memcpy(buf, longnum, sizeof longnum);
	assert_non_null(irs_ydb_parse_field(IRS_YDB_DOUBLE, buf, strlen(buf), &v));
}

static void test_times(void **state)
{
	(void)state;
	ok_i64(IRS_YDB_TIMESTAMP, "1970-01-01T00:00:00.000000Z", 0);
	ok_i64(IRS_YDB_TIMESTAMP, "2024-02-29T13:45:00.123456Z", 19782 * DAY_US + 49500123456LL);
	ok_i64(IRS_YDB_TIMESTAMP, "2024-02-29T13:45:00.5+01:00", 19782 * DAY_US + 45900500000LL);
	ok_i64(IRS_YDB_TIMESTAMP, "2105-12-31T23:59:59.999999Z", 4291747199999999LL);
	bad(IRS_YDB_TIMESTAMP, "2106-01-01T00:00:00.000000Z", "out of range for Timestamp");
	bad(IRS_YDB_TIMESTAMP, "1969-12-31T23:59:59.999999Z", "before 1970-01-01");
	ok_i64(IRS_YDB_DATETIME, "2024-02-29T13:45:00.999999Z", 19782 * DAY_US + 49500000000LL);
	ok_i64(IRS_YDB_DATETIME, "2105-12-31T23:59:59Z", 4291747199000000LL);
	bad(IRS_YDB_DATETIME, "2106-01-01T00:00:00Z", "out of range for Datetime");
	ok_i64(IRS_YDB_DATE, "2024-02-29T00:00:00.000000Z", 19782 * DAY_US);
	ok_i64(IRS_YDB_DATE, "2024-02-29T23:00:00Z", 19782 * DAY_US); /* truncated to the day */
	ok_i64(IRS_YDB_DATE, "2024-02-29", 19782 * DAY_US);
	ok_i64(IRS_YDB_DATE, "2105-12-31", 49672 * DAY_US);
	bad(IRS_YDB_DATE, "2106-01-01", "out of range for Date");
	bad(IRS_YDB_DATE, "2024-02-30", "not an ISO 8601 time");
	bad(IRS_YDB_TIMESTAMP, "\"2024-01-01T00:00:00Z\"", "not an ISO 8601 time");
	bad(IRS_YDB_TIMESTAMP, "2024-01-01 00:00", "not an ISO 8601 time");
	bad(IRS_YDB_TIMESTAMP, "1700000000", "not an ISO 8601 time");
	bad(IRS_YDB_TIMESTAMP, "", "not an ISO 8601 time");
}

static void str_ok(irs_ydb_kind k, const char *text, const void *want, size_t wlen)
{
	irs_value v;
	const char *why = parse(k, text, &v);
	if (why)
		print_error("'%s': %s\n", text, why);
	assert_null(why);
	assert_int_equal(v.state, IRS_VALUE_SET);
	assert_int_equal(v.v.s.len, wlen);
	assert_memory_equal(v.v.s.ptr, want, wlen);
}

static void test_strings(void **state)
{
	(void)state;
	str_ok(IRS_YDB_UTF8, "\"\"", "", 0);
	str_ok(IRS_YDB_UTF8, "\"two+words%2C+and+%22quotes%22\"", "two words, and \"quotes\"", 23);
	str_ok(IRS_YDB_UTF8, "\"%D0%A2%d0%b5%D0%BA%D1%81%D1%82\"", "\xd0\xa2\xd0\xb5\xd0\xba\xd1\x81\xd1\x82", 10);
	str_ok(IRS_YDB_UTF8, "\"a^b\"", "a^b", 3);                 /* older escape table */
	str_ok(IRS_YDB_UTF8, "\"100%\"", "100%", 4);               /* '%' kept when not %XX */
	str_ok(IRS_YDB_UTF8, "\"%4\"", "%4", 2);
	str_ok(IRS_YDB_UTF8, "\"%4g%\"", "%4g%", 4);
	str_ok(IRS_YDB_JSON, "\"%7B%22a%22%3A+1%7D\"", "{\"a\": 1}", 8);
	str_ok(IRS_YDB_STRING, "\"%00%FF%80x\"", "\0\xff\x80x", 4);
	str_ok(IRS_YDB_YSON, "\"%7Ba%3D1%7D\"", "{a=1}", 5);
	str_ok(IRS_YDB_UTF8, "\"inner\"quote\"", "inner\"quote", 11);
	bad(IRS_YDB_UTF8, "\"%FF\"", "invalid UTF-8");
	bad(IRS_YDB_JSON_DOCUMENT, "\"%C3%28\"", "invalid UTF-8");
	bad(IRS_YDB_UTF8, "plain", "not a quoted string");
	bad(IRS_YDB_UTF8, "\"", "not a quoted string");
	bad(IRS_YDB_STRING, "\"open", "not a quoted string");
	bad(IRS_YDB_STRING, "", "not a quoted string");
	char s[] = "%41+%zz%";
	assert_int_equal(irs_ydb_cgi_unescape(s, strlen(s)), 6);
	assert_memory_equal(s, "A %zz%", 6);
}

static void test_split(void **state)
{
	(void)state;
	irs_ydb_field f[4];
	char line[] = "1,\"a\",,null";
	assert_int_equal(irs_ydb_split(line, strlen(line), f, 4), 4);
	assert_int_equal(f[0].len, 1);
	assert_int_equal(f[1].len, 3);
	assert_int_equal(f[2].len, 0);
	assert_memory_equal(f[3].ptr, "null", 4);
	char two[] = "a,";
	assert_int_equal(irs_ydb_split(two, 2, f, 4), 2);
	assert_int_equal(f[1].len, 0);
	char many[] = "1,2,3,4,5,6";
	assert_int_equal(irs_ydb_split(many, strlen(many), f, 4), 6); /* the count, not the capacity */
	char one[] = "x";
	assert_int_equal(irs_ydb_split(one, 1, f, 4), 1);
}

/* ---- change metadata */

static void test_meta_parse(void **state)
{
	(void)state;
	irs_ydb_meta m = {0};
	/* two states and IsDeleted, an unknown varint, bytes, fixed32, fixed64 and a group */
	static const uint8_t good[] = {0x0A, 0x06, 0x08, 0x02, 0x10, 0x01, 0x18, 0x01,
				       0x0A, 0x0B, 0x08, 0x83, 0x01, 0x10, 0x00, 0x18, 0x00, 0x38, 0x07,
				       0x10, 0x01,
				       0x10, 0x00,
				       0x78, 0x05, 0x7A, 0x01, 'x', 0x7D, 1, 2, 3, 4,
				       0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x7B, 0x08, 0x01, 0x7C};
	assert_int_equal(irs_ydb_meta_parse(good, sizeof good, &m), 1);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.states[0].tag, 2);
	assert_true(m.states[0].is_null && m.states[0].is_changed);
	assert_int_equal(m.states[1].tag, 131);
	assert_true(!m.states[1].is_changed && m.states[1].is_null); /* the last IsNull wins */
	assert_false(m.is_deleted);
	static const uint8_t del[] = {0x10, 0x02};
	assert_int_equal(irs_ydb_meta_parse(del, sizeof del, &m), 1);
	assert_true(m.is_deleted);
	assert_int_equal(m.n, 0);
	/* a known field with another wire type is an unknown field */
	static const uint8_t other[] = {0x08, 0x01, 0x12, 0x00};
	assert_int_equal(irs_ydb_meta_parse(other, sizeof other, &m), 1);
	assert_int_equal(m.n, 0);
	static const struct {
		uint8_t b[12];
		size_t n;
	} broken[] = {
		{{0x0A, 0x05, 0x08}, 3},              /* length past the end */
		{{0x0A}, 1},                          /* no length */
		{{0x10}, 1},                          /* no value */
		{{0x10, 0x80}, 2},                    /* truncated varint */
		{{0x00, 0x01}, 2},                    /* field number 0 */
		{{0x0E, 0x01}, 2},                    /* wire type 6 */
		{{0x0C}, 1},                          /* end group without a group */
		{{0x0B, 0x08, 0x01}, 3},              /* group never closed */
		{{0x0A, 0x02, 0x08, 0x80}, 4},        /* a state with a truncated tag */
		{{0x0D, 0x01, 0x02}, 3},              /* fixed32 cut short */
		{{0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 12}, /* 11-byte varint */
		{{0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00}, 6}, /* key above 32 bits */
	};
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
		assert_int_equal(irs_ydb_meta_parse(broken[i].b, broken[i].n, &m), 0);
	irs_ydb_meta_free(&m);
}

/* The rule of one row for a table of three value columns with tags 2, 3, 4. */
static void test_row_rule(void **state)
{
	(void)state;
	uint32_t tags[3] = {2, 3, 4}, pos[3] = {2, 3, 4};
	irs_ydb_tagmap map;
	char why[256];
	assert_int_equal(irs_ydb_tagmap_build(tags, 3, pos, 3, &map, why, sizeof why), 0);
	irs_ydb_meta m = {0};
	uint8_t act[3];
	uint32_t badtag = 0;
	/* generation 3: a partial update: tag 2 changed to NULL, 3 not changed, 4 no state */
	static const uint8_t upd[] = {0x0A, 0x06, 0x08, 0x02, 0x10, 0x01, 0x18, 0x01,
				      0x0A, 0x06, 0x08, 0x03, 0x10, 0x00, 0x18, 0x00, 0x10, 0x00};
	irs_ydb_rowsys rs = {false, upd, sizeof upd};
	assert_int_equal(irs_ydb_row_change(3, &rs, &m, &map, act, 3, &badtag), IRS_YDB_ROW_UPSERT);
	assert_int_equal(act[0], IRS_YDB_COL_NULL);
	assert_int_equal(act[1], IRS_YDB_COL_SKIP);
	assert_int_equal(act[2], IRS_YDB_COL_STORED);
	assert_int_equal(irs_ydb_row_tags(3, &rs, &m), 2);
	/* the same bytes in generation 2 (states only; deletion from the Bool column) */
	assert_int_equal(irs_ydb_row_change(2, &rs, &m, &map, act, 3, &badtag), IRS_YDB_ROW_UPSERT);
	assert_int_equal(act[1], IRS_YDB_COL_SKIP);
	rs.deleted = true;
	assert_int_equal(irs_ydb_row_change(2, &rs, &m, &map, act, 3, &badtag), IRS_YDB_ROW_ERASE);
	assert_int_equal(irs_ydb_row_tags(2, &rs, &m), 0);
	/* generation 3 ignores the Bool column; IsDeleted erases */
	assert_int_equal(irs_ydb_row_change(3, &rs, &m, &map, act, 3, &badtag), IRS_YDB_ROW_UPSERT);
	static const uint8_t del[] = {0x0A, 0x06, 0x08, 0x02, 0x10, 0x01, 0x18, 0x01, 0x10, 0x01};
	irs_ydb_rowsys rd = {false, del, sizeof del};
	assert_int_equal(irs_ydb_row_change(3, &rd, &m, &map, act, 3, &badtag), IRS_YDB_ROW_ERASE);
	assert_int_equal(irs_ydb_row_tags(3, &rd, &m), 0);
	/* no metadata, empty, garbage: every column as stored */
	static const uint8_t junk[] = {0xFF, 0xFF};
	irs_ydb_rowsys none[3] = {{false, NULL, 0}, {false, (const uint8_t *)"", 0}, {false, junk, 2}};
	for (int i = 0; i < 3; i++) {
		memset(act, 9, sizeof act);
		assert_int_equal(irs_ydb_row_change(3, &none[i], &m, &map, act, 3, &badtag), IRS_YDB_ROW_UPSERT);
		assert_true(act[0] == IRS_YDB_COL_STORED && act[1] == IRS_YDB_COL_STORED && act[2] == IRS_YDB_COL_STORED);
		assert_int_equal(irs_ydb_row_tags(3, &none[i], &m), 0);
	}
	/* generation 1: deleted erases, otherwise everything as stored (metadata ignored) */
	assert_int_equal(irs_ydb_row_change(1, &rs, &m, &map, act, 3, &badtag), IRS_YDB_ROW_ERASE);
	rs.deleted = false;
	assert_int_equal(irs_ydb_row_change(1, &rs, &m, &map, act, 3, &badtag), IRS_YDB_ROW_UPSERT);
	assert_int_equal(act[1], IRS_YDB_COL_STORED);
	/* a tag the map does not know */
	static const uint8_t unknown[] = {0x0A, 0x02, 0x08, 0x09};
	irs_ydb_rowsys ru = {false, unknown, sizeof unknown};
	assert_int_equal(irs_ydb_row_change(3, &ru, &m, &map, act, 3, &badtag), -2);
	assert_int_equal(badtag, 9);
	irs_ydb_meta_free(&m);
	irs_ydb_tagmap_free(&map);
}

static void test_tagmap(void **state)
{
	(void)state;
	irs_ydb_tagmap map;
	char why[512];
	/* dropped columns: ids 3, 4, 7 for three value columns -> in order */
	uint32_t gaps[3] = {3, 4, 7}, pos[3] = {2, 3, 4};
	assert_int_equal(irs_ydb_tagmap_build(gaps, 3, pos, 3, &map, why, sizeof why), 0);
	assert_int_equal(map.n, 3);
	assert_int_equal(map.value[2], 2);
	irs_ydb_tagmap_free(&map);
	/* fewer tags than columns, all positions -> by position */
	uint32_t some[2] = {2, 4};
	assert_int_equal(irs_ydb_tagmap_build(some, 2, pos, 3, &map, why, sizeof why), 0);
	assert_int_equal(map.value[0], 0);
	assert_int_equal(map.value[1], 2);
	irs_ydb_tagmap_free(&map);
	/* neither */
	uint32_t lost[2] = {4, 7};
	assert_int_equal(irs_ydb_tagmap_build(lost, 2, pos, 3, &map, why, sizeof why), IRS_EINPUT);
	assert_string_equal(why, "the column-state tags of its rows (4, 7) match neither its 3 value columns in "
				 "order nor their positions among all columns");
	/* no tags: no map */
	assert_int_equal(irs_ydb_tagmap_build(NULL, 0, pos, 3, &map, why, sizeof why), 0);
	assert_int_equal(map.n, 0);
	/* the tag set */
	irs_ydb_tagset set = {0};
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(irs_ydb_tagset_add(&set, (i * 7919u) % 300u), 0);
	assert_int_equal(irs_ydb_tagset_add(&set, UINT32_MAX), 0);
	uint32_t *sorted;
	size_t n;
	assert_int_equal(irs_ydb_tagset_sorted(&set, &sorted, &n), 0);
	assert_int_equal(n, 301);
	for (size_t i = 0; i + 1 < n; i++)
		assert_true(sorted[i] < sorted[i + 1]);
	assert_int_equal(sorted[0], 0);
	assert_int_equal(sorted[300], UINT32_MAX);
	free(sorted);
	irs_ydb_tagset_free(&set);
}

static void test_system_columns(void **state)
{
	(void)state;
	irs_ydb_column cols[4] = {{.name = "id", .kind = IRS_YDB_UINT64}, {.name = "v", .kind = IRS_YDB_UTF8},
				  {.name = "__ydb_incrBackupImpl_deleted", .kind = IRS_YDB_BOOL},
				  {.name = "__ydb_incrBackupImpl_columnStates", .kind = IRS_YDB_STRING}};
	uint32_t pk[1] = {0};
	irs_ydb_scheme s = {cols, 4, pk, 1, true};
	irs_ydb_sys sys;
	assert_null(irs_ydb_sys_detect(&s, &sys));
	assert_int_equal(sys.generation, 2);
	assert_int_equal(sys.deleted_col, 2);
	assert_int_equal(sys.states_col, 3);
	assert_true(irs_ydb_sys_is_system(&sys, 3));
	assert_false(irs_ydb_sys_is_system(&sys, 1));
	s.ncols = 3;
	assert_null(irs_ydb_sys_detect(&s, &sys));
	assert_int_equal(sys.generation, 1);
	cols[2].name = "__ydb_incrBackupImpl_changeMetadata";
	cols[2].kind = IRS_YDB_STRING;
	assert_null(irs_ydb_sys_detect(&s, &sys));
	assert_int_equal(sys.generation, 3);
	s.ncols = 2;
	assert_non_null(strstr(irs_ydb_sys_detect(&s, &sys), "no system column"));
	s.ncols = 4; /* changeMetadata + columnStates */
	assert_non_null(strstr(irs_ydb_sys_detect(&s, &sys), "no known generation"));
	cols[3].name = "__ydb_incrBackupImpl_future";
	assert_non_null(strstr(irs_ydb_sys_detect(&s, &sys), "unknown system column"));
	cols[3].name = "__ydb_incrBackupImpl_deleted";
	cols[3].kind = IRS_YDB_INT32;
	assert_non_null(strstr(irs_ydb_sys_detect(&s, &sys), "is not Bool"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_and_mapping), cmocka_unit_test(test_bool),
		cmocka_unit_test(test_integers),         cmocka_unit_test(test_floats),
		cmocka_unit_test(test_times),            cmocka_unit_test(test_strings),
		cmocka_unit_test(test_split),            cmocka_unit_test(test_meta_parse),
		cmocka_unit_test(test_row_rule),         cmocka_unit_test(test_tagmap),
		cmocka_unit_test(test_system_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
