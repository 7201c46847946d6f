/*
 * test_read.c: reading a restore: ordered cursors with ranges, partition cursors,
 * batched gets, point gets, from one thread and from many at once.
 *
 * REFERENCE: irs_restore_scan, which the differential test (test_restore.c) checks
 * against SQLite at every barrier. Here every other read must agree with it: the same
 * rows (compared value by value, doubles bitwise), and in key order by a typed
 * comparison written independently of the key encoding (test_cmp_keys below).
 *
 * DATA: two tables restored with 3 shards: `t` (uint64 key; 3000 rows and two
 * incrementals of updates, inserts and erases) and `c`, whose key (k bytes, n int32,
 * x double) mixes empty strings, strings with 0x00 bytes and prefixes of each other,
 * negative numbers, -0.0 and +0.0, the infinities and NaN.
 *
 * THREADS: 6 threads start together on a fresh restore (so they race to sort the same
 * partitions) and each runs every kind of read; then the same inside a barrier callback.
 * Workers record failures; the main thread asserts (cmocka asserts on its own thread
 * only). The tsan preset runs this under ThreadSanitizer.
 *
 * AT MOST ONCE: r->order.sorts counts partition sorts: none before an ordered read,
 * one per non-empty partition after any number of them, at every barrier.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/restore.h"
#include "test_collections.h"

#define NTHREADS 6
#define SHARDS 3

static char dir[256];

/* ------------------------------------------------------------------ data */

static const irs_column_def t_cols[] = {
	{"id", IRS_TYPE_UINT64}, {"a", IRS_TYPE_INT64}, {"s", IRS_TYPE_UTF8}, {"d", IRS_TYPE_DOUBLE}};
static const uint32_t t_pk[] = {0};
/* The key in another order than the columns: (k, n, x). */
static const irs_column_def c_cols[] = {
	{"v", IRS_TYPE_UTF8}, {"x", IRS_TYPE_DOUBLE}, {"n", IRS_TYPE_INT32}, {"k", IRS_TYPE_BYTES}};
static const uint32_t c_pk[] = {3, 2, 1};

static const char *const kstr[] = {"", "a", "a\0", "a\0b", "ab", "b", "\0"};
static const size_t klen[] = {0, 1, 2, 3, 2, 1, 1};
#define NK 7
static const double xs[] = {-INFINITY, -1.5, -0.0, 0.0, 2.5, INFINITY, NAN};
#define NX 7

static char sbuf[64];

static void t_row(irs_value *row, uint64_t id, uint64_t *rng, bool full)
{
	row[0] = tu_u64(id * 0x9E3779B97F4A7C15ull);
	uint64_t x = tu_rand(rng);
	row[1] = x % 7 == 0 ? tu_null() : tu_i64((int64_t)x);
	int n = snprintf(sbuf, sizeof sbuf, "s%llu", (unsigned long long)(x % 9973));
	row[2] = tu_bytes(sbuf, (size_t)n);
	row[3] = !full && x % 5 == 0 ? tu_absent() : tu_dbl((double)(int64_t)(x >> 12) / 3.0);
}

static void c_row(irs_value *row, uint32_t id, uint64_t *rng)
{
	uint32_t k = id % NK, n = id / NK % 5, xi = id / NK / 5 % NX;
	row[3] = tu_bytes(kstr[k], klen[k]);
	row[2] = tu_i64((int32_t)n - 2);
	row[1] = tu_dbl(xs[xi]);
	uint64_t x = tu_rand(rng);
	int len = snprintf(sbuf, sizeof sbuf, "v%llu", (unsigned long long)(x % 100));
	row[0] = x % 4 == 0 ? tu_null() : tu_bytes(sbuf, (size_t)len);
}

