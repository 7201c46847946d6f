/*
 * test_faults.c: out-of-memory and shard failures at every point of a small restore.
 *
 * (a) OUT OF MEMORY: an embedder allocator (the public irs_allocator hook) that counts
 *     bytes and calls with atomics and fails every allocation from the Nth on (or only
 *     the Nth), swept over N across a whole restore of a small chain (a full backup and
 *     3 incrementals, a few hundred rows in 2 tables) with 1, 2 and 3 shards. For every
 *     N the restore either succeeds with exactly the expected tables, or fails with
 *     IRS_ENOMEM leaving every table exactly as after backup irs_restore_through()
 *     (empty for -1), compared by row count and content digest with fault-free
 *     restores up to each backup. The allocator's byte and block counters return to 0
 *     after irs_restore_free (no leak even on error paths; ASan checks the rest).
 * (b) SHARD FAILURE: irs__fault.fail_backup/fail_shard at every (incremental, shard)
 *     with 1, 2 and 5 shards: IRS_ESHARD, through = backup - 1, tables at backup - 1.
 * (c) THREADS THAT DO NOT START: a shard thread (IRS_ESHARD, nothing restored) and the
 *     helper threads of a digest scan (the same digest, with any number of them).
 * (d) EXPORTS: out of memory at every allocation of each format; the text exports'
 *     helper threads (the same bytes as an ordered scan, with any number of them).
 * Every test runs under a watchdog (alarm) that names the test that hung.
 *
 * Registered only when the hooks are compiled in (IRS_FAULT_INJECTION: the dev, asan
 * and tsan presets).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/digest.h"
#include "engine/restore.h"
#include "engine/textout.h"
#include "shard/fault.h"
#include "test_util.h"

#include "test_collections.h"

/* ------------------------------------------------------------------ failing allocator */

typedef struct fail_alloc {
	_Atomic int64_t calls;      /* malloc + growing realloc calls so far */
	_Atomic int64_t fail_at;    /* the call number (0-based) that fails; -1 = never */
	_Atomic int sticky;         /* 1: every call from fail_at on fails */
	_Atomic int64_t bytes;      /* bytes currently allocated */
	_Atomic int64_t blocks;     /* blocks currently allocated */
	_Atomic int64_t failed;     /* calls refused */
} fail_alloc;

static bool fa_should_fail(fail_alloc *fa)
{
	int64_t n = atomic_fetch_add(&fa->calls, 1);
	int64_t at = atomic_load(&fa->fail_at);
	if (at < 0)
		return false;
	bool f = atomic_load(&fa->sticky) ? n >= at : n == at;
	if (f)
		atomic_fetch_add(&fa->failed, 1);
	return f;
}

static void *fa_malloc(void *ctx, size_t size)
{
	fail_alloc *fa = ctx;
	if (fa_should_fail(fa))
		return NULL;
	void *p = malloc(size);
	if (p) {
		atomic_fetch_add(&fa->bytes, (int64_t)size);
		atomic_fetch_add(&fa->blocks, 1);
	}
	return p;
}

static void *fa_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	fail_alloc *fa = ctx;
	if (new_size > old_size && fa_should_fail(fa))
		return NULL;
	void *q = realloc(ptr, new_size);
	if (q)
		atomic_fetch_add(&fa->bytes, (int64_t)new_size - (int64_t)old_size);
	return q;
}

static void fa_free(void *ctx, void *ptr, size_t size)
{
	fail_alloc *fa = ctx;
	if (!ptr)
		return;
	free(ptr);
	atomic_fetch_sub(&fa->bytes, (int64_t)size);
	atomic_fetch_sub(&fa->blocks, 1);
}

static void fa_init(fail_alloc *fa, irs_allocator *a, int64_t fail_at, bool sticky)
{
	atomic_init(&fa->calls, 0);
	atomic_init(&fa->fail_at, fail_at);
	atomic_init(&fa->sticky, sticky ? 1 : 0);
	atomic_init(&fa->bytes, 0);
	atomic_init(&fa->blocks, 0);
	atomic_init(&fa->failed, 0);
	*a = (irs_allocator){fa_malloc, fa_realloc, fa_free, fa};
}

/* ------------------------------------------------------------------ oracle */

#define MAXB 8

typedef struct oracle {
	uint32_t nbackups, ntables;
	uint64_t rows[MAXB][3];
	uint64_t digest[MAXB][3];
} oracle;

static void oracle_build(const irs_collection *c, oracle *o)
{
	memset(o, 0, sizeof *o);
	o->nbackups = irs_collection_backup_count(c);
	o->ntables = irs_collection_table_count(c);
	assert_true(o->nbackups <= MAXB && o->ntables <= 3);
	for (uint32_t b = 0; b < o->nbackups; b++) {
		irs_backup_info bi;
		assert_int_equal(irs_collection_backup(c, b, &bi), 0);
		irs_restore_options ro;
		irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
		ro.shards = 1 + b % 3;
		ro.upto = bi.name;
		irs_restore *r = NULL;
		irs_error err;
		if (irs_restore_run(c, &ro, NULL, &r, &err) != 0)
			fail_msg("oracle restore up to %s: %s", bi.name, err.message);
		assert_int_equal(irs_restore_through(r), b);
		for (uint32_t t = 0; t < o->ntables; t++) {
			o->rows[b][t] = irs_restore_row_count(r, t);
			o->digest[b][t] = irs_restore_digest(r, t);
		}
		irs_restore_free(r);
	}
}

