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

#include "format/collection.h"
#include "engine/memory_model.h"
#include "test_util.h"

#include "test_collections.h"

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
