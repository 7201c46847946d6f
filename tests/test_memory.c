/*
 * test_memory.c: the manifest-based memory model (engine/memory_model.c) against the
 * peak bytes restores really allocate (irs_restore_peak_bytes).
 *
 * For generated collections of several schemas (fixed-width only, strings, composite
 * utf8 keys, several tables, a table filter) and 1, 2 and 4 shards, the estimate must
 * be a lower bound of the measured peak (it is used to refuse a restore up front, so it
 * must never refuse one that could fit) and not absurdly low (peak <= 3x estimate on
 * collections of tens of thousands of rows).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/collection.h"
#include "engine/memory_model.h"
#include "test_util.h"

/* ------------------------------------------------------------------ generated collections
 * (the same small generator is in test_memory.c, test_faults.c and test_cancel.c) */

#define GEN_MAX_COLS 6

typedef struct gen_schema {
	irs_table_def def[3];
	irs_column_def cols[3][GEN_MAX_COLS];
	uint32_t pk[3][2];
	uint32_t ntables;
} gen_schema;

/* kinds: 0 = (id uint64 | a int64, s utf8, d double, f bool)
 *        1 = (k utf8, k2 int32 | b bytes, ts timestamp)
 *        2 = (id uint64 | v uint64) */
static void gen_schema_init(gen_schema *g, const int *kinds, uint32_t n)
{
	static const char *names[3] = {"t", "u", "n"};
	memset(g, 0, sizeof *g);
	g->ntables = n;
	for (uint32_t i = 0; i < n; i++) {
		irs_column_def *c = g->cols[i];
		uint32_t nc = 0, npk = 1;
		switch (kinds[i]) {
		case 0:
			c[nc++] = (irs_column_def){"id", IRS_TYPE_UINT64};
			c[nc++] = (irs_column_def){"a", IRS_TYPE_INT64};
			c[nc++] = (irs_column_def){"s", IRS_TYPE_UTF8};
			c[nc++] = (irs_column_def){"d", IRS_TYPE_DOUBLE};
			c[nc++] = (irs_column_def){"f", IRS_TYPE_BOOL};
			break;
		case 1:
			c[nc++] = (irs_column_def){"k", IRS_TYPE_UTF8};
			c[nc++] = (irs_column_def){"k2", IRS_TYPE_INT32};
			c[nc++] = (irs_column_def){"b", IRS_TYPE_BYTES};
			c[nc++] = (irs_column_def){"ts", IRS_TYPE_TIMESTAMP};
			npk = 2;
			break;
		default:
			c[nc++] = (irs_column_def){"id", IRS_TYPE_UINT64};
			c[nc++] = (irs_column_def){"v", IRS_TYPE_UINT64};
			break;
		}
		g->pk[i][0] = 0;
		g->pk[i][1] = 1;
		g->def[i] = (irs_table_def){names[kinds[i] % 3], c, nc, g->pk[i], npk};
	}
}

static uint64_t gen_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

typedef struct gen_params {
	uint64_t seed;
	uint32_t rows;        /* rows of each table in the full backup */
	uint32_t incrementals;
	uint32_t changes;     /* per incremental and table */
	uint32_t batch_rows;  /* 0 = writer default */
	uint32_t max_str;     /* longest generated string value */
} gen_params;

/* One value of column `col` for key id `id`. bufs holds string storage per column. */
static irs_value gen_val(const irs_column_def *col, bool key, uint64_t id, uint64_t *rng,
			 char *buf, uint32_t max_str)
{
	uint64_t x = tu_rand(rng);
	switch (col->type) {
	case IRS_TYPE_BOOL: return tu_bool((int)(x & 1));
	case IRS_TYPE_INT32: return tu_i64(key ? (int64_t)(id % 1000) - 500 : (int32_t)x);
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: return tu_i64((int64_t)(x >> 1) - (int64_t)(x >> 2));
	case IRS_TYPE_UINT32: return tu_u64((uint32_t)x);
	case IRS_TYPE_UINT64: return tu_u64(key ? id * 0x9E3779B97F4A7C15ull : x);
	case IRS_TYPE_DOUBLE: return tu_dbl((double)(int64_t)(x >> 11) / 1024.0);
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES: {
		if (key) {
			int n = snprintf(buf, 64, "key-%llu", (unsigned long long)id);
			return tu_bytes(buf, (size_t)n);
		}
		uint32_t len = max_str ? (uint32_t)(x % (max_str + 1)) : 0;
		for (uint32_t i = 0; i < len; i++)
			buf[i] = (char)('a' + (tu_rand(rng) % 26));
		return tu_bytes(buf, len);
	}
	}
	return tu_null();
}