/* Fails the test unless every table of r equals the oracle after backup k (-1: empty). */
static void check_state(const oracle *o, const irs_restore *r, int64_t k, const char *what)
{
	for (uint32_t t = 0; t < o->ntables; t++) {
		uint64_t rows = irs_restore_row_count(r, t), dg = irs_restore_digest(r, t);
		uint64_t want_rows = k < 0 ? 0 : o->rows[k][t];
		uint64_t want_dg = k < 0 ? irs_restore_digest(r, t) : o->digest[k][t];
		if (k < 0 && rows == 0)
			continue;
		if (rows != want_rows || dg != want_dg)
			fail_msg("%s: table %u through %lld has %llu rows digest %016llx, expected %llu rows "
				 "digest %016llx",
				 what, t, (long long)k, (unsigned long long)rows, (unsigned long long)dg,
				 (unsigned long long)want_rows, (unsigned long long)want_dg);
	}
}

typedef struct small_chain {
	char dir[256];
	irs_collection *c;
	oracle o;
} small_chain;

/* A chain whose strings are up to max_str bytes long. */
static void small_chain_make_str(small_chain *sc, uint64_t seed, uint32_t rows, uint32_t incrementals,
				 uint32_t changes, uint32_t max_str)
{
	snprintf(sc->dir, sizeof sc->dir, "/tmp/irs_test_faults_XXXXXX");
	assert_non_null(mkdtemp(sc->dir));
	strcat(sc->dir, "/c");
	const int kinds[] = {0, 1};
	gen_schema g;
	gen_schema_init(&g, kinds, 2);
	gen_params gp = {.seed = seed, .rows = rows, .incrementals = incrementals, .changes = changes,
			 .batch_rows = 37, .max_str = max_str};
	gen_collection(sc->dir, &g, &gp);
	irs_error err;
	assert_int_equal(irs_collection_open(sc->dir, NULL, 0, &sc->c, &err), 0);
	oracle_build(sc->c, &sc->o);
}

static void small_chain_make(small_chain *sc, uint64_t seed, uint32_t rows, uint32_t incrementals,
			     uint32_t changes)
{
	small_chain_make_str(sc, seed, rows, incrementals, changes, 40);
}

static void small_chain_free(small_chain *sc)
{
	irs_collection_close(sc->c);
	*strrchr(sc->dir, '/') = '\0';
	gen_rmrf(sc->dir);
}

/* ------------------------------------------------------------------ (a) out of memory */

/* Failures while the shards' partitions were created, seen by the sweeps. */
static int creating_table_failures;

/* The restores' staging_budget (0: the default); 1 reads every incremental twice. */
static uint64_t oom_staging_budget;

/* One restore with allocation number `at` failing; checks the outcome. Returns the
 * number of allocation calls the restore made. */
static int64_t oom_once(small_chain *sc, uint32_t shards, int64_t at, bool sticky, int *outcome)
{
	fail_alloc fa;
	irs_allocator a;
	fa_init(&fa, &a, at, sticky);
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = shards;
	if (oom_staging_budget)
		ro.staging_budget = oom_staging_budget;
	irs_restore *r = NULL;
	irs_error err;
	memset(&err, 0, sizeof err);
	int rc = irs_restore_run(sc->c, &ro, &a, &r, &err);
	int64_t calls = atomic_load(&fa.calls);
	atomic_store(&fa.fail_at, -1); /* reading the result may allocate: never fail now */
	char what[700];
	snprintf(what, sizeof what, "%u shards, allocation %lld fails%s: rc %s: %s", shards, (long long)at,
		 sticky ? " and every later one" : "", irs_err_name(rc), err.message);
	int64_t last = (int64_t)sc->o.nbackups - 1;
	if (rc == 0) {
		assert_non_null(r);
		if (irs_restore_through(r) != last)
			fail_msg("%s: success but through %lld", what, (long long)irs_restore_through(r));
		check_state(&sc->o, r, last, what);
		*outcome = 0;
	} else {
		if (rc != IRS_ENOMEM)
			fail_msg("%s: expected IRS_ENOMEM", what);
		if (atomic_load(&fa.failed) == 0)
			fail_msg("%s: failed although no allocation was refused", what);
		if (err.code != IRS_ENOMEM || !err.message[0])
			fail_msg("%s: error code %d, message '%s'", what, err.code, err.message);
		/* every failure names what ran out: never a bare "out of memory", never a
		 * backup without its name */
		if (strstr(err.message, "(null)") || strncmp(err.message, "out of memory;", 14) == 0 ||
		    strcmp(err.message, "out of memory") == 0)
			fail_msg("%s: the message names no stage or backup", what);
		/* before the first backup (the shards' partitions): nothing was restored */
		if (strstr(err.message, "creating table")) {
			creating_table_failures++;
			const char *tail = "; the tables are empty";
			size_t n = strlen(err.message);
			if (n < strlen(tail) || strcmp(err.message + n - strlen(tail), tail) != 0)
				fail_msg("%s: the message does not end with '%s'", what, tail);
		}
		if (r) {
			int64_t k = irs_restore_through(r);
			if (k < -1 || k >= last)
				fail_msg("%s: through %lld after a failure", what, (long long)k);
			check_state(&sc->o, r, k, what);
			/* the message says where the tables are */
			if (!strstr(err.message, k < 0 ? "the tables are empty" : "restored through backup"))
				fail_msg("%s: the message does not say which backup the tables reflect", what);
			*outcome = 1 + (int)(k + 1);
		} else {
			*outcome = -1;
		}
	}
	irs_restore_free(r);
	if (atomic_load(&fa.bytes) != 0 || atomic_load(&fa.blocks) != 0)
		fail_msg("%s: leaked %lld bytes in %lld blocks", what, (long long)atomic_load(&fa.bytes),
			 (long long)atomic_load(&fa.blocks));
	return calls;
}

