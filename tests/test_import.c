/*
 * test_import.c: the CLI importers (cli/import.h) with a capturing sink, schema.json
 * parsing (cli/schema_json.h) and the text forms of engine/textout.h, including the
 * round trip textout -> import for every type and awkward values.
 */
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/schema.h"
#include "engine/textout.h"
#include "import.h"
#include "schema_json.h"

/* ------------------------------------------------------------------ fixture table */

enum { C_ID, C_I32, C_I64, C_U32, C_D, C_S, C_B, C_F, C_TS, NCOL };

static const irs_column_def cols[NCOL] = {
	{"id", IRS_TYPE_UINT64}, {"i32", IRS_TYPE_INT32}, {"i64", IRS_TYPE_INT64},
	{"u32", IRS_TYPE_UINT32}, {"d", IRS_TYPE_DOUBLE}, {"s", IRS_TYPE_UTF8},
	{"b", IRS_TYPE_BYTES},    {"f", IRS_TYPE_BOOL},   {"ts", IRS_TYPE_TIMESTAMP},
};
static const uint32_t pk[1] = {C_ID};
static const irs_table_def table = {"t", cols, NCOL, pk, 1};

/* A two-column composite key table for erase tests. */
static const irs_column_def cols2[3] = {
	{"a", IRS_TYPE_UTF8}, {"b", IRS_TYPE_INT32}, {"v", IRS_TYPE_DOUBLE}};
static const uint32_t pk2[2] = {1, 0};
static const irs_table_def table2 = {"t2", cols2, 3, pk2, 2};

/* ------------------------------------------------------------------ capturing sink */

#define MAXREC 64

typedef struct rec {
	int erase;
	uint64_t tag;
	uint32_t table;
	irs_value v[NCOL];
	char *str[NCOL]; /* owned copies of string values */
} rec;

typedef struct capture {
	rec r[MAXREC];
	int n;
	int fail_at;     /* 1-based record index to fail with "boom", 0 = never */
	int fail_code;   /* its code; 0 = IRS_EDUPKEY */
} capture;

static int cap_add(void *ctx, uint32_t tbl, const irs_value *v, uint64_t tag, irs_error *err,
		   int erase)
{
	capture *c = ctx;
	if (c->fail_at && c->n + 1 == c->fail_at) {
		int code = c->fail_code ? c->fail_code : IRS_EDUPKEY;
		if (err) {
			err->code = code;
			snprintf(err->message, sizeof err->message, "boom");
		}
		return code;
	}
	assert_true(c->n < MAXREC);
	rec *r = &c->r[c->n++];
	memset(r, 0, sizeof *r);
	r->erase = erase;
	r->tag = tag;
	r->table = tbl;
	uint32_t n = tbl == 7 ? 3 : NCOL;
	for (uint32_t i = 0; i < n; i++) {
		r->v[i] = v[i];
		if (v[i].state == IRS_VALUE_SET &&
		    ((tbl != 7 && (i == C_S || i == C_B)) || (tbl == 7 && i == 0))) {
			r->str[i] = malloc(v[i].v.s.len + 1);
			assert_non_null(r->str[i]);
			memcpy(r->str[i], v[i].v.s.ptr, v[i].v.s.len);
			r->str[i][v[i].v.s.len] = '\0';
			r->v[i].v.s.ptr = r->str[i];
		}
	}
	return 0;
}

static int cap_upsert(void *ctx, uint32_t t, const irs_value *v, uint64_t tag, irs_error *err)
{
	return cap_add(ctx, t, v, tag, err, 0);
}

static int cap_erase(void *ctx, uint32_t t, const irs_value *v, uint64_t tag, irs_error *err)
{
	return cap_add(ctx, t, v, tag, err, 1);
}

static void cap_clear(capture *c)
{
	for (int i = 0; i < c->n; i++)
		for (int k = 0; k < NCOL; k++)
			free(c->r[i].str[k]);
	memset(c, 0, sizeof *c);
}

static capture cap;
static irs_error err;

static int run_import(const irs_table_def *t, uint32_t table_index, irs_import_format f,
		      const char *name, const char *text, size_t max_line)
{
	cap_clear(&cap);
	memset(&err, 0, sizeof err);
	irs_import_options o;
	irs_import_options_init(&o);
	o.format = f;
	o.name = name;
	o.table = table_index;
	o.max_line = max_line;
	irs_import_sink sink = {cap_upsert, cap_erase, &cap};
	return irs_import_buffer(t, text, strlen(text), &o, &sink, NULL, &err);
}

static int rows(const char *text)
{
	return run_import(&table, 0, IRS_IMPORT_ROWS_JSONL, "in.jsonl", text, 0);
}

static int csv(const char *text)
{
	return run_import(&table, 0, IRS_IMPORT_ROWS_CSV, "in.csv", text, 0);
}

static int changes(const char *text)
{
	return run_import(&table, 0, IRS_IMPORT_CHANGES_JSONL, "ch.jsonl", text, 0);
}