static void write_backup(irs_collection *c, int b)
{
	irs_error err;
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.no_sync = 1;
	wo.batch_rows = 97;
	irs_backup_writer *w;
	char name[16];
	snprintf(name, sizeof name, "b%d", b);
	assert_int_equal(irs_backup_writer_begin(c, b ? IRS_BACKUP_INCREMENTAL : IRS_BACKUP_FULL, name, &wo,
						 &w, &err),
			 0);
	uint64_t rng = 1000 + (uint64_t)b;
	irs_value row[4];
	uint32_t n = b ? 700 : 3000;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = b ? tu_rand_below(&rng, 3500) : i;
		if (b && tu_rand_below(&rng, 5) == 0) {
			t_row(row, id, &rng, false);
			assert_int_equal(irs_backup_writer_erase(w, 0, row, i + 1, &err), 0);
		} else {
			t_row(row, id, &rng, b == 0);
			assert_int_equal(irs_backup_writer_upsert(w, 0, row, i + 1, &err), 0);
		}
	}
	uint32_t nc = NK * 5 * NX;
	for (uint32_t id = 0; id < nc; id++) {
		if (b && tu_rand_below(&rng, 3))
			continue;
		c_row(row, id, &rng);
		if (b == 2 && id % 11 == 0)
			assert_int_equal(irs_backup_writer_erase(w, 1, row, id + 1, &err), 0);
		else if (b == 0 && id % 6 == 0)
			continue; /* some keys only arrive later */
		else
			assert_int_equal(irs_backup_writer_upsert(w, 1, row, id + 1, &err), 0);
	}
	if (irs_backup_writer_commit(w, &err) != 0)
		fail_msg("%s", err.message);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/irs_test_read_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	strcat(dir, "/c");
	irs_table_def defs[2] = {
		{"t", t_cols, 4, t_pk, 1},
		{"c", c_cols, 4, c_pk, 3},
	};
	irs_error err;
	if (irs_collection_create(dir, defs, 2, &err) != 0)
		return -1;
	irs_collection *c;
	if (irs_collection_open(dir, NULL, 0, &c, &err) != 0)
		return -1;
	for (int b = 0; b < 3; b++)
		write_backup(c, b);
	irs_collection_close(c);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	gen_rmrf(dir);
	return 0;
}

/* ------------------------------------------------------------------ typed comparisons */

static int cmp_double(double a, double b)
{
	uint64_t ab, bb;
	memcpy(&ab, &a, 8);
	memcpy(&bb, &b, 8);
	bool an = isnan(a), bn = isnan(b);
	if (an || bn) {
		/* NaN after everything (these are all positive NaNs), by bits among NaNs */
		if (an && bn)
			return ab < bb ? -1 : ab > bb;
		return an ? 1 : -1;
	}
	if (a < b)
		return -1;
	if (a > b)
		return 1;
	return signbit(a) == signbit(b) ? 0 : signbit(a) ? -1 : 1; /* -0 < +0 */
}

static int cmp_value(irs_type ty, const irs_value *a, const irs_value *b)
{
	switch (ty) {
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64: return a->v.u64 < b->v.u64 ? -1 : a->v.u64 > b->v.u64;
	case IRS_TYPE_DOUBLE: return cmp_double(a->v.d, b->v.d);
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES: {
		size_t n = a->v.s.len < b->v.s.len ? a->v.s.len : b->v.s.len;
		int c = n ? memcmp(a->v.s.ptr, b->v.s.ptr, n) : 0;
		if (c)
			return c < 0 ? -1 : 1;
		return a->v.s.len < b->v.s.len ? -1 : a->v.s.len > b->v.s.len;
	}
	case IRS_TYPE_BOOL: return (a->v.b > b->v.b) - (a->v.b < b->v.b);
	default: return a->v.i64 < b->v.i64 ? -1 : a->v.i64 > b->v.i64;
	}
}

/*
 * Typed comparison of row a's key with bound b, which may set only its first `kb` key
 * columns (a prefix): a key extending the prefix compares greater.
 */