/* Returns how many failures hit an incremental (tables left at a backup >= 0). */
static int oom_sweep(small_chain *sc, uint32_t shards, bool sticky, int64_t max_runs)
{
	int outcome;
	int64_t total = oom_once(sc, shards, -1, sticky, &outcome);
	assert_int_equal(outcome, 0);
	/* Thread scheduling changes the count a little between runs: sweep somewhat past it. */
	int64_t end = total + total / 10 + 20;
	int64_t step = end / max_runs + 1;
	int seen[MAXB + 3] = {0};
	for (int64_t at = 0; at < end; at += step) {
		oom_once(sc, shards, at, sticky, &outcome);
		seen[outcome + 1]++;
	}
	print_message("  %u shards, %s: %lld allocations; outcomes: no handle %d, empty %d, ", shards,
		      sticky ? "fail from N on" : "fail only N", (long long)total, seen[0], seen[2]);
	for (uint32_t k = 0; k + 1 < sc->o.nbackups; k++)
		print_message("at b%02u %d, ", k, seen[k + 3]);
	print_message("success %d\n", seen[1]);
	/* failures in the full backup were exercised */
	assert_true(seen[2] > 0);
	int inc = 0;
	for (uint32_t k = 0; k + 1 < sc->o.nbackups; k++)
		inc += seen[k + 3];
	return inc;
}

static void test_oom_sweep(void **state)
{
	(void)state;
	wd_arm("test_oom_sweep", 120);
	oom_staging_budget = 0; /* whatever a failed test before left */
	small_chain sc;
	small_chain_make(&sc, 11, 300, 3, 120);
	int inc = 0;
	for (uint32_t shards = 1; shards <= 3; shards++) {
		inc += oom_sweep(&sc, shards, true, 1200);
		inc += oom_sweep(&sc, shards, false, 600);
	}
	/* Small runs: many more allocations in routing, staging and the run returns. */
	irs__fault_reset();
	irs__fault.run_bytes = 512;
	inc += oom_sweep(&sc, 3, true, 1500);
	inc += oom_sweep(&sc, 2, false, 1500);
	irs__fault_reset();
	/* failures inside incrementals were exercised too, and while creating tables */
	assert_true(inc > 0);
	assert_true(creating_table_failures > 0);
	small_chain_free(&sc);
	wd_disarm();
}

/*
 * Every incremental read twice (staging_budget 1): its second read applies as it
 * streams, past the point of no return, so what it allocates must be allocated before
 * (shard/decode.c). An allocation failing anywhere, and memory limits from far too
 * small to enough, leave the tables at a backup, never partly applied (they were,
 * with "its second read failed after part of it was applied").
 */