/* Creates dir (must not exist) holding a full backup "b00" and incrementals "b01"...,
 * changes to distinct keys per backup and table. */
static void gen_collection(const char *dir, const gen_schema *g, const gen_params *gp)
{
	irs_error err;
	if (irs_collection_create(dir, g->def, g->ntables, &err) != 0)
		fail_msg("create %s: %s", dir, err.message);
	irs_collection *c;
	if (irs_collection_open(dir, NULL, 0, &c, &err) != 0)
		fail_msg("open %s: %s", dir, err.message);
	uint64_t rng = gp->seed * 0x9E3779B97F4A7C15ull + 7;
	static char bufs[GEN_MAX_COLS][512];
	uint32_t max_str = gp->max_str > 500 ? 500 : gp->max_str;
	uint64_t keyspace = gp->rows + gp->rows / 4 + 2;
	for (uint32_t b = 0; b <= gp->incrementals; b++) {
		bool full = b == 0;
		irs_writer_options wo;
		irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
		wo.no_sync = 1;
		if (gp->batch_rows)
			wo.batch_rows = gp->batch_rows;
		irs_backup_writer *w;
		char name[32];
		snprintf(name, sizeof name, "b%02u", b);
		if (irs_backup_writer_begin(c, full ? IRS_BACKUP_FULL : IRS_BACKUP_INCREMENTAL, name, &wo, &w,
					    &err) != 0)
			fail_msg("begin %s: %s", name, err.message);
		for (uint32_t t = 0; t < g->ntables; t++) {
			const irs_table_def *d = &g->def[t];
			uint64_t n = full ? gp->rows : gp->changes;
			if (n > keyspace)
				n = keyspace;
			uint64_t start = full ? 0 : tu_rand_below(&rng, keyspace);
			uint64_t stride = full ? 1 : 1 + tu_rand_below(&rng, keyspace);
			while (gen_gcd(stride, keyspace) != 1)
				stride++;
			for (uint64_t i = 0; i < n; i++) {
				uint64_t id = (start + i * stride) % keyspace;
				irs_value row[GEN_MAX_COLS];
				for (uint32_t col = 0; col < d->column_count; col++) {
					bool key = col < d->primary_key_count;
					row[col] = gen_val(&d->columns[col], key, id, &rng, bufs[col], max_str);
					if (!key) {
						uint64_t r = tu_rand_below(&rng, 10);
						if (r == 0)
							row[col] = tu_null();
						else if (!full && r < 4)
							row[col] = tu_absent();
					}
				}
				int rc;
				if (!full && tu_rand_below(&rng, 100) < 15)
					rc = irs_backup_writer_erase(w, t, row, i + 1, &err);
				else
					rc = irs_backup_writer_upsert(w, t, row, i + 1, &err);
				if (rc)
					fail_msg("%s: change %llu: %s", name, (unsigned long long)i, err.message);
			}
		}
		if (irs_backup_writer_commit(w, &err) != 0)
			fail_msg("commit %s: %s", name, err.message);
	}
	irs_collection_close(c);
}

static void gen_rmrf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fail_msg("cannot remove %s", dir);
}

/* ------------------------------------------------------------------ watchdog */

static const char *volatile wd_test = "(none)";

static void wd_on_alarm(int sig)
{
	(void)sig;
	static const char pre[] = "\nWATCHDOG: test hung: ";
	ssize_t ignored = write(2, pre, sizeof pre - 1);
	const char *t = wd_test;
	ignored = write(2, t, strlen(t));
	ignored = write(2, "\n", 1);
	(void)ignored;
	_exit(1);
}

/* Arms a watchdog of `secs` seconds for the test named `name`. */
static void wd_arm(const char *name, unsigned secs)
{
	wd_test = name;
	signal(SIGALRM, wd_on_alarm);
	alarm(secs);
}

static void wd_disarm(void)
{
	alarm(0);
	wd_test = "(none)";
}

/* ------------------------------------------------------------------ tests */

