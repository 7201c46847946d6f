/*
 * test_collections.h: small generated collections and a watchdog shared by the
 * reliability tests (test_cancel.c, test_faults.c, test_memory.c). Header-only: each
 * test binary compiles its own copy.
 */
#ifndef IRS_TEST_COLLECTIONS_H
#define IRS_TEST_COLLECTIONS_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "increstore.h"
#include "test_util.h"

/* ------------------------------------------------------------------ generated collections
 */

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
static inline void gen_schema_init(gen_schema *g, const int *kinds, uint32_t n)
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

static inline uint64_t gen_gcd(uint64_t a, uint64_t b)
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
static inline irs_value gen_val(const irs_column_def *col, bool key, uint64_t id, uint64_t *rng,
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
static inline void gen_collection(const char *dir, const gen_schema *g, const gen_params *gp)
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

static inline void gen_rmrf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fail_msg("cannot remove %s", dir);
}

/* ------------------------------------------------------------------ watchdog */

static const char *volatile wd_test = "(none)";

static inline void wd_on_alarm(int sig)
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
static inline void wd_arm(const char *name, unsigned secs)
{
	wd_test = name;
	signal(SIGALRM, wd_on_alarm);
	alarm(secs);
}

static inline void wd_disarm(void)
{
	alarm(0);
	wd_test = "(none)";
}

#endif
