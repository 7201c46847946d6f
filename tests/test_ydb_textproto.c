/*
 * test_ydb_textproto.c: the protobuf text-format parser (cli/ydb_textproto.h) and the
 * scheme.pb reader on top of it (cli/ydb_scheme.h): the syntax TextFormat prints and
 * accepts, escapes, skipped fields, every type form, and malformed input with its
 * line and column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ydb_scheme.h"
#include "ydb_textproto.h"

static irs_tp_node *parse_ok(const char *text)
{
	irs_tp_node *root = NULL;
	irs_error err = {0};
	int rc = irs_tp_parse(text, strlen(text), "t.pb", &root, &err);
	if (rc)
		print_error("unexpected error: %s\n", err.message);
	assert_int_equal(rc, 0);
	assert_non_null(root);
	return root;
}

/* Parses text that must fail; returns the message. */
static const char *parse_bad(const char *text, irs_error *err)
{
	irs_tp_node *root = (irs_tp_node *)1;
	int rc = irs_tp_parse(text, strlen(text), "t.pb", &root, err);
	assert_int_equal(rc, IRS_EINPUT);
	assert_null(root);
	assert_int_equal(err->code, IRS_EINPUT);
	assert_null(strchr(err->message, '\n'));
	return err->message;
}

static void test_scalars_and_nesting(void **state)
{
	(void)state;
	irs_tp_node *r = parse_ok("a: 1 b: -2.5e3 c: FOO d: -inf e { f: \"x\" g < h: 0x1F > }\n"
				  "e: { f: 'y' } ; i: true, j: [1, 2, 3] k: [] l: [{m: 1}, <m: 2>]");
	const irs_tp_node *a = irs_tp_first(r, "a");
	assert_int_equal(a->kind, IRS_TP_NUMBER);
	assert_string_equal(a->value, "1");
	assert_string_equal(irs_tp_first(r, "b")->value, "-2.5e3");
	assert_int_equal(irs_tp_first(r, "c")->kind, IRS_TP_IDENT);
	assert_string_equal(irs_tp_first(r, "c")->value, "FOO");
	assert_string_equal(irs_tp_first(r, "d")->value, "-inf");
	assert_int_equal(irs_tp_count(r, "e"), 2);
	const irs_tp_node *e = irs_tp_first(r, "e");
	assert_int_equal(e->kind, IRS_TP_MESSAGE);
	assert_string_equal(irs_tp_first(e, "f")->value, "x");
	assert_string_equal(irs_tp_first(irs_tp_first(e, "g"), "h")->value, "0x1F");
	assert_string_equal(irs_tp_first(irs_tp_next(e), "f")->value, "y");
	assert_int_equal(irs_tp_count(r, "j"), 3);
	assert_string_equal(irs_tp_next(irs_tp_next(irs_tp_first(r, "j")))->value, "3");
	assert_int_equal(irs_tp_count(r, "k"), 0);
	assert_int_equal(irs_tp_count(r, "l"), 2);
	assert_string_equal(irs_tp_first(irs_tp_next(irs_tp_first(r, "l")), "m")->value, "2");
	assert_null(irs_tp_first(r, "zz"));
	irs_tp_free(r);
}

static void test_strings_and_comments(void **state)
{
	(void)state;
	irs_tp_node *r = parse_ok("# a comment\n"
				  "s: \"\\320\\270\\n\\t\\\\\\\"\\'\\x41\\101\\u00e9\\U0001F600\" # trailing\n"
				  "t: \"ab\" 'cd' \"\"   # adjacent strings concatenate\n"
				  "u: \"\\000z\"\n"
				  "[ext.name.x]: 5\n"
				  "[type.googleapis.com/pkg.Msg] { v: 1 }\n");
	const irs_tp_node *s = irs_tp_first(r, "s");
	assert_int_equal(s->kind, IRS_TP_STRING);
	assert_string_equal(s->value, "\xd0\xb8\n\t\\\"'AA\xc3\xa9\xf0\x9f\x98\x80");
	assert_string_equal(irs_tp_first(r, "t")->value, "abcd");
	const irs_tp_node *u = irs_tp_first(r, "u");
	assert_int_equal(u->value_len, 2);
	assert_memory_equal(u->value, "\0z", 2);
	assert_string_equal(irs_tp_first(r, "[ext.name.x]")->value, "5");
	assert_non_null(irs_tp_first(irs_tp_first(r, "[type.googleapis.com/pkg.Msg]"), "v"));
	assert_int_equal(s->line, 2);
	irs_tp_free(r);
	r = parse_ok("");
	assert_null(r->children);
	irs_tp_free(r);
	r = parse_ok("  # only a comment");
	irs_tp_free(r);
}

