/*
 * test_diff.c: irs_collection_diff, the net changes between two backups.
 *
 * AGAINST A MODEL: a chain of 12 backups (full, incrementals, a full at 5 and 9 holding
 * fresh rows) of two tables with every column type, small key spaces and small value
 * domains, so keys are erased and re-inserted, partial updates are overwritten later,
 * and rows change and change back. For every pair from <= to the diff (1..4 shards) must
 * equal what two whole restores compared row by row give: per table, in key order, an
 * upsert of B's row for every row new or different at B, an erase for every row gone.
 * The stats say whether whole tables were compared (a full in (from, to]).
 *
 * SQUASHED: for a third of the pairs (among them every kind: from = a base full, a full
 * in between, from before the base of to) the restore up to `from` is exported as a
 * collection, the diff is added to it as one incremental with the backup writer, and
 * the restore of that collection must equal the state at `to`: row count, digest and
 * every row.
 *
 * BY HAND: a chain where a row changes and changes back, a row is erased and re-inserted
 * as it was, and a key is inserted and erased: only the row that really changed appears.
 *
 * FAILURES: from after to, unknown names, the callback's non-zero return, a damaged
 * frame in (from, to], the memory limit and a cancelled diff.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/digest.h"
#include "common/keycodec.h"
#include "format/collection.h"
#include "increstore.h"
#include "test_util.h"

#include "test_collections.h"

#define NB 12
#define MAXC 8

/* ------------------------------------------------------------------ the chain */

static const irs_column_def t_cols[] = {
	{"id", IRS_TYPE_UINT64}, {"a", IRS_TYPE_INT64},     {"s", IRS_TYPE_UTF8},   {"d", IRS_TYPE_DOUBLE},
	{"f", IRS_TYPE_BOOL},    {"b", IRS_TYPE_BYTES},     {"ts", IRS_TYPE_TIMESTAMP}, {"u", IRS_TYPE_UINT32},
};
static const irs_column_def k_cols[] = {
	{"k", IRS_TYPE_UTF8}, {"k2", IRS_TYPE_INT32}, {"v", IRS_TYPE_UINT64}, {"x", IRS_TYPE_INT32},
};
static const uint32_t t_pk[] = {0};
static const uint32_t k_pk[] = {0, 1};
static const irs_table_def defs[] = {
	{"t", t_cols, 8, t_pk, 1},
	{"k", k_cols, 4, k_pk, 2},
};
#define T_KEYS 300
#define K_KEYS 200

static const char *const strs[] = {"", "a", "a\"b\n", "\xc3\xa9t\xc3\xa9", "zzzz-long-value"};
static const char bytes_v[][4] = {{0}, {'\xff', 0, 'x'}, {'a', 'b'}};
static const size_t bytes_len[] = {1, 3, 2};

/* A value of column c (small domains: changes often repeat an earlier value). */
static irs_value gen_value(const irs_column_def *col, uint64_t *rng, char *buf)
{
	uint64_t x = tu_rand_below(rng, 5);
	switch (col->type) {
	case IRS_TYPE_BOOL: return tu_bool((int)(x & 1));
	case IRS_TYPE_INT32: return tu_i64((int64_t)x - 2);
	case IRS_TYPE_INT64: return tu_i64(x == 4 ? INT64_MIN : (int64_t)x << 61);
	case IRS_TYPE_UINT32: return tu_u64(x == 4 ? UINT32_MAX : x);
	case IRS_TYPE_UINT64: return tu_u64(x == 4 ? UINT64_MAX : x);
	case IRS_TYPE_DOUBLE: {
		static const double ds[] = {0.0, -0.0, 1.5, 1e300, -INFINITY};
		return tu_dbl(ds[x]);
	}
	case IRS_TYPE_TIMESTAMP: return tu_i64(x == 4 ? -62167219200000001ll : (int64_t)x * 1000003);
	case IRS_TYPE_UTF8: return tu_str(strs[x]);
	case IRS_TYPE_BYTES:
		memcpy(buf, bytes_v[x % 3], 4);
		return tu_bytes(buf, bytes_len[x % 3]);
	}
	return tu_null();
}