static int test_cmp_keys(const irs_table_def *d, const irs_value *a, const irs_value *b, uint32_t kb)
{
	for (uint32_t k = 0; k < kb; k++) {
		uint32_t col = d->primary_key[k];
		int c = cmp_value(d->columns[col].type, &a[col], &b[col]);
		if (c)
			return c;
	}
	return kb < d->primary_key_count ? 1 : 0;
}

static bool same_value(irs_type ty, const irs_value *a, const irs_value *b)
{
	if (a->state != b->state)
		return false;
	if (a->state != IRS_VALUE_SET)
		return true;
	if (ty == IRS_TYPE_DOUBLE)
		return memcmp(&a->v.d, &b->v.d, 8) == 0;
	return cmp_value(ty, a, b) == 0;
}

/* ------------------------------------------------------------------ reference rows */

/* A copy of a table's rows in scan order, strings copied. */
typedef struct rowset {
	uint32_t ncols;
	size_t n, cap;
	irs_value *v;            /* n * ncols */
	char **strs;             /* owned copies, one per string value */
	size_t nstrs;
} rowset;

/* Appends a row; the caller copies its strings (collect). */
static void rowset_add(rowset *s, const irs_value *row)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * s->ncols * sizeof(irs_value));
		s->strs = realloc(s->strs, s->cap * s->ncols * sizeof(char *));
	}
	memcpy(s->v + s->n * s->ncols, row, s->ncols * sizeof(irs_value));
	s->n++;
}

static void rowset_free(rowset *s)
{
	for (size_t i = 0; i < s->nstrs; i++)
		free(s->strs[i]);
	free(s->strs);
	free(s->v);
	memset(s, 0, sizeof *s);
}

typedef struct collect_ctx {
	rowset *s;
	const irs_table_def *d;
} collect_ctx;

/* Copies strings at once: scan rows are valid during the callback only. */
static int collect(void *ctx, const irs_value *row)
{
	collect_ctx *x = ctx;
	rowset_add(x->s, row);
	irs_value *v = x->s->v + (x->s->n - 1) * x->s->ncols;
	for (uint32_t c = 0; c < x->s->ncols; c++) {
		irs_type ty = x->d->columns[c].type;
		if ((ty != IRS_TYPE_UTF8 && ty != IRS_TYPE_BYTES) || v[c].state != IRS_VALUE_SET)
			continue;
		char *p = malloc(v[c].v.s.len + 1);
		memcpy(p, v[c].v.s.ptr, v[c].v.s.len);
		v[c].v.s.ptr = p;
		x->s->strs[x->s->nstrs++] = p;
	}
	return 0;
}

typedef struct tables {
	irs_table_def def[2];
	rowset ref[2];           /* scan of each table */
} tables;

static void tables_load(tables *T, const irs_collection *c, const irs_restore *r)
{
	for (uint32_t t = 0; t < 2; t++) {
		irs_collection_table(c, t, &T->def[t]);
		T->ref[t] = (rowset){.ncols = T->def[t].column_count};
		collect_ctx x = {&T->ref[t], &T->def[t]};
		irs_error err;
		if (irs_restore_scan(r, t, collect, &x, &err) != 0)
			fail_msg("scan: %s", err.message);
	}
}

static void tables_free(tables *T)
{
	for (uint32_t t = 0; t < 2; t++)
		rowset_free(&T->ref[t]);
}

/* ------------------------------------------------------------------ the checks (any thread) */

typedef struct failure {
	char why[400];
	int failed;
} failure;

static void failf(failure *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(failure *f, const char *fmt, ...)
{
	if (f->failed++)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof f->why, fmt, ap);
	va_end(ap);
}

static bool same_row(const irs_table_def *d, const irs_value *a, const irs_value *b)
{
	for (uint32_t c = 0; c < d->column_count; c++)
		if (!same_value(d->columns[c].type, &a[c], &b[c]))
			return false;
	return true;
}