/* The import must fail with IRS_EINPUT and a message containing every fragment. */
#define EXPECT_FAIL(call, ...)                                                              \
	do {                                                                                \
		int rc_ = (call);                                                           \
		const char *frags_[] = {__VA_ARGS__, NULL};                                 \
		if (rc_ != IRS_EINPUT)                                                      \
			fail_msg("%s: rc %d (%s), want IRS_EINPUT", #call, rc_, err.message); \
		for (int i_ = 0; frags_[i_]; i_++)                                          \
			if (!strstr(err.message, frags_[i_]))                               \
				fail_msg("%s: message \"%s\" lacks \"%s\"", #call, err.message, \
					 frags_[i_]);                                       \
		assert_null(strchr(err.message, '\n'));                                    \
	} while (0)

static int teardown_cap(void **state)
{
	(void)state;
	cap_clear(&cap);
	return 0;
}

/* ------------------------------------------------------------------ JSONL rows */

static void test_json_every_type(void **state)
{
	(void)state;
	assert_int_equal(rows("{\"id\": 18446744073709551615, \"i32\": -2147483648, "
			      "\"i64\": -9223372036854775808, \"u32\": 4294967295, \"d\": 0.1, "
			      "\"s\": \"h\\u00e9\\n\", \"b\": {\"base64\": \"AAEC/w==\"}, \"f\": true, "
			      "\"ts\": \"2024-01-01T10:00:00.5+01:00\"}\n"),
			 0);
	assert_int_equal(cap.n, 1);
	const irs_value *v = cap.r[0].v;
	assert_int_equal(cap.r[0].tag, 1);
	assert_true(v[C_ID].v.u64 == UINT64_MAX);
	assert_true(v[C_I32].v.i64 == INT32_MIN);
	assert_true(v[C_I64].v.i64 == INT64_MIN);
	assert_true(v[C_U32].v.u64 == UINT32_MAX);
	assert_true(v[C_D].v.d == 0.1);
	assert_int_equal(v[C_S].v.s.len, 4);
	assert_memory_equal(v[C_S].v.s.ptr, "h\xC3\xA9\n", 4);
	assert_int_equal(v[C_B].v.s.len, 4);
	assert_memory_equal(v[C_B].v.s.ptr, "\x00\x01\x02\xFF", 4);
	assert_int_equal(v[C_F].v.b, 1);
	assert_true(v[C_TS].v.i64 == INT64_C(1704099600500000));
	for (int i = 0; i < NCOL; i++)
		assert_int_equal(v[i].state, IRS_VALUE_SET);

	assert_int_equal(rows("{\"id\": 0, \"i32\": 2147483647, \"i64\": 9223372036854775807, "
			      "\"u32\": 0, \"d\": -0, \"s\": \"\", \"b\": \"raw \\u0000 bytes\", "
			      "\"f\": false, \"ts\": -1}"),
			 0);
	v = cap.r[0].v;
	assert_true(v[C_ID].v.u64 == 0);
	assert_true(v[C_I32].v.i64 == INT32_MAX);
	assert_true(v[C_I64].v.i64 == INT64_MAX);
	assert_true(v[C_D].v.d == 0 && signbit(v[C_D].v.d));
	assert_int_equal(v[C_S].v.s.len, 0);
	assert_int_equal(v[C_B].v.s.len, 11);
	assert_memory_equal(v[C_B].v.s.ptr, "raw \0 bytes", 11);
	assert_int_equal(v[C_F].v.b, 0);
	assert_true(v[C_TS].v.i64 == -1);
}

static void test_json_nulls_and_absent(void **state)
{
	(void)state;
	assert_int_equal(rows("{\"id\": 5, \"s\": null}"), 0);
	assert_int_equal(cap.r[0].v[C_S].state, IRS_VALUE_NULL);
	assert_int_equal(cap.r[0].v[C_I32].state, IRS_VALUE_ABSENT);
	/* The next record starts clean. */
	assert_int_equal(rows("{\"id\": 5, \"s\": null}\n{\"id\": 6}\n"), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.r[1].v[C_S].state, IRS_VALUE_ABSENT);
	EXPECT_FAIL(rows("{\"id\": null}"), "in.jsonl:1:8:", "key column \"id\" is null");
	EXPECT_FAIL(rows("{\"s\": \"x\"}"), "in.jsonl:1:", "key column \"id\" is missing");
}

static void test_json_integer_ranges(void **state)
{
	(void)state;
	EXPECT_FAIL(rows("{\"id\": 18446744073709551616}"), "in.jsonl:1:8:", "column \"id\" (uint64)",
		    "out of range", "18446744073709551616");
	EXPECT_FAIL(rows("{\"id\": 99999999999999999999999}"), "out of range for uint64");
	EXPECT_FAIL(rows("{\"id\": -1}"), "column \"id\" (uint64)", "out of range");
	assert_int_equal(rows("{\"id\": -0}"), 0);
	EXPECT_FAIL(rows("{\"id\": 1, \"i32\": 2147483648}"), "column \"i32\" (int32)", "out of range");
	EXPECT_FAIL(rows("{\"id\": 1, \"i32\": -2147483649}"), "out of range for int32");
	EXPECT_FAIL(rows("{\"id\": 1, \"i64\": 9223372036854775808}"), "out of range for int64");
	EXPECT_FAIL(rows("{\"id\": 1, \"i64\": -9223372036854775809}"), "out of range for int64");
	EXPECT_FAIL(rows("{\"id\": 1, \"u32\": 4294967296}"), "out of range for uint32");
	EXPECT_FAIL(rows("{\"id\": 1, \"u32\": -5}"), "out of range for uint32");
	EXPECT_FAIL(rows("{\"id\": 1.0}"), "expected an integer", "(got 1.0)");
	EXPECT_FAIL(rows("{\"id\": 1e3}"), "expected an integer", "(got 1e3)");
	EXPECT_FAIL(rows("{\"id\": \"1\"}"), "expected an integer (got a string)");
	EXPECT_FAIL(rows("{\"id\": 1, \"i64\": true}"), "expected an integer (got true)");
	EXPECT_FAIL(rows("{\"id\": 1, \"i64\": [1]}"), "expected an integer (got an array)");
}

static void test_json_doubles(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		double want;
	} ok[] = {
		{"5e-324", 4.9406564584124654e-324},
		{"1.7976931348623157e308", DBL_MAX},
		{"-2.2250738585072014E-308", -DBL_MIN},
		{"123456789012345678901234567890", 123456789012345678901234567890.0},
		{"0.30000000000000004", 0.30000000000000004},
		{"1e-400", 0.0},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char line[128];
		snprintf(line, sizeof line, "{\"id\": 1, \"d\": %s}", ok[i].text);
		assert_int_equal(rows(line), 0);
		assert_memory_equal(&cap.r[0].v[C_D].v.d, &ok[i].want, sizeof(double));
	}
	assert_int_equal(rows("{\"id\": 1, \"d\": \"NaN\"}"), 0);
	assert_true(isnan(cap.r[0].v[C_D].v.d));
	assert_int_equal(rows("{\"id\": 1, \"d\": \"-Infinity\"}"), 0);
	assert_true(isinf(cap.r[0].v[C_D].v.d) && cap.r[0].v[C_D].v.d < 0);
	assert_int_equal(rows("{\"id\": 1, \"d\": \"Infinity\"}"), 0);
	assert_true(isinf(cap.r[0].v[C_D].v.d) && cap.r[0].v[C_D].v.d > 0);
	EXPECT_FAIL(rows("{\"id\": 1, \"d\": 1e400}"), "column \"d\" (double)", "out of range for double");
	EXPECT_FAIL(rows("{\"id\": 1, \"d\": \"1.5\"}"), "expected a number");
	EXPECT_FAIL(rows("{\"id\": 1, \"d\": NaN}"), "in.jsonl:1:16:", "malformed JSON",
		    "NaN and Infinity");
	/* A long number goes through the heap scratch buffer. */
	char line[512];
	int n = snprintf(line, sizeof line, "{\"id\": 1, \"d\": 0.");
	memset(line + n, '1', 300);
	snprintf(line + n + 300, sizeof line - (size_t)n - 300, "}");
	assert_int_equal(rows(line), 0);
	assert_true(fabs(cap.r[0].v[C_D].v.d - 0.111111111111111) < 1e-12);
}