static void test_oom_read_twice(void **state)
{
	(void)state;
	wd_arm("test_oom_read_twice", 180);
	small_chain sc;
	small_chain_make(&sc, 14, 300, 3, 150);
	oom_staging_budget = 1;
	int inc = 0;
	for (uint32_t shards = 1; shards <= 3; shards++) {
		inc += oom_sweep(&sc, shards, true, 600);
		inc += oom_sweep(&sc, shards, false, 600);
	}
	inc += oom_sweep(&sc, 7, false, 150);
	irs__fault_reset();
	irs__fault.run_bytes = 512; /* many runs: pass 1 must wait for its own to come back */
	inc += oom_sweep(&sc, 3, true, 200);
	inc += oom_sweep(&sc, 3, false, 200);
	irs__fault.run_bytes = 48; /* most changes bigger than a run: pass 1 needs the spare */
	inc += oom_sweep(&sc, 2, true, 150);
	inc += oom_sweep(&sc, 3, false, 150);
	irs__fault_reset();
	/* strings of up to 3000 bytes, runs of 512: the spare is as big as the largest change
	 * and must still hold one change only (the applying shard's record array is sized
	 * for a standard run; under ASan an overflow of it fails here) */
	small_chain wide;
	small_chain_make_str(&wide, 15, 200, 3, 100, 3000);
	irs__fault.run_bytes = 512;
	inc += oom_sweep(&wide, 2, true, 150);
	inc += oom_sweep(&wide, 1, false, 150);
	irs__fault_reset();
	small_chain_free(&wide);
	assert_true(inc > 0);
	/* memory limits around what the restore needs */
	static const uint32_t shard_counts[] = {1, 3, 7};
	int at_backup = 0;
	for (size_t i = 0; i < 3; i++) {
		irs_restore_options ro;
		irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
		ro.shards = shard_counts[i];
		ro.staging_budget = 1;
		irs_restore *r = NULL;
		irs_error err;
		assert_int_equal(irs_restore_run(sc.c, &ro, NULL, &r, &err), 0);
		uint64_t peak = irs_restore_peak_bytes(r);
		irs_restore_free(r);
		for (uint64_t pct = 40; pct <= 104; pct += 2) {
			ro.memory_limit = peak * pct / 100;
			r = NULL;
			memset(&err, 0, sizeof err);
			int rc = irs_restore_run(sc.c, &ro, NULL, &r, &err);
			char what[700];
			snprintf(what, sizeof what, "%u shards, limit %llu (%llu%% of the peak): rc %s: %s",
				 shard_counts[i], (unsigned long long)ro.memory_limit, (unsigned long long)pct,
				 irs_err_name(rc), err.message);
			if (rc && rc != IRS_ELIMIT)
				fail_msg("%s: expected IRS_ELIMIT", what);
			if (r) {
				int64_t k = irs_restore_through(r);
				if (rc == 0 ? k != (int64_t)sc.o.nbackups - 1 : k < -1)
					fail_msg("%s: through %lld", what, (long long)k);
				check_state(&sc.o, r, k, what);
				at_backup += rc && k >= 0;
			}
			irs_restore_free(r);
		}
	}
	assert_true(at_backup > 0);
	/* a partitioned restore, whose decoders also decode the changes other partitions
	 * keep (into their drop buffers): every allocation from the Nth on fails, and a
	 * failure in an incremental leaves a backup's state, never a partly applied one.
	 * (Whether a decoder first drops a change in the second read depends on which
	 * frames it took, so this does not single out the drop buffer's preparation.) */
	int clean = 0;
	for (int64_t at = 0; at < 400; at += 7) {
		irs_restore_options ro;
		irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
		ro.shards = 2;
		ro.staging_budget = 1;
		ro.partition = 1;
		ro.partition_count = 3;
		fail_alloc fa;
		irs_allocator a;
		fa_init(&fa, &a, at, true);
		irs_restore *r = NULL;
		irs_error err;
		memset(&err, 0, sizeof err);
		int rc = irs_restore_run(sc.c, &ro, &a, &r, &err);
		atomic_store(&fa.fail_at, -1);
		if (rc && strstr(err.message, "partly applied"))
			fail_msg("partition 1/3, allocation %lld on fails: %s", (long long)at, err.message);
		clean += rc && strstr(err.message, "restored through backup") != NULL;
		irs_restore_free(r);
		if (atomic_load(&fa.bytes) != 0)
			fail_msg("partition 1/3, allocation %lld on fails: leaked %lld bytes", (long long)at,
				 (long long)atomic_load(&fa.bytes));
	}
	assert_true(clean > 0);
	oom_staging_budget = 0;
	small_chain_free(&sc);
	wd_disarm();
}

/*
 * The spare run of a second read holds one change, whatever its size: an incremental
 * read twice holds a 1 MB change, a 70 KB one and 29,996 empty ones. An allocator
 * that refuses 66-900 KB once the spare (the second allocation of about 1 MB: the
 * first is pass 0's run for the 1 MB change) exists sends the 70 KB change to the
 * spare in pass 1. The spare used to keep its 1 MB capacity, so the empty changes
 * after it went into it too, past the applying shard's record array.
 */
typedef struct mid_refuser {
	int big_allocs;
	bool refused;
} mid_refuser;

static void *mid_malloc(void *ctx, size_t n)
{
	mid_refuser *m = ctx;
	if (n >= 1000000 && n < 1100000)
		m->big_allocs++;
	if (m->big_allocs >= 2 && n >= 66000 && n < 900000) {
		m->refused = true;
		return NULL;
	}
	return malloc(n);
}

static void *mid_realloc(void *ctx, void *p, size_t old, size_t n)
{
	(void)old;
	mid_refuser *m = ctx;
	if (m->big_allocs >= 2 && n >= 66000 && n < 900000) {
		m->refused = true;
		return NULL;
	}
	return realloc(p, n);
}