/* Restores dir up to `upto` (NULL = last) and returns the measured peak. */
static uint64_t measured_peak(const irs_collection *c, const char *upto, uint32_t shards,
			      const char *const *tables, uint32_t ntables)
{
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = shards;
	o.upto = upto;
	o.tables = tables;
	o.table_count = ntables;
	irs_restore *r = NULL;
	irs_error err;
	if (irs_restore_run(c, &o, NULL, &r, &err) != 0)
		fail_msg("restore: %s", err.message);
	uint64_t peak = irs_restore_peak_bytes(r);
	irs_restore_free(r);
	return peak;
}

static uint64_t estimate(const irs_collection *c, uint32_t upto, const bool *enabled, uint32_t shards)
{
	irs_backup_info bi;
	assert_int_equal(irs_collection_backup(c, upto, &bi), 0);
	uint64_t est = 0;
	assert_int_equal(irs__memory_estimate(c, bi.base_index, upto, enabled, shards, &est), 0);
	return est;
}

/* Checks est <= peak <= factor * est for upto = the base and upto = the last backup. */
static void check_schema(const char *what, const int *kinds, uint32_t nk, uint32_t rows, uint32_t max_str,
			 double factor)
{
	char dir[256];
	snprintf(dir, sizeof dir, "/tmp/irs_test_memory_XXXXXX");
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/c");
	gen_schema g;
	gen_schema_init(&g, kinds, nk);
	/* Frames of 500 rows: every decoding shard holds a frame buffer, a record buffer and
	 * a protobuf arena of about a frame each, which the model counts only once. */
	gen_params gp = {.seed = rows + nk, .rows = rows, .incrementals = 2, .changes = rows / 4,
			 .batch_rows = 500, .max_str = max_str};
	gen_collection(dir, &g, &gp);
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	uint32_t last = irs_collection_backup_count(c) - 1;
	static const uint32_t shard_counts[] = {1, 2, 4};
	for (size_t i = 0; i < sizeof shard_counts / sizeof *shard_counts; i++) {
		uint32_t s = shard_counts[i];
		uint64_t est = estimate(c, 0, NULL, s);
		uint64_t peak_base = measured_peak(c, "b00", s, NULL, 0);
		uint64_t peak_all = measured_peak(c, NULL, s, NULL, 0);
		uint64_t est_last = estimate(c, last, NULL, s);
		print_message("  %-28s shards %u: estimate %9llu  peak(base) %9llu (%.2fx)  peak(all) %9llu\n",
			      what, s, (unsigned long long)est, (unsigned long long)peak_base,
			      (double)peak_base / (double)est, (unsigned long long)peak_all);
		if (est > peak_base || est_last > peak_all)
			fail_msg("%s, %u shards: the estimate %llu is above the measured peak %llu", what, s,
				 (unsigned long long)est, (unsigned long long)peak_base);
		/* Runs queued between shards (up to shards^2 of up to 64 KiB, more when the
		 * scheduler lets decoders run ahead, as under ASan) come on top with more shards. */
		double f = s <= 2 ? factor : factor + 1.0;
		if ((double)peak_base > f * (double)est)
			fail_msg("%s, %u shards: the measured peak %llu is more than %.1fx the estimate %llu",
				 what, s, (unsigned long long)peak_base, f, (unsigned long long)est);
		/* A limit below the estimate cannot be met: the restore must say so. */
		irs_restore_options o;
		irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
		o.shards = s;
		o.memory_limit = est - 1;
		irs_restore *r = NULL;
		int rc = irs_restore_run(c, &o, NULL, &r, &err);
		if (rc != IRS_ELIMIT || !strstr(err.message, "memory limit"))
			fail_msg("%s, %u shards, limit %llu: %s: %s (want IRS_ELIMIT naming the limit)", what, s,
				 (unsigned long long)o.memory_limit, irs_err_name(rc), err.message);
		irs_restore_free(r);
	}
	irs_collection_close(c);
	*strrchr(dir, '/') = '\0';
	gen_rmrf(dir);
}

static void test_fixed_width(void **state)
{
	(void)state;
	wd_arm("test_fixed_width", 120);
	const int kinds[] = {2};
	check_schema("uint64 -> uint64", kinds, 1, 40000, 0, 3.0);
	wd_disarm();
}

static void test_strings(void **state)
{
	(void)state;
	wd_arm("test_strings", 120);
	const int kinds[] = {0};
	check_schema("uint64 -> int64,utf8,double", kinds, 1, 30000, 60, 3.0);
	const int kinds2[] = {0};
	check_schema("long strings", kinds2, 1, 8000, 400, 3.0);
	wd_disarm();
}