/* The reference itself is in strictly increasing typed key order. */
static void check_ref_order(const tables *T, uint32_t t, failure *f)
{
	const rowset *s = &T->ref[t];
	for (size_t i = 1; i < s->n; i++)
		if (test_cmp_keys(&T->def[t], s->v + (i - 1) * s->ncols, s->v + i * s->ncols,
				  T->def[t].primary_key_count) >= 0)
			failf(f, "table %s: scan rows %zu and %zu are not in key order", T->def[t].name, i - 1, i);
}

/* An ordered cursor over [lo, hi) (bounds with klo/khi key columns set; NULL = none)
 * gives exactly the reference rows in that range, in order. */
static void check_range(const irs_restore *r, const tables *T, uint32_t t, const irs_value *lo, uint32_t klo,
			const irs_value *hi, uint32_t khi, failure *f)
{
	const irs_table_def *d = &T->def[t];
	const rowset *s = &T->ref[t];
	irs_cursor *cur;
	irs_error err;
	if (irs_restore_cursor_open(r, t, lo, hi, &cur, &err) != 0) {
		failf(f, "cursor_open: %s", err.message);
		return;
	}
	irs_value row[8];
	size_t i = 0;
	/* the first reference row in range */
	while (i < s->n && lo && test_cmp_keys(d, s->v + i * s->ncols, lo, klo) < 0)
		i++;
	int rc;
	while ((rc = irs_cursor_next(cur, row, &err)) == 1) {
		const irs_value *want = s->v + i * s->ncols;
		if (i >= s->n || (hi && test_cmp_keys(d, want, hi, khi) >= 0)) {
			failf(f, "table %s: the cursor gives a row past the range (reference row %zu)", d->name, i);
			break;
		}
		if (!same_row(d, row, want)) {
			failf(f, "table %s: cursor row differs from reference row %zu", d->name, i);
			break;
		}
		i++;
	}
	if (rc < 0)
		failf(f, "cursor_next: %s", err.message);
	else if (!f->failed && i < s->n && (!hi || test_cmp_keys(d, s->v + i * s->ncols, hi, khi) < 0))
		failf(f, "table %s: the cursor stopped before reference row %zu of %zu (bounds %u/%u)", d->name, i,
		      s->n, klo, khi);
	irs_cursor_close(cur);
}

/* Bounds from reference rows: whole keys, prefixes of them, and keys between rows. */
static void check_ranges(const irs_restore *r, const tables *T, uint32_t t, uint64_t seed, int rounds,
			 failure *f)
{
	const irs_table_def *d = &T->def[t];
	const rowset *s = &T->ref[t];
	check_range(r, T, t, NULL, 0, NULL, 0, f);
	for (int i = 0; i < rounds && !f->failed; i++) {
		irs_value lo[8], hi[8];
		for (uint32_t c = 0; c < d->column_count; c++)
			lo[c] = hi[c] = tu_absent();
		size_t a = tu_rand_below(&seed, s->n), b = tu_rand_below(&seed, s->n);
		if (a > b) {
			size_t x = a;
			a = b;
			b = x;
		}
		uint32_t klo = 1 + (uint32_t)tu_rand_below(&seed, d->primary_key_count);
		uint32_t khi = 1 + (uint32_t)tu_rand_below(&seed, d->primary_key_count);
		for (uint32_t k = 0; k < klo; k++)
			lo[d->primary_key[k]] = s->v[a * s->ncols + d->primary_key[k]];
		for (uint32_t k = 0; k < khi; k++)
			hi[d->primary_key[k]] = s->v[b * s->ncols + d->primary_key[k]];
		if (t == 0 && i % 3 == 0)
			lo[0].v.u64 += 1; /* between two keys, usually */
		int shape = i % 4;
		check_range(r, T, t, shape == 1 ? NULL : lo, klo, shape == 2 ? NULL : hi, khi, f);
		/* reversed: empty */
		if (shape == 0)
			check_range(r, T, t, hi, khi, lo, klo, f);
	}
}

