/*
 * test_gen.c: the generator's model (cli/gen_model.c) and the verify command, driven
 * in-process through their command table entries.
 *
 *  a) Expected states. For several flag combinations, every expected state gen records
 *     (rows, digest) equals the state a restore reaches at that barrier, where the
 *     digest is recomputed here from the scanned rows with common/digest.h (so it checks
 *     gen against the digest's definition, not only against irs_restore_digest).
 *  b) Semantics of the model, on tiny chains where the outcome is known: a partial
 *     update changes exactly one column; a re-insert of an erased key lists one column
 *     and the engine fills the rest with NULL; the 64th write of a row (a "barrier"
 *     version) resets the unlisted columns to NULL.
 *  c) Determinism: the same seed gives byte-identical segment files.
 *  d) verify: OK on generated collections, exit 1 on a planted difference.
 *
 * Every test works in its own mkdtemp directory, removed by the teardown.
 */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "common/digest.h"
#include "format/collection.h"
#include "increstore.h"

extern const irs_cli_command irs_cli_cmd_gen;
extern const irs_cli_command irs_cli_cmd_verify;

typedef struct fixture {
	char dir[256];
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/irs_test_gen.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Runs a command in-process: run_cmd(&irs_cli_cmd_gen, "DIR", "--rows", "10", NULL). */
static int run_cmd(const irs_cli_command *cmd, ...)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)cmd->name;
	va_list ap;
	va_start(ap, cmd);
	for (char *a; argc < 63 && (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	int rc = cmd->run(cmd, argc, argv);
	fflush(stdout);
	return rc;
}

/* Splits a flag string into argv (in place) and runs gen DIR <flags> -q. */
static int gen_flags(const char *dir, const char *flags)
{
	static char buf[1024];
	char *argv[64];
	int argc = 0;
	snprintf(buf, sizeof buf, "%s", flags);
	argv[argc++] = "gen";
	argv[argc++] = (char *)dir;
	for (char *tok = strtok(buf, " "); tok && argc < 60; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc++] = "-q";
	argv[argc] = NULL;
	int rc = irs_cli_cmd_gen.run(&irs_cli_cmd_gen, argc, argv);
	fflush(stdout);
	return rc;
}

/* ------------------------------------------------------------------ a) expected states */

typedef struct check_ctx {
	const irs_collection *c;
	int barriers;
	int checked;              /* (backup, table) pairs with an expected state */
	char failure[512];        /* first mismatch, asserted on after the restore */
	uint64_t digest;
	const irs_schema_table *t;
} check_ctx;

static int digest_row(void *ctx, const irs_value *row)
{
	check_ctx *x = ctx;
	x->digest = irs__digest_add(x->digest, irs__row_digest(x->t, row));
	return 0;
}

static int check_barrier(void *ctx, irs_restore *r, uint32_t b)
{
	check_ctx *x = ctx;
	x->barriers++;
	for (uint32_t t = 0; t < irs_collection_table_count(x->c); t++) {
		irs_table_backup_info tbi;
		if (irs_collection_table_backup(x->c, b, t, &tbi) != 0 || !tbi.has_expected) {
			snprintf(x->failure, sizeof x->failure, "backup %u table %u: no expected state", b, t);
			return 1;
		}
		x->t = &x->c->tables[t];
		x->digest = 0;
		if (irs_restore_scan(r, t, digest_row, x, NULL) != 0) {
			snprintf(x->failure, sizeof x->failure, "backup %u table %u: scan failed", b, t);
			return 1;
		}
		uint64_t rows = irs_restore_row_count(r, t);
		if (rows != tbi.expected_rows || x->digest != tbi.expected_digest ||
		    irs_restore_digest(r, t) != x->digest) {
			snprintf(x->failure, sizeof x->failure,
				 "backup %u table %u: restored %llu rows, scanned digest %016llx, engine digest "
				 "%016llx; gen expects %llu rows, digest %016llx",
				 b, t, (unsigned long long)rows, (unsigned long long)x->digest,
				 (unsigned long long)irs_restore_digest(r, t), (unsigned long long)tbi.expected_rows,
				 (unsigned long long)tbi.expected_digest);
			return 1;
		}
		x->checked++;
	}
	return 0;
}

/* Restores dir (all backups, the given shard count) checking every expected state. */
static void assert_expected_states(const char *dir, uint32_t shards)
{
	irs_collection *c = NULL;
	irs_error err = {0};
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	check_ctx x = {.c = c};
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = shards;
	o.check_expected = 0; /* checked here, independently */
	o.barrier = check_barrier;
	o.barrier_ctx = &x;
	irs_restore *r = NULL;
	int rc = irs_restore_run(c, &o, NULL, &r, &err);
	irs_restore_free(r);
	uint32_t nb = irs_collection_backup_count(c), base = 0;
	for (uint32_t i = 0; i < nb; i++) {
		irs_backup_info bi;
		irs_collection_backup(c, i, &bi);
		if (bi.kind == IRS_BACKUP_FULL)
			base = i;
	}
	uint32_t nt = irs_collection_table_count(c);
	irs_collection_close(c);
	if (x.failure[0])
		fail_msg("%s: %s", dir, x.failure);
	assert_int_equal(rc, 0);
	assert_int_equal(x.barriers, (int)(nb - base));
	assert_int_equal(x.checked, (int)((nb - base) * nt));
}

static void test_expected_states(void **state)
{
	fixture *f = *state;
	static const char *const configs[] = {
		"--rows 2000 --incrementals 5 --changes 400",
		"--rows 1500 --incrementals 6 --changes 500 --tables 3 --keys zipf --reinserts 0.5 "
		"--noop-erases 0.4 --null-fraction 0.2 --partial 0.9 --partial-columns 2",
		"--rows 1000 --incrementals 4 --changes 300 --keys sequential --columns 12 --partial 1 "
		"--partial-columns 4 --reinserts 1 --empty-every 2",
		"--rows 500 --incrementals 90 --changes 120 --keys zipf --zipf-theta 0.95 --partial 1 "
		"--types bytes,utf8,double,uint64 --columns 5 --value-bytes 9",
		"--rows 800 --incrementals 3 --changes 900 --updates 0.2 --inserts 0 --erases 0.8",
	};
	for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
		char dir[300];
		snprintf(dir, sizeof dir, "%s/c%zu", f->dir, i);
		int rc = gen_flags(dir, configs[i]);
		if (rc)
			fail_msg("gen %s: exit %d", configs[i], rc);
		assert_expected_states(dir, (uint32_t)(1 + i % 4));
	}
}

