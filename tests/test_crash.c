/*
 * test_crash.c: crash safety of adding a backup (docs/design.md section 3, docs/format.md
 * "Writing a backup").
 *
 * Each iteration forks a child that opens the collection and adds one incremental of
 * a few thousand changes (spilling runs, several segments, commit), and kills it with
 * SIGKILL at a random moment: either after a random delay (the parent sends the
 * signal) or at a random allocation (the child's allocator raises SIGKILL on its own,
 * which reaches points inside the commit, including the re-read after the rename).
 * The parent then checks that the collection opens, verify_data passes, and the chain
 * is the old chain or the old chain plus exactly the new backup, whose records are
 * complete and exact. At the end one more add succeeds and leaves no leftovers.
 *
 * cmocka asserts run only in the parent; the child reports through its exit status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/record.h"
#include "format/batch.h"
#include "format/collection.h"
#include "format/format.h"
#include "increstore.h"
#include "test_util.h"

enum {
	ITERATIONS = 60,
	BASE_ROWS = 2000,
	CHANGES = 3000,   /* per incremental */
};

static const irs_column_def cols[] = {
	{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}, {"n", IRS_TYPE_INT64}, {"blob", IRS_TYPE_BYTES}};
static const uint32_t pk[] = {0};
static const irs_table_def table = {"t", cols, 4, pk, 1};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state;
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

/* ---- the content of backup "inc-<i>": a pure function of (i, k), k < CHANGES */

typedef struct change {
	uint64_t id;
	int erase;
	char v[48];
	int has_n;
	int64_t n;
	uint8_t blob[64];
	size_t blob_len;
} change;

static void content(int i, uint32_t k, change *c)
{
	memset(c, 0, sizeof *c);
	c->id = k + (uint64_t)(i % 3) * 1000; /* distinct within a backup */
	c->erase = (k + (uint32_t)i) % 11 == 0;
	snprintf(c->v, sizeof c->v, "i%d-k%u-\xc3\xa9", i, k);
	c->has_n = (k + (uint32_t)i) % 3 != 0;
	c->n = (int64_t)i * 100000 + k - 50000;
	c->blob_len = k % 50;
	for (size_t j = 0; j < c->blob_len; j++)
		c->blob[j] = (uint8_t)(i ^ (int)(k + j));
}

static void to_row(const change *c, irs_value *row)
{
	memset(row, 0, sizeof(irs_value) * 4);
	row[0].state = IRS_VALUE_SET;
	row[0].v.u64 = c->id;
	row[1].state = IRS_VALUE_SET;
	row[1].v.s.ptr = c->v;
	row[1].v.s.len = strlen(c->v);
	if (c->has_n) {
		row[2].state = IRS_VALUE_SET;
		row[2].v.i64 = c->n;
	}
	row[3].state = IRS_VALUE_SET;
	row[3].v.s.ptr = c->blob;
	row[3].v.s.len = c->blob_len;
}

/* ---- the child */

static int64_t kill_countdown = -1; /* raise SIGKILL at this allocation (-1: never) */
static uint64_t alloc_calls;

static void maybe_die(void)
{
	alloc_calls++;
	if (kill_countdown >= 0 && kill_countdown-- == 0)
		raise(SIGKILL);
}

static void *ka_malloc(void *ctx, size_t n)
{
	(void)ctx;
	maybe_die();
	return malloc(n);
}

static void *ka_realloc(void *ctx, void *p, size_t o, size_t n)
{
	(void)ctx;
	(void)o;
	maybe_die();
	return realloc(p, n);
}

static irs_writer_options child_opts(void)
{
	irs_writer_options o;
	irs_writer_options_init(&o, IRS_WRITER_OPTIONS_VERSION);
	o.memory_budget = 64 << 10; /* spills: tmp-* run files exist mid-way */
	o.batch_rows = 64;
	o.segment_bytes = 32 << 10; /* several segment files per backup */
	return o;
}

