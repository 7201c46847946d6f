/*
 * test_usability.c: inputs as people write them, checked where they are first seen.
 *
 *   SIZES: --memory-limit and --writer-memory take "64M", "1G", "512MiB", "1.5GiB",
 *     "2GB" (irs_cli_parse_size): the exact byte counts, and refusals with exit 2.
 *   TABLE NAMES become file names (restore --out DIR/ writes DIR/<name>.jsonl, a '/'
 *     makes a subdirectory): create refuses what can never be one (empty, ".", "..",
 *     such components, a leading or trailing '/', "//", components over 249 bytes,
 *     control characters), with nothing left on disk; it accepts "DirA/TableA" and a
 *     249-byte component; opening a hand-edited manifest applies the same rules.
 *   A HUGE CSV FIELD: libcsv enlarges its field buffer in fixed blocks of 128 bytes by
 *     default, so one 16 MiB field took 131 072 copies of a growing buffer; the
 *     importer makes the buffer at least double when it grows (a handful of growths).
 *   The writer's message about a value over 16 MiB does not repeat the line number
 *     the importer puts before it.
 *   NULL ARRAYS with a count in a table definition, and a NULL out-pointer of
 *     irs_type_parse, are IRS_EINVAL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/import.h"
#include "format/collection.h"
#include "increstore.h"
#include "test_util.h"

#include "test_collections.h"

/* ------------------------------------------------------------------ sizes */