/* Every fuller chain: the last full of three restores only from there, and a
 * composite, string-keyed schema works. */
static void test_expected_states_fulls_and_schema(void **state)
{
	fixture *f = *state;
	char schema[300], dir[300];
	snprintf(schema, sizeof schema, "%s/schema.json", f->dir);
	FILE *s = fopen(schema, "w");
	assert_non_null(s);
	fputs("{\"tables\": [{\"table\": \"a\", \"columns\": [{\"name\": \"k\", \"type\": \"utf8\"},"
	      "{\"name\": \"n\", \"type\": \"int32\"}, {\"name\": \"b\", \"type\": \"bool\"},"
	      "{\"name\": \"v\", \"type\": \"bytes\"}, {\"name\": \"w\", \"type\": \"timestamp\"}],"
	      "\"primary_key\": [\"b\", \"k\", \"n\"]},"
	      "{\"table\": \"z\", \"columns\": [{\"name\": \"d\", \"type\": \"double\"}],"
	      "\"primary_key\": [\"d\"]}]}",
	      s);
	fclose(s);
	snprintf(dir, sizeof dir, "%s/schema", f->dir);
	char flags[600];
	snprintf(flags, sizeof flags,
		 "--schema %s --rows 1200 --incrementals 9 --changes 300 --fulls 3 --reinserts 0.5", schema);
	assert_int_equal(gen_flags(dir, flags), 0);
	assert_expected_states(dir, 3);
}

/* ------------------------------------------------------------------ b) semantics */

/* Collects every row of table 0 into a malloc'd array. */
typedef struct rows_ctx {
	const irs_schema_table *t;
	uint32_t n;
	irs_value *rows;      /* n * ncols, normalised; string bytes are not kept */
	uint32_t cap;
} rows_ctx;

static int collect_row(void *ctx, const irs_value *row)
{
	rows_ctx *x = ctx;
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		x->rows = realloc(x->rows, sizeof *x->rows * x->cap * x->t->ncols);
		if (!x->rows)
			return 1;
	}
	/* A normalised copy: the member of the type set, the rest of the union zero. */
	for (uint32_t c = 0; c < x->t->ncols; c++) {
		irs_value *v = &x->rows[(size_t)x->n * x->t->ncols + c];
		memset(v, 0, sizeof *v);
		v->state = row[c].state == IRS_VALUE_SET ? IRS_VALUE_SET : IRS_VALUE_NULL;
		if (v->state != IRS_VALUE_SET)
			continue;
		switch (x->t->cols[c].type) {
		case IRS_TYPE_BOOL: v->v.b = row[c].v.b; break;
		case IRS_TYPE_INT32:
		case IRS_TYPE_INT64:
		case IRS_TYPE_TIMESTAMP: v->v.i64 = row[c].v.i64; break;
		case IRS_TYPE_UINT32:
		case IRS_TYPE_UINT64: v->v.u64 = row[c].v.u64; break;
		case IRS_TYPE_DOUBLE: v->v.d = row[c].v.d; break;
		default: v->v.s.len = row[c].v.s.len; break; /* the bytes are not kept */
		}
	}
	x->n++;
	return 0;
}