/* Adds backup inc-<i>. Exit status: 0 committed, 2..5 the step that failed. */
static int child_add(const char *coll, int i, int64_t kill_at, int report_fd)
{
	kill_countdown = kill_at;
	alloc_calls = 0;
	uint64_t t0 = now_ns();
	irs_allocator a = {ka_malloc, ka_realloc, tu_alloc_free, NULL};
	irs_collection *c;
	irs_error err;
	if (irs_collection_open(coll, &a, 0, &c, &err) != 0)
		return 2;
	irs_writer_options o = child_opts();
	irs_backup_writer *w;
	char name[32];
	snprintf(name, sizeof name, "inc-%d", i);
	if (irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, name, &o, &w, &err) != 0)
		return 3;
	for (uint32_t k = 0; k < CHANGES; k++) {
		change ch;
		irs_value row[4];
		content(i, k, &ch);
		to_row(&ch, row);
		int rc = ch.erase ? irs_backup_writer_erase(w, 0, row, k, &err)
				  : irs_backup_writer_upsert(w, 0, row, k, &err);
		if (rc)
			return 4;
	}
	if (irs_backup_writer_commit(w, &err) != 0)
		return 5;
	irs_collection_close(c);
	if (report_fd >= 0) {
		uint64_t rep[2] = {alloc_calls, now_ns() - t0};
		if (write(report_fd, rep, sizeof rep) != (ssize_t)sizeof rep)
			return 6;
	}
	return 0;
}

/* ---- the parent */

typedef struct state {
	char tmp[256];
	char coll[300];
} state;

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(p);
	return 0;
}

static int setup(void **st)
{
	state *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	snprintf(s->tmp, sizeof s->tmp, "/tmp/irs-test-crash-XXXXXX");
	if (!mkdtemp(s->tmp))
		return -1;
	snprintf(s->coll, sizeof s->coll, "%s/coll", s->tmp);
	*st = s;
	return 0;
}

static int teardown(void **st)
{
	state *s = *st;
	nftw(s->tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return 0;
}

/* Decoded records of one backup, checked against content(i, k). */
typedef struct checker {
	const irs_schema_table *t;
	int i;
	uint8_t seen[CHANGES];
	uint32_t count;
	irs_value row[4];
	uint8_t scratch[256];
	int bad;
	char why[256];
} checker;

static int check_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	checker *k = ctx;
	if (irs__rec_decode(k->t, rec, k->row, k->scratch) != 0) {
		snprintf(k->why, sizeof k->why, "undecodable record");
		return k->bad = -1;
	}
	uint64_t id = k->row[0].v.u64;
	uint64_t base = (uint64_t)(k->i % 3) * 1000;
	if (id < base || id >= base + CHANGES || k->seen[id - base]) {
		snprintf(k->why, sizeof k->why, "unexpected or repeated id %llu", (unsigned long long)id);
		return k->bad = -1;
	}
	uint32_t kk = (uint32_t)(id - base);
	k->seen[kk] = 1;
	k->count++;
	change c;
	content(k->i, kk, &c);
	int ok;
	if (c.erase) {
		ok = rec->op == IRS_REC_ERASE && k->row[1].state == IRS_VALUE_ABSENT &&
		     k->row[2].state == IRS_VALUE_ABSENT && k->row[3].state == IRS_VALUE_ABSENT;
	} else {
		ok = rec->op == IRS_REC_UPSERT && k->row[1].state == IRS_VALUE_SET &&
		     k->row[1].v.s.len == strlen(c.v) && memcmp(k->row[1].v.s.ptr, c.v, strlen(c.v)) == 0 &&
		     k->row[2].state == (c.has_n ? IRS_VALUE_SET : IRS_VALUE_ABSENT) &&
		     (!c.has_n || k->row[2].v.i64 == c.n) && k->row[3].state == IRS_VALUE_SET &&
		     k->row[3].v.s.len == c.blob_len &&
		     (c.blob_len == 0 || memcmp(k->row[3].v.s.ptr, c.blob, c.blob_len) == 0);
	}
	if (!ok) {
		snprintf(k->why, sizeof k->why, "id %llu differs from what was written", (unsigned long long)id);
		return k->bad = -1;
	}
	return 0;
}