/* The key of table ti for key number id. */
static void gen_key(uint32_t ti, uint64_t id, irs_value *row, char *buf)
{
	if (ti == 0) {
		row[0] = tu_u64(id * 0x9E3779B97F4A7C15ull);
		return;
	}
	int n = snprintf(buf, 32, "k%llu", (unsigned long long)(id % 50));
	row[0] = tu_bytes(buf, (size_t)n);
	row[1] = tu_i64((int64_t)(id / 50) - 2);
}

static bool is_full(uint32_t b)
{
	return b == 0 || b == 5 || b == 9;
}

/* One backup: a full of fresh rows over a random part of the key space, or an
 * incremental of distinct keys (erases, whole and partial upserts, NULLs). */
static void gen_backup(irs_collection *c, uint32_t b, uint64_t *rng)
{
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.no_sync = 1;
	wo.batch_rows = 37;
	irs_backup_writer *w;
	irs_error err;
	char name[8];
	snprintf(name, sizeof name, "b%02u", b);
	bool full = is_full(b);
	if (irs_backup_writer_begin(c, full ? IRS_BACKUP_FULL : IRS_BACKUP_INCREMENTAL, name, &wo, &w, &err))
		fail_msg("begin %s: %s", name, err.message);
	for (uint32_t ti = 0; ti < 2; ti++) {
		const irs_table_def *d = &defs[ti];
		uint64_t space = ti == 0 ? T_KEYS : K_KEYS;
		uint64_t n = full ? space * 2 / 3 : 40 + tu_rand_below(rng, 40);
		uint64_t start = tu_rand_below(rng, space), stride = 1 + tu_rand_below(rng, space - 1);
		while (gen_gcd(stride, space) != 1)
			stride++;
		for (uint64_t i = 0; i < n; i++) {
			irs_value row[MAXC];
			char kbuf[32], vbuf[MAXC][4];
			gen_key(ti, (start + i * stride) % space, row, kbuf);
			for (uint32_t col = d->primary_key_count; col < d->column_count; col++) {
				uint64_t r = tu_rand_below(rng, 10);
				row[col] = r == 0 ? tu_null() : !full && r < 4 ? tu_absent()
									   : gen_value(&d->columns[col], rng, vbuf[col]);
			}
			int rc = !full && tu_rand_below(rng, 100) < 25 ? irs_backup_writer_erase(w, ti, row, i + 1, &err)
								      : irs_backup_writer_upsert(w, ti, row, i + 1, &err);
			if (rc)
				fail_msg("%s: %s", name, err.message);
		}
	}
	if (irs_backup_writer_commit(w, &err))
		fail_msg("commit %s: %s", name, err.message);
}

typedef struct fixture {
	char root[96];
	char dir[128];
	irs_collection *c;
} fixture;

static fixture fx;

static int setup(void **state)
{
	(void)state;
	wd_arm("setup (generating the chain)", 120);
	snprintf(fx.root, sizeof fx.root, "/tmp/irs_test_diff_XXXXXX");
	if (!mkdtemp(fx.root))
		return -1;
	snprintf(fx.dir, sizeof fx.dir, "%s/c", fx.root);
	irs_error err;
	if (irs_collection_create(fx.dir, defs, 2, &err) || irs_collection_open(fx.dir, NULL, 0, &fx.c, &err))
		return -1;
	uint64_t rng = 77;
	for (uint32_t b = 0; b < NB; b++)
		gen_backup(fx.c, b, &rng);
	wd_disarm();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	irs_collection_close(fx.c);
	gen_rmrf(fx.root);
	return 0;
}

/* ------------------------------------------------------------------ changes as lists */

typedef struct change {
	uint32_t table;
	irs_diff_op op;
	uint8_t key[128];
	size_t key_len;
	uint64_t digest;            /* of the whole row (upserts) */
} change;

typedef struct change_list {
	change *v;
	size_t n, cap;
	irs_backup_writer *w;       /* when set, changes also go to this writer */
	int writer_rc;
	int stop_after;             /* > 0: return 42 from this call on (tests the stop) */
	const irs_collection *c;    /* whose schema encodes the keys; NULL = fx.c */
} change_list;