/* The partitions hold the reference rows exactly once each. */
static void check_partitions(const irs_restore *r, const tables *T, uint32_t t, failure *f)
{
	const irs_table_def *d = &T->def[t];
	const rowset *s = &T->ref[t];
	uint32_t np = irs_restore_partition_count(r);
	if (np != SHARDS)
		failf(f, "partition_count %u", np);
	uint8_t *seen = calloc(s->n ? s->n : 1, 1);
	size_t total = 0;
	irs_error err;
	for (uint32_t p = 0; p < np && !f->failed; p++) {
		irs_cursor *cur;
		if (irs_restore_cursor_open_partition(r, t, p, &cur, &err) != 0) {
			failf(f, "open_partition: %s", err.message);
			break;
		}
		irs_value row[8];
		int rc;
		while ((rc = irs_cursor_next(cur, row, &err)) == 1) {
			/* binary search in the ordered reference */
			size_t lo = 0, hi = s->n;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (test_cmp_keys(d, s->v + mid * s->ncols, row, d->primary_key_count) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo == s->n || !same_row(d, row, s->v + lo * s->ncols)) {
				failf(f, "table %s partition %u: a row the reference lacks", d->name, p);
				break;
			}
			if (seen[lo]++)
				failf(f, "table %s: row %zu in two partitions", d->name, lo);
			total++;
		}
		if (rc < 0)
			failf(f, "cursor_next: %s", err.message);
		irs_cursor_close(cur);
	}
	if (!f->failed && total != s->n)
		failf(f, "table %s: partitions hold %zu rows, the scan %zu", d->name, total, s->n);
	free(seen);
}

