/*
 * test_json_scan.c: the strict JSON pull scanner (cli/json_scan.h): token streams,
 * every RFC 8259 rejection with its byte column, escapes and UTF-8, depth limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json_scan.h"

/* Scans text and returns the token sequence as letters ({}[]ksn tfz = key string
 * number true false null), ending with '.' for END or '!' for ERROR. */
static const char *tokens(const char *text, size_t len, irs_json_scanner *s, char *out)
{
	irs_json_init(s, text, len);
	size_t n = 0;
	for (;;) {
		int t = irs_json_next(s);
		char c = '?';
		switch (t) {
		case IRS_JSON_OBJECT_BEGIN: c = '{'; break;
		case IRS_JSON_OBJECT_END: c = '}'; break;
		case IRS_JSON_ARRAY_BEGIN: c = '['; break;
		case IRS_JSON_ARRAY_END: c = ']'; break;
		case IRS_JSON_KEY: c = 'k'; break;
		case IRS_JSON_STRING: c = 's'; break;
		case IRS_JSON_NUMBER: c = 'n'; break;
		case IRS_JSON_TRUE: c = 't'; break;
		case IRS_JSON_FALSE: c = 'f'; break;
		case IRS_JSON_NULL: c = 'z'; break;
		case IRS_JSON_END: c = '.'; break;
		case IRS_JSON_ERROR: c = '!'; break;
		}
		out[n++] = c;
		if (t == IRS_JSON_END || t == IRS_JSON_ERROR || n > 200)
			break;
	}
	out[n] = '\0';
	return out;
}

#define TOKS(text) tokens((text), strlen(text), &s, buf)

static void test_valid_documents(void **state)
{
	(void)state;
	irs_json_scanner s;
	char buf[256];
	assert_string_equal(TOKS("{}"), "{}.");
	assert_string_equal(TOKS(" { } \r\n"), "{}.");
	assert_string_equal(TOKS("[]"), "[].");
	assert_string_equal(TOKS("{\"a\":1,\"b\":[true,false,null,\"x\"],\"c\":{}}"), "{knk[tfzs]k{}}.");
	assert_string_equal(TOKS("0"), "n.");
	assert_string_equal(TOKS("-0.5e+10"), "n.");
	assert_string_equal(TOKS("\"s\""), "s.");
	assert_string_equal(TOKS("[[[[1]]]]"), "[[[[n]]]].");
	assert_string_equal(TOKS("\t{ \"k\" : \"v\" }\t"), "{ks}.");
}

static void test_number_spans(void **state)
{
	(void)state;
	irs_json_scanner s;
	const char *t = "{\"n\": 18446744073709551616, \"f\": -1.5E-3, \"z\": -0}";
	irs_json_init(&s, t, strlen(t));
	assert_int_equal(irs_json_next(&s), IRS_JSON_OBJECT_BEGIN);
	assert_int_equal(irs_json_next(&s), IRS_JSON_KEY);
	assert_int_equal(irs_json_next(&s), IRS_JSON_NUMBER);
	assert_int_equal(s.tok_len, 20);
	assert_memory_equal(s.tok_ptr, "18446744073709551616", 20);
	assert_false(s.num_negative);
	assert_false(s.num_fraction);
	assert_false(s.num_exponent);
	assert_int_equal(s.tok_col, 7);
	assert_int_equal(irs_json_next(&s), IRS_JSON_KEY);
	assert_int_equal(irs_json_next(&s), IRS_JSON_NUMBER);
	assert_memory_equal(s.tok_ptr, "-1.5E-3", 7);
	assert_true(s.num_negative);
	assert_true(s.num_fraction);
	assert_true(s.num_exponent);
	assert_int_equal(irs_json_next(&s), IRS_JSON_KEY);
	assert_int_equal(irs_json_next(&s), IRS_JSON_NUMBER);
	assert_int_equal(s.tok_len, 2);
	assert_true(s.num_negative);
	assert_int_equal(irs_json_next(&s), IRS_JSON_OBJECT_END);
	assert_int_equal(irs_json_next(&s), IRS_JSON_END);
	assert_int_equal(irs_json_next(&s), IRS_JSON_END); /* sticky */
}