static void list_add(change_list *l, uint32_t table, irs_diff_op op, const irs_value *row)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
	}
	change *c = &l->v[l->n++];
	const irs_schema_table *t = &(l->c ? l->c : fx.c)->tables[table];
	c->table = table;
	c->op = op;
	c->key_len = irs__key_encode(t, row, c->key, sizeof c->key);
	c->digest = op == IRS_DIFF_UPSERT ? irs__row_digest(t, row) : 0;
}

static int on_change(void *ctx, uint32_t table, irs_diff_op op, const irs_value *row)
{
	change_list *l = ctx;
	if (l->stop_after && (int)l->n + 1 >= l->stop_after)
		return 42;
	list_add(l, table, op, row);
	if (l->w && !l->writer_rc) {
		irs_error err;
		l->writer_rc = op == IRS_DIFF_UPSERT ? irs_backup_writer_upsert(l->w, table, row, l->n, &err)
						     : irs_backup_writer_erase(l->w, table, row, l->n, &err);
		if (l->writer_rc)
			print_message("writer: %s\n", err.message);
	}
	return 0;
}

/* ------------------------------------------------------------------ the model */

static irs_restore *restore_to(const irs_collection *c, uint32_t b, uint32_t shards)
{
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = shards;
	ro.upto = b == UINT32_MAX ? NULL : c->backups[b].pb->name;
	irs_restore *r = NULL;
	irs_error err;
	if (irs_restore_run(c, &ro, NULL, &r, &err))
		fail_msg("restore: %s", err.message);
	return r;
}

typedef struct model_ctx {
	uint32_t table;
	const irs_restore *other;   /* the state to look each row up in */
	bool upserts;               /* scanning `to`: rows new or different; else `from`: rows gone */
	change_list *out;
} model_ctx;

static int model_row(void *ctx, const irs_value *row)
{
	model_ctx *m = ctx;
	const irs_schema_table *t = &fx.c->tables[m->table];
	irs_value other[MAXC];
	irs_error err;
	bool found = irs_restore_get(m->other, m->table, row, other, &err) == 0;
	if (m->upserts && (!found || irs__row_digest(t, other) != irs__row_digest(t, row)))
		list_add(m->out, m->table, IRS_DIFF_UPSERT, row);
	if (!m->upserts && !found)
		list_add(m->out, m->table, IRS_DIFF_ERASE, row);
	return 0;
}

static int change_cmp(const void *a, const void *b)
{
	const change *x = a, *y = b;
	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	return irs__key_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* What the diff must give: two whole restores compared, sorted by table and key. */
static void model_diff(uint32_t from, uint32_t to, change_list *out)
{
	irs_restore *ra = restore_to(fx.c, from, 2), *rb = restore_to(fx.c, to, 3);
	for (uint32_t t = 0; t < 2; t++) {
		model_ctx up = {t, ra, true, out}, gone = {t, rb, false, out};
		irs_error err;
		assert_int_equal(irs_restore_scan(rb, t, model_row, &up, &err), 0);
		assert_int_equal(irs_restore_scan(ra, t, model_row, &gone, &err), 0);
	}
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, change_cmp);
	irs_restore_free(ra);
	irs_restore_free(rb);
}

static int run_diff(const irs_collection *c, const char *from, const char *to, uint32_t shards,
		    change_list *out, irs_diff_stats *st, irs_error *err)
{
	irs_diff_options o;
	irs_diff_options_init(&o, IRS_DIFF_OPTIONS_VERSION);
	o.shards = shards;
	return irs_collection_diff(c, from, to, &o, NULL, on_change, out, st, err);
}

/* ------------------------------------------------------------------ squashing */

/* The state at `from` exported as a collection, the diff added to it as one
 * incremental: its restore must be the state at `to`. */