static void test_read_twice_spare_holds_one_change(void **state)
{
	(void)state;
	wd_arm("test_read_twice_spare_holds_one_change", 120);
	char tmp[64], dir[96];
	snprintf(tmp, sizeof tmp, "/tmp/irs_test_spare_XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(dir, sizeof dir, "%s/c", tmp);
	irs_error err;
	irs_collection *c = tu_kv_collection(dir, &err);
	assert_non_null(c);
	char *big = malloc(1000001);
	memset(big, 'b', 1000000);
	big[1000000] = '\0';
	for (uint32_t b = 0; b < 2; b++) {
		irs_writer_options wo;
		irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
		wo.no_sync = 1;
		irs_backup_writer *w;
		assert_int_equal(irs_backup_writer_begin(c, b ? IRS_BACKUP_INCREMENTAL : IRS_BACKUP_FULL,
							 b ? "b01" : "b00", &wo, &w, &err), 0);
		uint64_t n = b ? 30000 : 4;
		for (uint64_t i = 0; i < n; i++) {
			const char *v = "x";
			if (b && i == 1)
				v = big;
			else if (b && i == 2)
				v = big + 1000000 - 70000;
			else if (b)
				v = "";
			irs_value row[2] = {tu_u64(i), tu_str(v)};
			assert_int_equal(irs_backup_writer_upsert(w, 0, row, i + 1, &err), 0);
		}
		assert_int_equal(irs_backup_writer_commit(w, &err), 0);
	}
	free(big);
	mid_refuser m = {0, false};
	irs_allocator a = {mid_malloc, mid_realloc, tu_alloc_free, &m};
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = 1;
	ro.staging_budget = 1;
	ro.coordinator_decodes = -1;
	irs_restore *r = NULL;
	int rc = irs_restore_run(c, &ro, &a, &r, &err);
	if (rc)
		fail_msg("restore: %s: %s", irs_err_name(rc), err.message);
	assert_true(m.refused); /* the 70 KB change's own run was refused: it took the spare */
	assert_int_equal(irs_restore_through(r), 1);
	assert_int_equal(irs_restore_row_count(r, 0), 30000);
	irs_restore_free(r);
	irs_collection_close(c);
	gen_rmrf(tmp);
	wd_disarm();
}

/* Far more shards than cores, failing allocations at random points. */
static void test_oom_many_shards(void **state)
{
	(void)state;
	wd_arm("test_oom_many_shards", 120);
	small_chain sc;
	small_chain_make(&sc, 12, 200, 3, 80);
	uint64_t rng = 99;
	int outcome;
	int64_t total = oom_once(&sc, 16, -1, true, &outcome);
	for (int i = 0; i < 60; i++)
		oom_once(&sc, 16, (int64_t)tu_rand_below(&rng, (uint64_t)total + 10), i & 1, &outcome);
	small_chain_free(&sc);
	wd_disarm();
}

/* ------------------------------------------------------------------ (b) shard failure */

static void test_shard_failure_everywhere(void **state)
{
	(void)state;
	wd_arm("test_shard_failure_everywhere", 120);
	small_chain sc;
	small_chain_make(&sc, 13, 250, 3, 100);
	static const uint32_t shard_counts[] = {1, 2, 5};
	int tested = 0;
	for (size_t i = 0; i < 3; i++) {
		uint32_t shards = shard_counts[i];
		for (uint32_t b = 1; b < sc.o.nbackups; b++) {
			for (uint32_t s = 0; s <= shards; s++) { /* s == shards: a shard that does not exist */
				irs__fault_reset();
				irs__fault.fail_backup = b;
				irs__fault.fail_shard = s;
				fail_alloc fa;
				irs_allocator a;
				fa_init(&fa, &a, -1, false);
				irs_restore_options ro;
				irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
				ro.shards = shards;
				irs_restore *r = NULL;
				irs_error err;
				int rc = irs_restore_run(sc.c, &ro, &a, &r, &err);
				irs__fault_reset();
				char what[700];
				snprintf(what, sizeof what, "%u shards, shard %u fails in backup %u: rc %s: %s", shards,
					 s, b, irs_err_name(rc), rc ? err.message : "");
				assert_non_null(r);
				if (s == shards) {
					if (rc != 0)
						fail_msg("%s: expected success", what);
					check_state(&sc.o, r, sc.o.nbackups - 1, what);
				} else {
					if (rc != IRS_ESHARD)
						fail_msg("%s: expected IRS_ESHARD", what);
					if (irs_restore_through(r) != (int64_t)b - 1)
						fail_msg("%s: through %lld", what, (long long)irs_restore_through(r));
					check_state(&sc.o, r, (int64_t)b - 1, what);
					irs_backup_info bi, prev;
					irs_collection_backup(sc.c, b, &bi);
					irs_collection_backup(sc.c, b - 1, &prev);
					char want[300];
					snprintf(want, sizeof want,
						 "backup %s: shard %u: injected failure in backup %u; the tables are as "
						 "restored through backup %s", bi.name, s, b, prev.name);
					if (strcmp(err.message, want) != 0)
						fail_msg("%s: want the message \"%s\"", what, want);
					tested++;
				}
				irs_restore_free(r);
				if (atomic_load(&fa.bytes) != 0 || atomic_load(&fa.blocks) != 0)
					fail_msg("%s: leaked %lld bytes", what, (long long)atomic_load(&fa.bytes));
			}
		}
	}
	assert_int_equal(tested, (1 + 2 + 5) * 3);
	small_chain_free(&sc);
	wd_disarm();
}

/* Shard failure with tiny runs and yields (most interleavings), 8 shards. */
static void test_shard_failure_stress(void **state)
{
	(void)state;
	wd_arm("test_shard_failure_stress", 120);
	small_chain sc;
	small_chain_make(&sc, 14, 200, 3, 90);
	for (int round = 0; round < 24; round++) {
		uint32_t b = 1 + (uint32_t)round % 3, shards = 8;
		irs__fault_reset();
		irs__fault.fail_backup = b;
		irs__fault.fail_shard = (uint32_t)round % shards;
		irs__fault.run_bytes = round & 1 ? 1 : 256;
		irs__fault.huge_run_slabs = round & 2; /* runs in flight at the failure: slabs */
		irs__fault.yield_every = 3 + round % 5;
		irs_restore_options ro;
		irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
		ro.shards = shards;
		irs_restore *r = NULL;
		irs_error err;
		int rc = irs_restore_run(sc.c, &ro, NULL, &r, &err);
		irs__fault_reset();
		assert_int_equal(rc, IRS_ESHARD);
		assert_int_equal(irs_restore_through(r), (int64_t)b - 1);
		check_state(&sc.o, r, (int64_t)b - 1, "stress");
		irs_restore_free(r);
	}
	small_chain_free(&sc);
	wd_disarm();
}

/* ------------------------------------------------------------------ (c) thread start */

/* A shard thread that cannot start: ESHARD naming it, nothing restored, nothing leaked,
 * the threads that did start joined. */
static void test_thread_start_failure(void **state)
{
	(void)state;
	wd_arm("test_thread_start_failure", 60);
	small_chain sc;
	small_chain_make(&sc, 15, 100, 2, 30);
	for (uint32_t s = 0; s < 3; s++) {
		irs__fault_reset();
		irs__fault.fail_thread = s;
		fail_alloc fa;
		irs_allocator a;
		fa_init(&fa, &a, -1, false);
		irs_restore_options ro;
		irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
		ro.shards = 3;
		irs_restore *r = NULL;
		irs_error err;
		int rc = irs_restore_run(sc.c, &ro, &a, &r, &err);
		irs__fault_reset();
		char want[128];
		snprintf(want, sizeof want, "cannot start shard thread %u: %s; the tables are empty", s,
			 strerror(EAGAIN));
		if (rc != IRS_ESHARD || strcmp(err.message, want) != 0)
			fail_msg("thread %u: %s \"%s\", want IRS_ESHARD \"%s\"", s, irs_err_name(rc), err.message,
				 want);
		assert_null(r);
		if (atomic_load(&fa.bytes) != 0 || atomic_load(&fa.blocks) != 0)
			fail_msg("thread %u: leaked %lld bytes", s, (long long)atomic_load(&fa.bytes));
	}
	small_chain_free(&sc);
	wd_disarm();
}

/* ------------------------------------------------------------------ (c) digest helpers */

/* A restore without expected-state checks scans its rows for a digest, its partitions
 * spread over helper threads: the digest by definition with the default helpers, with
 * more helpers than CPUs or partitions, and when some or every helper cannot start
 * (the caller then scans their share). */
static void test_digest_helpers(void **state)
{
	(void)state;
	wd_arm("test_digest_helpers", 60);
	small_chain sc;
	small_chain_make(&sc, 16, 300, 3, 100);
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = 8;
	ro.check_expected = 0;
	irs_restore *r = NULL;
	irs_error err;
	if (irs_restore_run(sc.c, &ro, NULL, &r, &err) != 0)
		fail_msg("restore: %s", err.message);
	uint64_t want[3] = {0};
	for (uint32_t t = 0; t < sc.o.ntables; t++) {
		uint32_t scans = 0;
		for (uint32_t s = 0; s < ro.shards; s++) {
			const irs_table_part *p = r->pool.shards[s].parts[t];
			uint64_t d;
			assert_non_null(p);
			scans += irs__part_digest_scans(p);
			assert_int_equal(irs__part_digest_by_definition(p, &d), 0);
			want[t] = irs__digest_add(want[t], d);
		}
		assert_int_equal(scans, ro.shards); /* every partition holds rows to scan */
		assert_int_equal(want[t], sc.o.digest[sc.o.nbackups - 1][t]);
	}
	static const struct {
		uint32_t helpers;   /* 0: as many as the CPUs allow */
		int64_t fail_from;  /* helpers from this one on do not start; -1: all start */
	} cases[] = {{0, -1}, {1, -1}, {3, -1}, {7, -1}, {20, -1}, {63, -1}, {0, 0}, {7, 0}, {7, 2}, {7, 6}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		irs__fault_reset();
		irs__fault.read_helpers = cases[i].helpers;
		irs__fault.fail_read_helper = cases[i].fail_from;
		for (uint32_t t = 0; t < sc.o.ntables; t++) {
			uint64_t got = irs_restore_digest(r, t);
			if (got != want[t])
				fail_msg("%u helpers, failing from %lld: table %u digest %016llx, want %016llx",
					 cases[i].helpers, (long long)cases[i].fail_from, t, (unsigned long long)got,
					 (unsigned long long)want[t]);
		}
	}
	irs__fault_reset();
	irs_restore_free(r);
	small_chain_free(&sc);
	wd_disarm();
}

/* ------------------------------------------------------------------ (d) exports */

/* A temporary an export of `keep` left in dir, or NULL. */
static const char *leftover(const char *dir, const char *keep)
{
	static char name[300];
	DIR *d = opendir(dir);
	assert_non_null(d);
	const char *found = NULL;
	for (struct dirent *e; (e = readdir(d)) != NULL && !found;)
		if (strncmp(e->d_name, keep, strlen(keep)) == 0 && strstr(e->d_name, ".tmp-")) {
			snprintf(name, sizeof name, "%s", e->d_name);
			found = name;
		}
	closedir(d);
	return found;
}

/* A file's whole contents (the test's files are small). */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	long n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Appends every row of the SQL query q, its columns as text, to *out (of *cap). */
static void sql_rows(sqlite3 *db, const char *q, char **out, size_t *len)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const char *v = (const char *)sqlite3_column_text(st, c);
			size_t n = v ? strlen(v) : 4;
			*out = realloc(*out, *len + n + 2);
			assert_non_null(*out);
			memcpy(*out + *len, v ? v : "NULL", n);
			*len += n;
			(*out)[(*len)++] = c + 1 < sqlite3_column_count(st) ? '|' : '\n';
			(*out)[*len] = '\0';
		}
	}
	sqlite3_finalize(st);
}