/* Batched and point gets of every reference key, and of keys that are absent. */
static void check_gets(const irs_restore *r, const tables *T, uint32_t t, failure *f)
{
	const irs_table_def *d = &T->def[t];
	const rowset *s = &T->ref[t];
	size_t n = s->n + s->n / 4 + 1, nc = s->ncols;
	irs_value *keys = calloc(n * nc, sizeof(irs_value));
	irs_value *rows = calloc(n * nc, sizeof(irs_value));
	uint8_t *found = calloc(n, 1);
	uint8_t *want = calloc(n, 1);
	uint64_t rng = 77 + t;
	for (size_t i = 0; i < n; i++) {
		if (i < s->n) {
			memcpy(keys + i * nc, s->v + i * nc, nc * sizeof(irs_value));
			want[i] = 1;
		} else {
			/* a key no row has: the uint64 key + 1, or a k value not in kstr */
			memcpy(keys + i * nc, s->v + tu_rand_below(&rng, s->n) * nc, nc * sizeof(irs_value));
			if (t == 0)
				keys[i * nc].v.u64 = tu_rand(&rng) | 1; /* written ids are multiples of an odd constant: rarely */
			else
				keys[i * nc + 3] = tu_bytes("zz", 2);
			/* the reference decides */
			size_t lo = 0, hi = s->n;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (test_cmp_keys(d, s->v + mid * nc, keys + i * nc, d->primary_key_count) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			want[i] = lo < s->n && test_cmp_keys(d, s->v + lo * nc, keys + i * nc, d->primary_key_count) == 0;
		}
	}
	irs_error err;
	if (irs_restore_get_batch(r, t, keys, n, rows, found, &err) != 0) {
		failf(f, "get_batch: %s", err.message);
		goto out;
	}
	for (size_t i = 0; i < n && !f->failed; i++) {
		if (found[i] != want[i]) {
			failf(f, "table %s key %zu: found %d, want %d", d->name, i, found[i], want[i]);
			break;
		}
		if (!found[i]) {
			for (uint32_t c = 0; c < nc; c++)
				if (rows[i * nc + c].state != IRS_VALUE_ABSENT)
					failf(f, "table %s key %zu: a missing row's column %u is not ABSENT", d->name, i, c);
			if (irs_restore_get(r, t, keys + i * nc, rows + i * nc, &err) != IRS_ENOTFOUND)
				failf(f, "table %s key %zu: get finds a row batch get does not", d->name, i);
			continue;
		}
		if (i < s->n && !same_row(d, rows + i * nc, s->v + i * nc))
			failf(f, "table %s key %zu: batch get row differs from the scan", d->name, i);
		irs_value one[8];
		if (irs_restore_get(r, t, keys + i * nc, one, &err) != 0 || !same_row(d, one, rows + i * nc))
			failf(f, "table %s key %zu: get and batch get differ", d->name, i);
		/* key columns come back as the caller's own values */
		for (uint32_t k = 0; k < d->primary_key_count; k++) {
			uint32_t col = d->primary_key[k];
			irs_type ty = d->columns[col].type;
			if ((ty == IRS_TYPE_UTF8 || ty == IRS_TYPE_BYTES) &&
			    one[col].v.s.ptr != keys[i * nc + col].v.s.ptr)
				failf(f, "table %s key %zu: get's key column %u is not the caller's", d->name, i, col);
		}
	}
out:
	free(keys);
	free(rows);
	free(found);
	free(want);
}

static void check_all(const irs_restore *r, const tables *T, uint64_t seed, failure *f)
{
	for (uint32_t t = 0; t < 2 && !f->failed; t++) {
		check_ranges(r, T, t, seed + t, 40, f);
		check_partitions(r, T, t, f);
		check_gets(r, T, t, f);
	}
}

/* ------------------------------------------------------------------ threads */

typedef struct worker {
	pthread_t th;
	const irs_restore *r;
	const tables *T;
	pthread_barrier_t *start;
	uint64_t seed;
	failure f;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	pthread_barrier_wait(w->start);
	/* Half the threads begin with ordered reads (racing to sort), half with the others. */
	if (w->seed % 2) {
		check_all(w->r, w->T, w->seed, &w->f);
	} else {
		for (uint32_t t = 0; t < 2 && !w->f.failed; t++) {
			check_gets(w->r, w->T, t, &w->f);
			check_partitions(w->r, w->T, t, &w->f);
			check_ranges(w->r, w->T, t, w->seed + t, 40, &w->f);
		}
	}
	return NULL;
}

/* Runs NTHREADS workers on r at once; returns the first failure's text or NULL. */
static const char *run_workers(const irs_restore *r, const tables *T, worker *w)
{
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (worker){.r = r, .T = T, .start = &start, .seed = 100 + (uint64_t)i};
		pthread_create(&w[i].th, NULL, work, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i].th, NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < NTHREADS; i++)
		if (w[i].f.failed)
			return w[i].f.why;
	return NULL;
}

static uint64_t nonempty_parts_of(const irs_restore *r, uint32_t t)
{
	uint64_t n = 0;
	for (uint32_t s = 0; s < r->pool.nshards; s++)
		n += r->pool.shards[s].parts[t] && irs__part_count(r->pool.shards[s].parts[t]) > 0;
	return n;
}

static uint64_t nonempty_parts(const irs_restore *r)
{
	return nonempty_parts_of(r, 0) + nonempty_parts_of(r, 1);
}

/* ------------------------------------------------------------------ tests */

static irs_restore *restore_cancellable(irs_collection **c, irs_barrier_fn fn, void *ctx,
					volatile int *cancel)
{
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, c, &err), 0);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = SHARDS;
	o.barrier = fn;
	o.barrier_ctx = ctx;
	o.cancel = cancel;
	irs_restore *r = NULL;
	if (irs_restore_run(*c, &o, NULL, &r, &err) != 0)
		fail_msg("%s", err.message);
	return r;
}

static irs_restore *restore_all(irs_collection **c, irs_barrier_fn fn, void *ctx)
{
	return restore_cancellable(c, fn, ctx, NULL);
}