static void check_squash(uint32_t from, uint32_t to)
{
	char dir[200];
	snprintf(dir, sizeof dir, "%s/sq-%u-%u", fx.root, from, to);
	irs_restore *ra = restore_to(fx.c, from, 2);
	irs_error err;
	if (irs_restore_export(ra, IRS_EXPORT_COLLECTION, 0, dir, &err))
		fail_msg("export: %s", err.message);
	irs_restore_free(ra);
	irs_collection *sq;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &sq, &err), 0);
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.no_sync = 1;
	wo.collapse_duplicates = 0; /* a diff names each key once */
	change_list l = {0};
	assert_int_equal(irs_backup_writer_begin(sq, IRS_BACKUP_INCREMENTAL, "squashed", &wo, &l.w, &err), 0);
	irs_diff_stats st;
	if (run_diff(fx.c, fx.c->backups[from].pb->name, fx.c->backups[to].pb->name, 2, &l, &st, &err))
		fail_msg("diff %u..%u: %s", from, to, err.message);
	assert_int_equal(l.writer_rc, 0);
	if (irs_backup_writer_commit(l.w, &err))
		fail_msg("commit squashed %u..%u: %s", from, to, err.message);
	irs_restore *rs = restore_to(sq, UINT32_MAX, 2), *rb = restore_to(fx.c, to, 2);
	for (uint32_t t = 0; t < 2; t++) {
		assert_int_equal(irs_restore_row_count(rs, t), irs_restore_row_count(rb, t));
		assert_int_equal(irs_restore_digest(rs, t), irs_restore_digest(rb, t));
		/* every row: the squashed state against the state at `to` */
		change_list diffs = {0};
		model_ctx up = {t, rb, true, &diffs};
		assert_int_equal(irs_restore_scan(rs, t, model_row, &up, &err), 0);
		assert_int_equal(diffs.n, 0);
		free(diffs.v);
	}
	irs_restore_free(rs);
	irs_restore_free(rb);
	irs_collection_close(sq);
	free(l.v);
	gen_rmrf(dir);
}

/* ------------------------------------------------------------------ tests */

static void test_diff_against_model(void **state)
{
	(void)state;
	wd_arm("test_diff_against_model", 600);
	int pair = 0, squashed = 0, whole = 0, touched = 0;
	for (uint32_t from = 0; from < NB; from++) {
		for (uint32_t to = from; to < NB; to++, pair++) {
			change_list want = {0}, got = {0};
			model_diff(from, to, &want);
			irs_diff_stats st;
			irs_error err;
			uint32_t shards = 1 + (uint32_t)pair % 4;
			if (run_diff(fx.c, fx.c->backups[from].pb->name, fx.c->backups[to].pb->name, shards, &got, &st,
				     &err))
				fail_msg("diff %u..%u: %s", from, to, err.message);
			if (got.n != want.n)
				fail_msg("diff b%02u..b%02u: %zu changes, the model %zu", from, to, got.n, want.n);
			for (size_t i = 0; i < got.n; i++) {
				const change *g = &got.v[i], *w = &want.v[i];
				if (g->table != w->table || g->op != w->op || g->key_len != w->key_len ||
				    memcmp(g->key, w->key, g->key_len) != 0 || g->digest != w->digest)
					fail_msg("diff b%02u..b%02u: change %zu differs from the model's", from, to, i);
			}
			size_t ups = 0;
			for (size_t i = 0; i < got.n; i++)
				ups += got.v[i].op == IRS_DIFF_UPSERT;
			assert_int_equal(st.upserts, ups);
			assert_int_equal(st.erases, got.n - ups);
			bool full_between = fx.c->backups[to].base > from;
			assert_int_equal(st.whole_tables, full_between ? 1 : 0);
			if (from == to)
				assert_int_equal(got.n, 0);
			if (from != to && !full_between)
				touched++;
			whole += full_between;
			/* every kind of pair is squashed, and a third of the rest */
			if (from != to && (pair % 3 == 0 || (from == 5 && to == 8) || (from == 2 && to == 10) ||
					   (from == 4 && to == 5))) {
				check_squash(from, to);
				squashed++;
			}
			free(want.v);
			free(got.v);
		}
	}
	print_message("  %d pairs: %d by touched keys, %d with a full between; %d squashed\n", pair, touched,
		      whole, squashed);
	assert_true(touched > 10 && whole > 10);
	wd_disarm();
}