static void test_malformed(void **state)
{
	(void)state;
	irs_error err;
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{"a: \"open", "t.pb:1:4: unterminated string"},
		{"a: \"line\nbreak\"", "t.pb:1:4: unterminated string"},
		{"a {\n b: 1\n", "t.pb:3:1: unexpected end of input: a message is not closed"},
		{"a 1", "t.pb:1:1: expected ':' or '{' after the field name"},
		{"a: }", "t.pb:1:4: expected a value"},
		{"}", "t.pb:1:1: expected a field name"},
		{"a: 12abc", "t.pb:1:4: invalid number"},
		{"a: 1e", "t.pb:1:4: invalid number exponent"},
		{"a: 0x", "t.pb:1:4: hex number without digits"},
		{"a: \"\\q\"", "t.pb:1:5: unknown escape in string"},
		{"a: \"\\400\"", "t.pb:1:5: octal escape above \\377"},
		{"a: \"\\x\"", "t.pb:1:5: \\x without hex digits"},
		{"a: \"\\u12\"", "t.pb:1:5: \\u or \\U needs 4 or 8 hex digits"},
		{"a: \"\\ud800\"", "t.pb:1:5: \\u escape is not a Unicode scalar value"},
		{"a: [1 2]", "t.pb:1:7: expected ',' or ']' in a list"},
		{"[a.]: 1", "t.pb:1:4: expected an identifier in an extension name"},
		{"a: 1\n\x01", "t.pb:2:1: unexpected byte outside a string"},
		{"a: 1 $", "t.pb:1:6: unexpected character"},
		{"a: - }", "t.pb:1:6: expected a value"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_string_equal(parse_bad(cases[i].text, &err), cases[i].msg);
	/* nesting deeper than the limit */
	char deep[IRS_TP_MAX_DEPTH * 4 + 16];
	size_t n = 0;
	for (int i = 0; i <= IRS_TP_MAX_DEPTH; i++)
		n += (size_t)snprintf(deep + n, sizeof deep - n, "a{");
	assert_non_null(strstr(parse_bad(deep, &err), "messages nested too deeply"));
	/* the input need not be NUL-terminated */
	irs_tp_node *r = NULL;
	assert_int_equal(irs_tp_parse("a: 1b", 4, "t.pb", &r, &err), 0);
	assert_string_equal(irs_tp_first(r, "a")->value, "1");
	irs_tp_free(r);
}

/* ---- scheme.pb */

static const char scheme_text[] =
	"columns {\n"
	"  name: \"id\"\n"
	"  type {\n"
	"    type_id: UINT64\n"
	"  }\n"
	"  not_null: true\n"
	"}\n"
	"columns {\n"
	"  name: \"\\321\\206\\320\\265\\320\\275\\320\\260\"\n"
	"  type {\n"
	"    optional_type {\n"
	"      item {\n"
	"        type_id: DOUBLE\n"
	"      }\n"
	"    }\n"
	"  }\n"
	"  family: \"default\"\n"
	"}\n"
	"columns { name: \"amount\" type { optional_type { item { decimal_type { precision: 22 scale: 9 } } } } }\n"
	"columns { name: \"p\" type { pg_type { type_name: \"int4\" oid: 23 } } }\n"
	"columns { name: \"l\" type { list_type { item { type_id: UTF8 } } } }\n"
	"columns { name: \"oo\" type { optional_type { item { optional_type { item { type_id: INT8 } } } } } }\n"
	"columns { name: \"u\" type { type_id: UUID } }\n"
	"columns { name: \"x\" type { type_id: 4242 } }\n"
	"columns { name: \"k2\" type { type_id: UTF8 } not_null: true }\n"
	"primary_key: \"k2\"\n"
	"primary_key: \"id\"\n"
	"storage_settings { tablet_commit_log0 { media: \"ssd\" } store_external_blobs: DISABLED }\n"
	"partitioning_settings { partitioning_by_size: ENABLED partition_size_mb: 2048 }\n"
	"ttl_settings { date_type_column { column_name: \"ts\" expire_after_seconds: 3600 } }\n"
	"indexes { name: \"idx\" index_columns: \"k2\" global_index { } }\n"
	"attributes { key: \"other\" value: \"1\" }\n"
	"attributes { key: \"__incremental_backup\" value: \"{}\" }\n"
	"key_bloom_filter: DISABLED\n";

static void test_scheme(void **state)
{
	(void)state;
	irs_ydb_scheme s;
	irs_error err = {0};
	int rc = irs_ydb_scheme_parse(scheme_text, sizeof scheme_text - 1, "scheme.pb", &s, &err);
	if (rc)
		print_error("%s\n", err.message);
	assert_int_equal(rc, 0);
	assert_int_equal(s.ncols, 9);
	assert_string_equal(s.cols[0].name, "id");
	assert_int_equal(s.cols[0].kind, IRS_YDB_UINT64);
	assert_true(s.cols[0].not_null);
	assert_false(s.cols[0].optional);
	assert_string_equal(s.cols[1].name, "\xd1\x86\xd0\xb5\xd0\xbd\xd0\xb0"); /* цена */
	assert_int_equal(s.cols[1].kind, IRS_YDB_DOUBLE);
	assert_true(s.cols[1].optional);
	assert_false(s.cols[1].not_null);
	static const char *const unsupported[][2] = {
		{"amount", "Decimal(22,9)"}, {"p", "Pg(int4)"}, {"l", "List<...>"},
		{"oo", "Optional<Optional<...>>"}, {"u", "Uuid"}, {"x", "type id 4242"},
	};
	for (int i = 0; i < 6; i++) {
		int c = irs_ydb_scheme_find(&s, unsupported[i][0]);
		assert_true(c >= 0);
		assert_int_equal(s.cols[c].kind, IRS_YDB_UNSUPPORTED);
		assert_string_equal(s.cols[c].type_name, unsupported[i][1]);
	}
	assert_int_equal(s.npk, 2);
	assert_int_equal(s.pk[0], 8); /* k2 first: key order, not column order */
	assert_int_equal(s.pk[1], 0);
	assert_true(irs_ydb_scheme_is_key(&s, 8));
	assert_false(irs_ydb_scheme_is_key(&s, 1));
	assert_true(s.incremental);
	irs_ydb_scheme_free(&s);
}

static void test_scheme_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{"primary_key: \"a\"", "scheme.pb: no columns"},
		{"columns { type { type_id: INT32 } } primary_key: \"a\"", "scheme.pb:1: a column without a name"},
		{"columns { name: \"a\" } primary_key: \"a\"", "scheme.pb:1: column a has no type"},
		{"columns { name: \"a\" type { } } primary_key: \"a\"", "scheme.pb:1: column a: type is empty or unknown"},
		{"columns { name: \"a\" type { type_id: INT32 } }", "scheme.pb: no primary_key"},
		{"columns { name: \"a\" type { type_id: INT32 } } primary_key: \"b\"",
		 "scheme.pb:1: primary_key b is not a column"},
		{"columns { name: \"a\" type { type_id: INT32 } }\ncolumns { name: \"b\" type { type_id: INT32 } }\n"
		 "primary_key: \"a\"\nprimary_key: \"a\"",
		 "scheme.pb:4: primary_key a is listed twice"},
		{"columns { name: \"a\" type { type_id: INT32 } }\ncolumns { name: \"a\" type { type_id: INT32 } }\n"
		 "primary_key: \"a\"",
		 "scheme.pb:2: duplicate column a"},
		{"columns { name: \"a\" type { optional_type { } } } primary_key: \"a\"",
		 "scheme.pb:1: column a: optional_type without item"},
		{"columns: 1 primary_key: \"a\"", "scheme.pb:1: columns is not a message"},
		{"columns { name: \"a\\000b\" type { type_id: INT32 } } primary_key: \"a\"",
		 "scheme.pb:1: a column name holds a NUL byte"},
		{"columns { name: \"a\" type { type_id: INT32 } primary_key: \"a\"",
		 "scheme.pb:1:61: unexpected end of input: a message is not closed"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		irs_ydb_scheme s;
		irs_error err = {0};
		int rc = irs_ydb_scheme_parse(cases[i].text, strlen(cases[i].text), "scheme.pb", &s, &err);
		assert_int_equal(rc, IRS_EINPUT);
		assert_string_equal(err.message, cases[i].msg);
		assert_null(s.cols);
		assert_int_equal(s.ncols, 0);
	}
	irs_ydb_scheme s;
	irs_error err = {0};
	assert_int_equal(irs_ydb_scheme_read("/nonexistent/scheme.pb", &s, &err), IRS_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars_and_nesting),
		cmocka_unit_test(test_strings_and_comments),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_scheme),
		cmocka_unit_test(test_scheme_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