/* One thread: every read against the scan, and the order computed once. */
static void test_reads_one_thread(void **state)
{
	(void)state;
	irs_collection *c;
	irs_restore *r = restore_all(&c, NULL, NULL);
	assert_int_equal(r->order.sorts, 0); /* nobody asked for an order yet */
	tables T;
	tables_load(&T, c, r);
	assert_int_equal(irs_restore_row_count(r, 1), T.ref[1].n);
	assert_true(T.ref[0].n > 2000 && T.ref[1].n > 100);
	uint64_t sorted = r->order.sorts;
	assert_int_equal(sorted, nonempty_parts(r));
	failure f = {0};
	check_ref_order(&T, 0, &f);
	check_ref_order(&T, 1, &f);
	check_all(r, &T, 1, &f);
	if (f.failed)
		fail_msg("%s", f.why);
	/* ordered reads, scans and an export later: still sorted once */
	char path[300];
	snprintf(path, sizeof path, "%s.jsonl", dir);
	irs_error err;
	assert_int_equal(irs_restore_export(r, IRS_EXPORT_JSONL, 1, path, &err), 0);
	unlink(path);
	assert_int_equal(r->order.sorts, sorted);
	tables_free(&T);
	irs_restore_free(r);
	irs_collection_close(c);
}

static void test_reads_many_threads(void **state)
{
	(void)state;
	irs_collection *c;
	irs_restore *r = restore_all(&c, NULL, NULL);
	tables T;
	/* the reference from a second restore, so the workers' restore starts unsorted */
	irs_collection *c2;
	irs_restore *r2 = restore_all(&c2, NULL, NULL);
	tables_load(&T, c2, r2);
	worker w[NTHREADS];
	const char *why = run_workers(r, &T, w);
	if (why)
		fail_msg("%s", why);
	assert_int_equal(r->order.sorts, nonempty_parts(r));
	tables_free(&T);
	irs_restore_free(r2);
	irs_collection_close(c2);
	irs_restore_free(r);
	irs_collection_close(c);
}

/* The restore's cancel flag, set once it is done, stops every export before it sorts
 * (a sort of many rows takes seconds), with the export's message and no file; reads
 * through the public API do not read the flag and sort as before. */
static void test_export_cancelled_before_sorting(void **state)
{
	(void)state;
	volatile int cancel = 0;
	irs_collection *c;
	irs_restore *r = restore_cancellable(&c, NULL, NULL, &cancel);
	__atomic_store_n(&cancel, 1, __ATOMIC_RELAXED);
	static const irs_export_format formats[] = {IRS_EXPORT_JSONL, IRS_EXPORT_CSV, IRS_EXPORT_SQLITE,
						    IRS_EXPORT_COLLECTION};
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		char path[300], want[400];
		snprintf(path, sizeof path, "%s.cancelled-%zu", dir, i);
		snprintf(want, sizeof want, "cancelled while writing %s; it was left as it was", path);
		irs_error err;
		assert_int_equal(irs_restore_export(r, formats[i], 1, path, &err), IRS_ECANCELED);
		assert_string_equal(err.message, want);
		assert_int_equal(access(path, F_OK), -1);
		assert_int_equal(r->order.sorts, 0);
	}
	irs_cursor *cur;
	irs_error err;
	assert_int_equal(irs_restore_cursor_open(r, 1, NULL, NULL, &cur, &err), 0);
	irs_cursor_close(cur);
	assert_int_equal(r->order.sorts, nonempty_parts_of(r, 1));
	irs_restore_free(r);
	irs_collection_close(c);
}

typedef struct at_barrier {
	int barriers;
	uint64_t sorts_before;   /* r->order.sorts when the callback started */
	uint64_t sorts_after;
	uint64_t parts;
	char why[400];
} at_barrier;