static void test_json_strings_bytes_bools(void **state)
{
	(void)state;
	EXPECT_FAIL(rows("{\"id\": 1, \"s\": 5}"), "column \"s\" (utf8)", "expected a string (got a number)");
	EXPECT_FAIL(rows("{\"id\": 1, \"s\": {\"base64\": \"AA==\"}}"), "expected a string");
	EXPECT_FAIL(rows("{\"id\": 1, \"f\": 1}"), "column \"f\" (bool)", "expected true or false (got 1)");
	EXPECT_FAIL(rows("{\"id\": 1, \"f\": \"true\"}"), "expected true or false");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"base64\": \"AAE\"}}"), "column \"b\" (bytes)",
		    "multiple of 4");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"base64\": \"AB==\"}}"), "non-zero padding bits");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"base64\": \"AAB=\"}}"), "non-zero padding bits");
	assert_int_equal(rows("{\"id\": 1, \"b\": {\"base64\": \"AAA=\"}}"), 0);
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"base64\": \"A A=\"}}"), "invalid base64 character");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"base64\": \"=AAA\"}}"), "invalid base64 character");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"hex\": \"00\"}}"), "expected a string or {\"base64\"");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"base64\": \"AA==\", \"x\": 1}}"), "more members");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": {\"base64\": 5}}"), "\"base64\" must be a string");
	EXPECT_FAIL(rows("{\"id\": 1, \"b\": [1]}"), "expected a string or {\"base64\"");
	assert_int_equal(rows("{\"id\": 1, \"b\": {\"base64\": \"\"}}"), 0);
	assert_int_equal(cap.r[0].v[C_B].state, IRS_VALUE_SET);
	assert_int_equal(cap.r[0].v[C_B].v.s.len, 0);
	assert_int_equal(rows("{\"id\": 1, \"b\": {\"base64\": \"/+8=\"}}"), 0);
	assert_memory_equal(cap.r[0].v[C_B].v.s.ptr, "\xFF\xEF", 2);
	assert_int_equal(rows("{\"id\": 1, \"s\": \"\\ud83d\\ude00\"}"), 0);
	assert_string_equal(cap.r[0].str[C_S], "\xF0\x9F\x98\x80");
	EXPECT_FAIL(rows("{\"id\": 1, \"s\": \"\xC3\x28\"}"), "in.jsonl:1:", "malformed JSON",
		    "invalid UTF-8");
}

static void test_timestamps(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int64_t us;
	} ok[] = {
		{"\"1970-01-01T00:00:00Z\"", 0},
		{"\"1969-12-31T23:59:59.999999Z\"", -1},
		{"\"2024-01-01T10:00:00.000000Z\"", INT64_C(1704103200000000)},
		{"\"2024-01-01t10:00:00z\"", INT64_C(1704103200000000)},
		{"\"2024-01-01 10:00:00Z\"", INT64_C(1704103200000000)},
		{"\"2024-01-01T12:30:00+02:30\"", INT64_C(1704103200000000)},
		{"\"2024-01-01T05:00:00.25-05:00\"", INT64_C(1704103200250000)},
		{"\"2024-02-29T00:00:00Z\"", INT64_C(1709164800000000)},
		{"\"2000-02-29T00:00:00Z\"", INT64_C(951782400000000)},
		{"\"2024-01-01T10:00:00.1234560000Z\"", INT64_C(1704103200123456)},
		{"\"0000-01-01T00:00:00Z\"", INT64_C(-62167219200000000)},
		{"\"9999-12-31T23:59:59.999999Z\"", INT64_C(253402300799999999)},
		{"-9223372036854775808", INT64_MIN},
		{"9223372036854775807", INT64_MAX},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char line[128];
		snprintf(line, sizeof line, "{\"id\": 1, \"ts\": %s}", ok[i].text);
		if (rows(line) != 0)
			fail_msg("%s: %s", ok[i].text, err.message);
		if (cap.r[0].v[C_TS].v.i64 != ok[i].us)
			fail_msg("%s: got %lld", ok[i].text, (long long)cap.r[0].v[C_TS].v.i64);
	}
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"\"2024-01-01T10:00:00.1234567Z\"", "more precision than microseconds"},
		{"\"2023-02-29T00:00:00Z\"", "invalid day of month"},
		{"\"2024-04-31T00:00:00Z\"", "invalid day of month"},
		{"\"2024-13-01T00:00:00Z\"", "invalid month"},
		{"\"2024-00-01T00:00:00Z\"", "invalid month"},
		{"\"2024-01-01T24:00:00Z\"", "invalid time of day"},
		{"\"2016-12-31T23:59:60Z\"", "leap second"},
		{"\"2024-01-01T10:00:00\"", "not an RFC 3339 timestamp"},
		{"\"2024-01-01T10:00:00.Z\"", "not an RFC 3339 timestamp"},
		{"\"2024-01-01T10:00:00+0100\"", "not an RFC 3339 timestamp"},
		{"\"2024-01-01T10:00:00+24:00\"", "invalid UTC offset"},
		{"\"2024-1-01T10:00:00Z\"", "not an RFC 3339 timestamp"},
		{"\"2024-01-01T10:00:00ZZ\"", "not an RFC 3339 timestamp"},
		{"1.5", "expected integer microseconds or an RFC 3339 string"},
		{"true", "expected integer microseconds or an RFC 3339 string"},
		{"9223372036854775808", "out of range for timestamp"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char line[128];
		snprintf(line, sizeof line, "{\"id\": 1, \"ts\": %s}", bad[i].text);
		EXPECT_FAIL(rows(line), "in.jsonl:1:17:", "column \"ts\" (timestamp)", bad[i].why);
	}
}

static void test_json_structure_errors(void **state)
{
	(void)state;
	EXPECT_FAIL(rows("{\"id\": 1}\n{\"id\": 2,}\n"), "in.jsonl:2:10:", "malformed JSON");
	EXPECT_FAIL(rows("{\"id\": 1} x"), "in.jsonl:1:11:", "after the JSON value");
	EXPECT_FAIL(rows("[1]"), "in.jsonl:1:1:", "expected a JSON object", "got an array");
	EXPECT_FAIL(rows("{\"id\": 1, \"nope\": 2}"), "in.jsonl:1:11:", "unknown column \"nope\" in table \"t\"");
	EXPECT_FAIL(rows("{\"id\": 1, \"id\": 2}"), "column \"id\" is listed twice");
	EXPECT_FAIL(rows("{\"op\": \"upsert\", \"row\": {\"id\": 1}}"), "unknown column \"op\"", "--incremental");
	/* An escaped member name is decoded before the lookup. */
	assert_int_equal(rows("{\"\\u0069d\": 7}"), 0);
	assert_true(cap.r[0].v[C_ID].v.u64 == 7);
}

static void test_lines_tags_blank_bom_crlf(void **state)
{
	(void)state;
	assert_int_equal(rows("\xEF\xBB\xBF{\"id\": 1}\r\n\r\n   \n{\"id\": 2}\r\n{\"id\": 3}"), 0);
	assert_int_equal(cap.n, 3);
	assert_int_equal(cap.r[0].tag, 1);
	assert_int_equal(cap.r[1].tag, 4);
	assert_int_equal(cap.r[2].tag, 5);
	assert_int_equal(rows(""), 0);
	assert_int_equal(cap.n, 0);
	assert_int_equal(rows("\n\n"), 0);
	assert_int_equal(cap.n, 0);
}

static void test_max_line(void **state)
{
	(void)state;
	assert_int_equal(run_import(&table, 0, IRS_IMPORT_ROWS_JSONL, "in.jsonl", "{\"id\": 1}\n{\"id\":22}\n", 9), 0);
	EXPECT_FAIL(run_import(&table, 0, IRS_IMPORT_ROWS_JSONL, "in.jsonl", "{\"id\": 1}\n{\"id\": 22}\n", 9),
		    "in.jsonl:2: line longer than 9 bytes");
	/* Without a final newline too, and with lines much longer than the buffer. */
	char *big = malloc(100001);
	assert_non_null(big);
	memset(big, ' ', 100000);
	big[100000] = '\0';
	memcpy(big, "{\"id\": 1}", 9);
	assert_int_equal(run_import(&table, 0, IRS_IMPORT_ROWS_JSONL, "in.jsonl", big, 100000), 0);
	EXPECT_FAIL(run_import(&table, 0, IRS_IMPORT_ROWS_JSONL, "in.jsonl", big, 99999),
		    "in.jsonl:1: line longer than 99999 bytes");
	free(big);
}

