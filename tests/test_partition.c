/*
 * test_partition.c: partitioned restores (irs_restore_options.partition / partition_count,
 * `restore --partition I/K`).
 *
 * ADD UP: a generated chain of three tables (uint64 keys; composite utf8 + int32 keys;
 * a two-column table) is restored whole, then in K partitions for K = 1, 2, 3, 7 and 16,
 * up to the first, a middle and the last backup, each partition with another shard count
 * (1..5). For every table: each partition's rows are all in hash partition I of K (the
 * partitions are disjoint), each is in the whole restore with identical values, and the
 * row counts add up to the whole's (so the union is the whole restore), as do the
 * digests (mod 2^64).
 *
 * THE FUNCTION: the check vectors docs/format.md ("Partitions") publishes are computed
 * from the encoded key with the library's key encoder, hash and partition function.
 *
 * REFUSALS: K above 4096, I >= K, and a checkpoint directory with a partition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/digest.h"
#include "common/keycodec.h"
#include "format/collection.h"
#include "increstore.h"
#include "test_util.h"

#include "test_collections.h"

#define NINC 6

typedef struct fixture {
	char dir[96];
	irs_collection *c;
} fixture;

static fixture fx;

static int setup(void **state)
{
	(void)state;
	wd_arm("setup (generating the chain)", 120);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/irs_test_partition_XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	strcat(fx.dir, "/c");
	const int kinds[] = {0, 1, 2};
	gen_schema g;
	gen_schema_init(&g, kinds, 3);
	gen_params gp = {.seed = 11, .rows = 2500, .incrementals = NINC, .changes = 700, .batch_rows = 128,
			 .max_str = 20};
	gen_collection(fx.dir, &g, &gp);
	irs_error err;
	if (irs_collection_open(fx.dir, NULL, 0, &fx.c, &err) != 0)
		return -1;
	wd_disarm();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	irs_collection_close(fx.c);
	char *slash = strrchr(fx.dir, '/');
	*slash = '\0';
	gen_rmrf(fx.dir);
	return 0;
}

static irs_restore *restore(const char *upto, uint32_t shards, uint32_t part, uint32_t count)
{
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = shards;
	ro.upto = upto;
	ro.partition = part;
	ro.partition_count = count;
	irs_restore *r = NULL;
	irs_error err;
	int rc = irs_restore_run(fx.c, &ro, NULL, &r, &err);
	if (rc)
		fail_msg("restore up to %s, partition %u/%u, %u shards: %s", upto, part, count, shards, err.message);
	return r;
}

/* Checks every row of one partition's table: in partition `part` of `count`, and
 * present with identical values in the whole restore. */
typedef struct row_check {
	const irs_schema_table *t;
	uint32_t table, part, count;
	const irs_restore *whole;
	uint64_t rows;
	char why[IRS_ERROR_MESSAGE_MAX + 128];
} row_check;

static int check_row(void *ctx, const irs_value *row)
{
	row_check *rc = ctx;
	uint8_t key[IRS_MAX_KEY_BYTES];
	size_t klen = irs__key_encode(rc->t, row, key, sizeof key);
	uint32_t p = irs__key_partition(irs__key_hash(key, klen), rc->count);
	if (p != rc->part) {
		snprintf(rc->why, sizeof rc->why, "a row of partition %u/%u hashes to partition %u", rc->part,
			 rc->count, p);
		return 1;
	}
	irs_value got[GEN_MAX_COLS];
	irs_error err;
	if (irs_restore_get(rc->whole, rc->table, row, got, &err) != 0) {
		snprintf(rc->why, sizeof rc->why, "a row of partition %u/%u is not in the whole restore: %s",
			 rc->part, rc->count, err.message);
		return 1;
	}
	if (irs__row_digest(rc->t, row) != irs__row_digest(rc->t, got)) {
		snprintf(rc->why, sizeof rc->why, "a row of partition %u/%u differs from the whole restore's",
			 rc->part, rc->count);
		return 1;
	}
	rc->rows++;
	return 0;
}

static void check_partitions(uint32_t upto_index, uint32_t count)
{
	irs_backup_info bi;
	irs_collection_backup(fx.c, upto_index, &bi);
	irs_restore *whole = restore(bi.name, 2, 0, 0);
	uint32_t nt = irs_collection_table_count(fx.c);
	uint64_t rows[3] = {0}, digest[3] = {0};
	for (uint32_t part = 0; part < count; part++) {
		uint32_t shards = 1 + (part + count) % 5;
		irs_restore *r = restore(bi.name, shards, part, count);
		for (uint32_t t = 0; t < nt; t++) {
			row_check rc = {.t = &fx.c->tables[t], .table = t, .part = part, .count = count, .whole = whole};
			irs_error err;
			int s = irs_restore_scan(r, t, check_row, &rc, &err);
			if (s)
				fail_msg("up to %s, table %s: %s", bi.name, rc.t->name, rc.why);
			assert_int_equal(rc.rows, irs_restore_row_count(r, t));
			rows[t] += irs_restore_row_count(r, t);
			digest[t] += irs_restore_digest(r, t);
		}
		irs_restore_free(r);
	}
	for (uint32_t t = 0; t < nt; t++) {
		assert_true(irs_restore_row_count(whole, t) > 0);
		assert_int_equal(rows[t], irs_restore_row_count(whole, t));
		assert_int_equal(digest[t], irs_restore_digest(whole, t));
	}
	irs_restore_free(whole);
}