/* Restores dir up to `upto` and returns table 0's rows (key order). */
static rows_ctx restore_rows(const char *dir, const char *upto)
{
	irs_collection *c = NULL;
	irs_error err = {0};
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 2;
	o.upto = upto;
	irs_restore *r = NULL;
	if (irs_restore_run(c, &o, NULL, &r, &err) != 0)
		fail_msg("restore %s --upto %s: %s", dir, upto, err.message);
	rows_ctx x = {.t = &c->tables[0]};
	assert_int_equal(irs_restore_scan(r, 0, collect_row, &x, &err), 0);
	irs_restore_free(r);
	x.t = NULL; /* the schema dies with the collection */
	irs_collection_close(c);
	return x;
}

static uint32_t nonnull_values(const irs_value *row, uint32_t ncols)
{
	uint32_t n = 0;
	for (uint32_t c = 1; c < ncols; c++) /* column 0 is the key id */
		n += row[c].state == IRS_VALUE_SET;
	return n;
}

static bool same_value(const irs_value *a, const irs_value *b)
{
	return a->state == b->state && a->v.u64 == b->v.u64 && a->v.s.len == b->v.s.len;
}

/* One partial update of one column: exactly one row changes, in exactly one column. */
static void test_partial_update_changes_one_column(void **state)
{
	fixture *f = *state;
	char dir[300];
	snprintf(dir, sizeof dir, "%s/p", f->dir);
	/* Types whose new value cannot plausibly equal the old one (a bool could). */
	assert_int_equal(gen_flags(dir, "--rows 50 --incrementals 1 --changes 1 --updates 1 --partial 1 "
					"--types double,timestamp --columns 4"),
			 0);
	const uint32_t nc = 5;
	rows_ctx a = restore_rows(dir, "full-000"), b = restore_rows(dir, "inc-001");
	assert_int_equal(a.n, 50);
	assert_int_equal(b.n, 50);
	uint32_t rows_changed = 0, cols_changed = 0;
	for (uint32_t i = 0; i < 50; i++) {
		uint32_t d = 0;
		for (uint32_t c = 0; c < nc; c++)
			d += !same_value(&a.rows[i * nc + c], &b.rows[i * nc + c]);
		rows_changed += d > 0;
		cols_changed += d;
	}
	assert_int_equal(rows_changed, 1);
	assert_int_equal(cols_changed, 1);
	free(a.rows);
	free(b.rows);
}

/* A re-insert of an erased key lists one column: the others come back NULL. */
static void test_reinsert_fills_null(void **state)
{
	fixture *f = *state;
	char dir[300];
	snprintf(dir, sizeof dir, "%s/r", f->dir);
	/* Each incremental: 2 inserts and 1 erase; inc-002's inserts re-insert the key
	 * inc-001 erased (the only erased one), listing one column. */
	assert_int_equal(gen_flags(dir, "--rows 10 --incrementals 2 --changes 3 --updates 0 --inserts 0.5 "
					"--erases 0.5 --reinserts 1 --partial 1 --types int64,uint32,double,bool"),
			 0);
	const uint32_t nc = 5;
	rows_ctx full = restore_rows(dir, "full-000"), one = restore_rows(dir, "inc-001"),
		 two = restore_rows(dir, "inc-002");
	assert_int_equal(full.n, 10);
	assert_int_equal(one.n, 11);
	assert_int_equal(two.n, 12);
	/* The key present in the full, absent after inc-001, present after inc-002. */
	int found = 0;
	for (uint32_t i = 0; i < full.n; i++) {
		uint64_t id = full.rows[i * nc].v.u64;
		bool in1 = false;
		for (uint32_t j = 0; j < one.n; j++)
			in1 |= one.rows[j * nc].v.u64 == id;
		if (in1)
			continue;
		for (uint32_t j = 0; j < two.n; j++) {
			if (two.rows[j * nc].v.u64 != id)
				continue;
			found++;
			assert_int_equal(nonnull_values(&full.rows[i * nc], nc), nc - 1);
			assert_int_equal(nonnull_values(&two.rows[j * nc], nc), 1);
		}
	}
	assert_int_equal(found, 1);
	free(full.rows);
	free(one.rows);
	free(two.rows);
}

/* The 64th write of a row is a barrier: the change lists every column, those outside
 * its partial set as NULL; later partial updates fill columns in again. */