static void test_composite_utf8_key_two_tables(void **state)
{
	(void)state;
	wd_arm("test_composite_utf8_key_two_tables", 120);
	const int kinds[] = {0, 1};
	check_schema("two tables, utf8 key", kinds, 2, 20000, 100, 3.0);
	wd_disarm();
}

/* Small collections: fixed buffers dominate; only the lower bound is checked. */
static void test_small_is_lower_bound(void **state)
{
	(void)state;
	wd_arm("test_small_is_lower_bound", 120);
	const int kinds[] = {0, 1, 2};
	for (uint32_t rows = 1; rows <= 300; rows = rows * 5 + 3) {
		char dir[256];
		snprintf(dir, sizeof dir, "/tmp/irs_test_memory_XXXXXX");
		assert_non_null(mkdtemp(dir));
		strcat(dir, "/c");
		gen_schema g;
		gen_schema_init(&g, kinds, 3);
		gen_params gp = {.seed = rows, .rows = rows, .incrementals = 1, .changes = rows,
				 .batch_rows = 7, .max_str = 30};
		gen_collection(dir, &g, &gp);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
		for (uint32_t s = 1; s <= 8; s *= 2) {
			uint64_t est = estimate(c, 1, NULL, s);
			uint64_t peak = measured_peak(c, NULL, s, NULL, 0);
			if (est > peak)
				fail_msg("%u rows, %u shards: estimate %llu > peak %llu", rows, s,
					 (unsigned long long)est, (unsigned long long)peak);
		}
		irs_collection_close(c);
		*strrchr(dir, '/') = '\0';
		gen_rmrf(dir);
	}
	wd_disarm();
}

/* A table filter: only the enabled tables count, and the estimate stays a bound. */
static void test_table_filter(void **state)
{
	(void)state;
	wd_arm("test_table_filter", 120);
	char dir[256];
	snprintf(dir, sizeof dir, "/tmp/irs_test_memory_XXXXXX");
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/c");
	const int kinds[] = {0, 1};
	gen_schema g;
	gen_schema_init(&g, kinds, 2);
	gen_params gp = {.seed = 5, .rows = 20000, .incrementals = 1, .changes = 1000, .batch_rows = 500,
			 .max_str = 80};
	gen_collection(dir, &g, &gp);
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	bool only_u[2] = {false, true}, both[2] = {true, true}, none[2] = {false, false};
	uint64_t e_u = estimate(c, 1, only_u, 2), e_all = estimate(c, 1, both, 2);
	uint64_t e_null = estimate(c, 1, NULL, 2), e_none = estimate(c, 1, none, 2);
	assert_true(e_u < e_all);
	assert_int_equal(e_all, e_null);
	assert_true(e_none < e_u);
	const char *tables[] = {"u"};
	uint64_t peak = measured_peak(c, NULL, 2, tables, 1);
	print_message("  table u only: estimate %llu, peak %llu\n", (unsigned long long)e_u,
		      (unsigned long long)peak);
	assert_true(e_u <= peak);
	assert_true((double)peak <= 3.0 * (double)e_u);
	irs_collection_close(c);
	*strrchr(dir, '/') = '\0';
	gen_rmrf(dir);
	wd_disarm();
}

static void test_invalid_arguments(void **state)
{
	(void)state;
	wd_arm("test_invalid_arguments", 60);
	char dir[256];
	snprintf(dir, sizeof dir, "/tmp/irs_test_memory_XXXXXX");
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/c");
	const int kinds[] = {2};
	gen_schema g;
	gen_schema_init(&g, kinds, 1);
	gen_params gp = {.seed = 1, .rows = 10, .incrementals = 2, .changes = 5};
	gen_collection(dir, &g, &gp);
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	uint64_t b = 1;
	assert_int_equal(irs__memory_estimate(c, 1, 2, NULL, 1, &b), IRS_EINVAL); /* not a full */
	assert_int_equal(irs__memory_estimate(c, 0, 3, NULL, 1, &b), IRS_EINVAL); /* out of range */
	assert_int_equal(irs__memory_estimate(c, 0, 1, NULL, 0, &b), IRS_EINVAL); /* no shards */
	assert_int_equal(irs__memory_estimate(c, 0, 2, NULL, 1, &b), 0);
	assert_true(b > 0);
	irs_collection_close(c);
	*strrchr(dir, '/') = '\0';
	gen_rmrf(dir);
	wd_disarm();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_fixed_width),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_composite_utf8_key_two_tables),
		cmocka_unit_test(test_table_filter),
		cmocka_unit_test(test_small_is_lower_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