static void test_sink_error_prefix_and_cancel(void **state)
{
	(void)state;
	cap_clear(&cap);
	cap.fail_at = 2;
	memset(&err, 0, sizeof err);
	irs_import_options o;
	irs_import_options_init(&o);
	o.name = "x.jsonl";
	irs_import_sink sink = {cap_upsert, cap_erase, &cap};
	const char *text = "{\"id\": 1}\n\n{\"id\": 2}\n";
	irs_import_stats st;
	assert_int_equal(irs_import_buffer(&table, text, strlen(text), &o, &sink, &st, &err),
			 IRS_EDUPKEY);
	assert_string_equal(err.message, "x.jsonl:3: boom");
	assert_int_equal(st.upserts, 1);
	assert_int_equal(st.lines, 3);

	/* a sink that saw the flag itself (a writer's spill): the importer's message */
	cap_clear(&cap);
	cap.fail_at = 2;
	cap.fail_code = IRS_ECANCELED;
	assert_int_equal(irs_import_buffer(&table, text, strlen(text), &o, &sink, NULL, &err),
			 IRS_ECANCELED);
	assert_string_equal(err.message, "x.jsonl:3: cancelled");

	volatile sig_atomic_t stop = 1;
	o.cancel = &stop;
	cap_clear(&cap);
	assert_int_equal(irs_import_buffer(&table, text, strlen(text), &o, &sink, NULL, &err),
			 IRS_ECANCELED);
	assert_int_equal(cap.n, 0);
}

/* ------------------------------------------------------------------ CSV */

static void test_csv_basics(void **state)
{
	(void)state;
	assert_int_equal(csv("id,s,b,i32\n"
			     "1,,\"\",5\n"
			     "2,\"a,b\",\"x\"\"y\",\n"
			     "3,\"multi\nline\", raw ,-7\r\n"
			     "4, spaced ,\\.,0\n"),
			 0);
	assert_int_equal(cap.n, 4);
	assert_int_equal(cap.r[0].v[C_S].state, IRS_VALUE_NULL);
	assert_int_equal(cap.r[0].v[C_B].state, IRS_VALUE_SET);
	assert_int_equal(cap.r[0].v[C_B].v.s.len, 0);
	assert_true(cap.r[0].v[C_I32].v.i64 == 5);
	assert_int_equal(cap.r[0].v[C_D].state, IRS_VALUE_ABSENT);
	assert_string_equal(cap.r[1].str[C_S], "a,b");
	assert_string_equal(cap.r[1].str[C_B], "x\"y");
	assert_int_equal(cap.r[1].v[C_I32].state, IRS_VALUE_NULL);
	assert_string_equal(cap.r[2].str[C_S], "multi\nline");
	assert_string_equal(cap.r[2].str[C_B], " raw ");
	assert_string_equal(cap.r[3].str[C_S], " spaced ");
	assert_int_equal(cap.r[0].tag, 2);
	assert_int_equal(cap.r[1].tag, 3);
	assert_int_equal(cap.r[2].tag, 4);
	assert_int_equal(cap.r[3].tag, 6);
	/* No final newline; a header alone, an empty file and one of blank lines: no
	 * rows, as in JSONL. */
	assert_int_equal(csv("id\n9"), 0);
	assert_int_equal(cap.n, 1);
	static const char *const no_rows[] = {"id,s\n", "", "\n\r\n\n"};
	for (size_t i = 0; i < sizeof no_rows / sizeof *no_rows; i++) {
		assert_int_equal(csv(no_rows[i]), 0);
		assert_int_equal(cap.n, 0);
	}
	assert_int_equal(csv("\xEF\xBB\xBFid\r\n1\r\n\r\n2\r\n"), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.r[1].tag, 4);
}

static void test_csv_types(void **state)
{
	(void)state;
	assert_int_equal(csv("id,i32,i64,u32,d,s,b,f,ts\n"
			     "18446744073709551615,-2147483648,-9223372036854775808,4294967295,"
			     "0.1,h\xC3\xA9,\xFF\xFE,TRUE,2024-01-01T10:00:00Z\n"
			     "+7,+2147483647,9223372036854775807,0,-Infinity,x,y,f,-1\n"
			     "8,0,0,0,NaN,x,y,1,1704103200000000\n"
			     "9,0,0,0,1e5,x,y,0,1970-01-01T00:00:00.000001Z\n"),
			 0);
	assert_int_equal(cap.n, 4);
	const irs_value *v = cap.r[0].v;
	assert_true(v[C_ID].v.u64 == UINT64_MAX);
	assert_true(v[C_I32].v.i64 == INT32_MIN);
	assert_true(v[C_I64].v.i64 == INT64_MIN);
	assert_true(v[C_U32].v.u64 == UINT32_MAX);
	assert_true(v[C_D].v.d == 0.1);
	assert_string_equal(cap.r[0].str[C_S], "h\xC3\xA9");
	assert_string_equal(cap.r[0].str[C_B], "\xFF\xFE");
	assert_int_equal(v[C_F].v.b, 1);
	assert_true(v[C_TS].v.i64 == INT64_C(1704103200000000));
	v = cap.r[1].v;
	assert_true(v[C_ID].v.u64 == 7);
	assert_true(isinf(v[C_D].v.d) && v[C_D].v.d < 0);
	assert_int_equal(v[C_F].v.b, 0);
	assert_true(v[C_TS].v.i64 == -1);
	assert_true(isnan(cap.r[2].v[C_D].v.d));
	assert_int_equal(cap.r[2].v[C_F].v.b, 1);
	assert_true(cap.r[3].v[C_D].v.d == 1e5);
	assert_int_equal(cap.r[3].v[C_F].v.b, 0);
	assert_true(cap.r[3].v[C_TS].v.i64 == 1);
}