/* What an export wrote, to compare: a text file's bytes; a SQLite file's schema and
 * every table's rows (the file's bytes may differ); NULL for a collection. */
static char *export_print(irs_export_format f, const char *path)
{
	if (f == IRS_EXPORT_COLLECTION)
		return NULL;
	size_t len = 0;
	if (f != IRS_EXPORT_SQLITE) {
		char *text = slurp(path, &len);
		text[len] = '\0';
		return text;
	}
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	char *out = NULL, *names = NULL;
	size_t nlen = 0;
	sql_rows(db, "SELECT sql FROM sqlite_master ORDER BY name", &out, &len);
	sql_rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", &names, &nlen);
	for (char *t = names; t && *t;) {
		char *end = strchr(t, '\n');
		*end = '\0';
		char q[300];
		snprintf(q, sizeof q, "SELECT * FROM \"%s\" ORDER BY 1", t);
		sql_rows(db, q, &out, &len);
		t = end + 1;
	}
	free(names);
	sqlite3_close(db);
	return out;
}

/* The file an export must leave as it was when it fails; no collection at path. */
static void put_old(irs_export_format f, const char *path)
{
	if (f == IRS_EXPORT_COLLECTION) {
		gen_rmrf(path);
		return;
	}
	FILE *fp = fopen(path, "w");
	fputs("old\n", fp);
	fclose(fp);
}