static void test_size_units(void **state)
{
	(void)state;
	irs_cli_parser p;
	irs_cli_parser_init(&p, &irs_cli_cmd_restore, 0, NULL);
	p.opt = "--memory-limit";
	static const struct {
		const char *text;
		uint64_t want;
	} good[] = {
		{"0", 0},
		{"100", 100},
		{"100B", 100},
		{"1k", 1024},
		{"1K", 1024},
		{"1KiB", 1024},
		{"1kb", 1000},
		{"64M", 64ull << 20},
		{"64m", 64ull << 20},
		{"512MiB", 512ull << 20},
		{"1G", 1ull << 30},
		{"1.5GiB", 1610612736ull},
		{"1.5 GiB", 1610612736ull},
		{"2GB", 2000000000ull},
		{"0.5K", 512},
		{"1.0009765625K", 1025},
		{"3T", 3ull << 40},
		{"2PB", 2000000000000000ull},
		{"15E", 15ull << 60},
		{"18446744073709551615", UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		uint64_t v = 1;
		if (!irs_cli_parse_size(&p, good[i].text, 0, UINT64_MAX, &v) || v != good[i].want)
			fail_msg("'%s': got %llu, want %llu", good[i].text, (unsigned long long)v,
				 (unsigned long long)good[i].want);
	}
	static const char *const bad[] = {"", "abc", "1.5X", "-1", "16E", "18446744073709551616",
					  "1MiBB", "M",   "1e6",  "1,5G", ".",  " 1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v = 7;
		if (irs_cli_parse_size(&p, bad[i], 0, UINT64_MAX, &v))
			fail_msg("'%s' accepted as %llu", bad[i], (unsigned long long)v);
		assert_int_equal(v, 7);
	}
	uint64_t v;
	assert_false(irs_cli_parse_size(&p, "1K", 2000, UINT64_MAX, &v)); /* below the minimum */
}

/* ------------------------------------------------------------------ table names */

static void tmpdir(char *out, size_t cap)
{
	snprintf(out, cap, "/tmp/irs_test_usability_XXXXXX");
	assert_non_null(mkdtemp(out));
}

static int create_named(const char *dir, const char *name, irs_error *err)
{
	static const irs_column_def cols[] = {{"id", IRS_TYPE_UINT64}};
	static const uint32_t pk[] = {0};
	irs_table_def t = {name, cols, 1, pk, 1};
	return irs_collection_create(dir, &t, 1, err);
}

/* Definitions an embedder gets wrong: a NULL array with a count, a NULL out-pointer;
 * IRS_EINVAL, nothing on disk. */
static void test_null_definitions(void **state)
{
	(void)state;
	char tmp[64], dir[128];
	tmpdir(tmp, sizeof tmp);
	snprintf(dir, sizeof dir, "%s/c", tmp);
	irs_column_def cols[2] = {{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}};
	uint32_t pk = 0;
	irs_table_def no_key = {"t", cols, 2, NULL, 1}, no_cols = {"t", NULL, 2, &pk, 1};
	irs_error err;
	assert_int_equal(irs_collection_create(dir, &no_key, 1, &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "table 0: NULL primary_key with a count of 1"));
	assert_int_equal(irs_collection_create(dir, &no_cols, 1, &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "table 0: NULL columns with a count of 2"));
	struct stat st;
	assert_int_not_equal(stat(dir, &st), 0);
	irs_type ty = IRS_TYPE_BOOL;
	assert_int_equal(irs_type_parse("int64", NULL), IRS_EINVAL);
	assert_int_equal(irs_type_parse(NULL, &ty), IRS_EINVAL);
	assert_int_equal(irs_type_parse("Int64", &ty), 0);
	assert_int_equal(ty, IRS_TYPE_INT64);
	rmdir(tmp);
}

static void test_table_names(void **state)
{
	(void)state;
	char tmp[64], dir[128];
	tmpdir(tmp, sizeof tmp);
	snprintf(dir, sizeof dir, "%s/c", tmp);
	char long_comp[300], ok_comp[300];
	memset(long_comp, 'a', 250);
	long_comp[250] = '\0';
	memset(ok_comp, 'b', 249);
	ok_comp[249] = '\0';
	char long_in_path[320];
	snprintf(long_in_path, sizeof long_in_path, "x/%s", long_comp);
	static const char ctl[] = {'a', 0x01, 'b', 0};
	const struct {
		const char *name;
		const char *why;
	} bad[] = {
		{"", "must be 1 to 255 bytes"},
		{".", "holds a '.' or '..' path component"},
		{"..", "holds a '.' or '..' path component"},
		{"a/../b", "holds a '.' or '..' path component"},
		{"./a", "holds a '.' or '..' path component"},
		{"a/.", "holds a '.' or '..' path component"},
		{"/a", "starts with '/'"},
		{"a/", "ends with '/'"},
		{"a//b", "holds an empty path component ('//')"},
		{long_comp, "holds a path component longer than 249 bytes"},
		{long_in_path, "holds a path component longer than 249 bytes"},
		{ctl, "holds a control character"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		irs_error err;
		int rc = create_named(dir, bad[i].name, &err);
		if (rc != IRS_ESCHEMA || !strstr(err.message, bad[i].why))
			fail_msg("name '%.40s': %s \"%s\", want IRS_ESCHEMA \"...%s\"", bad[i].name,
				 irs_err_name(rc), err.message, bad[i].why);
		struct stat st;
		if (stat(dir, &st) == 0)
			fail_msg("name '%.40s': refused, but %s was created", bad[i].name, dir);
	}
	/* legal: YDB-style paths, a 249-byte component, dots inside a component */
	const char *good[] = {"DirA/TableA", ok_comp, "a.b", "..a", "a/.b/c..", "t"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		irs_error err;
		if (create_named(dir, good[i], &err) != 0)
			fail_msg("name '%.40s' refused: %s", good[i], err.message);
		irs_collection *c;
		if (irs_collection_open(dir, NULL, 0, &c, &err) != 0)
			fail_msg("name '%.40s': open: %s", good[i], err.message);
		irs_collection_close(c);
		gen_rmrf(dir);
	}
	/* a hand-edited manifest is held to the same rules when opened */
	irs_error err;
	assert_int_equal(create_named(dir, "t", &err), 0);
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	Increstore__Manifest *m;
	assert_int_equal(irs__manifest_read(dir, &mem, &m, &err), 0);
	char *saved = m->tables[0]->name;
	m->tables[0]->name = "../../etc/t";
	assert_int_equal(irs__manifest_write(dir, m, false, &err), 0);
	m->tables[0]->name = saved;
	irs__manifest_free(&mem, m);
	irs_collection *c = NULL;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), IRS_ESCHEMA);
	assert_non_null(strstr(err.message, "table name '../../etc/t' holds a '.' or '..' path component"));
	assert_null(c);
	gen_rmrf(tmp);
}

/* ------------------------------------------------------------------ CSV */