/* The text must fail at the 1-based byte column col with a message containing msg. */
static void expect_error(const char *text, size_t len, size_t col, const char *msg)
{
	irs_json_scanner s;
	char buf[256];
	const char *toks = tokens(text, len, &s, buf);
	if (toks[strlen(toks) - 1] != '!')
		fail_msg("accepted: \"%s\" -> %s", text, toks);
	if (s.err_col != col || !strstr(s.err_msg, msg))
		fail_msg("\"%s\": got col %zu \"%s\", want col %zu \"%s\"", text, s.err_col, s.err_msg,
			 col, msg);
	assert_int_equal(irs_json_next(&s), IRS_JSON_ERROR); /* sticky */
}

#define ERR(text, col, msg) expect_error((text), sizeof(text) - 1, (col), (msg))

static void test_rejections(void **state)
{
	(void)state;
	ERR("", 1, "unexpected end");
	ERR("   ", 4, "unexpected end");
	ERR("{} x", 4, "after the JSON value");
	ERR("{}{}", 3, "after the JSON value");
	ERR("{\"a\":1,}", 8, "member name");
	ERR("[1,]", 4, "expected a value");
	ERR("{\"a\" 1}", 6, "expected ':'");
	ERR("{\"a\":1 \"b\":2}", 8, "expected ',' or '}'");
	ERR("[1 2]", 4, "expected ',' or ']'");
	ERR("{\"a\":1", 7, "unexpected end");
	ERR("{'a':1}", 2, "member name");
	ERR("{a:1}", 2, "member name");
	ERR("[01]", 2, "leading zeros");
	ERR("[-01]", 2, "leading zeros");
	ERR("[1.]", 4, "digits must follow '.'");
	ERR("[.5]", 2, "expected a value");
	ERR("[1e]", 4, "exponent");
	ERR("[1e+]", 5, "exponent");
	ERR("[+1]", 2, "expected a value");
	ERR("[-]", 2, "invalid number");
	ERR("[NaN]", 2, "NaN and Infinity");
	ERR("[Infinity]", 2, "NaN and Infinity");
	ERR("[-Infinity]", 2, "NaN and Infinity");
	ERR("[tru]", 2, "invalid literal");
	ERR("[nul]", 2, "invalid literal");
	ERR("[True]", 2, "expected a value");
	ERR("[truex]", 6, "expected ',' or ']'");
	ERR("[\"abc]", 2, "unterminated string");
	ERR("[\"a\tb\"]", 4, "control character");
	ERR("[\"a\nb\"]", 4, "control character");
	ERR("[\"\\x\"]", 3, "invalid escape");
	ERR("[\"\\u12\"]", 3, "\\u escape");
	ERR("[\"\\u12G4\"]", 3, "\\u escape");
	ERR("[\"\\uD800\"]", 3, "unpaired high surrogate");
	ERR("[\"\\uD800\\u0041\"]", 3, "unpaired high surrogate");
	ERR("[\"\\uDC00\"]", 3, "unpaired low surrogate");
	ERR("[\"\xC0\x80\"]", 3, "invalid UTF-8");          /* overlong NUL */
	ERR("[\"\xE0\x80\x80\"]", 3, "invalid UTF-8");      /* overlong */
	ERR("[\"\xED\xA0\x80\"]", 3, "invalid UTF-8");      /* encoded surrogate */
	ERR("[\"\xF4\x90\x80\x80\"]", 3, "invalid UTF-8");  /* above U+10FFFF */
	ERR("[\"\xF5\x80\x80\x80\"]", 3, "invalid UTF-8");
	ERR("[\"\x80\"]", 3, "invalid UTF-8");              /* lone continuation */
	ERR("[\"\xE2\x82\"]", 3, "invalid UTF-8");          /* truncated */
	ERR("[\"ok\xFF\"]", 5, "invalid UTF-8");
	ERR("{\"a\":1}\x00", 8, "after the JSON value");
	ERR("]", 1, "expected a value");
	ERR("{]", 2, "member name");
	ERR("[}", 2, "expected a value");
}