/*
 * One pass of test_export_oom over export kind f to path (in directory out): the n-th
 * allocation of the export fails (sticky: and every one after it), for n = 0, 1, ...
 * until the export succeeds without a failure. *want is the print of the clean export:
 * set by the sticky pass, compared by the other when an export gets over a failure (a
 * sort done ahead that the cursor does again).
 */
static void export_oom_pass(irs_collection *c, const char *out, irs_export_format f, const char *name,
			    const char *path, bool sticky, char **want)
{
	put_old(f, path);
	int failures = 0;
	for (int64_t n = 0;; n++) {
		fail_alloc fa;
		irs_allocator a;
		fa_init(&fa, &a, -1, sticky);
		irs_restore_options ro;
		irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
		ro.shards = 2;
		irs_restore *r = NULL;
		irs_error err;
		assert_int_equal(irs_restore_run(c, &ro, &a, &r, &err), 0);
		atomic_store(&fa.fail_at, atomic_load(&fa.calls) + n);
		/* the text exports' helper threads and their chunks fail too */
		irs__fault.read_helpers = 3;
		irs__fault.export_chunk_rows = 16;
		int rc = irs_restore_export(r, f, 0, path, &err);
		irs__fault_reset();
		atomic_store(&fa.fail_at, -1);
		irs_restore_free(r);
		if (atomic_load(&fa.bytes) != 0)
			fail_msg("%s, allocation %lld fails: leaked %lld bytes (%s)", name, (long long)n,
				 (long long)atomic_load(&fa.bytes), rc ? err.message : "");
		if (rc == 0 && (sticky || !atomic_load(&fa.failed))) {
			assert_int_equal(atomic_load(&fa.failed), 0);
			if (sticky)
				*want = export_print(f, path);
			break;
		}
		if (rc == 0) {
			char *got = export_print(f, path);
			if (*want && (!got || strcmp(*want, got) != 0))
				fail_msg("%s, allocation %lld fails alone: the export succeeded but differs", name,
					 (long long)n);
			free(got);
			put_old(f, path);
			continue;
		}
		failures++;
		if (rc != IRS_ENOMEM || !strstr(err.message, path) ||
		    (!strstr(err.message, "out of memory ") && !strstr(err.message, "no memory ")))
			fail_msg("%s, allocation %lld fails: %s \"%s\"", name, (long long)n, irs_err_name(rc),
				 err.message);
		const char *left = leftover(out, name);
		if (left)
			fail_msg("%s, allocation %lld fails: %s left behind (%s)", name, (long long)n, left,
				 err.message);
		if (f != IRS_EXPORT_COLLECTION) {
			char buf[16] = {0};
			FILE *fp = fopen(path, "r");
			assert_non_null(fp);
			assert_non_null(fgets(buf, sizeof buf, fp));
			fclose(fp);
			assert_string_equal(buf, "old\n");
		} else {
			struct stat st;
			assert_int_not_equal(stat(path, &st), 0);
		}
	}
	print_message("  %s: %d allocations failed one by one%s, each reported and cleaned up\n", name,
		      failures, sticky ? " and every one after" : "");
	assert_true(failures > 0);
}

/* Out of memory at every allocation of an export of each format (the text exports on
 * 3 helper threads, in chunks of 16 rows), from it on or at it alone: ENOMEM (or
 * success), a message naming the file and what ran out, no temporary left, the old
 * file intact. Failing one allocation alone found statements built with a piece
 * missing (the SQLite export). */
static void test_export_oom(void **state)
{
	(void)state;
	wd_arm("test_export_oom", 120);
	small_chain sc;
	small_chain_make(&sc, 16, 300, 2, 60);
	char out[300];
	snprintf(out, sizeof out, "%s", sc.dir);
	*strrchr(out, '/') = '\0';
	strcat(out, "/exports");
	assert_int_equal(mkdir(out, 0755), 0);
	static const struct {
		irs_export_format f;
		const char *name;
	} kinds[] = {{IRS_EXPORT_JSONL, "t.jsonl"},
		     {IRS_EXPORT_CSV, "t.csv"},
		     {IRS_EXPORT_SQLITE, "all.sqlite"},
		     {IRS_EXPORT_COLLECTION, "compacted"}};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		char path[400];
		snprintf(path, sizeof path, "%s/%s", out, kinds[k].name);
		char *want = NULL;
		export_oom_pass(sc.c, out, kinds[k].f, kinds[k].name, path, true, &want);
		export_oom_pass(sc.c, out, kinds[k].f, kinds[k].name, path, false, &want);
		free(want);
	}
	gen_rmrf(out);
	small_chain_free(&sc);
	wd_disarm();
}