static void test_csv_errors(void **state)
{
	(void)state;
	EXPECT_FAIL(csv("id,s,b,i32\n1,a,b\n"), "in.csv:2: record has 3 fields, the header has 4");
	EXPECT_FAIL(csv("id,s\n1,a,b\n"), "in.csv:2: record has more fields than the header (2)");
	EXPECT_FAIL(csv("id,i32\n1,2147483648\n"), "in.csv:2: field 2 (column \"i32\", int32)",
		    "out of range", "(got \"2147483648\")");
	EXPECT_FAIL(csv("id,i32\n1, 5\n"), "field 2 (column \"i32\", int32): expected an integer");
	EXPECT_FAIL(csv("id,i32\n1,\"\"\n"), "field 2 (column \"i32\", int32): expected an integer");
	EXPECT_FAIL(csv("id,i32\n18446744073709551616,1\n"), "field 1 (column \"id\", uint64)", "out of range");
	EXPECT_FAIL(csv("id,i32\n,1\n"), "in.csv:2: field 1 (column \"id\", uint64): key column is NULL");
	EXPECT_FAIL(csv("id,d\n1,0x10\n"), "field 2 (column \"d\", double): expected a number");
	EXPECT_FAIL(csv("id,d\n1,1e999\n"), "out of range for double");
	EXPECT_FAIL(csv("id,f\n1,yes\n"), "field 2 (column \"f\", bool): expected true or false");
	EXPECT_FAIL(csv("id,s\n1,\xC3\x28\n"), "field 2 (column \"s\", utf8): invalid UTF-8");
	EXPECT_FAIL(csv("id,ts\n1,2024-01-01\n"), "field 2 (column \"ts\", timestamp)", "RFC 3339");
	EXPECT_FAIL(csv("id,nope\n"), "in.csv:1: header field 2: unknown column \"nope\" in table \"t\"");
	EXPECT_FAIL(csv("id,s,s\n"), "header field 3: column \"s\" is listed twice");
	EXPECT_FAIL(csv("s\n"), "in.csv:1: header lacks key column \"id\"");
	EXPECT_FAIL(csv("id,,s\n"), "header field 2 is empty");
	EXPECT_FAIL(csv("id,s\n1,a\"b\n"), "in.csv:2:4: malformed CSV");
	EXPECT_FAIL(csv("id,s\n1,\"a\"b\n"), "in.csv:2:6: malformed CSV");
	EXPECT_FAIL(csv("id,s\n1,ok\n2,\"open\nstill open\n"), "in.csv:3: malformed CSV: a quoted field is not closed");
	EXPECT_FAIL(csv("id,s\n1,\"a\nb\"\n2,\"x\ny\",3\n"), "in.csv:4: record has more fields");
	EXPECT_FAIL(run_import(&table, 0, IRS_IMPORT_ROWS_CSV, "in.csv", "id,s\n1,\"aaaaaaaa\nbbbbbbbbbbbb\nc\"\n", 16),
		    "record longer than 16 bytes");
}

/* ------------------------------------------------------------------ changes */

static void test_changes(void **state)
{
	(void)state;
	assert_int_equal(changes("{\"op\": \"upsert\", \"row\": {\"id\": 1, \"s\": \"x\", \"i32\": null}}\n"
				 "{\"row\": {\"id\": 2}, \"op\": \"upsert\"}\n"
				 "{\"op\": \"erase\", \"key\": {\"id\": 3}}\n"),
			 0);
	assert_int_equal(cap.n, 3);
	assert_int_equal(cap.r[0].erase, 0);
	assert_string_equal(cap.r[0].str[C_S], "x");
	assert_int_equal(cap.r[0].v[C_I32].state, IRS_VALUE_NULL);
	assert_int_equal(cap.r[0].v[C_D].state, IRS_VALUE_ABSENT);
	assert_int_equal(cap.r[1].erase, 0);
	assert_true(cap.r[1].v[C_ID].v.u64 == 2);
	assert_int_equal(cap.r[2].erase, 1);
	assert_true(cap.r[2].v[C_ID].v.u64 == 3);
	assert_int_equal(cap.r[2].tag, 3);

	EXPECT_FAIL(changes("{\"op\": \"upsert\", \"row\": {\"s\": \"x\"}}"), "ch.jsonl:1:", "key column \"id\" is missing");
	EXPECT_FAIL(changes("{\"op\": \"upsert\", \"row\": {\"id\": null}}"), "key column \"id\" is null");
	EXPECT_FAIL(changes("{\"op\": \"erase\", \"key\": {\"id\": 1, \"s\": \"x\"}}"), "ch.jsonl:1:",
		    "\"s\" is not a primary key column");
	EXPECT_FAIL(changes("{\"op\": \"erase\", \"key\": {}}"), "key column \"id\" is missing");
	EXPECT_FAIL(changes("{\"row\": {\"id\": 1}}"), "missing \"op\"");
	EXPECT_FAIL(changes("{\"op\": \"delete\", \"key\": {\"id\": 1}}"), "ch.jsonl:1:8:", "\"op\" must be \"upsert\" or \"erase\"");
	EXPECT_FAIL(changes("{\"op\": \"upsert\"}"), "\"upsert\" needs \"row\"");
	EXPECT_FAIL(changes("{\"op\": \"erase\", \"row\": {\"id\": 1}}"), "\"erase\" takes \"key\", not \"row\"");
	EXPECT_FAIL(changes("{\"row\": {\"id\": 1}, \"op\": \"erase\"}"), "\"erase\" takes \"key\", not \"row\"");
	EXPECT_FAIL(changes("{\"op\": \"upsert\", \"row\": {\"id\": 1}, \"key\": {\"id\": 1}}"), "not both");
	EXPECT_FAIL(changes("{\"op\": \"upsert\", \"op\": \"upsert\", \"row\": {\"id\": 1}}"), "\"op\" is listed twice");
	EXPECT_FAIL(changes("{\"op\": \"upsert\", \"row\": 5}"), "\"row\" must be an object, got a number");
	EXPECT_FAIL(changes("{\"id\": 1}"), "unknown member \"id\"", "--full");
	EXPECT_FAIL(changes("{\"op\": \"upsert\", \"row\": {\"id\": 1, \"zz\": 2}}"), "unknown column \"zz\"");
	EXPECT_FAIL(changes("{\"op\": \"upsert\", \"row\": {\"id\": 1}} {}"), "after the JSON value");

	/* Composite key, key order differs from column order. */
	assert_int_equal(run_import(&table2, 7, IRS_IMPORT_CHANGES_JSONL, "c2.jsonl",
				    "{\"op\": \"erase\", \"key\": {\"b\": -1, \"a\": \"k\"}}", 0),
			 0);
	assert_int_equal(cap.r[0].table, 7);
	assert_string_equal(cap.r[0].str[0], "k");
	assert_true(cap.r[0].v[1].v.i64 == -1);
	assert_int_equal(cap.r[0].v[2].state, IRS_VALUE_ABSENT);
	EXPECT_FAIL(run_import(&table2, 7, IRS_IMPORT_CHANGES_JSONL, "c2.jsonl",
			       "{\"op\": \"erase\", \"key\": {\"a\": \"k\"}}", 0),
		    "c2.jsonl:1: key column \"b\" is missing");
}

/* ------------------------------------------------------------------ files */