typedef struct value_sink {
	uint64_t rows;
	size_t longest;
} value_sink;

static int vs_upsert(void *ctx, uint32_t table, const irs_value *vals, uint64_t tag, irs_error *err)
{
	(void)table, (void)tag, (void)err;
	value_sink *vs = ctx;
	vs->rows++;
	if (vals[1].state == IRS_VALUE_SET && vals[1].v.s.len > vs->longest)
		vs->longest = vals[1].v.s.len;
	return 0;
}

static int vs_erase(void *ctx, uint32_t table, const irs_value *key, uint64_t tag, irs_error *err)
{
	(void)ctx, (void)table, (void)key, (void)tag, (void)err;
	return 0;
}

/* One 16 MiB - 1 field, on one line and quoted across 4096 lines. */
static void test_csv_huge_field(void **state)
{
	(void)state;
	static const irs_column_def cols[] = {{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_BYTES}};
	static const uint32_t pk[] = {0};
	irs_table_def t = {"t", cols, 2, pk, 1};
	size_t field = (16u << 20) - 1;
	for (int quoted = 0; quoted < 2; quoted++) {
		size_t cap = field + 64;
		char *in = malloc(cap);
		size_t n = (size_t)snprintf(in, cap, "id,v\n1,%s", quoted ? "\"" : "");
		for (size_t i = 0; i < field; i++)
			in[n++] = quoted && i % 4096 == 4095 ? '\n' : 'x';
		n += (size_t)snprintf(in + n, cap - n, "%s\n", quoted ? "\"" : "");
		irs_import_options o;
		irs_import_options_init(&o);
		o.format = IRS_IMPORT_ROWS_CSV;
		o.name = "huge.csv";
		value_sink vs = {0};
		irs_import_sink sink = {vs_upsert, vs_erase, &vs};
		irs_import_stats st;
		irs_error err;
		if (irs_import_buffer(&t, in, n, &o, &sink, &st, &err) != 0)
			fail_msg("%s", err.message);
		print_message("  %s: a %zu-byte field, the CSV buffer grew %llu times\n",
			      quoted ? "quoted over 4096 lines" : "one line", field,
			      (unsigned long long)st.csv_buffer_grows);
		assert_int_equal(vs.rows, 1);
		assert_int_equal(vs.longest, field);
		/* doubling from 4 KiB to 16 MiB: 13 growths; 128-byte steps: 131 072 */
		assert_true(st.csv_buffer_grows <= 16);
		free(in);
	}
}

/* A value over 16 MiB: "huge.jsonl:1: column v (utf8): value longer than 16 MiB",
 * the line said once. */
static void test_huge_value_message(void **state)
{
	(void)state;
	char tmp[64], dir[128];
	tmpdir(tmp, sizeof tmp);
	snprintf(dir, sizeof dir, "%s/c", tmp);
	irs_error err;
	irs_collection *c = tu_kv_collection(dir, &err);
	assert_non_null(c);
	irs_table_def t;
	irs_collection_table(c, 0, &t);
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.no_sync = 1;
	irs_backup_writer *w;
	assert_int_equal(irs_backup_writer_begin(c, IRS_BACKUP_FULL, "b", &wo, &w, &err), 0);
	size_t len = (17u << 20);
	char *in = malloc(len + 64);
	size_t n = (size_t)snprintf(in, 64, "{\"id\": 1}\n{\"id\": 2, \"v\": \"");
	memset(in + n, 'x', len);
	n += len;
	n += (size_t)snprintf(in + n, 64, "\"}\n");
	irs_import_options o;
	irs_import_options_init(&o);
	o.name = "huge.jsonl";
	irs_import_sink sink = irs_import_writer_sink(w);
	assert_int_equal(irs_import_buffer(&t, in, n, &o, &sink, NULL, &err), IRS_EINPUT);
	assert_string_equal(err.message, "huge.jsonl:2: column v (utf8): value longer than 16 MiB");
	irs_backup_writer_abort(w);
	irs_collection_close(c);
	free(in);
	gen_rmrf(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_units),
		cmocka_unit_test(test_table_names),
		cmocka_unit_test(test_null_definitions),
		cmocka_unit_test(test_csv_huge_field),
		cmocka_unit_test(test_huge_value_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