static void test_depth_limit(void **state)
{
	(void)state;
	char ok[2 * IRS_JSON_MAX_DEPTH + 1], deep[2 * IRS_JSON_MAX_DEPTH + 3];
	memset(ok, '[', IRS_JSON_MAX_DEPTH);
	memset(ok + IRS_JSON_MAX_DEPTH, ']', IRS_JSON_MAX_DEPTH);
	irs_json_scanner s;
	irs_json_init(&s, ok, 2 * IRS_JSON_MAX_DEPTH);
	assert_int_equal(irs_json_skip(&s), 0); /* nothing read yet: no-op */
	assert_int_equal(irs_json_next(&s), IRS_JSON_ARRAY_BEGIN);
	assert_int_equal(irs_json_skip(&s), 0);
	assert_int_equal(irs_json_next(&s), IRS_JSON_END);

	memset(deep, '[', IRS_JSON_MAX_DEPTH + 1);
	memset(deep + IRS_JSON_MAX_DEPTH + 1, ']', IRS_JSON_MAX_DEPTH + 1);
	irs_json_init(&s, deep, 2 * IRS_JSON_MAX_DEPTH + 2);
	int t;
	while ((t = irs_json_next(&s)) == IRS_JSON_ARRAY_BEGIN)
		;
	assert_int_equal(t, IRS_JSON_ERROR);
	assert_int_equal(s.err_col, IRS_JSON_MAX_DEPTH + 1);
	assert_non_null(strstr(s.err_msg, "too deep"));
}

static void test_skip(void **state)
{
	(void)state;
	irs_json_scanner s;
	const char *t = "{\"a\": {\"x\": [1, {\"y\": [2]}], \"z\": \"s\"}, \"b\": 3}";
	irs_json_init(&s, t, strlen(t));
	assert_int_equal(irs_json_next(&s), IRS_JSON_OBJECT_BEGIN);
	assert_int_equal(irs_json_next(&s), IRS_JSON_KEY);
	assert_int_equal(irs_json_next(&s), IRS_JSON_OBJECT_BEGIN);
	assert_int_equal(irs_json_skip(&s), 0);
	assert_int_equal(irs_json_next(&s), IRS_JSON_KEY);
	assert_memory_equal(s.tok_ptr, "b", 1);
	assert_int_equal(irs_json_next(&s), IRS_JSON_NUMBER);
	assert_int_equal(irs_json_skip(&s), 0); /* scalar: no-op */
	assert_int_equal(irs_json_next(&s), IRS_JSON_OBJECT_END);
	assert_int_equal(irs_json_next(&s), IRS_JSON_END);

	const char *bad = "{\"a\": [1, 2,, 3], \"b\": 1}";
	irs_json_init(&s, bad, strlen(bad));
	assert_int_equal(irs_json_next(&s), IRS_JSON_OBJECT_BEGIN);
	assert_int_equal(irs_json_next(&s), IRS_JSON_KEY);
	assert_int_equal(irs_json_next(&s), IRS_JSON_ARRAY_BEGIN);
	assert_int_equal(irs_json_skip(&s), IRS_JSON_ERROR);
	assert_int_equal(s.err_col, 13);
}