static char tmpdir[64];

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/irs_test_import_XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	teardown_cap(state);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void test_import_path(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "%s/rows.jsonl", tmpdir);
	/* More than one read chunk of lines. */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 0; i < 60; i++)
		fprintf(f, "{\"id\": %d, \"s\": \"%0*d\"}\n", i, 30000, i);
	fclose(f);
	irs_import_options o;
	irs_import_options_init(&o);
	cap_clear(&cap);
	irs_import_sink sink = {cap_upsert, cap_erase, &cap};
	irs_import_stats st;
	assert_int_equal(irs_import_path(&table, path, &o, &sink, &st, &err), 0);
	assert_int_equal(cap.n, 60);
	assert_int_equal(st.lines, 60);
	assert_true(cap.r[59].v[C_ID].v.u64 == 59);
	assert_int_equal(cap.r[59].v[C_S].v.s.len, 30000);

	snprintf(path, sizeof path, "%s/bad.jsonl", tmpdir);
	write_file(path, "{\"id\": 1}\n{\"id\": 2, \"i32\": 1.5}\n");
	cap_clear(&cap);
	assert_int_equal(irs_import_path(&table, path, &o, &sink, NULL, &err), IRS_EINPUT);
	char want[256];
	snprintf(want, sizeof want, "%s:2:18: column \"i32\" (int32): expected an integer", path);
	if (!strstr(err.message, want))
		fail_msg("\"%s\" lacks \"%s\"", err.message, want);

	snprintf(path, sizeof path, "%s/missing.jsonl", tmpdir);
	assert_int_equal(irs_import_path(&table, path, &o, &sink, NULL, &err), IRS_EIO);
	assert_non_null(strstr(err.message, "missing.jsonl: cannot open"));
}

/* ------------------------------------------------------------------ schema.json */

static void test_schema_json(void **state)
{
	(void)state;
	irs_cli_schema s;
	const char *one = "{\"table\": \"orders\", \"columns\": [{\"name\": \"id\", \"type\": \"Uint64\"},"
			  " {\"name\": \"note\", \"type\": \"Utf8\"}, {\"name\": \"raw\", \"type\": \"String\"},"
			  " {\"name\": \"ok\", \"type\": \"BOOL\"}], \"primary_key\": [\"id\"]}";
	assert_int_equal(irs_schema_json_parse(one, strlen(one), "s.json", &s, &err), 0);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.tables[0].name, "orders");
	assert_int_equal(s.tables[0].column_count, 4);
	assert_int_equal(s.tables[0].columns[0].type, IRS_TYPE_UINT64);
	assert_int_equal(s.tables[0].columns[1].type, IRS_TYPE_UTF8);
	assert_int_equal(s.tables[0].columns[2].type, IRS_TYPE_BYTES);
	assert_int_equal(s.tables[0].columns[3].type, IRS_TYPE_BOOL);
	assert_int_equal(s.tables[0].primary_key_count, 1);
	assert_int_equal(s.tables[0].primary_key[0], 0);
	irs_schema_json_free(&s);

	const char *two = "{\"tables\": [{\"table\": \"a\", \"columns\": [{\"name\": \"x\", \"type\": \"int32\"},"
			  " {\"name\": \"y\", \"type\": \"utf8\"}], \"primary_key\": [\"y\", \"x\"]},"
			  " {\"table\": \"b\", \"columns\": [{\"name\": \"k\", \"type\": \"timestamp\"}],"
			  " \"primary_key\": \"k\"}]}\n";
	assert_int_equal(irs_schema_json_parse(two, strlen(two), "s.json", &s, &err), 0);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.tables[0].primary_key_count, 2);
	assert_int_equal(s.tables[0].primary_key[0], 1);
	assert_int_equal(s.tables[0].primary_key[1], 0);
	assert_string_equal(s.tables[1].name, "b");
	irs_schema_json_free(&s);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int\"}], \"primary_key\": [\"id\"]}",
		 "s.json: table \"t\": column \"id\": unknown type \"int\""},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}, {\"name\": \"id\", \"type\": \"utf8\"}], \"primary_key\": [\"id\"]}",
		 "s.json: table \"t\": duplicate column \"id\""},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": [\"nope\"]}",
		 "s.json: table \"t\": key column \"nope\" not found"},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": []}",
		 "s.json: table \"t\": \"primary_key\" is empty"},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}]}",
		 "s.json: table \"t\": missing \"primary_key\""},
		{"{\"table\": \"t\", \"primary_key\": [\"id\"]}", "s.json: table \"t\": missing \"columns\""},
		{"{\"table\": \"t\", \"columns\": [], \"primary_key\": [\"id\"]}", "\"columns\" is empty"},
		{"{\"table\": \"t\", \"columns\": [{\"type\": \"int32\"}], \"primary_key\": [\"id\"]}",
		 "s.json: table \"t\": column 1: missing \"name\""},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\"}], \"primary_key\": [\"id\"]}",
		 "column \"id\": missing \"type\""},
		{"{\"table\": \"\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": [\"id\"]}",
		 "table 1: the name must not be empty"},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": [\"id\", \"id\"]}",
		 "s.json: table \"t\": key column \"id\" is listed twice"},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": [\"id\", \"x\"]}",
		 "s.json: table \"t\": key column \"x\" not found"},
		/* a misspelt or unsupported member is not ignored, nor a repeated one */
		{"{\"table\": \"t\", \"colums\": [1], \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": [\"id\"]}",
		 "s.json: table \"t\": unknown member \"colums\" (a table has \"table\", \"columns\" and \"primary_key\")"},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\", \"nullable\": true}], \"primary_key\": [\"id\"]}",
		 "s.json: table \"t\": column \"id\": unknown member \"nullable\" (a column has \"name\" and \"type\")"},
		{"{\"tables\": [], \"version\": 2}", "s.json: unknown member \"version\" beside \"tables\""},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}],\n \"primary_key\": [\"id\"], \"table\": \"u\"}",
		 "s.json:2:25: member \"table\" is listed twice"},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\", \"t\\u0079pe\": \"utf8\"}], \"primary_key\": [\"id\"]}",
		 "s.json:1:60: member \"type\" is listed twice"},
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": [\"id\"], \"a\\nb\": 1, \"a\\u000ab\": 2}",
		 "member \"a?b\" is listed twice"},
		/* json-c takes a lone surrogate and cuts a name at U+0000 ("table\0x" would be
		 * a second "table"); neither hides a repeated member */
		{"{\"table\": \"t\", \"columns\": [{\"name\": \"v\\ud800\", \"type\": \"utf8\"}], \"primary_key\": [\"v\"]}",
		 "s.json:1:39: malformed JSON: unpaired high surrogate in \\u escape"},
		{"{\"table\": \"t\", \"table\\u0000x\": \"u\", \"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": [\"id\"]}",
		 "s.json:1:16: a member name holds \\u0000"},
		{"{\"columns\": []}", "s.json: missing \"table\" (one table) or \"tables\""},
		{"{\"tables\": []}", "s.json: \"tables\" is empty"},
		{"{\"tables\": [{\"table\": \"a\", \"columns\": [{\"name\": \"x\", \"type\": \"int32\"}], \"primary_key\": [\"x\"]},"
		 "{\"table\": \"a\", \"columns\": [{\"name\": \"x\", \"type\": \"int32\"}], \"primary_key\": [\"x\"]}]}",
		 "s.json: duplicate table \"a\""},
		{"[1]", "s.json: expected an object"},
		{"{\"table\": \"t\",\n  \"columns\": [,]}", "s.json:2:"},
		{"{\"table\": \"t\"} x", "s.json:1:16: malformed JSON"},
		{"", "s.json: malformed JSON: unexpected end of file"},
	};
	/* a UTF-8 BOM is skipped, as in data files; members in other objects may share names */
	static const char bom[] = "\xEF\xBB\xBF{\"tables\": [{\"table\": \"t\", \"columns\": [{\"name\": \"table\", "
				  "\"type\": \"int32\"}], \"primary_key\": [\"table\"]}, {\"table\": \"u\", "
				  "\"columns\": [{\"name\": \"id\", \"type\": \"int32\"}], \"primary_key\": \"id\"}]}";
	if (irs_schema_json_parse(bom, strlen(bom), "s.json", &s, &err) != 0)
		fail_msg("BOM: %s", err.message);
	assert_int_equal(s.count, 2);
	assert_string_equal(s.tables[0].columns[0].name, "table");
	irs_schema_json_free(&s);
	/* 40,000 members of one object: refused for the first unknown one, the repeated-
	 * member check staying linear (it compares with at most 8 earlier names) */
	{
		enum { NM = 40000 };
		char *big = malloc((size_t)NM * 24 + 200);
		assert_non_null(big);
		size_t n = (size_t)sprintf(big, "{\"table\": \"t\"");
		for (int i = 0; i < NM; i++)
			n += (size_t)sprintf(big + n, ", \"m%d\": %d", i, i);
		sprintf(big + n, ", \"table\": \"u\"}");
		assert_int_equal(irs_schema_json_parse(big, strlen(big), "s.json", &s, &err), IRS_ESCHEMA);
		assert_non_null(strstr(err.message, "s.json:1:"));
		assert_non_null(strstr(err.message, "member \"table\" is listed twice"));
		free(big);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		int rc = irs_schema_json_parse(bad[i].text, strlen(bad[i].text), "s.json", &s, &err);
		if (rc != IRS_ESCHEMA || !strstr(err.message, bad[i].want))
			fail_msg("case %zu: rc %d, \"%s\", want \"%s\"", i, rc, err.message, bad[i].want);
		assert_null(s.tables);
	}
	char path[128];
	snprintf(path, sizeof path, "%s/nope.json", tmpdir);
	assert_int_equal(irs_schema_json_load(path, &s, &err), IRS_EIO);
	assert_non_null(strstr(err.message, "nope.json: cannot open"));
	snprintf(path, sizeof path, "%s/schema.json", tmpdir);
	write_file(path, two);
	assert_int_equal(irs_schema_json_load(path, &s, &err), 0);
	assert_int_equal(s.count, 2);
	irs_schema_json_free(&s);
}