/* An export into a directory that does not exist fails with IRS_EIO, and its message
 * names the path asked for, not the temporary written first (PATH.tmp-PID). */
static void test_export_names_the_path(void **state)
{
	(void)state;
	small_chain sc;
	small_chain_make(&sc, 4, 50, 1, 10);
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	irs_restore *r = NULL;
	irs_error err;
	assert_int_equal(irs_restore_run(sc.c, &ro, NULL, &r, &err), 0);
	static const irs_export_format kinds[] = {IRS_EXPORT_JSONL, IRS_EXPORT_CSV, IRS_EXPORT_SQLITE,
						  IRS_EXPORT_COLLECTION};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		char path[400];
		snprintf(path, sizeof path, "%s.none/sub/out%zu", sc.dir, k);
		assert_int_equal(irs_restore_export(r, kinds[k], 0, path, &err), IRS_EIO);
		if (!strstr(err.message, path) || strstr(err.message, ".tmp-"))
			fail_msg("export kind %d: \"%s\"", (int)kinds[k], err.message);
	}
	irs_restore_free(r);
	small_chain_free(&sc);
}

/* The text export's rows are formatted on helper threads and written in key order: the
 * file is byte for byte the rows of an ordered scan, each formatted by textout (and the
 * CSV header), with any number of helpers, helpers that fail to start, chunks of a few
 * rows (the ring of chunks wraps many times) or more rows than the table has, and the
 * disk's writeback started after every chunk or every few of them. */
static void test_text_export_helpers(void **state)
{
	(void)state;
	wd_arm("test_text_export_helpers", 120);
	small_chain sc;
	small_chain_make(&sc, 23, 900, 3, 200);
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = 3;
	irs_restore *r = NULL;
	irs_error err;
	if (irs_restore_run(sc.c, &ro, NULL, &r, &err) != 0)
		fail_msg("restore: %s", err.message);
	char path[300];
	snprintf(path, sizeof path, "%s.out", sc.dir);
	static const struct {
		uint32_t helpers;    /* 0: as many as the CPUs allow */
		int64_t fail_from;   /* helpers from this one on do not start; -1: all start */
		uint32_t chunk_rows; /* 0: the default */
		uint32_t writeback;  /* bytes between writebacks; 0: the default */
	} cases[] = {{0, -1, 0, 0},  {1, -1, 1, 0},  {1, -1, 7, 1},     {3, -1, 5, 0},
		     {7, -1, 64, 4096}, {20, -1, 3, 0}, {63, -1, 2, 100}, {0, 0, 0, 1},
		     {7, 0, 9, 0},   {7, 2, 4, 777}, {7, 6, 1, 0},     {2, -1, 5000, 0}};
	for (uint32_t t = 0; t < sc.o.ntables; t++) {
		const irs_schema_table *ts = &sc.c->tables[t];
		for (int csv = 0; csv <= 1; csv++) {
			irs_textbuf want;
			irs__textbuf_init(&want, NULL);
			if (csv)
				assert_int_equal(irs__text_csv_header(&want, ts), 0);
			irs_cursor *c;
			irs_value *row = malloc(sizeof(irs_value) * ts->ncols);
			assert_non_null(row);
			assert_int_equal(irs_restore_cursor_open(r, t, NULL, NULL, &c, &err), 0);
			uint64_t rows = 0;
			int rc;
			while ((rc = irs_cursor_next(c, row, &err)) == 1) {
				assert_int_equal(csv ? irs__text_csv_row(&want, ts, row) : irs__text_jsonl_row(&want, ts, row), 0);
				rows++;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(rows, sc.o.rows[sc.o.nbackups - 1][t]);
			irs_cursor_close(c);
			free(row);
			for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
				irs__fault_reset();
				irs__fault.read_helpers = cases[i].helpers;
				irs__fault.fail_read_helper = cases[i].fail_from;
				irs__fault.export_chunk_rows = cases[i].chunk_rows;
				irs__fault.export_writeback_bytes = cases[i].writeback;
				rc = irs_restore_export(r, csv ? IRS_EXPORT_CSV : IRS_EXPORT_JSONL, t, path, &err);
				irs__fault_reset();
				if (rc)
					fail_msg("table %u, %s: %s", t, csv ? "csv" : "jsonl", err.message);
				size_t len;
				char *got = slurp(path, &len);
				if (len != want.len || memcmp(got, want.data, len) != 0)
					fail_msg("table %u, %s, %u helpers failing from %lld, chunks of %u rows, "
						 "writeback every %u bytes: %zu bytes differ from the scan's %zu",
						 t, csv ? "csv" : "jsonl", cases[i].helpers, (long long)cases[i].fail_from,
						 cases[i].chunk_rows, cases[i].writeback, len, want.len);
				free(got);
			}
			irs__textbuf_free(&want);
		}
	}
	unlink(path);
	irs_restore_free(r);
	small_chain_free(&sc);
	wd_disarm();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_start_failure),
		cmocka_unit_test(test_digest_helpers),
		cmocka_unit_test(test_oom_read_twice),
		cmocka_unit_test(test_read_twice_spare_holds_one_change),
		cmocka_unit_test(test_export_oom),
		cmocka_unit_test(test_export_names_the_path),
		cmocka_unit_test(test_text_export_helpers),
		cmocka_unit_test(test_shard_failure_everywhere),
		cmocka_unit_test(test_shard_failure_stress),
		cmocka_unit_test(test_oom_sweep),
		cmocka_unit_test(test_oom_many_shards),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