/* A chain made by hand: only the row that really changed is in the diff. */
static void test_changed_back(void **state)
{
	(void)state;
	char dir[160];
	snprintf(dir, sizeof dir, "%s/byhand", fx.root);
	static const irs_column_def cols[] = {{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}, {"n", IRS_TYPE_INT64}};
	static const uint32_t pk[] = {0};
	irs_table_def def = {"h", cols, 3, pk, 1};
	irs_error err;
	irs_collection *c;
	assert_int_equal(irs_collection_create(dir, &def, 1, &err), 0);
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.no_sync = 1;
	irs_backup_writer *w;
	/* b0 full: 1 (a, 10), 2 (b, NULL), 3 (c, 30) */
	assert_int_equal(irs_backup_writer_begin(c, IRS_BACKUP_FULL, "b0", &wo, &w, &err), 0);
	irs_value r1[] = {tu_u64(1), tu_str("a"), tu_i64(10)}, r2[] = {tu_u64(2), tu_str("b"), tu_null()},
		  r3[] = {tu_u64(3), tu_str("c"), tu_i64(30)};
	assert_int_equal(irs_backup_writer_upsert(w, 0, r1, 1, &err), 0);
	assert_int_equal(irs_backup_writer_upsert(w, 0, r2, 2, &err), 0);
	assert_int_equal(irs_backup_writer_upsert(w, 0, r3, 3, &err), 0);
	assert_int_equal(irs_backup_writer_commit(w, &err), 0);
	/* b1: 1.v = x, erase 2, insert 4, 3.n = 31 */
	assert_int_equal(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "b1", &wo, &w, &err), 0);
	irs_value u1[] = {tu_u64(1), tu_str("x"), tu_absent()}, e2[] = {tu_u64(2), tu_absent(), tu_absent()},
		  i4[] = {tu_u64(4), tu_str("d"), tu_absent()}, u3[] = {tu_u64(3), tu_absent(), tu_i64(31)};
	assert_int_equal(irs_backup_writer_upsert(w, 0, u1, 1, &err), 0);
	assert_int_equal(irs_backup_writer_erase(w, 0, e2, 2, &err), 0);
	assert_int_equal(irs_backup_writer_upsert(w, 0, i4, 3, &err), 0);
	assert_int_equal(irs_backup_writer_upsert(w, 0, u3, 4, &err), 0);
	assert_int_equal(irs_backup_writer_commit(w, &err), 0);
	/* b2: 1.v back to a, 2 re-inserted as it was, 4 erased, 3.v = c2 */
	assert_int_equal(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "b2", &wo, &w, &err), 0);
	irs_value b1v[] = {tu_u64(1), tu_str("a"), tu_absent()}, b2v[] = {tu_u64(2), tu_str("b"), tu_absent()},
		  e4[] = {tu_u64(4), tu_absent(), tu_absent()}, c3[] = {tu_u64(3), tu_str("c2"), tu_absent()};
	assert_int_equal(irs_backup_writer_upsert(w, 0, b1v, 1, &err), 0);
	assert_int_equal(irs_backup_writer_upsert(w, 0, b2v, 2, &err), 0);
	assert_int_equal(irs_backup_writer_erase(w, 0, e4, 3, &err), 0);
	assert_int_equal(irs_backup_writer_upsert(w, 0, c3, 4, &err), 0);
	assert_int_equal(irs_backup_writer_commit(w, &err), 0);

	change_list l = {.c = c};
	irs_diff_stats st;
	assert_int_equal(run_diff(c, "b0", "b2", 2, &l, &st, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].op, IRS_DIFF_UPSERT);
	irs_value want3[] = {tu_u64(3), tu_str("c2"), tu_i64(31)};
	assert_int_equal(l.v[0].digest, irs__row_digest(&c->tables[0], want3));
	assert_int_equal(st.keys, 4); /* 1, 2, 3, 4 were touched */
	/* b1..b2: 1 and 2 change, 3 changes, 4 goes */
	l.n = 0;
	assert_int_equal(run_diff(c, "b1", "b2", 3, &l, &st, &err), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(st.upserts, 3);
	assert_int_equal(st.erases, 1);
	irs_value want1[] = {tu_u64(1), tu_str("a"), tu_i64(10)};
	assert_int_equal(l.v[0].digest, irs__row_digest(&c->tables[0], want1));
	assert_int_equal(l.v[1].digest, irs__row_digest(&c->tables[0], r2));
	assert_int_equal(l.v[3].op, IRS_DIFF_ERASE);
	free(l.v);
	irs_collection_close(c);
	gen_rmrf(dir);
}