/* ------------------------------------------------------------------ textout */

static irs_schema_column scols[NCOL];
static irs_schema_table stab;

static void make_stab(void)
{
	for (int i = 0; i < NCOL; i++) {
		scols[i].name = (char *)cols[i].name;
		scols[i].type = cols[i].type;
	}
	stab.name = "t";
	stab.ncols = NCOL;
	stab.cols = scols;
}

static irs_value sv(irs_type t, const void *p, size_t n)
{
	irs_value v = {.state = IRS_VALUE_SET};
	(void)t;
	v.v.s.ptr = p;
	v.v.s.len = n;
	return v;
}

static void test_textout_forms(void **state)
{
	(void)state;
	char buf[64];
	size_t n = irs__text_double(0.1, buf);
	assert_string_equal(buf, "0.1");
	assert_int_equal(n, 3);
	irs__text_double(1.0 / 3.0, buf);
	assert_string_equal(buf, "0.3333333333333333");
	irs__text_double(0.30000000000000004, buf);
	assert_string_equal(buf, "0.30000000000000004");
	irs__text_double(-0.0, buf);
	assert_string_equal(buf, "-0.0");
	irs__text_double(1e100, buf);
	assert_string_equal(buf, "1e+100");
	irs__text_double(NAN, buf);
	assert_string_equal(buf, "NaN");
	irs__text_double(-INFINITY, buf);
	assert_string_equal(buf, "-Infinity");
	assert_int_equal(irs__text_timestamp(INT64_C(1704103200000000), buf), 27);
	assert_string_equal(buf, "2024-01-01T10:00:00.000000Z");
	irs__text_timestamp(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
	irs__text_timestamp(INT64_C(-62167219200000000), buf);
	assert_string_equal(buf, "0000-01-01T00:00:00.000000Z");
	assert_int_equal(irs__text_timestamp(INT64_C(-62167219200000001), buf), 0);
	assert_int_equal(irs__text_timestamp(INT64_C(253402300800000000), buf), 0);
	assert_int_equal(irs__text_timestamp(INT64_MIN, buf), 0);
	assert_int_equal(irs__text_timestamp(INT64_MAX, buf), 0);

	make_stab();
	irs_textbuf b;
	irs__textbuf_init(&b, NULL);
	irs_value row[NCOL] = {0};
	row[C_ID].state = IRS_VALUE_SET;
	row[C_ID].v.u64 = UINT64_MAX;
	row[C_S] = sv(IRS_TYPE_UTF8, "", 0);
	row[C_B] = sv(IRS_TYPE_BYTES, "\xFF\x00", 2);
	row[C_F].state = IRS_VALUE_SET;
	row[C_F].v.b = 1;
	row[C_TS].state = IRS_VALUE_SET;
	row[C_TS].v.i64 = INT64_MAX;
	row[C_D].state = IRS_VALUE_NULL;
	assert_int_equal(irs__text_jsonl_row(&b, &stab, row), 0);
	assert_int_equal(irs__textbuf_cstr(&b), 0);
	assert_string_equal(b.data,
			    "{\"id\": 18446744073709551615, \"i32\": null, \"i64\": null, \"u32\": null, "
			    "\"d\": null, \"s\": \"\", \"b\": {\"base64\": \"/wA=\"}, \"f\": true, "
			    "\"ts\": 9223372036854775807}\n");
	irs__textbuf_reset(&b);
	assert_int_equal(irs__text_csv_header(&b, &stab), 0);
	assert_int_equal(irs__text_csv_row(&b, &stab, row), 0);
	assert_int_equal(irs__textbuf_cstr(&b), 0);
	assert_int_equal(b.len, strlen("id,i32,i64,u32,d,s,b,f,ts\n18446744073709551615,,,,,\"\",") + 2 +
					strlen(",true,9223372036854775807\n"));
	assert_memory_equal(b.data, "id,i32,i64,u32,d,s,b,f,ts\n18446744073709551615,,,,,\"\",\xFF\0,true,9223372036854775807\n", b.len);
	irs__textbuf_reset(&b);
	assert_int_equal(irs__text_csv_field(&b, "a\"b,c", 5), 0);
	assert_int_equal(irs__text_csv_field(&b, " x", 2), 0);
	assert_int_equal(irs__text_csv_field(&b, "\\.", 2), 0);
	assert_int_equal(irs__text_json_string(&b, "q\"\\\x01\n\t", 6), 0);
	assert_int_equal(irs__textbuf_cstr(&b), 0);
	assert_string_equal(b.data, "\"a\"\"b,c\"\" x\"\"\\.\"\"q\\\"\\\\\\u0001\\n\\t\"");
	irs__textbuf_free(&b);
}

/* Values that must survive textout -> import unchanged, in both formats. */
static void roundtrip_rows(irs_value rowsv[][NCOL], int nrows, bool as_csv)
{
	irs_textbuf b;
	irs__textbuf_init(&b, NULL);
	if (as_csv)
		assert_int_equal(irs__text_csv_header(&b, &stab), 0);
	for (int r = 0; r < nrows; r++)
		assert_int_equal(as_csv ? irs__text_csv_row(&b, &stab, rowsv[r])
					: irs__text_jsonl_row(&b, &stab, rowsv[r]),
				 0);
	cap_clear(&cap);
	irs_import_options o;
	irs_import_options_init(&o);
	o.format = as_csv ? IRS_IMPORT_ROWS_CSV : IRS_IMPORT_ROWS_JSONL;
	o.name = as_csv ? "rt.csv" : "rt.jsonl";
	irs_import_sink sink = {cap_upsert, cap_erase, &cap};
	int rc = irs_import_buffer(&table, b.data, b.len, &o, &sink, NULL, &err);
	if (rc)
		fail_msg("%s: %s", o.name, err.message);
	assert_int_equal(cap.n, nrows);
	for (int r = 0; r < nrows; r++) {
		for (int c = 0; c < NCOL; c++) {
			const irs_value *want = &rowsv[r][c], *got = &cap.r[r].v[c];
			uint8_t ws = want->state == IRS_VALUE_ABSENT ? IRS_VALUE_NULL : want->state;
			uint8_t gs = got->state == IRS_VALUE_ABSENT ? IRS_VALUE_NULL : got->state;
			if (ws != gs)
				fail_msg("%s row %d col %d: state %d, want %d", o.name, r, c, gs, ws);
			if (ws != IRS_VALUE_SET)
				continue;
			switch (cols[c].type) {
			case IRS_TYPE_UTF8:
			case IRS_TYPE_BYTES:
				assert_int_equal(got->v.s.len, want->v.s.len);
				if (want->v.s.len)
					assert_memory_equal(got->v.s.ptr, want->v.s.ptr, want->v.s.len);
				break;
			case IRS_TYPE_DOUBLE:
				if (isnan(want->v.d))
					assert_true(isnan(got->v.d));
				else if (memcmp(&got->v.d, &want->v.d, sizeof(double)) != 0)
					fail_msg("%s row %d: double %.17g, want %.17g", o.name, r, got->v.d,
						 want->v.d);
				break;
			case IRS_TYPE_BOOL:
				assert_int_equal(got->v.b, want->v.b);
				break;
			default:
				if (got->v.u64 != want->v.u64)
					fail_msg("%s row %d col %d: %llu, want %llu", o.name, r, c,
						 (unsigned long long)got->v.u64,
						 (unsigned long long)want->v.u64);
			}
		}
	}
	irs__textbuf_free(&b);
}

static void test_textout_roundtrip(void **state)
{
	(void)state;
	make_stab();
	static const double doubles[] = {0.1, -0.0, 0.0, 4.9406564584124654e-324, DBL_MAX, -DBL_MIN,
					 1.0 / 3.0, 123456789.123456789, 1e21, 1e-7, NAN, INFINITY,
					 -INFINITY, 2.5};
	static const int64_t stamps[] = {0, -1, INT64_MIN, INT64_MAX, INT64_C(1704103200123456),
					 INT64_C(-62167219200000000), INT64_C(-62167219200000001),
					 INT64_C(253402300799999999), INT64_C(253402300800000000),
					 1, 999999, 86400000000, -86400000001, 42};
	static const char *const strs[] = {"", "plain", "a,b", "q\"uote", "new\nline", " lead",
					   "trail ", "\\.", "tab\there", "\xC3\xA9t\xC3\xA9",
					   "\x01\x1f ctl", "\xF0\x9F\x98\x80", "{\"json\": 1}", "cr\r"};
	static const struct {
		const char *p;
		size_t n;
	} blobs[] = {{"", 0}, {"\xFF", 1}, {"\x00\x01\x02", 3}, {"ok", 2}, {"\xC3\x28", 2},
		     {"\xED\xA0\x80", 3}, {"a\"b", 3}, {"\n", 1}, {"x y", 3}, {"\x80\x81\x82\x83", 4},
		     {"z", 1}, {"\\.", 2}, {"long blob of text", 17}, {"\xF4\x90\x80\x80", 4}};
	enum { N = 14 };
	irs_value rowsv[N][NCOL];
	memset(rowsv, 0, sizeof rowsv);
	for (int r = 0; r < N; r++) {
		irs_value *v = rowsv[r];
		v[C_ID].state = IRS_VALUE_SET;
		v[C_ID].v.u64 = r == 0 ? UINT64_MAX : (uint64_t)r;
		v[C_I32].state = r == 3 ? IRS_VALUE_NULL : IRS_VALUE_SET;
		v[C_I32].v.i64 = r % 2 ? INT32_MIN : INT32_MAX;
		v[C_I64].state = IRS_VALUE_SET;
		v[C_I64].v.i64 = r % 2 ? INT64_MIN : INT64_MAX - r;
		v[C_U32].state = r == 5 ? IRS_VALUE_ABSENT : IRS_VALUE_SET;
		v[C_U32].v.u64 = UINT32_MAX - (uint64_t)r;
		v[C_D].state = IRS_VALUE_SET;
		v[C_D].v.d = doubles[r];
		v[C_S] = sv(IRS_TYPE_UTF8, strs[r], strlen(strs[r]));
		v[C_B] = sv(IRS_TYPE_BYTES, blobs[r].p, blobs[r].n);
		v[C_F].state = r == 7 ? IRS_VALUE_NULL : IRS_VALUE_SET;
		v[C_F].v.b = r % 2;
		v[C_TS].state = IRS_VALUE_SET;
		v[C_TS].v.i64 = stamps[r];
	}
	roundtrip_rows(rowsv, N, false);
	roundtrip_rows(rowsv, N, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_json_every_type, teardown_cap),
		cmocka_unit_test_teardown(test_json_nulls_and_absent, teardown_cap),
		cmocka_unit_test_teardown(test_json_integer_ranges, teardown_cap),
		cmocka_unit_test_teardown(test_json_doubles, teardown_cap),
		cmocka_unit_test_teardown(test_json_strings_bytes_bools, teardown_cap),
		cmocka_unit_test_teardown(test_timestamps, teardown_cap),
		cmocka_unit_test_teardown(test_json_structure_errors, teardown_cap),
		cmocka_unit_test_teardown(test_lines_tags_blank_bom_crlf, teardown_cap),
		cmocka_unit_test_teardown(test_max_line, teardown_cap),
		cmocka_unit_test_teardown(test_sink_error_prefix_and_cancel, teardown_cap),
		cmocka_unit_test_teardown(test_csv_basics, teardown_cap),
		cmocka_unit_test_teardown(test_csv_types, teardown_cap),
		cmocka_unit_test_teardown(test_csv_errors, teardown_cap),
		cmocka_unit_test_teardown(test_changes, teardown_cap),
		cmocka_unit_test_setup_teardown(test_import_path, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_schema_json, setup_tmp, teardown_tmp),
		cmocka_unit_test_teardown(test_textout_forms, teardown_cap),
		cmocka_unit_test_teardown(test_textout_roundtrip, teardown_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