static void test_unescape(void **state)
{
	(void)state;
	irs_json_scanner s;
	const char *t = "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\\u0000z\"";
	irs_json_init(&s, t, strlen(t));
	assert_int_equal(irs_json_next(&s), IRS_JSON_STRING);
	assert_true(s.tok_escaped);
	char out[128];
	size_t n = irs_json_unescape(s.tok_ptr, s.tok_len, out);
	const char want[] = "a\"b\\c/d\be\ff\ng\rh\tiA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\0z";
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(out, want, n);

	/* In place. */
	char inplace[] = "x\\u00e9\\n\\uD83D\\uDE00y";
	n = irs_json_unescape(inplace, strlen(inplace), inplace);
	assert_int_equal(n, 9);
	assert_memory_equal(inplace, "x\xC3\xA9\n\xF0\x9F\x98\x80y", 9);

	/* No escape: tok_escaped false, span is the raw bytes. */
	irs_json_init(&s, "\"plain \xC3\xA9\"", 10);
	assert_int_equal(irs_json_next(&s), IRS_JSON_STRING);
	assert_false(s.tok_escaped);
	assert_int_equal(s.tok_len, 8);
}

/* Strings are checked 8 bytes at a time: every byte that ends the plain run (the
 * closing quote, an escape, a control character, a UTF-8 sequence; DEL is plain) is
 * found at every offset of strings 0 to 40 bytes long, and the rest of the string is
 * still checked after it. */
static void test_string_words(void **state)
{
	(void)state;
	static const struct {
		const char *ins; /* put at offset k of a run of 'a's, inside quotes */
		int ok;          /* 1: a valid string; 0: an error at the inserted byte */
	} cases[] = {
		{"\\n", 1}, {"\\u00e9", 1}, {"\xC3\xA9", 1}, {"\x7F", 1}, {"\x01", 0}, {"\x1F", 0},
		{"\\q", 0}, {"\xC3", 0}, {"\xFF", 0},
	};
	char text[80], out[256];
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
		for (size_t len = 0; len <= 40; len++)
			for (size_t k = 0; k <= len; k++) {
				size_t il = strlen(cases[ci].ins), n = 0;
				text[n++] = '"';
				memset(text + n, 'a', k);
				n += k;
				memcpy(text + n, cases[ci].ins, il);
				n += il;
				memset(text + n, 'b', len - k);
				n += len - k;
				text[n++] = '"';
				irs_json_scanner sc;
				const char *got = tokens(text, n, &sc, out);
				if (cases[ci].ok) {
					if (strcmp(got, "s.") != 0)
						fail_msg("case %zu, len %zu, at %zu: %s", ci, len, k, got);
				} else if (strcmp(got, "!") != 0 || sc.err_col != k + 2) {
					fail_msg("case %zu, len %zu, at %zu: %s, column %zu", ci, len, k, got, sc.err_col);
				}
			}
	/* plain runs of every length end at their quote, and a missing quote is found */
	for (size_t len = 0; len <= 40; len++) {
		text[0] = '"';
		memset(text + 1, 'x', len);
		irs_json_scanner sc;
		text[len + 1] = '"';
		assert_string_equal(tokens(text, len + 2, &sc, out), "s.");
		assert_string_equal(tokens(text, len + 1, &sc, out), "!");
	}
}

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_true(irs_json_utf8_valid("", 0));
	assert_true(irs_json_utf8_valid("hello, world, a long ascii run", 30));
	assert_true(irs_json_utf8_valid("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", 18));
	assert_true(irs_json_utf8_valid("\0", 1));
	assert_false(irs_json_utf8_valid("\xC1\xBF", 2));
	assert_false(irs_json_utf8_valid("\xED\xBF\xBF", 3));
	assert_false(irs_json_utf8_valid("abcdefgh\xF4\x90\x80\x80", 12));
	assert_false(irs_json_utf8_valid("\xE2\x82", 2));
	assert_false(irs_json_utf8_valid("\xFF", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_documents), cmocka_unit_test(test_number_spans),
		cmocka_unit_test(test_rejections),      cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_skip),            cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_utf8_valid),      cmocka_unit_test(test_string_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