/* Reads backup b (written as inc-<i>) and checks it holds exactly content(i, *). */
static void check_backup_content(irs_collection *c, uint32_t b, int i)
{
	checker *k = calloc(1, sizeof *k);
	assert_non_null(k);
	k->t = &c->tables[0];
	k->i = i;
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &mem);
	const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], 0);
	assert_non_null(tb);
	for (size_t s = 0; s < tb->n_segments; s++) {
		irs_segment_reader r;
		irs_error err;
		if (irs__segment_open(&r, &mem, c->dirfd, tb->segments[s]->path, 0, &err) != 0)
			fail_msg("inc-%d: %s", i, err.message);
		const uint8_t *payload;
		size_t len;
		int rc;
		while ((rc = irs__segment_next(&r, &payload, &len, &err)) == 1) {
			uint32_t n;
			rc = irs__batch_decode(&d, k->t, payload, len, false, 0, check_sink, k, &n, &err);
			if (rc)
				fail_msg("inc-%d: %s %s", i, k->why, err.message);
		}
		if (rc)
			fail_msg("inc-%d: %s", i, err.message);
		irs__segment_close(&r);
	}
	irs__batch_decoder_free(&d);
	if (k->count != CHANGES)
		fail_msg("inc-%d: %u of %d changes present", i, k->count, CHANGES);
	free(k);
}

static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* Every data/ directory is referenced by the chain; no tmp-*, no MANIFEST.tmp. */
static void assert_clean(const char *coll)
{
	char p[600];
	assert_int_equal(count_entries(coll, "tmp-"), 0);
	snprintf(p, sizeof p, "%s/MANIFEST.tmp", coll);
	assert_int_not_equal(access(p, F_OK), 0);
	irs_collection *c;
	irs_error err;
	if (irs_collection_open(coll, NULL, 0, &c, &err) != 0)
		fail_msg("%s", err.message);
	snprintf(p, sizeof p, "%s/data", coll);
	DIR *d = opendir(p);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char prefix[300];
		snprintf(prefix, sizeof prefix, "data/%s/", e->d_name);
		int used = 0;
		for (uint32_t b = 0; b < c->nbackups && !used; b++) {
			const Increstore__Backup *pb = c->backups[b].pb;
			for (size_t t = 0; t < pb->n_tables && !used; t++)
				for (size_t s = 0; s < pb->tables[t]->n_segments && !used; s++)
					used = !strncmp(pb->tables[t]->segments[s]->path, prefix, strlen(prefix));
		}
		if (!used)
			fail_msg("leftover %s/data/%s", coll, e->d_name);
	}
	closedir(d);
	irs_collection_close(c);
}