static void test_partitions_add_up(void **state)
{
	(void)state;
	wd_arm("test_partitions_add_up", 300);
	static const uint32_t ks[] = {1, 2, 3, 7, 16};
	static const uint32_t uptos[] = {0, NINC / 2, NINC};
	for (size_t u = 0; u < sizeof uptos / sizeof uptos[0]; u++)
		for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++)
			check_partitions(uptos[u], ks[k]);
	wd_disarm();
}

/* The partition of the key `row` of a one-table schema of the given key types. */
static uint32_t partition_of(const irs_type *types, uint32_t n, const irs_value *row, uint32_t k,
			     uint64_t *hash_out)
{
	uint32_t pk[2] = {0, 1};
	irs_schema_table *t = tu_schema_new(types, n, pk, n);
	assert_non_null(t);
	uint8_t key[64];
	size_t len = irs__key_encode(t, row, key, sizeof key);
	assert_true(len > 0);
	tu_schema_free(t);
	*hash_out = irs__key_hash(key, len);
	return irs__key_partition(*hash_out, k);
}

/* The check vectors of docs/format.md, "Partitions". */
static void test_documented_vectors(void **state)
{
	(void)state;
	static const struct {
		uint64_t id;
		uint64_t xxh3;
		uint32_t p2, p3, p7, p4096;
	} u64v[] = {
		{0, 0xc77b3abb6f87acd9ull, 0, 0, 1, 624},
		{1, 0xf36b4a1a44f78bf3ull, 1, 1, 3, 2238},
		{UINT64_MAX, 0x5111c7e47d784413ull, 0, 0, 2, 1332},
	};
	irs_type u64[1] = {IRS_TYPE_UINT64};
	for (size_t i = 0; i < sizeof u64v / sizeof u64v[0]; i++) {
		irs_value row[1] = {tu_u64(u64v[i].id)};
		uint64_t h;
		assert_int_equal(partition_of(u64, 1, row, 2, &h), u64v[i].p2);
		assert_int_equal(h, u64v[i].xxh3);
		assert_int_equal(partition_of(u64, 1, row, 3, &h), u64v[i].p3);
		assert_int_equal(partition_of(u64, 1, row, 7, &h), u64v[i].p7);
		assert_int_equal(partition_of(u64, 1, row, 4096, &h), u64v[i].p4096);
	}
	irs_type utf8[1] = {IRS_TYPE_UTF8};
	irs_value srow[1] = {tu_str("key-1")};
	uint64_t h;
	assert_int_equal(partition_of(utf8, 1, srow, 7, &h), 0);
	assert_int_equal(h, 0x6d47c91276ecfb95ull);
	assert_int_equal(partition_of(utf8, 1, srow, 4096, &h), 436);
	irs_type comp[2] = {IRS_TYPE_INT32, IRS_TYPE_UTF8};
	irs_value crow[2] = {tu_i64(42), tu_bytes("a\0b", 3)};
	assert_int_equal(partition_of(comp, 2, crow, 3, &h), 1);
	assert_int_equal(h, 0x6ff6de58ba37a84full);
	assert_int_equal(partition_of(comp, 2, crow, 7, &h), 2);
	assert_int_equal(partition_of(comp, 2, crow, 4096, &h), 1730);
	/* K = 1 is every key; the partition is always below K */
	uint64_t rng = 5;
	for (int i = 0; i < 10000; i++) {
		uint64_t x = tu_rand(&rng);
		assert_int_equal(irs__key_partition(x, 1), 0);
		uint32_t k = 1 + (uint32_t)tu_rand_below(&rng, 4096);
		assert_true(irs__key_partition(x, k) < k);
	}
}

static void test_refusals(void **state)
{
	(void)state;
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = 2;
	irs_restore *r = NULL;
	irs_error err;
	ro.partition = 0;
	ro.partition_count = 4097;
	assert_int_equal(irs_restore_run(fx.c, &ro, NULL, &r, &err), IRS_EINVAL);
	assert_null(r);
	ro.partition = 3;
	ro.partition_count = 3;
	assert_int_equal(irs_restore_run(fx.c, &ro, NULL, &r, &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "partition 3 of 3"));
	ro.partition = 1;
	ro.checkpoint_dir = "/tmp/irs_test_partition_never_created";
	assert_int_equal(irs_restore_run(fx.c, &ro, NULL, &r, &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "checkpoint"));
	/* K = 4096, the largest, works */
	ro.checkpoint_dir = NULL;
	ro.partition = 4095;
	ro.partition_count = 4096;
	assert_int_equal(irs_restore_run(fx.c, &ro, NULL, &r, &err), 0);
	irs_restore_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_vectors),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_partitions_add_up),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