static void test_refusals(void **state)
{
	(void)state;
	change_list l = {0};
	irs_diff_stats st;
	irs_error err;
	assert_int_equal(run_diff(fx.c, "b04", "b03", 2, &l, &st, &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "comes after"));
	assert_int_equal(run_diff(fx.c, "nope", "b03", 2, &l, &st, &err), IRS_ENOTFOUND);
	assert_int_equal(run_diff(fx.c, "b01", "nope", 2, &l, &st, &err), IRS_ENOTFOUND);
	irs_diff_options o;
	irs_diff_options_init(&o, IRS_DIFF_OPTIONS_VERSION);
	const char *tables[] = {"missing"};
	o.tables = tables;
	o.table_count = 1;
	assert_int_equal(irs_collection_diff(fx.c, "b01", "b03", &o, NULL, on_change, &l, &st, &err), IRS_ENOTFOUND);
	/* the callback's non-zero return stops the diff and comes back */
	l.stop_after = 3;
	assert_int_equal(run_diff(fx.c, "b01", "b04", 2, &l, &st, &err), 42);
	assert_int_equal(l.n, 2);
	l.stop_after = 0;
	l.n = 0;
	/* a table filter: only table k */
	tables[0] = "k";
	assert_int_equal(irs_collection_diff(fx.c, "b01", "b04", &o, NULL, on_change, &l, &st, &err), 0);
	assert_true(l.n > 0);
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.v[i].table, 1);
	/* the memory limit, and cancellation */
	irs_diff_options_init(&o, IRS_DIFF_OPTIONS_VERSION);
	o.memory_limit = 4096;
	l.n = 0;
	assert_int_equal(irs_collection_diff(fx.c, "b01", "b04", &o, NULL, on_change, &l, &st, &err), IRS_ELIMIT);
	irs_diff_options_init(&o, IRS_DIFF_OPTIONS_VERSION);
	int cancel = 1;
	o.cancel = &cancel;
	assert_int_equal(irs_collection_diff(fx.c, "b01", "b04", &o, NULL, on_change, &l, &st, &err), IRS_ECANCELED);
	assert_int_equal(irs_collection_diff(fx.c, "b01", "b07", &o, NULL, on_change, &l, &st, &err), IRS_ECANCELED);
	free(l.v);
}

/* A damaged frame in an incremental of (from, to] fails the diff as a restore would. */
static void test_damaged_frame(void **state)
{
	(void)state;
	char copy[200], cmd[600];
	snprintf(copy, sizeof copy, "%s/damaged", fx.root);
	snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", fx.dir, copy);
	assert_int_equal(system(cmd), 0);
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(copy, NULL, 0, &c, &err), 0);
	const Increstore__Segment *seg = irs__backup_table(&c->backups[3], 0)->segments[0];
	char path[512];
	snprintf(path, sizeof path, "%s/%s", copy, seg->path);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 16 + 8 + 5, SEEK_SET); /* inside the first frame's payload: its CRC fails */
	int ch = fgetc(f);
	fseek(f, 16 + 8 + 5, SEEK_SET);
	fputc(ch ^ 0x5a, f);
	fclose(f);
	change_list l = {0};
	irs_diff_stats st;
	assert_int_equal(run_diff(c, "b02", "b04", 2, &l, &st, &err), IRS_ECORRUPT);
	assert_non_null(strstr(err.message, "b03"));
	assert_int_equal(l.n, 0);
	/* before the damage: fine */
	assert_int_equal(run_diff(c, "b01", "b02", 2, &l, &st, &err), 0);
	free(l.v);
	irs_collection_close(c);
	gen_rmrf(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changed_back),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_damaged_frame),
		cmocka_unit_test(test_diff_against_model),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