static void test_crash_during_add(void **st)
{
	state *s = *st;
	irs_error err;
	if (irs_collection_create(s->coll, &table, 1, &err) != 0)
		fail_msg("%s", err.message);
	irs_collection *c;
	if (irs_collection_open(s->coll, NULL, 0, &c, &err) != 0)
		fail_msg("%s", err.message);
	irs_backup_writer *w;
	irs_writer_options o = child_opts();
	if (irs_backup_writer_begin(c, IRS_BACKUP_FULL, "base", &o, &w, &err) != 0)
		fail_msg("%s", err.message);
	for (uint64_t id = 0; id < BASE_ROWS; id++) {
		irs_value row[4] = {{IRS_VALUE_SET, {.u64 = id}}, {IRS_VALUE_NULL, {0}}, {IRS_VALUE_SET, {.i64 = 1}},
				    {IRS_VALUE_ABSENT, {0}}};
		if (irs_backup_writer_upsert(w, 0, row, id, &err) != 0)
			fail_msg("%s", err.message);
	}
	if (irs_backup_writer_commit(w, &err) != 0)
		fail_msg("%s", err.message);
	irs_collection_close(c);

	/* Calibration: one uninterrupted child measures the time and allocations of a
	 * whole add, which scale the kill points below. */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		_exit(child_add(s->coll, 0, -1, pfd[1]));
	}
	close(pfd[1]);
	uint64_t rep[2] = {0, 0};
	assert_int_equal(read(pfd[0], rep, sizeof rep), (ssize_t)sizeof rep);
	close(pfd[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	uint64_t allocs = rep[0], dur_ns = rep[1];
	assert_true(allocs > 10);

	/* The names in the chain, in order; the parent's model of the collection. */
	static char names[ITERATIONS + 8][32];
	static int iter_of[ITERATIONS + 8];
	uint32_t nb = 2;
	snprintf(names[0], sizeof names[0], "base");
	snprintf(names[1], sizeof names[1], "inc-0");
	iter_of[1] = 0;

	rng_state = 20240101;
	int committed = 0, rolled_back = 0, by_delay = 0, by_alloc = 0;
	uint64_t t_start = now_ns();
	for (int i = 1; i <= ITERATIONS; i++) {
		int mode = i % 2; /* 0: kill after a delay; 1: kill at an allocation */
		uint64_t delay_us = 0;
		int64_t kill_at = -1;
		if (mode == 0) {
			uint64_t span = dur_ns / 1000 + 1;
			/* a third of the delays aim at the commit (the last quarter of the run) */
			delay_us = i % 3 == 0 ? span * 3 / 4 + rng() % (span / 3 + 1) : rng() % (span * 5 / 4 + 1);
			if (i == 2)
				delay_us = 0;
		} else {
			/* mostly within the run; a few past its end (the child then commits) */
			kill_at = (int64_t)(rng() % (allocs + allocs / 10 + 1));
		}
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child_add(s->coll, i, kill_at, -1));
		if (mode == 0) {
			if (delay_us)
				usleep((useconds_t)delay_us);
			kill(pid, SIGKILL);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status)) {
			/* It finished before the signal: it must have committed. */
			if (WEXITSTATUS(status) != 0)
				fail_msg("iteration %d: child failed at step %d", i, WEXITSTATUS(status));
		} else {
			assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
			if (mode == 0)
				by_delay++;
			else
				by_alloc++;
		}

		/* The collection opens, verifies, and holds the old chain (+ exactly inc-i). */
		if (irs_collection_open(s->coll, NULL, IRS_OPEN_VERIFY_CRC, &c, &err) != 0)
			fail_msg("iteration %d (mode %d, delay %llu us, alloc %lld): open: %s", i, mode,
				 (unsigned long long)delay_us, (long long)kill_at, err.message);
		if (irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err) != 0)
			fail_msg("iteration %d: verify_data: %s", i, err.message);
		uint32_t n = irs_collection_backup_count(c);
		if (n != nb && n != nb + 1)
			fail_msg("iteration %d: %u backups, want %u or %u", i, n, nb, nb + 1);
		for (uint32_t b = 0; b < nb; b++) {
			irs_backup_info bi;
			assert_int_equal(irs_collection_backup(c, b, &bi), 0);
			assert_string_equal(bi.name, names[b]);
		}
		if (n == nb + 1) {
			irs_backup_info bi;
			assert_int_equal(irs_collection_backup(c, nb, &bi), 0);
			snprintf(names[nb], sizeof names[nb], "inc-%d", i);
			assert_string_equal(bi.name, names[nb]);
			assert_int_equal(bi.records, CHANGES);
			assert_int_equal(bi.seq, nb + 1);
			assert_string_equal(bi.parent, names[nb - 1]);
			iter_of[nb] = i;
			check_backup_content(c, nb, i);
			nb++;
			committed++;
		} else {
			rolled_back++;
		}
		irs_collection_close(c);
	}
	uint64_t elapsed_ms = (now_ns() - t_start) / 1000000;

	/* Every committed backup still reads back exactly. */
	if (irs_collection_open(s->coll, NULL, IRS_OPEN_VERIFY_CRC, &c, &err) != 0)
		fail_msg("%s", err.message);
	for (uint32_t b = 1; b < nb; b++)
		check_backup_content(c, b, iter_of[b]);
	irs_collection_close(c);

	/* One more add succeeds (the lock of a killed writer is gone) and cleans up. */
	if (irs_collection_open(s->coll, NULL, 0, &c, &err) != 0)
		fail_msg("%s", err.message);
	if (irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "final", &o, &w, &err) != 0)
		fail_msg("final add: %s", err.message);
	change ch;
	irs_value row[4];
	content(1000, 1, &ch);
	to_row(&ch, row);
	if (irs_backup_writer_upsert(w, 0, row, 1, &err) != 0 || irs_backup_writer_commit(w, &err) != 0)
		fail_msg("final add: %s", err.message);
	assert_int_equal(irs_collection_backup_count(c), nb + 1);
	if (irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err) != 0)
		fail_msg("%s", err.message);
	irs_collection_close(c);
	assert_clean(s->coll);

	/* The test exercised both outcomes and both kinds of kill. */
	print_message("crash: %d committed, %d rolled back (%d killed by delay, %d at an allocation; "
		      "one add = %llu allocations, %.1f ms), %llu ms\n",
		      committed, rolled_back, by_delay, by_alloc, (unsigned long long)allocs,
		      dur_ns / 1e6, (unsigned long long)elapsed_ms);
	assert_true(rolled_back >= 5);
	assert_true(committed >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_during_add, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