/* At each barrier: a reference scan, then workers on every read at once. Records. */
static int on_barrier(void *ctx, irs_restore *r, uint32_t b)
{
	at_barrier *x = ctx;
	x->barriers++;
	if (x->why[0])
		return 0;
	uint64_t before = r->order.sorts;
	tables T;
	/* irs_restore_scan; tables_load asserts only on a scan error, which fails anyway */
	tables_load(&T, r->c, r);
	worker w[NTHREADS];
	const char *why = run_workers(r, &T, w);
	if (why)
		snprintf(x->why, sizeof x->why, "after backup %u: %s", b, why);
	else if (r->order.sorts - before != nonempty_parts(r))
		snprintf(x->why, sizeof x->why, "after backup %u: %llu sorts for %llu partitions", b,
			 (unsigned long long)(r->order.sorts - before), (unsigned long long)nonempty_parts(r));
	tables_free(&T);
	return 0;
}

static void test_reads_at_barriers(void **state)
{
	(void)state;
	at_barrier x = {0};
	irs_collection *c;
	irs_restore *r = restore_all(&c, on_barrier, &x);
	if (x.why[0])
		fail_msg("%s", x.why);
	assert_int_equal(x.barriers, 3);
	irs_restore_free(r);
	irs_collection_close(c);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	irs_collection *c;
	irs_restore *r = restore_all(&c, NULL, NULL);
	irs_error err;
	irs_cursor *cur = (irs_cursor *)&err;
	irs_value b[4] = {tu_absent(), tu_absent(), tu_absent(), tu_absent()};
	/* table c's key is (k, n, x): columns 3, 2, 1 */
	b[2] = tu_i64(1); /* n set while k (first in key order) is absent */
	assert_int_equal(irs_restore_cursor_open(r, 1, b, NULL, &cur, &err), IRS_EINVAL);
	assert_null(cur);
	assert_non_null(strstr(err.message, "lower bound, key column n: set after an absent one"));
	b[3] = tu_str("a");
	b[2] = tu_null();
	assert_int_equal(irs_restore_cursor_open(r, 1, NULL, b, &cur, &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "upper bound, key column n: NULL"));
	b[2] = tu_i64(INT64_MAX); /* out of int32 range */
	assert_int_equal(irs_restore_cursor_open(r, 1, b, NULL, &cur, &err), IRS_EINVAL);
	assert_int_equal(irs_restore_cursor_open(r, 2, NULL, NULL, &cur, &err), IRS_EINVAL);
	assert_int_equal(irs_restore_cursor_open_partition(r, 0, SHARDS, &cur, &err), IRS_EINVAL);
	assert_null(cur);
	/* an empty-prefix bound: lo = everything, hi = nothing */
	irs_value none[4] = {tu_absent(), tu_absent(), tu_absent(), tu_absent()};
	assert_int_equal(irs_restore_cursor_open(r, 1, NULL, none, &cur, &err), 0);
	irs_value row[4];
	assert_int_equal(irs_cursor_next(cur, row, &err), 0);
	irs_cursor_close(cur);
	/* batch get: the first bad key is named */
	irs_value keys[3 * 4];
	for (int i = 0; i < 3; i++) {
		keys[i * 4 + 0] = tu_u64(1);
		keys[i * 4 + 1] = keys[i * 4 + 2] = keys[i * 4 + 3] = tu_absent();
	}
	keys[2 * 4 + 0] = tu_null();
	irs_value rows[3 * 4];
	assert_int_equal(irs_restore_get_batch(r, 0, keys, 3, rows, NULL, &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "key 2: key column id: not set"));
	assert_int_equal(irs_restore_get_batch(r, 0, keys, 0, NULL, NULL, &err), 0);
	irs_restore_free(r);
	irs_collection_close(c);
}

int main(void)
{
	wd_arm("test_read", 600);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_one_thread),
		cmocka_unit_test(test_reads_many_threads),
		cmocka_unit_test(test_reads_at_barriers),
		cmocka_unit_test(test_export_cancelled_before_sorting),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