static void test_barrier_version_resets_columns(void **state)
{
	fixture *f = *state;
	char dir[300];
	snprintf(dir, sizeof dir, "%s/b", f->dir);
	/* Two rows, both updated in every incremental (two changes, distinct keys). */
	assert_int_equal(gen_flags(dir, "--rows 2 --incrementals 66 --changes 2 --updates 1 --partial 1 "
					"--types int64,uint32,double,bool,timestamp,int32"),
			 0);
	const uint32_t nc = 7;
	rows_ctx r63 = restore_rows(dir, "inc-063"), r64 = restore_rows(dir, "inc-064"),
		 r66 = restore_rows(dir, "inc-066");
	for (uint32_t i = 0; i < 2; i++) {
		assert_int_equal(nonnull_values(&r63.rows[i * nc], nc), nc - 1);
		assert_int_equal(nonnull_values(&r64.rows[i * nc], nc), 1);
		assert_in_range(nonnull_values(&r66.rows[i * nc], nc), 1, 3);
	}
	free(r63.rows);
	free(r64.rows);
	free(r66.rows);
	assert_expected_states(dir, 2);
}

/* ------------------------------------------------------------------ c) determinism */

/* Concatenates the segment files of dir in chain order into a malloc'd buffer. */
static uint8_t *segments_blob(const char *dir, size_t *len)
{
	irs_collection *c = NULL;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, NULL), 0);
	uint8_t *out = NULL;
	size_t n = 0;
	for (uint32_t b = 0; b < c->nbackups; b++)
		for (uint32_t t = 0; t < c->ntables; t++) {
			const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], t);
			for (size_t s = 0; tb && s < tb->n_segments; s++) {
				char path[600];
				snprintf(path, sizeof path, "%s/%s", dir, tb->segments[s]->path);
				FILE *fp = fopen(path, "rb");
				assert_non_null(fp);
				out = realloc(out, n + tb->segments[s]->size);
				assert_non_null(out);
				assert_int_equal(fread(out + n, 1, tb->segments[s]->size, fp), tb->segments[s]->size);
				n += tb->segments[s]->size;
				fclose(fp);
			}
		}
	irs_collection_close(c);
	*len = n;
	return out;
}

static void test_deterministic(void **state)
{
	fixture *f = *state;
	const char *flags = "--rows 3000 --incrementals 4 --changes 700 --tables 2 --keys zipf --reinserts 0.3 "
			    "--null-fraction 0.1 --fulls 2";
	char d1[300], d2[300], d3[300];
	snprintf(d1, sizeof d1, "%s/d1", f->dir);
	snprintf(d2, sizeof d2, "%s/d2", f->dir);
	snprintf(d3, sizeof d3, "%s/d3", f->dir);
	char f3[400];
	snprintf(f3, sizeof f3, "%s --seed 2", flags);
	assert_int_equal(gen_flags(d1, flags), 0);
	assert_int_equal(gen_flags(d2, flags), 0);
	assert_int_equal(gen_flags(d3, f3), 0);
	size_t n1, n2, n3;
	uint8_t *b1 = segments_blob(d1, &n1), *b2 = segments_blob(d2, &n2), *b3 = segments_blob(d3, &n3);
	assert_true(n1 > 100000);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);
	assert_true(n1 != n3 || memcmp(b1, b3, n1) != 0);
	free(b1);
	free(b2);
	free(b3);
}

/* ------------------------------------------------------------------ d) verify */

static void test_verify(void **state)
{
	fixture *f = *state;
	char dir[300];
	snprintf(dir, sizeof dir, "%s/v", f->dir);
	assert_int_equal(gen_flags(dir, "--rows 1500 --incrementals 5 --changes 400 --tables 2 --reinserts 0.5 "
					"--noop-erases 0.5 --null-fraction 0.2 --keys zipf"),
			 0);
	assert_int_equal(run_cmd(&irs_cli_cmd_verify, dir, "-q", NULL), IRS_CLI_EXIT_OK);
	assert_int_equal(run_cmd(&irs_cli_cmd_verify, dir, "-q", "--each", "--shards", "3", NULL), IRS_CLI_EXIT_OK);
	assert_int_equal(run_cmd(&irs_cli_cmd_verify, dir, "-q", "--upto", "inc-002", NULL), IRS_CLI_EXIT_OK);
	assert_int_equal(run_cmd(&irs_cli_cmd_verify, dir, "-q", "--tamper", "update", NULL), IRS_CLI_EXIT_DIFF);
	assert_int_equal(run_cmd(&irs_cli_cmd_verify, dir, "-q", "--tamper", "delete", NULL), IRS_CLI_EXIT_DIFF);
	assert_int_equal(run_cmd(&irs_cli_cmd_verify, dir, "-q", "--each", "--tamper", "insert", NULL),
			 IRS_CLI_EXIT_DIFF);
	assert_int_equal(run_cmd(&irs_cli_cmd_verify, dir, "--upto", "nope", NULL), IRS_CLI_EXIT_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_expected_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expected_states_fulls_and_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_update_changes_one_column, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reinsert_fills_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_barrier_version_resets_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
