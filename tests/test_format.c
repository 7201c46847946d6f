/*
 * test_format.c: the backup collection on disk (docs/design.md section 3, docs/format.md).
 *
 *  a) Round trip. Backups written through the public writer (every type, NULLs,
 *     partial upserts, erases, empty backups, frames of 7 changes, segments of about
 *     2 KiB, a 64 KiB memory budget so runs spill, three tables, three fulls) are read
 *     back through the segment reader, the batch decoder and the record decoder and
 *     compared, key by key, with an independent model of what was written, including
 *     the collapse of repeated keys in an incremental (docs/design.md section 1).
 *  b) Damage. One test per failure: each damages a real file written by the writer and
 *     checks the exact error code and that the message names the position (backup,
 *     file, frame, byte offset, key). Hand-packed ChangeBatch payloads check every rule
 *     of the batch decoder; hand-made segments ("another writer") splice duplicates and
 *     foreign schemas into a chain.
 *  c) Writer failures (abort, refused input, duplicate keys, allocation failures at
 *     every point of a commit, a stale handle, leftovers of crashed writers) leave the
 *     collection as it was, or with exactly the new backup, and nothing behind.
 *
 * Every test works in its own mkdtemp directory, removed by the teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/record.h"
#include "format/batch.h"
#include "format/collection.h"
#include "format/format.h"
#include "increstore.h"
#include "common/keycodec.h"
#include "shard/fault.h"
#include "test_util.h"

/* ------------------------------------------------------------------ small helpers */

/* A ring of formatted strings, for building expected substrings inline. */
static const char *S(const char *fmt, ...) IRS_PRINTF(1, 2);
static const char *S(const char *fmt, ...)
{
	static char ring[16][600];
	static unsigned next;
	char *b = ring[next++ % 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof ring[0], fmt, ap);
	va_end(ap);
	return b;
}

/* Asserts rc == code == err.code and that err.message contains every substring. */
#define ASSERT_ERR(rc, err, code, ...)                                                    \
	check_err(__FILE__, __LINE__, (rc), &(err), (code), (const char *[]){__VA_ARGS__, NULL})
static void check_err(const char *file, int line, int rc, const irs_error *err, int code,
		      const char **subs)
{
	if (rc != code || err->code != code)
		fail_msg("%s:%d: got %s (rc %d, err.code %d) \"%s\", want %s", file, line,
			 irs_err_name(rc), rc, err->code, err->message, irs_err_name(code));
	for (; *subs; subs++)
		if (!strstr(err->message, *subs))
			fail_msg("%s:%d: message \"%s\" lacks \"%s\"", file, line, err->message, *subs);
}

#define ASSERT_OK(rc, err)                                                                 \
	do {                                                                               \
		int rc_ = (rc);                                                            \
		if (rc_ != 0)                                                              \
			fail_msg("%s:%d: %s: %s", __FILE__, __LINE__, irs_err_name(rc_),   \
				 (err).message);                                           \
	} while (0)

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(p);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	size_t n = (size_t)st.st_size;
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, n, 0), (ssize_t)n);
	close(fd);
	*len = n;
	return b;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void patch_file(const char *path, uint64_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void patch_le32(const char *path, uint64_t off, uint32_t v)
{
	uint8_t b[4];
	irs__store_le32(b, v);
	patch_file(path, off, b, 4);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The frames of a segment file, parsed independently of segment.c. */
typedef struct frames {
	size_t n;
	uint64_t size;
	uint64_t off[1024];   /* of the frame header */
	uint32_t len[1024];
	uint32_t crc[1024];
} frames;

static void parse_frames(const char *path, frames *f)
{
	size_t len;
	uint8_t *b = read_file(path, &len);
	assert_true(len >= IRS_SEGMENT_HEADER);
	assert_memory_equal(b, "IRSSEG\r\n", 8);
	f->n = 0;
	f->size = len;
	size_t off = IRS_SEGMENT_HEADER;
	while (off < len) {
		assert_true(f->n < 1024);
		assert_true(len - off >= 8);
		f->off[f->n] = off;
		f->len[f->n] = irs__load_le32(b + off);
		f->crc[f->n] = irs__load_le32(b + off + 4);
		assert_true(len - off - 8 >= f->len[f->n]);
		assert_int_equal(irs__crc32c(0, b + off + 8, f->len[f->n]), f->crc[f->n]);
		off += 8 + (size_t)f->len[f->n];
		f->n++;
	}
	free(b);
}

/* splitmix64 */
static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15u;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9E3779B97F4A7C15u;
	return mix64(*s);
}

/* An allocator that fails its Nth call from now (once), for out-of-memory paths. */
typedef struct failalloc {
	int64_t countdown; /* < 0: never */
} failalloc;

static bool fa_fail(failalloc *a)
{
	return a->countdown >= 0 && a->countdown-- == 0;
}

static void *fa_malloc(void *ctx, size_t n)
{
	return fa_fail(ctx) ? NULL : malloc(n);
}

static void *fa_realloc(void *ctx, void *p, size_t o, size_t n)
{
	(void)o;
	return fa_fail(ctx) ? NULL : realloc(p, n);
}

/* Names in DIR (one level) starting with prefix; returns how many. */
static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)) && strcmp(e->d_name, ".") &&
		    strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Asserts no writer leftovers: no tmp-*, no MANIFEST.tmp, and every data/ directory
 * is referenced by a segment of the (freshly opened) collection. */
static void assert_no_leftovers(const char *coll)
{
	assert_int_equal(count_entries(coll, "tmp-"), 0);
	assert_false(exists(S("%s/MANIFEST.tmp", coll)));
	irs_collection *c;
	irs_error err;
	ASSERT_OK(irs_collection_open(coll, NULL, 0, &c, &err), err);
	DIR *d = opendir(S("%s/data", coll));
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char prefix[300];
			snprintf(prefix, sizeof prefix, "data/%s/", e->d_name);
			bool used = false;
			for (uint32_t i = 0; i < c->nbackups && !used; i++) {
				const Increstore__Backup *b = c->backups[i].pb;
				for (size_t k = 0; k < b->n_tables && !used; k++)
					for (size_t s = 0; s < b->tables[k]->n_segments && !used; s++)
						used = !strncmp(b->tables[k]->segments[s]->path, prefix,
								strlen(prefix));
			}
			if (!used)
				fail_msg("%s/data/%s is a leftover: no backup references it", coll, e->d_name);
		}
		closedir(d);
	}
	irs_collection_close(c);
}

/* ------------------------------------------------------------------ fixtures */

typedef struct fx {
	char tmp[256];
	char coll[300];
	char outside[300];
	irs_mem mem;
	char seg[3][256];      /* small fixture: backup i's only segment, relative */
	uint64_t seg_size[3];
} fx;

static int fx_setup_dir(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->tmp, sizeof f->tmp, "/tmp/irs-test-format-XXXXXX");
	if (!mkdtemp(f->tmp)) {
		free(f);
		return -1;
	}
	snprintf(f->coll, sizeof f->coll, "%s/coll", f->tmp);
	snprintf(f->outside, sizeof f->outside, "%s/outside", f->tmp);
	if (mkdir(f->outside, 0755) != 0)
		return -1;
	irs__mem_init(&f->mem, NULL, 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;
	if (!f)
		return 0;
	rm_rf(f->tmp);
	free(f);
	return 0;
}

/* The small fixture: table t (id uint64 key, v utf8, n int64) and three backups:
 *   b1 FULL         ids 0..199, v = "row-<id>", n = id * 3        (29 frames of <= 7)
 *   b2 INCREMENTAL  ids 100..199 upsert {v = "upd-<id>"}; erase ids 0..19
 *   b3 INCREMENTAL  ids 1000..1049 upsert {v, n}
 * every backup is one segment (default segment size) of 7-change frames. */
static const irs_column_def small_cols[] = {
	{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}, {"n", IRS_TYPE_INT64}};
static const uint32_t small_pk[] = {0};
static const irs_table_def small_table = {"t", small_cols, 3, small_pk, 1};

static void small_row(irs_value *row, uint64_t id, const char *v, int64_t n, char *buf)
{
	memset(row, 0, sizeof(irs_value) * 3);
	row[0].state = IRS_VALUE_SET;
	row[0].v.u64 = id;
	if (v) {
		strcpy(buf, v);
		row[1].state = IRS_VALUE_SET;
		row[1].v.s.ptr = buf;
		row[1].v.s.len = strlen(buf);
	}
	if (n != INT64_MIN) {
		row[2].state = IRS_VALUE_SET;
		row[2].v.i64 = n;
	}
}

static irs_writer_options small_opts(void)
{
	irs_writer_options o;
	irs_writer_options_init(&o, IRS_WRITER_OPTIONS_VERSION);
	o.batch_rows = 7;
	return o;
}

static int fx_setup_small(void **state)
{
	if (fx_setup_dir(state))
		return -1;
	fx *f = *state;
	irs_error err;
	if (irs_collection_create(f->coll, &small_table, 1, &err))
		return -1;
	irs_collection *c;
	if (irs_collection_open(f->coll, NULL, 0, &c, &err))
		return -1;
	irs_writer_options o = small_opts();
	irs_backup_writer *w;
	irs_value row[3];
	char buf[64];
	int rc = irs_backup_writer_begin(c, IRS_BACKUP_FULL, "b1", &o, &w, &err);
	for (uint64_t id = 0; !rc && id < 200; id++) {
		small_row(row, id, S("row-%llu", (unsigned long long)id), (int64_t)id * 3, buf);
		rc = irs_backup_writer_upsert(w, 0, row, id + 1, &err);
	}
	rc = rc ? rc : irs_backup_writer_commit(w, &err);
	if (!rc)
		rc = irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "b2", &o, &w, &err);
	for (uint64_t id = 100; !rc && id < 200; id++) {
		small_row(row, id, S("upd-%llu", (unsigned long long)id), INT64_MIN, buf);
		rc = irs_backup_writer_upsert(w, 0, row, id, &err);
	}
	for (uint64_t id = 0; !rc && id < 20; id++) {
		small_row(row, id, NULL, INT64_MIN, buf);
		rc = irs_backup_writer_erase(w, 0, row, 1000 + id, &err);
	}
	rc = rc ? rc : irs_backup_writer_commit(w, &err);
	if (!rc)
		rc = irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "b3", &o, &w, &err);
	for (uint64_t id = 1000; !rc && id < 1050; id++) {
		small_row(row, id, "new", -(int64_t)id, buf);
		rc = irs_backup_writer_upsert(w, 0, row, id, &err);
	}
	rc = rc ? rc : irs_backup_writer_commit(w, &err);
	if (rc) {
		fprintf(stderr, "fixture: %s\n", err.message);
		irs_collection_close(c);
		return -1;
	}
	for (int b = 0; b < 3; b++) {
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], 0);
		if (!tb || tb->n_segments != 1)
			return -1;
		snprintf(f->seg[b], sizeof f->seg[b], "%s", tb->segments[0]->path);
		f->seg_size[b] = tb->segments[0]->size;
	}
	irs_collection_close(c);
	return 0;
}

static const char *abs_path(const fx *f, const char *rel)
{
	return S("%s/%s", f->coll, rel);
}

/* Manifest editing through the internal reader and writer. */
static Increstore__Manifest *man_read(fx *f)
{
	Increstore__Manifest *m;
	irs_error err;
	ASSERT_OK(irs__manifest_read(f->coll, &f->mem, &m, &err), err);
	return m;
}

static void man_write(fx *f, Increstore__Manifest *m)
{
	irs_error err;
	ASSERT_OK(irs__manifest_write(f->coll, m, false, &err), err); /* no fsync: speed */
}

static void man_free(fx *f, Increstore__Manifest *m)
{
	irs__manifest_free(&f->mem, m);
}

/* Makes the manifest agree with a segment cut to `size` bytes: its size, and a record
 * count its bytes can hold (9 bytes each at least: op code and the uint64 key), so
 * that opening succeeds and the reader meets the cut. */
static void set_seg_size(fx *f, int backup, uint64_t size)
{
	Increstore__Manifest *m = man_read(f);
	Increstore__TableBackup *tb = m->chain[backup]->tables[0];
	Increstore__Segment *sg = tb->segments[0];
	uint64_t fit = size > IRS_SEGMENT_HEADER ? (size - IRS_SEGMENT_HEADER) / 9 : 0;
	if (sg->records > fit) {
		tb->records -= sg->records - fit;
		sg->records = fit;
	}
	sg->size = size;
	man_write(f, m);
	man_free(f, m);
}

/* Opens expecting success. */
static irs_collection *open_ok(const char *dir, unsigned flags)
{
	irs_collection *c = NULL;
	irs_error err;
	ASSERT_OK(irs_collection_open(dir, NULL, flags, &c, &err), err);
	return c;
}

/* ================================================================== a) round trip */

enum { T_ALL, T_WIDE, T_COMP, NT, MAXC = 11 };

static const irs_column_def all_cols[] = {
	{"kb", IRS_TYPE_BYTES},   {"ki", IRS_TYPE_INT32},  {"b", IRS_TYPE_BOOL},
	{"i32", IRS_TYPE_INT32},  {"i64", IRS_TYPE_INT64}, {"u32", IRS_TYPE_UINT32},
	{"u64", IRS_TYPE_UINT64}, {"d", IRS_TYPE_DOUBLE},  {"s", IRS_TYPE_UTF8},
	{"y", IRS_TYPE_BYTES},    {"ts", IRS_TYPE_TIMESTAMP}};
static const uint32_t all_pk[] = {0, 1};
static const irs_column_def wide_cols[] = {
	{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}, {"w", IRS_TYPE_INT64}};
static const uint32_t wide_pk[] = {0};
/* Key columns not first and not in schema order. */
static const irs_column_def comp_cols[] = {
	{"x", IRS_TYPE_BOOL}, {"ts", IRS_TYPE_TIMESTAMP}, {"s", IRS_TYPE_UTF8}, {"d", IRS_TYPE_DOUBLE}};
static const uint32_t comp_pk[] = {1, 2, 3};
static const irs_table_def rt_tables[NT] = {
	{"all", all_cols, 11, all_pk, 2},
	{"wide", wide_cols, 3, wide_pk, 1},
	{"comp", comp_cols, 4, comp_pk, 3},
};
static const uint32_t rt_nid[NT] = {1600, 900, 500};

/* A value in the model: fixed-width values as 64 bits (bool 0/1; signed types
 * sign-extended; double as its bits), strings as pointer + length into the pool. */
typedef struct mval {
	uint8_t state;
	uint64_t u;
	const uint8_t *p;
	uint32_t len;
} mval;

typedef struct mchg {
	uint8_t present;
	uint8_t op;
	mval v[MAXC];
} mchg;

typedef struct keyent {
	uint8_t k[160];
	uint32_t len;
	uint32_t id;
} keyent;

typedef struct pool_chunk {
	struct pool_chunk *next;
	uint8_t data[];
} pool_chunk;

typedef struct rt {
	pool_chunk *pool;
	mval *keys[NT];       /* [id * MAXC + c]: key column values of each id */
	keyent *sorted[NT];   /* canonical keys, sorted, for lookup */
	mchg *exp[NT];        /* the current backup's expected changes, per id */
	uint64_t rng;
	uint64_t rule_uu, rule_xe, rule_eu, collapsed;
} rt;

static const uint8_t *pool_dup(rt *r, const void *p, size_t len)
{
	pool_chunk *c = malloc(sizeof *c + (len ? len : 1));
	assert_non_null(c);
	if (len)
		memcpy(c->data, p, len);
	c->next = r->pool;
	r->pool = c;
	return c->data;
}

static const char *type_tag(irs_type t)
{
	return irs_type_name(t);
}

/* Special values, chosen to hit every edge the format must keep exactly. */
static const int64_t sp_i32[] = {INT32_MIN, INT32_MAX, -1, 0, 1};
static const int64_t sp_i64[] = {INT64_MIN, INT64_MAX, -1, 0};
static const uint64_t sp_u32[] = {0, UINT32_MAX, 0x80000000u};
static const uint64_t sp_u64[] = {0, UINT64_MAX, 1ull << 63, UINT64_MAX - 1};
static const uint64_t sp_dbl[] = {
	0x8000000000000000ull, /* -0.0 */
	0x0000000000000000ull, /* +0.0 */
	0x7FF0000000000000ull, /* +inf */
	0xFFF0000000000000ull, /* -inf */
	0x0000000000000001ull, /* smallest denormal */
	0x800FFFFFFFFFFFFFull, /* largest negative denormal */
	0x7FEFFFFFFFFFFFFFull, /* DBL_MAX */
	0x7FF8000000000123ull, /* quiet NaN with a payload */
	0x3FF0000000000000ull, /* 1.0 */
};
static const int64_t sp_ts[] = {INT64_MIN, -1, 0, -62135596800000000, 1704103200000000, INT64_MAX};
static const struct {
	const char *p;
	size_t len;
} sp_str[] = {
	{"", 0},
	{"a", 1},
	{"h\xc3\xa9llo", 6},
	{"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9},
	{"\xf0\x9f\x98\x80", 4},
	{"a\0b", 3},
	{"\0", 1},
}, sp_bytes[] = {
	{"", 0},
	{"\0", 1},
	{"\0\0\xff", 3},
	{"\xff\xfe\x00\x80", 4},
	{"\xc3\x28", 2}, /* not UTF-8: fine for bytes */
};

#define NSP(a) (sizeof(a) / sizeof((a)[0]))

static mval gen_value(rt *r, irs_type ty, uint64_t h)
{
	mval v = {IRS_VALUE_SET, 0, NULL, 0};
	bool special = (h >> 8) % 3 == 0;
	uint64_t pick = h >> 16;
	uint64_t x = mix64(h);
	switch (ty) {
	case IRS_TYPE_BOOL: v.u = x & 1; break;
	case IRS_TYPE_INT32: v.u = (uint64_t)(special ? sp_i32[pick % NSP(sp_i32)] : (int64_t)(int32_t)x); break;
	case IRS_TYPE_INT64: v.u = special ? (uint64_t)sp_i64[pick % NSP(sp_i64)] : x; break;
	case IRS_TYPE_UINT32: v.u = special ? sp_u32[pick % NSP(sp_u32)] : (x & 0xFFFFFFFFu); break;
	case IRS_TYPE_UINT64: v.u = special ? sp_u64[pick % NSP(sp_u64)] : x; break;
	case IRS_TYPE_DOUBLE: v.u = special ? sp_dbl[pick % NSP(sp_dbl)] : x; break;
	case IRS_TYPE_TIMESTAMP: v.u = special ? (uint64_t)sp_ts[pick % NSP(sp_ts)] : x; break;
	case IRS_TYPE_UTF8: {
		if (special) {
			size_t i = pick % (NSP(sp_str) + 1);
			if (i == NSP(sp_str)) { /* a long one */
				char big[700];
				memset(big, 'x', sizeof big);
				memcpy(big + 100, "\xe2\x82\xac", 3);
				v.p = pool_dup(r, big, sizeof big);
				v.len = sizeof big;
			} else {
				v.p = pool_dup(r, sp_str[i].p, sp_str[i].len);
				v.len = (uint32_t)sp_str[i].len;
			}
			break;
		}
		static const char *pieces[] = {"a", "Z", "0", " ", "\xc3\xa9", "\xe4\xb8\xad",
					       "\xf0\x9f\x98\x80", "\x7f", "\""};
		char buf[200];
		size_t n = 0, k = x % 24;
		for (size_t i = 0; i < k; i++) {
			const char *pc = pieces[mix64(x + i) % NSP(pieces)];
			memcpy(buf + n, pc, strlen(pc));
			n += strlen(pc);
		}
		v.p = pool_dup(r, buf, n);
		v.len = (uint32_t)n;
		break;
	}
	case IRS_TYPE_BYTES: {
		if (special) {
			size_t i = pick % (NSP(sp_bytes) + 1);
			if (i == NSP(sp_bytes)) {
				uint8_t big[1000];
				for (size_t k = 0; k < sizeof big; k++)
					big[k] = (uint8_t)(k * 7);
				v.p = pool_dup(r, big, sizeof big);
				v.len = sizeof big;
			} else {
				v.p = pool_dup(r, sp_bytes[i].p, sp_bytes[i].len);
				v.len = (uint32_t)sp_bytes[i].len;
			}
			break;
		}
		uint8_t buf[48];
		size_t n = x % 41;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)mix64(x ^ i);
		v.p = pool_dup(r, buf, n);
		v.len = (uint32_t)n;
		break;
	}
	}
	return v;
}

static void to_irs(irs_type ty, const mval *m, irs_value *v)
{
	memset(v, 0, sizeof *v);
	v->state = m->state;
	if (m->state != IRS_VALUE_SET)
		return;
	switch (ty) {
	case IRS_TYPE_BOOL: v->v.b = (int)m->u; break;
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: v->v.i64 = (int64_t)m->u; break;
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64: v->v.u64 = m->u; break;
	case IRS_TYPE_DOUBLE: memcpy(&v->v.d, &m->u, 8); break;
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		v->v.s.ptr = m->p;
		v->v.s.len = m->len;
		break;
	}
}

/* Fixed-width value bits of a decoded irs_value, in the model's representation. */
static uint64_t value_bits(irs_type ty, const irs_value *v)
{
	uint64_t u = 0;
	switch (ty) {
	case IRS_TYPE_BOOL: u = (uint64_t)v->v.b; break;
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: u = (uint64_t)v->v.i64; break;
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64: u = v->v.u64; break;
	case IRS_TYPE_DOUBLE: memcpy(&u, &v->v.d, 8); break;
	default: break;
	}
	return u;
}

/* The test's own canonical key bytes: per key column, 8 bytes of value bits or a u32
 * length and the bytes. */
static uint32_t key_canon(const irs_table_def *td, const irs_value *row, uint8_t *out)
{
	uint32_t n = 0;
	for (uint32_t k = 0; k < td->primary_key_count; k++) {
		uint32_t c = td->primary_key[k];
		irs_type ty = td->columns[c].type;
		if (ty == IRS_TYPE_UTF8 || ty == IRS_TYPE_BYTES) {
			assert_true(row[c].v.s.len < 100);
			irs__store_le32(out + n, (uint32_t)row[c].v.s.len);
			if (row[c].v.s.len)
				memcpy(out + n + 4, row[c].v.s.ptr, row[c].v.s.len);
			n += 4 + (uint32_t)row[c].v.s.len;
		} else {
			irs__store_le64(out + n, value_bits(ty, &row[c]));
			n += 8;
		}
	}
	return n;
}

static int keyent_cmp(const void *a, const void *b)
{
	const keyent *x = a, *y = b;
	int c = memcmp(x->k, y->k, x->len < y->len ? x->len : y->len);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Key columns of id in table t: unique per id, with every edge value of the key types. */
static void gen_key(rt *r, uint32_t t, uint32_t id, mval *k)
{
	char dec[32];
	int dn = snprintf(dec, sizeof dec, "%u", id);
	uint8_t buf[64];
	size_t n = 0;
	switch (t) {
	case T_ALL:
		/* kb: empty for id 0; otherwise holds the decimal id, often with 0x00 bytes. */
		if (id != 0) {
			if (id % 3 == 1)
				buf[n++] = 0x00;
			if (id % 3 == 2) {
				buf[n++] = 0xFF;
				buf[n++] = 0x00;
				buf[n++] = 0x01;
			}
			memcpy(buf + n, dec, (size_t)dn);
			n += (size_t)dn;
			if (id % 3 == 1)
				buf[n++] = 0x00;
		}
		k[0] = (mval){IRS_VALUE_SET, 0, pool_dup(r, buf, n), (uint32_t)n};
		k[1] = (mval){IRS_VALUE_SET,
			      (uint64_t)(id == 1 ? INT32_MIN : id == 2 ? INT32_MAX : id == 3 ? -1
							: (int64_t)(int32_t)(id * 2654435761u)),
			      NULL, 0};
		break;
	case T_WIDE:
		k[0] = (mval){IRS_VALUE_SET,
			      id == 0 ? UINT64_MAX : id == 1 ? 0 : id == 2 ? 1ull << 63 : id * 0x9E3779B97F4A7C15u,
			      NULL, 0};
		break;
	case T_COMP: {
		static const uint64_t dk[] = {0x8000000000000000ull, 0, 0x7FF0000000000000ull,
					      0xFFF0000000000000ull, 1, 0x8000000000000001ull,
					      0xC000000000000000ull};
		int64_t ts = id == 0 ? INT64_MIN : id == 1 ? INT64_MAX : -(int64_t)id * 1000003 + 17;
		k[1] = (mval){IRS_VALUE_SET, (uint64_t)ts, NULL, 0};
		/* s: shared by several ids so that d (and ts) decide. */
		const char *s = id % 5 == 0 ? "" : id % 5 == 1 ? "\xc3\xa9t\xc3\xa9" : id % 5 == 2 ? "a\0" : "z";
		size_t sl = id % 5 == 2 ? 2 : strlen(s);
		k[2] = (mval){IRS_VALUE_SET, 0, pool_dup(r, s, sl), (uint32_t)sl};
		k[3] = (mval){IRS_VALUE_SET, dk[id % NSP(dk)], NULL, 0};
		break;
	}
	}
}

static void rt_init(rt *r)
{
	memset(r, 0, sizeof *r);
	r->rng = 12345;
	for (uint32_t t = 0; t < NT; t++) {
		const irs_table_def *td = &rt_tables[t];
		r->keys[t] = calloc((size_t)rt_nid[t] * MAXC, sizeof(mval));
		r->sorted[t] = calloc(rt_nid[t], sizeof(keyent));
		r->exp[t] = calloc(rt_nid[t], sizeof(mchg));
		assert_non_null(r->keys[t]);
		assert_non_null(r->sorted[t]);
		assert_non_null(r->exp[t]);
		for (uint32_t id = 0; id < rt_nid[t]; id++) {
			mval *k = &r->keys[t][(size_t)id * MAXC];
			gen_key(r, t, id, k);
			irs_value row[MAXC];
			for (uint32_t c = 0; c < td->column_count; c++)
				to_irs(td->columns[c].type, &k[c], &row[c]);
			r->sorted[t][id].len = key_canon(td, row, r->sorted[t][id].k);
			r->sorted[t][id].id = id;
		}
		qsort(r->sorted[t], rt_nid[t], sizeof(keyent), keyent_cmp);
		for (uint32_t i = 1; i < rt_nid[t]; i++)
			assert_int_not_equal(keyent_cmp(&r->sorted[t][i - 1], &r->sorted[t][i]), 0);
	}
}

static void rt_free(rt *r)
{
	for (uint32_t t = 0; t < NT; t++) {
		free(r->keys[t]);
		free(r->sorted[t]);
		free(r->exp[t]);
	}
	while (r->pool) {
		pool_chunk *n = r->pool->next;
		free(r->pool);
		r->pool = n;
	}
}

static void model_reset(rt *r)
{
	for (uint32_t t = 0; t < NT; t++)
		memset(r->exp[t], 0, sizeof(mchg) * rt_nid[t]);
}

static bool is_key(const irs_table_def *td, uint32_t c)
{
	for (uint32_t k = 0; k < td->primary_key_count; k++)
		if (td->primary_key[k] == c)
			return true;
	return false;
}

/* Builds a change for id: key columns from the key table; value columns per the
 * state distribution (full: ABSENT/NULL 1/6 each; incremental: 40% ABSENT, 15% NULL). */
static void make_change(rt *r, uint32_t t, uint32_t id, bool full, mval *out)
{
	const irs_table_def *td = &rt_tables[t];
	for (uint32_t c = 0; c < td->column_count; c++) {
		if (is_key(td, c)) {
			out[c] = r->keys[t][(size_t)id * MAXC + c];
			continue;
		}
		uint64_t h = rng_next(&r->rng);
		unsigned pct = (unsigned)(h % 100);
		if (full ? pct < 17 : pct < 40)
			out[c] = (mval){IRS_VALUE_ABSENT, 0, NULL, 0};
		else if (full ? pct < 34 : pct < 55)
			out[c] = (mval){IRS_VALUE_NULL, 0, NULL, 0};
		else
			out[c] = gen_value(r, td->columns[c].type, rng_next(&r->rng));
	}
}

static void add_upsert(rt *r, irs_backup_writer *w, uint32_t t, uint32_t id, bool full,
		       uint64_t tag)
{
	const irs_table_def *td = &rt_tables[t];
	mval ch[MAXC];
	make_change(r, t, id, full, ch);
	irs_value row[MAXC];
	for (uint32_t c = 0; c < td->column_count; c++)
		to_irs(td->columns[c].type, &ch[c], &row[c]);
	irs_error err;
	ASSERT_OK(irs_backup_writer_upsert(w, t, row, tag, &err), err);
	mchg *e = &r->exp[t][id];
	if (full) {
		assert_false(e->present);
		e->present = 1;
		e->op = IRS_REC_UPSERT;
		for (uint32_t c = 0; c < td->column_count; c++) {
			e->v[c] = ch[c];
			if (ch[c].state == IRS_VALUE_ABSENT)
				e->v[c].state = IRS_VALUE_NULL; /* a full row lists every column */
		}
		return;
	}
	if (!e->present) {
		e->present = 1;
		e->op = IRS_REC_UPSERT;
		memcpy(e->v, ch, sizeof ch);
	} else if (e->op == IRS_REC_ERASE) {
		/* ERASE then UPSERT{a} = UPSERT with every column listed, unlisted NULL */
		r->rule_eu++;
		r->collapsed++;
		e->op = IRS_REC_UPSERT;
		for (uint32_t c = 0; c < td->column_count; c++) {
			e->v[c] = ch[c];
			if (!is_key(td, c) && ch[c].state == IRS_VALUE_ABSENT)
				e->v[c].state = IRS_VALUE_NULL;
		}
	} else {
		/* UPSERT{a} then UPSERT{b} = UPSERT{a, b}, b winning */
		r->rule_uu++;
		r->collapsed++;
		for (uint32_t c = 0; c < td->column_count; c++)
			if (ch[c].state != IRS_VALUE_ABSENT)
				e->v[c] = ch[c];
	}
}

static void add_erase(rt *r, irs_backup_writer *w, uint32_t t, uint32_t id, uint64_t tag)
{
	const irs_table_def *td = &rt_tables[t];
	mval ch[MAXC];
	/* Non-key columns hold junk: an erase reads only the key. */
	make_change(r, t, id, true, ch);
	irs_value row[MAXC];
	for (uint32_t c = 0; c < td->column_count; c++) {
		to_irs(td->columns[c].type, &ch[c], &row[c]);
		if (!is_key(td, c) && (id & 1))
			row[c].state = 77; /* not even a valid state */
	}
	irs_error err;
	ASSERT_OK(irs_backup_writer_erase(w, t, row, tag, &err), err);
	mchg *e = &r->exp[t][id];
	if (e->present) {
		r->rule_xe++;
		r->collapsed++;
	}
	e->present = 1;
	e->op = IRS_REC_ERASE;
	for (uint32_t c = 0; c < td->column_count; c++)
		e->v[c] = is_key(td, c) ? ch[c] : (mval){IRS_VALUE_ABSENT, 0, NULL, 0};
}

/* ---- reading a backup back */

typedef struct readback {
	rt *r;
	uint32_t t;
	const irs_table_def *td;
	const irs_schema_table *st;
	uint8_t *seen;
	uint64_t records;
	irs_value row[MAXC];
	uint8_t scratch[IRS_MAX_KEY_BYTES];
	const char *where;
} readback;

static void compare_value(const readback *rb, uint32_t id, uint32_t c, const irs_value *got,
			  const mval *want)
{
	const irs_column_def *cd = &rb->td->columns[c];
	if (got->state != want->state)
		fail_msg("%s: table %s id %u column %s: state %d, want %d", rb->where, rb->td->name, id,
			 cd->name, got->state, want->state);
	if (want->state != IRS_VALUE_SET)
		return;
	if (cd->type == IRS_TYPE_UTF8 || cd->type == IRS_TYPE_BYTES) {
		if (got->v.s.len != want->len || (want->len && memcmp(got->v.s.ptr, want->p, want->len)))
			fail_msg("%s: table %s id %u column %s (%s): %zu bytes differ from the %u written",
				 rb->where, rb->td->name, id, cd->name, type_tag(cd->type), got->v.s.len,
				 want->len);
		return;
	}
	uint64_t g = value_bits(cd->type, got);
	if (g != want->u)
		fail_msg("%s: table %s id %u column %s (%s): bits %016llx, want %016llx", rb->where,
			 rb->td->name, id, cd->name, type_tag(cd->type), (unsigned long long)g,
			 (unsigned long long)want->u);
}

static int rb_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	readback *rb = ctx;
	const irs_table_def *td = rb->td;
	for (uint32_t c = 0; c < td->column_count; c++)
		rb->row[c].state = 99;
	assert_int_equal(irs__rec_decode(rb->st, rec, rb->row, rb->scratch), 0);
	keyent k;
	k.len = key_canon(td, rb->row, k.k);
	keyent *hit = bsearch(&k, rb->r->sorted[rb->t], rt_nid[rb->t], sizeof(keyent), keyent_cmp);
	if (!hit)
		fail_msg("%s: table %s: a record with a key that was never written", rb->where, td->name);
	uint32_t id = hit->id;
	const mchg *e = &rb->r->exp[rb->t][id];
	if (!e->present)
		fail_msg("%s: table %s id %u: record present, but no change was written", rb->where,
			 td->name, id);
	if (rb->seen[id])
		fail_msg("%s: table %s id %u: key appears twice", rb->where, td->name, id);
	rb->seen[id] = 1;
	rb->records++;
	if (rec->op != e->op)
		fail_msg("%s: table %s id %u: op %u, want %u", rb->where, td->name, id, rec->op, e->op);
	/* The record's encoded key equals the codec's encoding of the written key. */
	uint8_t kbuf[512];
	irs_value krow[MAXC];
	for (uint32_t c = 0; c < td->column_count; c++)
		to_irs(td->columns[c].type, &rb->r->keys[rb->t][(size_t)id * MAXC + c], &krow[c]);
	size_t kl = irs__key_encode(rb->st, krow, kbuf, sizeof kbuf);
	assert_int_equal(kl, rec->key_len);
	assert_memory_equal(kbuf, irs__rec_key(rec), kl);
	assert_int_equal(rec->hash, irs__key_hash(kbuf, kl));
	for (uint32_t c = 0; c < td->column_count; c++)
		compare_value(rb, id, c, &rb->row[c], &e->v[c]);
	return 0;
}

/* Reads backup b of c back and compares it with the model, exactly. Also checks the
 * manifest's per-segment numbers against what is in the files. */
static void check_backup(rt *r, irs_collection *c, uint32_t b, uint32_t batch_rows,
			 uint64_t segment_bytes)
{
	irs_backup_info bi;
	assert_int_equal(irs_collection_backup(c, b, &bi), 0);
	bool full = bi.kind == IRS_BACKUP_FULL;
	uint64_t total = 0, total_segs = 0;
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &mem);
	for (uint32_t t = 0; t < NT; t++) {
		uint64_t want = 0;
		for (uint32_t id = 0; id < rt_nid[t]; id++)
			want += r->exp[t][id].present;
		irs_table_backup_info ti;
		assert_int_equal(irs_collection_table_backup(c, b, t, &ti), 0);
		assert_int_equal(ti.records, want);
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], t);
		if (!want) {
			assert_null(tb);
			continue;
		}
		assert_non_null(tb);
		readback *rb = calloc(1, sizeof *rb);
		assert_non_null(rb);
		rb->r = r;
		rb->t = t;
		rb->td = &rt_tables[t];
		rb->st = &c->tables[t];
		rb->seen = calloc(rt_nid[t], 1);
		assert_non_null(rb->seen);
		uint64_t frames_total = 0, short_frames = 0;
		for (size_t s = 0; s < tb->n_segments; s++) {
			const Increstore__Segment *seg = tb->segments[s];
			rb->where = S("backup %s segment %s", bi.name, seg->path);
			irs_segment_reader sr;
			irs_error err;
			ASSERT_OK(irs__segment_open(&sr, &mem, c->dirfd, seg->path, t, &err), err);
			assert_int_equal(sr.size, seg->size);
			uint64_t recs = 0;
			const uint8_t *payload;
			size_t len;
			int rc;
			while ((rc = irs__segment_next(&sr, &payload, &len, &err)) == 1) {
				uint32_t n = 0;
				ASSERT_OK(irs__batch_decode(&d, rb->st, payload, len, full, 0, rb_sink, rb, &n,
							    &err),
					  err);
				assert_true(n >= 1 && n <= batch_rows);
				if (n != batch_rows)
					short_frames++;
				recs += n;
				frames_total++;
			}
			ASSERT_OK(rc, err);
			assert_int_equal(sr.frame_index, seg->frames);
			assert_int_equal(recs, seg->records);
			assert_int_equal(sr.crc, seg->crc32c);
			/* Every segment but the last was closed once it reached segment_bytes. */
			if (s + 1 < tb->n_segments)
				assert_true(seg->size >= segment_bytes);
			irs__segment_close(&sr);
		}
		/* Frames are cut at batch_rows; only the table's last frame may be short. */
		assert_true(short_frames <= 1);
		assert_int_equal(rb->records, want);
		for (uint32_t id = 0; id < rt_nid[t]; id++)
			if (r->exp[t][id].present && !rb->seen[id])
				fail_msg("backup %s table %s id %u: written but not read back", bi.name,
					 rt_tables[t].name, id);
		total += want;
		total_segs += tb->n_segments;
		assert_true(frames_total >= (want + batch_rows - 1) / batch_rows);
		free(rb->seen);
		free(rb);
	}
	assert_int_equal(bi.records, total);
	assert_int_equal(bi.segments, total_segs);
	irs__batch_decoder_free(&d);
	assert_int_equal(atomic_load(&mem.used), 0);
}

static irs_writer_options rt_opts(void)
{
	irs_writer_options o;
	irs_writer_options_init(&o, IRS_WRITER_OPTIONS_VERSION);
	o.batch_rows = 7;
	o.segment_bytes = 2048;
	o.memory_budget = 64 << 10;
	o.no_sync = 1; /* hundreds of small segments; fsync is tested elsewhere */
	return o;
}

/* Writes a full backup of `frac`/100 of every table's ids (in a shuffled order). */
static void write_full(rt *r, irs_collection *c, const char *name, unsigned frac,
		       const irs_writer_options *o)
{
	model_reset(r);
	irs_backup_writer *w;
	irs_error err;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_FULL, name, o, &w, &err), err);
	uint64_t tag = 1;
	for (uint32_t t = 0; t < NT; t++) {
		uint32_t n = rt_nid[t];
		/* id = (i * step) mod n with step coprime to n: a permutation. */
		uint32_t step = 7919;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t id = (uint32_t)(((uint64_t)i * step) % n);
			if (mix64(id ^ 0xF00D) % 100 < frac)
				add_upsert(r, w, t, id, true, tag++);
		}
	}
	/* With the 64 KiB budget the writer has spilled sorted runs by now. */
	if (frac && o->memory_budget == (64u << 10))
		assert_int_equal(count_entries(c->dir, "tmp-"), 1);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
}

/* Writes an incremental of `nops` random changes over every table (or only `only`),
 * with keys repeating so that collapses happen across spilled runs. */
static void write_incr(rt *r, irs_collection *c, const char *name, uint32_t nops, int only,
		       const irs_writer_options *o)
{
	model_reset(r);
	irs_backup_writer *w;
	irs_error err;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, name, o, &w, &err), err);
	for (uint32_t i = 0; i < nops; i++) {
		uint64_t h = rng_next(&r->rng);
		uint32_t t = only >= 0 ? (uint32_t)only : (uint32_t)(h % NT);
		/* half the changes go to a hot set of 1/8 of the ids: many repeats */
		uint32_t n = rt_nid[t];
		uint32_t id = (uint32_t)((h >> 8) % ((h >> 40) & 1 ? n : n / 8));
		if ((h >> 20) % 100 < 25)
			add_erase(r, w, t, id, i + 1);
		else
			add_upsert(r, w, t, id, false, i + 1);
	}
	if (nops >= 1000)
		assert_int_equal(count_entries(c->dir, "tmp-"), 1);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
}

static void test_round_trip(void **state)
{
	fx *f = *state;
	irs_error err;
	ASSERT_OK(irs_collection_create(f->coll, rt_tables, NT, &err), err);
	irs_collection *c = open_ok(f->coll, 0);
	assert_int_equal(irs_collection_table_count(c), NT);
	assert_int_equal(irs_collection_backup_count(c), 0);
	rt *r = malloc(sizeof *r);
	assert_non_null(r);
	rt_init(r);
	irs_writer_options o = rt_opts();
	irs_writer_options big;
	irs_writer_options_init(&big, IRS_WRITER_OPTIONS_VERSION);

	static const struct {
		const char *name;
		irs_backup_kind kind;
		uint32_t base;
	} plan[] = {
		{"f1", IRS_BACKUP_FULL, 0},        {"i1", IRS_BACKUP_INCREMENTAL, 0},
		{"i2-empty", IRS_BACKUP_INCREMENTAL, 0}, {"i3-wide-only", IRS_BACKUP_INCREMENTAL, 0},
		{"f2", IRS_BACKUP_FULL, 4},        {"i4", IRS_BACKUP_INCREMENTAL, 4},
		{"f3-empty", IRS_BACKUP_FULL, 6},  {"i5", IRS_BACKUP_INCREMENTAL, 6},
	};
	for (uint32_t b = 0; b < NSP(plan); b++) {
		uint32_t rows = 7;
		uint64_t segb = o.segment_bytes;
		switch (b) {
		case 0: write_full(r, c, plan[b].name, 100, &o); break;
		case 1: write_incr(r, c, plan[b].name, 4000, -1, &o); break;
		case 2: write_incr(r, c, plan[b].name, 0, -1, &o); break;
		case 3: write_incr(r, c, plan[b].name, 1500, T_WIDE, &o); break;
		case 4: /* default options: one frame per 4096 changes, one segment */
			write_full(r, c, plan[b].name, 70, &big);
			rows = 4096;
			segb = 256u << 20;
			break;
		case 5: write_incr(r, c, plan[b].name, 3000, -1, &o); break;
		case 6: write_full(r, c, plan[b].name, 0, &o); break;
		case 7: write_incr(r, c, plan[b].name, 2500, -1, &o); break;
		}
		irs_backup_info bi;
		assert_int_equal(irs_collection_backup_count(c), b + 1);
		assert_int_equal(irs_collection_backup(c, b, &bi), 0);
		assert_string_equal(bi.name, plan[b].name);
		assert_int_equal(bi.kind, plan[b].kind);
		assert_int_equal(bi.seq, b + 1);
		assert_string_equal(bi.parent, b ? plan[b - 1].name : "");
		assert_int_equal(bi.base_index, plan[b].base);
		check_backup(r, c, b, rows, segb);
		/* The same, through a fresh handle: the manifest on disk says the same. */
		irs_collection *c2 = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
		check_backup(r, c2, b, rows, segb);
		irs_collection_close(c2);
	}
	/* Enough happened for the test to mean something: several segments, spills
	 * (checked by construction: 64 KiB budget, far more data), every collapse rule. */
	irs_backup_info b0;
	assert_int_equal(irs_collection_backup(c, 0, &b0), 0);
	assert_true(b0.segments >= 3 * NT);
	assert_true(r->rule_uu > 50);
	assert_true(r->rule_xe > 50);
	assert_true(r->rule_eu > 50);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
	rt_free(r);
	free(r);
	assert_no_leftovers(f->coll);
}


/* ---- the small table, read back into plain structs */

typedef struct srec {
	uint8_t op;
	uint64_t id;
	int v_state;
	char v[64];
	int n_state;
	int64_t n;
	uint32_t seg, frame, change;
} srec;

typedef struct scol {
	const irs_schema_table *t;
	srec *r;
	size_t n, cap;
	uint32_t seg, frame;
	irs_value row[3];
	uint8_t scratch[512];
} scol;

static int scol_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	scol *s = ctx;
	assert_int_equal(irs__rec_decode(s->t, rec, s->row, s->scratch), 0);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->r = realloc(s->r, s->cap * sizeof *s->r);
		assert_non_null(s->r);
	}
	srec *o = &s->r[s->n++];
	memset(o, 0, sizeof *o);
	o->op = rec->op;
	o->id = s->row[0].v.u64;
	o->v_state = s->row[1].state;
	if (o->v_state == IRS_VALUE_SET) {
		assert_true(s->row[1].v.s.len < sizeof o->v);
		memcpy(o->v, s->row[1].v.s.ptr, s->row[1].v.s.len);
	}
	o->n_state = s->row[2].state;
	o->n = o->n_state == IRS_VALUE_SET ? s->row[2].v.i64 : 0;
	o->seg = s->seg;
	o->frame = s->frame;
	o->change = (uint32_t)rec->tag;
	return 0;
}

/* Every change of backup b (table 0) of c, in file order. Caller frees *out. */
static size_t small_collect(irs_collection *c, uint32_t b, srec **out)
{
	scol s = {.t = &c->tables[0]};
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &mem);
	const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], 0);
	bool full = c->backups[b].kind == IRS_BACKUP_FULL;
	for (size_t i = 0; tb && i < tb->n_segments; i++) {
		irs_segment_reader sr;
		irs_error err;
		ASSERT_OK(irs__segment_open(&sr, &mem, c->dirfd, tb->segments[i]->path, 0, &err), err);
		const uint8_t *payload;
		size_t len;
		int rc;
		s.seg = (uint32_t)i;
		while ((rc = irs__segment_next(&sr, &payload, &len, &err)) == 1) {
			s.frame = sr.frame_index - 1;
			uint32_t n;
			ASSERT_OK(irs__batch_decode(&d, s.t, payload, len, full, 0, scol_sink, &s, &n, &err),
				  err);
		}
		ASSERT_OK(rc, err);
		irs__segment_close(&sr);
	}
	irs__batch_decoder_free(&d);
	*out = s.r;
	return s.n;
}

static const srec *find_id(const srec *r, size_t n, uint64_t id)
{
	const srec *hit = NULL;
	for (size_t i = 0; i < n; i++) {
		if (r[i].id == id) {
			if (hit)
				fail_msg("id %llu appears twice", (unsigned long long)id);
			hit = &r[i];
		}
	}
	if (!hit)
		fail_msg("id %llu not found", (unsigned long long)id);
	return hit;
}

/* The collapse rules one by one, with spills between the changes of one key. */
static void test_collapse_rules(void **state)
{
	fx *f = *state;
	irs_error err;
	ASSERT_OK(irs_collection_create(f->coll, &small_table, 1, &err), err);
	irs_collection *c = open_ok(f->coll, 0);
	irs_writer_options o = small_opts();
	o.memory_budget = 64 << 10;
	irs_backup_writer *w;
	irs_value row[3];
	char buf[64];
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_FULL, "f", &o, &w, &err), err);
	for (uint64_t id = 0; id < 10; id++) {
		small_row(row, id, "x", 1, buf);
		ASSERT_OK(irs_backup_writer_upsert(w, 0, row, id, &err), err);
	}
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "i", &o, &w, &err), err);
	uint64_t tag = 1;
	bool spilled = false;
#define UPS(id, v, n)                                                                      \
	do {                                                                               \
		small_row(row, id, v, n, buf);                                             \
		ASSERT_OK(irs_backup_writer_upsert(w, 0, row, tag++, &err), err);          \
	} while (0)
#define ERA(id)                                                                            \
	do {                                                                               \
		small_row(row, id, NULL, INT64_MIN, buf);                                  \
		ASSERT_OK(irs_backup_writer_erase(w, 0, row, tag++, &err), err);           \
	} while (0)
	/* Filler (ids >= 100000) pushes the buffered changes past the 64 KiB budget. */
#define FILL()                                                                             \
	do {                                                                               \
		for (int k_ = 0; k_ < 1500; k_++)                                          \
			UPS(100000 + tag, "filler-filler-filler-filler", 5);               \
		spilled = spilled || count_entries(f->coll, "tmp-") == 1;                  \
	} while (0)
	UPS(1, "a", INT64_MIN);   /* 1: U{v}, U{n}          = U{v, n} */
	UPS(2, "a", 7);           /* 2: U{v,n}, U{v}        = U{v new, n} */
	UPS(3, "a", INT64_MIN);   /* 3: U{v}, E             = E */
	ERA(4);                   /* 4: E, U{v}             = U{v, n NULL} */
	ERA(5);                   /* 5: E, E                = E */
	ERA(6);                   /* 6: E, U{n}, U{v}       = U{v, n} */
	UPS(7, "a", INT64_MIN);   /* 7: U{v}, E, U{n}       = U{v NULL, n} */
	ERA(9);                   /* 9: E, U{v NULL}        = U{v NULL, n NULL} */
	FILL();
	UPS(1, NULL, 8);
	UPS(2, "b", INT64_MIN);
	ERA(3);
	UPS(4, "b", INT64_MIN);
	ERA(5);
	UPS(6, NULL, 9);
	ERA(7);
	small_row(row, 9, NULL, INT64_MIN, buf);
	row[1].state = IRS_VALUE_NULL;
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, tag++, &err), err);
	FILL();
	UPS(6, "c", INT64_MIN);
	UPS(7, NULL, 10);
	/* 8: U{v NULL}, U{n} (both in the in-memory buffer, no spill between) */
	small_row(row, 8, NULL, INT64_MIN, buf);
	row[1].state = IRS_VALUE_NULL;
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, tag++, &err), err);
	UPS(8, NULL, 11);
	assert_true(spilled);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
	assert_int_equal(count_entries(f->coll, "tmp-"), 0);
#undef UPS
#undef ERA
#undef FILL
	static const struct {
		uint8_t op;
		int v_state;
		const char *v;
		int n_state;
		int64_t n;
	} want[10] = {
		[1] = {IRS_REC_UPSERT, IRS_VALUE_SET, "a", IRS_VALUE_SET, 8},
		[2] = {IRS_REC_UPSERT, IRS_VALUE_SET, "b", IRS_VALUE_SET, 7},
		[3] = {IRS_REC_ERASE, IRS_VALUE_ABSENT, NULL, IRS_VALUE_ABSENT, 0},
		[4] = {IRS_REC_UPSERT, IRS_VALUE_SET, "b", IRS_VALUE_NULL, 0},
		[5] = {IRS_REC_ERASE, IRS_VALUE_ABSENT, NULL, IRS_VALUE_ABSENT, 0},
		[6] = {IRS_REC_UPSERT, IRS_VALUE_SET, "c", IRS_VALUE_SET, 9},
		[7] = {IRS_REC_UPSERT, IRS_VALUE_NULL, NULL, IRS_VALUE_SET, 10},
		[8] = {IRS_REC_UPSERT, IRS_VALUE_NULL, NULL, IRS_VALUE_SET, 11},
		[9] = {IRS_REC_UPSERT, IRS_VALUE_NULL, NULL, IRS_VALUE_NULL, 0},
	};
	srec *recs;
	size_t n = small_collect(c, 1, &recs);
	assert_int_equal(n, 9 + 3000);
	for (uint64_t id = 1; id <= 9; id++) {
		const srec *r = find_id(recs, n, id);
		if (r->op != want[id].op || r->v_state != want[id].v_state ||
		    r->n_state != want[id].n_state ||
		    (want[id].v && strcmp(r->v, want[id].v) != 0) ||
		    (want[id].n_state == IRS_VALUE_SET && r->n != want[id].n))
			fail_msg("id %llu: op %u v %d '%s' n %d %lld; want op %u v %d '%s' n %d %lld",
				 (unsigned long long)id, r->op, r->v_state, r->v, r->n_state,
				 (long long)r->n, want[id].op, want[id].v_state,
				 want[id].v ? want[id].v : "", want[id].n_state, (long long)want[id].n);
	}
	free(recs);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
}

/* A repeated key in a full backup (across spilled runs) is IRS_EDUPKEY naming both
 * tags; so is one in an incremental when collapsing is off. The collection stays. */
static void test_writer_dupkey(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	irs_writer_options o = small_opts();
	o.memory_budget = 64 << 10;
	irs_backup_writer *w;
	irs_value row[3];
	char buf[64];
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_FULL, "dupfull", &o, &w, &err), err);
	small_row(row, 5, "first", 1, buf);
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 10, &err), err);
	for (uint64_t id = 100; id < 3100; id++) {
		small_row(row, id, "filler-filler-filler-filler", 2, buf);
		ASSERT_OK(irs_backup_writer_upsert(w, 0, row, id + 1000, &err), err);
	}
	assert_int_equal(count_entries(f->coll, "tmp-"), 1); /* runs were spilled */
	small_row(row, 5, "second", 1, buf);
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 5000, &err), err);
	ASSERT_ERR(irs_backup_writer_commit(w, &err), err, IRS_EDUPKEY,
		   "table t: key id=5 appears twice in one backup (line 10 and line 5000)", f->coll);
	assert_int_equal(irs_collection_backup_count(c), 3);
	assert_no_leftovers(f->coll);

	o.collapse_duplicates = 0;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "dupinc", &o, &w, &err), err);
	small_row(row, 18446744073709551615u, "x", 1, buf);
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 1, &err), err);
	ASSERT_OK(irs_backup_writer_erase(w, 0, row, 2, &err), err);
	ASSERT_ERR(irs_backup_writer_commit(w, &err), err, IRS_EDUPKEY,
		   "key id=18446744073709551615 appears twice in one backup (line 1 and line 2)");
	assert_int_equal(irs_collection_backup_count(c), 3);
	irs_collection_close(c);
	assert_no_leftovers(f->coll);
	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	assert_int_equal(irs_collection_backup_count(c), 3);
	assert_int_equal(irs_collection_find_backup(c, "dupfull"), -1);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
}

/* The small fixture itself reads back as written (it is the base of every damage test). */
static void test_small_fixture(void **state)
{
	fx *f = *state;
	irs_collection *c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	srec *r;
	size_t n = small_collect(c, 0, &r);
	assert_int_equal(n, 200);
	for (uint64_t id = 0; id < 200; id++) {
		const srec *x = find_id(r, n, id);
		assert_int_equal(x->op, IRS_REC_UPSERT);
		assert_string_equal(x->v, S("row-%llu", (unsigned long long)id));
		assert_int_equal(x->n, (int64_t)id * 3);
	}
	free(r);
	n = small_collect(c, 1, &r);
	assert_int_equal(n, 120);
	for (uint64_t id = 0; id < 200; id++) {
		if (id >= 20 && id < 100)
			continue;
		const srec *x = find_id(r, n, id);
		assert_int_equal(x->op, id < 20 ? IRS_REC_ERASE : IRS_REC_UPSERT);
		assert_int_equal(x->v_state, id < 20 ? IRS_VALUE_ABSENT : IRS_VALUE_SET);
		assert_int_equal(x->n_state, IRS_VALUE_ABSENT);
	}
	free(r);
	frames fr;
	parse_frames(abs_path(f, f->seg[0]), &fr);
	assert_int_equal(fr.n, 29);
	assert_int_equal(irs__backup_table(&c->backups[0], 0)->segments[0]->frames, 29);
	parse_frames(abs_path(f, f->seg[1]), &fr);
	assert_int_equal(fr.n, 18);
	irs_error err;
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
}

/* ================================================================== b) damage */

typedef struct cut {
	uint64_t at;     /* new file size */
	int kind;        /* 0: at a frame boundary; 1: in a frame header; 2: in a payload;
			  * 3: in the segment header */
	uint32_t frame;  /* frames complete before the cut */
} cut;

static size_t cut_points(const frames *fr, cut *out)
{
	size_t n = 0;
	out[n++] = (cut){0, 3, 0};
	out[n++] = (cut){7, 3, 0};
	out[n++] = (cut){15, 3, 0};
	for (uint32_t k = 0; k < fr->n; k++) {
		out[n++] = (cut){fr->off[k], 0, k};
		out[n++] = (cut){fr->off[k] + 1, 1, k};
		out[n++] = (cut){fr->off[k] + 7, 1, k};
		out[n++] = (cut){fr->off[k] + 8, 2, k};
		out[n++] = (cut){fr->off[k] + 8 + fr->len[k] / 2, 2, k};
		out[n++] = (cut){fr->off[k] + 8 + fr->len[k] - 1, 2, k};
	}
	return n;
}

/* Truncation at every frame boundary and inside every frame: open compares the size
 * with the manifest and refuses, naming backup, table, file and both sizes. */
/* A manifest claiming more records than a segment's bytes can hold is refused at open,
 * before anything is sized from the claim (a 2^28 or 2^40 claim once made a restore
 * reserve gigabytes, or fail with out of memory). */
static void test_record_claim_bomb(void **state)
{
	fx *f = *state;
	static const uint64_t claims[] = {(uint64_t)1 << 28, (uint64_t)1 << 40};
	for (size_t i = 0; i < 2; i++) {
		Increstore__Manifest *m = man_read(f);
		Increstore__TableBackup *tb = m->chain[0]->tables[0];
		uint64_t size = tb->segments[0]->size;
		tb->records += claims[i] - tb->segments[0]->records;
		tb->segments[0]->records = claims[i];
		man_write(f, m);
		man_free(f, m);
		irs_collection *c = NULL;
		irs_error err;
		ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
			   S("MANIFEST: backup b1 table t: segment %s claims %llu records, more than its %llu "
			     "bytes can hold (at least 9 bytes each)",
			     f->seg[0], (unsigned long long)claims[i], (unsigned long long)size));
		assert_null(c);
	}
}

static void test_trunc_open(void **state)
{
	fx *f = *state;
	const char *p = abs_path(f, f->seg[0]);
	char path[600];
	snprintf(path, sizeof path, "%s", p);
	frames fr;
	parse_frames(path, &fr);
	size_t olen;
	uint8_t *orig = read_file(path, &olen);
	static cut cuts[1024 * 6 + 3];
	size_t n = cut_points(&fr, cuts);
	for (size_t i = 0; i < n; i++) {
		write_file(path, orig, cuts[i].at);
		irs_collection *c = NULL;
		irs_error err;
		int rc = irs_collection_open(f->coll, NULL, 0, &c, &err);
		ASSERT_ERR(rc, err, IRS_ECORRUPT,
			   S("backup b1 table t: segment %s is %llu bytes, the manifest says %llu", f->seg[0],
			     (unsigned long long)cuts[i].at, (unsigned long long)olen));
		assert_null(c);
	}
	write_file(path, orig, olen);
	irs_collection_close(open_ok(f->coll, IRS_OPEN_VERIFY_CRC));
	free(orig);
}

/* The same cuts with the manifest rewritten to agree with the damaged size: open
 * passes (sizes agree), and the frame reader finds the damage: a cut inside a frame
 * names the frame and its byte offset; a cut at a boundary reads cleanly and
 * verify_data catches the missing frames against the manifest's counts. */
static void test_trunc_reader(void **state)
{
	fx *f = *state;
	char path[600], mpath[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[0]));
	snprintf(mpath, sizeof mpath, "%s/MANIFEST", f->coll);
	frames fr;
	parse_frames(path, &fr);
	size_t olen, mlen;
	uint8_t *orig = read_file(path, &olen);
	uint8_t *morig = read_file(mpath, &mlen);
	static cut cuts[1024 * 6 + 3];
	size_t n = cut_points(&fr, cuts);
	for (size_t i = 0; i < n; i++) {
		const cut *k = &cuts[i];
		write_file(path, orig, k->at);
		set_seg_size(f, 0, k->at);
		irs_collection *c = open_ok(f->coll, 0);
		irs_error err;
		/* The reader, directly. */
		irs_mem mem;
		irs__mem_init(&mem, NULL, 0);
		irs_segment_reader sr;
		int rc = irs__segment_open(&sr, &mem, c->dirfd, f->seg[0], 0, &err);
		if (k->kind == 3) {
			ASSERT_ERR(rc, err, IRS_ECORRUPT,
				   S("segment %s: truncated header (%llu of 16 bytes) at byte 0", f->seg[0],
				     (unsigned long long)k->at));
		} else {
			ASSERT_OK(rc, err);
			const uint8_t *payload;
			size_t len;
			uint32_t got = 0;
			while ((rc = irs__segment_next(&sr, &payload, &len, &err)) == 1) {
				assert_int_equal(len, fr.len[got]);
				got++;
			}
			assert_int_equal(got, k->frame);
			if (k->kind == 0) {
				assert_int_equal(rc, 0);
			} else {
				ASSERT_ERR(rc, err, IRS_ECORRUPT,
					   S("segment %s: frame %u at byte %llu: ", f->seg[0], k->frame,
					     (unsigned long long)fr.off[k->frame]),
					   k->kind == 1 ? "truncated frame header" : "runs past the end of the file");
			}
			irs__segment_close(&sr);
		}
		assert_int_equal(atomic_load(&mem.used), 0);
		/* verify_data */
		rc = irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err);
		if (k->kind == 3)
			ASSERT_ERR(rc, err, IRS_ECORRUPT, S("backup b1: segment %s: truncated header", f->seg[0]));
		else if (k->kind == 0)
			ASSERT_ERR(rc, err, IRS_ECORRUPT,
				   S("backup b1: segment %s holds %u frames and %u records, the manifest says "
				     "29 and %llu",
				     f->seg[0], k->frame, k->frame * 7,
				     (unsigned long long)(k->at <= 16 ? 0 : (k->at - 16) / 9 < 200 ? (k->at - 16) / 9 : 200)));
		else
			ASSERT_ERR(rc, err, IRS_ECORRUPT,
				   S("backup b1: segment %s: frame %u at byte %llu: ", f->seg[0], k->frame,
				     (unsigned long long)fr.off[k->frame]));
		irs_collection_close(c);
		/* The whole-file CRC catches it at open, too. */
		c = NULL;
		rc = irs_collection_open(f->coll, NULL, IRS_OPEN_VERIFY_CRC, &c, &err);
		ASSERT_ERR(rc, err, IRS_ECORRUPT, S("backup b1 table t: segment %s: file CRC32C", f->seg[0]));
		write_file(mpath, morig, mlen);
	}
	write_file(path, orig, olen);
	irs_collection_close(open_ok(f->coll, IRS_OPEN_VERIFY_CRC));
	free(orig);
	free(morig);
}

/* A flipped bit in frame 2's payload: the frame CRC names frame and offset. */
static void test_bitflip_payload(void **state)
{
	fx *f = *state;
	char path[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[0]));
	frames fr;
	parse_frames(path, &fr);
	uint64_t at = fr.off[2] + 8 + fr.len[2] / 2;
	uint8_t b;
	int fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, &b, 1, (off_t)at), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)at), 1);
	close(fd);
	irs_collection *c = open_ok(f->coll, 0); /* sizes still agree */
	irs_error err;
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b1: segment %s: frame 2 at byte %llu: CRC32C mismatch (stored %08x", f->seg[0],
		     (unsigned long long)fr.off[2], fr.crc[2]));
	/* The reader yields frames 0 and 1, then refuses frame 2. */
	irs_segment_reader sr;
	ASSERT_OK(irs__segment_open(&sr, &f->mem, c->dirfd, f->seg[0], 0, &err), err);
	const uint8_t *payload;
	size_t len;
	assert_int_equal(irs__segment_next(&sr, &payload, &len, &err), 1);
	assert_int_equal(irs__segment_next(&sr, &payload, &len, &err), 1);
	ASSERT_ERR(irs__segment_next(&sr, &payload, &len, &err), err, IRS_ECORRUPT,
		   S("segment %s: frame 2 at byte %llu: CRC32C mismatch", f->seg[0],
		     (unsigned long long)fr.off[2]));
	irs__segment_close(&sr);
	/* The indexed (parallel) reader: the index is fine, the frame read is not. */
	irs_frame_ref *refs = NULL;
	size_t nrefs = 0, cap = 0;
	int sfd = -1;
	ASSERT_OK(irs__segment_index(&f->mem, c->dirfd, f->seg[0], 0, 0, &refs, &nrefs, &cap, &sfd, &err),
		  err);
	assert_int_equal(nrefs, 29);
	assert_int_equal(refs[2].offset, fr.off[2]);
	uint8_t *fb = NULL;
	size_t fcap = 0;
	ASSERT_OK(irs__frame_read(&f->mem, sfd, f->seg[0], &refs[1], &fb, &fcap, &err), err);
	ASSERT_ERR(irs__frame_read(&f->mem, sfd, f->seg[0], &refs[2], &fb, &fcap, &err), err,
		   IRS_ECORRUPT,
		   S("segment %s: frame 2 at byte %llu: CRC32C mismatch", f->seg[0],
		     (unsigned long long)fr.off[2]));
	/* Frame 4 damaged too, and read first (as a shard may): frame 2, the first that
	 * fails in file order, is the one named; frame 3 still reads. */
	at = fr.off[4] + 8 + fr.len[4] / 2;
	fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, &b, 1, (off_t)at), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)at), 1);
	close(fd);
	ASSERT_ERR(irs__frame_read(&f->mem, sfd, f->seg[0], &refs[4], &fb, &fcap, &err), err,
		   IRS_ECORRUPT,
		   S("segment %s: frame 2 at byte %llu: CRC32C mismatch (stored %08x", f->seg[0],
		     (unsigned long long)fr.off[2], fr.crc[2]));
	ASSERT_OK(irs__frame_read(&f->mem, sfd, f->seg[0], &refs[3], &fb, &fcap, &err), err);
	irs__free(&f->mem, fb, fcap);
	irs__free(&f->mem, refs, cap * sizeof *refs);
	close(sfd);
	/* verify_data up to a backup before the damage... b1 is the first: nothing before.
	 * Damage is in b1, so even upto = 0 fails. */
	ASSERT_ERR(irs_collection_verify_data(c, 0, NULL, NULL, &err), err, IRS_ECORRUPT, "frame 2");
	irs_collection_close(c);
	c = NULL;
	ASSERT_ERR(irs_collection_open(f->coll, NULL, IRS_OPEN_VERIFY_CRC, &c, &err), err, IRS_ECORRUPT,
		   S("backup b1 table t: segment %s: file CRC32C", f->seg[0]));
	assert_int_equal(atomic_load(&f->mem.used), 0);
}

/* Frame 1's length one too long: the index walk then reads a header from the middle of
 * frame 2 and fails there, but the damage is frame 1's, which its CRC shows: the
 * indexed reader names frame 1, as the sequential one does. */
static void test_damaged_length_names_its_frame(void **state)
{
	fx *f = *state;
	char path[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[0]));
	frames fr;
	parse_frames(path, &fr);
	uint8_t le[4];
	irs__store_le32(le, fr.len[1] + 1);
	int fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, le, 4, (off_t)fr.off[1]), 4);
	close(fd);
	irs_collection *c = open_ok(f->coll, 0);
	irs_error err;
	const char *want = S("segment %s: frame 1 at byte %llu: CRC32C mismatch (stored %08x", f->seg[0],
			     (unsigned long long)fr.off[1], fr.crc[1]);
	irs_frame_ref *refs = NULL;
	size_t nrefs = 0, cap = 0;
	int sfd = -1;
	ASSERT_ERR(irs__segment_index(&f->mem, c->dirfd, f->seg[0], 0, 0, &refs, &nrefs, &cap, &sfd, &err), err,
		   IRS_ECORRUPT, want);
	assert_int_equal(sfd, -1);
	irs__free(&f->mem, refs, cap * sizeof *refs);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b1: %s", want));
	irs_restore *r = NULL;
	ASSERT_ERR(irs_restore_run(c, NULL, NULL, &r, &err), err, IRS_ECORRUPT, want);
	irs_restore_free(r);
	irs_collection_close(c);
	assert_int_equal(atomic_load(&f->mem.used), 0);
}

/* Damage in b3 only: verify_data up to b2 passes, the whole chain fails. */
static void test_verify_upto(void **state)
{
	fx *f = *state;
	char path[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[2]));
	frames fr;
	parse_frames(path, &fr);
	patch_le32(path, fr.off[1] + 4, fr.crc[1] ^ 0x80000000u);
	irs_collection *c = open_ok(f->coll, 0);
	irs_error err;
	ASSERT_OK(irs_collection_verify_data(c, 1, NULL, NULL, &err), err);
	ASSERT_ERR(irs_collection_verify_data(c, 2, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b3: segment %s: frame 1 at byte %llu", f->seg[2], (unsigned long long)fr.off[1]));
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   "backup b3");
	/* past the last backup: a caller's mistake, not "every backup" */
	ASSERT_ERR(irs_collection_verify_data(c, 3, NULL, NULL, &err), err, IRS_EINVAL, "backup 3 of 3");
	irs_collection_close(c);
}

/* A wrong stored CRC (payload intact): the message shows both values. */
static void test_wrong_stored_crc(void **state)
{
	fx *f = *state;
	char path[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[1]));
	frames fr;
	parse_frames(path, &fr);
	patch_le32(path, fr.off[3] + 4, fr.crc[3] + 1);
	irs_collection *c = open_ok(f->coll, 0);
	irs_error err;
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b2: segment %s: frame 3 at byte %llu: CRC32C mismatch (stored %08x, computed "
		     "%08x)",
		     f->seg[1], (unsigned long long)fr.off[3], fr.crc[3] + 1, fr.crc[3]));
	irs_collection_close(c);
	c = NULL;
	ASSERT_ERR(irs_collection_open(f->coll, NULL, IRS_OPEN_VERIFY_CRC, &c, &err), err, IRS_ECORRUPT,
		   S("backup b2 table t: segment %s: file CRC32C", f->seg[1]));
}

/* Segment header: bad magic, unknown version, wrong table. */
static void test_segment_header(void **state)
{
	fx *f = *state;
	char path[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[1]));
	size_t olen;
	uint8_t *orig = read_file(path, &olen);
	irs_error err;
	irs_collection *c;

	patch_file(path, 0, "X", 1);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b2: segment %s: bad magic at byte 0", f->seg[1]));
	irs_collection_close(c);
	write_file(path, orig, olen);

	patch_le32(path, 8, 2);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b2: segment %s: unknown format version 2 at byte 8", f->seg[1]));
	irs_collection_close(c);
	write_file(path, orig, olen);

	patch_le32(path, 12, 7);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b2: segment %s: holds table 7 but the manifest lists it for table 0 (byte 12)",
		     f->seg[1]));
	irs_collection_close(c);
	write_file(path, orig, olen);

	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
	free(orig);
}

/* MANIFEST framing: magic, version, length, CRC, payload, format_version field. */
static void test_manifest_damage(void **state)
{
	fx *f = *state;
	char mpath[600];
	snprintf(mpath, sizeof mpath, "%s/MANIFEST", f->coll);
	size_t mlen;
	uint8_t *morig = read_file(mpath, &mlen);
	assert_memory_equal(morig, "IRSMAN\r\n", 8);
	assert_int_equal(irs__load_le32(morig + 8), 1);
	assert_int_equal(irs__load_le32(morig + 12), mlen - 20);
	assert_int_equal(irs__load_le32(morig + 16), irs__crc32c(0, morig + 20, mlen - 20));
	irs_collection *c = NULL;
	irs_error err;
	const char *mname = S("%s/MANIFEST", f->coll);
	char mn[600];
	snprintf(mn, sizeof mn, "%s", mname);

	patch_file(mpath, 3, "X", 1);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: bad magic at byte 0", mn));
	write_file(mpath, morig, mlen);

	patch_le32(mpath, 8, 2);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: unknown format version 2 at byte 8", mn));
	write_file(mpath, morig, mlen);

	uint8_t b = morig[20 + (mlen - 20) / 2] ^ 1;
	patch_file(mpath, 20 + (mlen - 20) / 2, &b, 1);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: CRC32C mismatch (stored %08x", mn, irs__load_le32(morig + 16)), "at byte 16");
	write_file(mpath, morig, mlen);

	patch_le32(mpath, 16, irs__load_le32(morig + 16) ^ 4);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: CRC32C mismatch", mn));
	write_file(mpath, morig, mlen);

	write_file(mpath, morig, mlen - 1);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: payload length %zu at byte 12 does not match the file size %zu", mn, mlen - 20,
		     mlen - 1));
	write_file(mpath, morig, 10);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: truncated header (10 of 20 bytes) at byte 0", mn));
	write_file(mpath, morig, mlen);

	/* A huge length: refused before any allocation. */
	patch_le32(mpath, 12, 0xFFFFFFF0u);
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	Increstore__Manifest *m = NULL;
	ASSERT_ERR(irs__manifest_read(f->coll, &mem, &m, &err), err, IRS_ECORRUPT,
		   "payload length 4294967280 at byte 12");
	assert_null(m);
	assert_true(atomic_load(&mem.peak) < 4096);
	write_file(mpath, morig, mlen);

	/* A payload with a right CRC that is not a Manifest message. */
	uint8_t bad[23];
	memcpy(bad, "IRSMAN\r\n", 8);
	irs__store_le32(bad + 8, 1);
	irs__store_le32(bad + 12, 3);
	memcpy(bad + 20, "\xff\xff\xff", 3);
	irs__store_le32(bad + 16, irs__crc32c(0, bad + 20, 3));
	write_file(mpath, bad, sizeof bad);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: payload at byte 20 is not a valid Manifest message", mn));
	write_file(mpath, morig, mlen);

	/* The version inside the message. */
	m = man_read(f);
	m->format_version = 2;
	man_write(f, m);
	man_free(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s/MANIFEST: format_version 2, this build reads 1", f->coll));
	write_file(mpath, morig, mlen);

	/* A NUL inside a string, which protobuf-c would cut the name short at ("b1" here,
	 * which b2 names as its parent): refused, with its field and byte. */
	m = man_read(f);
	char *unpacked = m->chain[0]->name;
	m->chain[0]->name = "b1Xjunk";
	man_write(f, m);
	m->chain[0]->name = unpacked; /* what man_free frees */
	man_free(f, m);
	size_t nlen;
	uint8_t *nul = read_file(mpath, &nlen);
	uint8_t *x = memmem(nul + 20, nlen - 20, "b1Xjunk", 7);
	assert_non_null(x);
	x[2] = 0;
	irs__store_le32(nul + 16, irs__crc32c(0, nul + 20, nlen - 20));
	write_file(mpath, nul, nlen);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("%s: string field name holds a NUL byte at byte %zu", mn, (size_t)(x + 2 - nul)));
	free(nul);
	write_file(mpath, morig, mlen);

	/* No MANIFEST at all; no directory at all. */
	unlink(mpath);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   "not a collection (no MANIFEST)");
	ASSERT_ERR(irs_collection_open(S("%s/nope", f->tmp), NULL, 0, &c, &err), err, IRS_EIO,
		   "no such collection directory");
	write_file(mpath, morig, mlen);
	assert_null(c);
	irs_collection_close(open_ok(f->coll, IRS_OPEN_VERIFY_CRC));
	free(morig);
}

/* A frame length running past the end of the file. */
static void test_frame_len_beyond(void **state)
{
	fx *f = *state;
	char path[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[0]));
	frames fr;
	parse_frames(path, &fr);
	uint64_t left = fr.size - fr.off[1] - 8;
	patch_le32(path, fr.off[1], (uint32_t)left + 1);
	irs_collection *c = open_ok(f->coll, 0);
	irs_error err;
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b1: segment %s: frame 1 at byte %llu: length %llu runs past the end of the "
		     "file (%llu bytes left)",
		     f->seg[0], (unsigned long long)fr.off[1], (unsigned long long)left + 1,
		     (unsigned long long)left));
	irs_frame_ref *refs = NULL;
	size_t nrefs = 0, cap = 0;
	int sfd = -1;
	ASSERT_ERR(irs__segment_index(&f->mem, c->dirfd, f->seg[0], 0, 0, &refs, &nrefs, &cap, &sfd, &err),
		   err, IRS_ECORRUPT,
		   S("segment %s: frame 1 at byte %llu: length %llu runs past the end", f->seg[0],
		     (unsigned long long)fr.off[1], (unsigned long long)left + 1));
	assert_int_equal(sfd, -1);
	irs__free(&f->mem, refs, cap * sizeof *refs);
	assert_int_equal(atomic_load(&f->mem.used), 0);
	irs_collection_close(c);
}

/* A huge frame length (0xFFFFFFF0) is refused before any buffer grows. */
static void test_frame_len_huge(void **state)
{
	fx *f = *state;
	char path[600];
	snprintf(path, sizeof path, "%s", abs_path(f, f->seg[0]));
	frames fr;
	parse_frames(path, &fr);
	patch_le32(path, fr.off[0], 0xFFFFFFF0u);
	irs_collection *c = open_ok(f->coll, 0);
	irs_error err;
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_segment_reader sr;
	ASSERT_OK(irs__segment_open(&sr, &mem, c->dirfd, f->seg[0], 0, &err), err);
	const uint8_t *payload;
	size_t len;
	ASSERT_ERR(irs__segment_next(&sr, &payload, &len, &err), err, IRS_ECORRUPT,
		   S("segment %s: frame 0 at byte 16: length 4294967280 exceeds the 67108864-byte limit",
		     f->seg[0]));
	irs__segment_close(&sr);
	assert_true(atomic_load(&mem.peak) < 4096);

	irs_mem mem2;
	irs__mem_init(&mem2, NULL, 0);
	irs_frame_ref *refs = NULL;
	size_t nrefs = 0, cap = 0;
	int sfd = -1;
	ASSERT_ERR(irs__segment_index(&mem2, c->dirfd, f->seg[0], 0, 0, &refs, &nrefs, &cap, &sfd, &err),
		   err, IRS_ECORRUPT, S("segment %s: frame 0 at byte 16: length 4294967280", f->seg[0]));
	assert_true(atomic_load(&mem2.peak) < 4096);
	irs__free(&mem2, refs, cap * sizeof *refs);

	/* Through verify_data, on the collection's own accounting. */
	uint64_t used = atomic_load(&c->mem.used);
	atomic_store(&c->mem.peak, used);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b1: segment %s: frame 0 at byte 16: length 4294967280 exceeds", f->seg[0]));
	assert_true(atomic_load(&c->mem.peak) - used < (1u << 20));
	assert_int_equal(atomic_load(&c->mem.used), used);
	irs_collection_close(c);
}

/* Replaces backup b's segment path in the manifest. */
static void set_seg_path(fx *f, int b, const char *path)
{
	Increstore__Manifest *m = man_read(f);
	Increstore__Segment *s = m->chain[b]->tables[0]->segments[0];
	char *old = s->path;
	s->path = (char *)path;
	man_write(f, m);
	s->path = old;
	man_free(f, m);
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	uint8_t *b = read_file(from, &n);
	write_file(to, b, n);
	free(b);
}

/* Segment paths that leave the collection. */
static void test_path_escape(void **state)
{
	fx *f = *state;
	irs_collection *c = NULL;
	irs_error err;
	char real[600];
	snprintf(real, sizeof real, "%s", abs_path(f, f->seg[1]));
	/* Targets exist with the right size, so only the path rule can refuse them. */
	copy_file(real, S("%s/x", f->tmp));
	copy_file(real, S("%s/s.seg", f->outside));
	static const char *bad[] = {"../x", "data/../../x", "./data/x", "data//x", "", "data/\\x"};
	for (size_t i = 0; i < NSP(bad); i++) {
		set_seg_path(f, 1, bad[i]);
		ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
			   S("backup b2 table t: segment path '%s' leaves the collection", bad[i]));
	}
	set_seg_path(f, 1, real); /* absolute, and pointing at the real file */
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("backup b2 table t: segment path '%s' leaves the collection", real));

	/* A symbolic link inside the collection to a file outside. */
	assert_int_equal(symlink(S("%s/s.seg", f->outside), S("%s/data/evil.seg", f->coll)), 0);
	set_seg_path(f, 1, "data/evil.seg");
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   "backup b2 table t: segment data/evil.seg resolves outside the collection");
	/* A symbolic link to a directory outside. */
	assert_int_equal(symlink(f->outside, S("%s/data/evildir", f->coll)), 0);
	set_seg_path(f, 1, "data/evildir/s.seg");
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   "backup b2 table t: segment data/evildir/s.seg resolves outside the collection");
	/* A symbolic link to the collection's own directory's sibling via "..": */
	assert_int_equal(symlink("../../x", S("%s/data/up.seg", f->coll)), 0);
	set_seg_path(f, 1, "data/up.seg");
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   "segment data/up.seg resolves outside the collection");
	/* A symbolic link that stays inside is still not a regular file. */
	assert_memory_equal(f->seg[1], "data/", 5);
	const char *rel_target = f->seg[1] + 5; /* relative to data/ */
	assert_int_equal(symlink(rel_target, S("%s/data/alias.seg", f->coll)), 0);
	set_seg_path(f, 1, "data/alias.seg");
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   "backup b2 table t: segment data/alias.seg is not a regular file");
	assert_null(c);
	/* The reader refuses a final symbolic link on its own as well (O_NOFOLLOW). */
	int dirfd = open(f->coll, O_RDONLY | O_DIRECTORY);
	irs_segment_reader sr;
	ASSERT_ERR(irs__segment_open(&sr, &f->mem, dirfd, "data/alias.seg", 0, &err), err, IRS_ECORRUPT,
		   "segment data/alias.seg: cannot open: is a symbolic link");
	close(dirfd);
	set_seg_path(f, 1, f->seg[1]);
	irs_collection_close(open_ok(f->coll, IRS_OPEN_VERIFY_CRC));
}

static void test_missing_segment(void **state)
{
	fx *f = *state;
	assert_int_equal(unlink(abs_path(f, f->seg[1])), 0);
	irs_collection *c = NULL;
	irs_error err;
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   S("backup b2 table t: segment %s is missing", f->seg[1]));
	assert_null(c);
}

/* Chain damage: reordered, gap, incremental first, wrong parent, repeated name. */
static void test_chain_reordered(void **state)
{
	fx *f = *state;
	irs_collection *c = NULL;
	irs_error err;
	Increstore__Manifest *m = man_read(f);
	Increstore__Backup *t = m->chain[1];
	m->chain[1] = m->chain[2];
	m->chain[2] = t;
	man_write(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN,
		   "backup b3: sequence number 3 at chain position 2");
	/* Renumbered so the sequence looks right: the parents still tell. */
	m->chain[1]->seq = 2;
	m->chain[2]->seq = 3;
	man_write(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN,
		   "backup b3: parent is 'b2' but it follows 'b1'");
	/* Back in order, but b3 claims seq 2: a step back. */
	t = m->chain[1];
	m->chain[1] = m->chain[2];
	m->chain[2] = t;
	assert_string_equal(m->chain[2]->name, "b3");
	m->chain[1]->seq = 2;
	m->chain[2]->seq = 2;
	man_write(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN,
		   "backup b3: sequence number 2 at chain position 3: the chain is out of order");
	man_free(f, m);
	assert_null(c);
}

static void test_chain_gap(void **state)
{
	fx *f = *state;
	irs_collection *c = NULL;
	irs_error err;
	Increstore__Manifest *m = man_read(f);
	Increstore__Backup *b2 = m->chain[1];
	m->chain[1] = m->chain[2];
	m->n_chain = 2;
	man_write(f, m);
	m->chain[2] = m->chain[1];
	m->chain[1] = b2;
	m->n_chain = 3;
	man_free(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN,
		   "backup b3: sequence number 3 at chain position 2: a backup before it is missing (gap)");
	assert_null(c);
}

static void test_chain_incremental_first(void **state)
{
	fx *f = *state;
	irs_collection *c = NULL;
	irs_error err;
	Increstore__Manifest *m = man_read(f);
	Increstore__Backup **chain = m->chain;
	m->chain = chain + 1;
	m->n_chain = 2;
	m->chain[0]->seq = 1;
	char *parent = m->chain[0]->parent;
	m->chain[0]->parent = (char *)"";
	man_write(f, m);
	m->chain[0]->parent = parent;
	m->chain = chain;
	m->n_chain = 3;
	man_free(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN,
		   "backup b2: the chain starts with an incremental backup (no full before it)");
	assert_null(c);

	/* And through the writer: an incremental into an empty collection. */
	char c2[600];
	snprintf(c2, sizeof c2, "%s/empty", f->tmp);
	ASSERT_OK(irs_collection_create(c2, &small_table, 1, &err), err);
	c = open_ok(c2, 0);
	irs_backup_writer *w = (irs_backup_writer *)1;
	ASSERT_ERR(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "i", NULL, &w, &err), err,
		   IRS_ECHAIN, "an incremental backup needs a full backup before it");
	assert_null(w);
	irs_collection_close(c);
}

static void test_chain_parent(void **state)
{
	fx *f = *state;
	irs_collection *c = NULL;
	irs_error err;
	Increstore__Manifest *m = man_read(f);
	char *old = m->chain[2]->parent;
	m->chain[2]->parent = (char *)"zzz";
	man_write(f, m);
	m->chain[2]->parent = old;
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN,
		   "backup b3: parent is 'zzz' but it follows 'b2'");
	old = m->chain[2]->name;
	m->chain[2]->name = (char *)"b1";
	man_write(f, m);
	m->chain[2]->name = old;
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN,
		   "backup name b1 appears twice in the chain");
	m->chain[1]->kind = 7;
	man_write(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECHAIN, "backup b2: unknown kind 7");
	man_free(f, m);
	assert_null(c);
}

/* The manifest's column type changed: frames no longer decode; the error names the
 * backup, file, frame, byte offset and column. */
static void test_type_mismatch_manifest(void **state)
{
	fx *f = *state;
	irs_collection *c;
	irs_error err;
	Increstore__Manifest *m = man_read(f);
	m->tables[0]->columns[2]->type = INCRESTORE__COLUMN_TYPE__UTF8; /* n: int64 -> utf8 */
	man_write(f, m);
	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC); /* the files are intact */
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b1: segment %s: frame 0 at byte 16: column n (utf8): malformed length array",
		     f->seg[0]));
	irs_collection_close(c);
	m->tables[0]->columns[2]->type = INCRESTORE__COLUMN_TYPE__INT32; /* int64 -> int32 */
	man_write(f, m);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b1: segment %s: frame 0 at byte 16: column n holds 14 values", f->seg[0]));
	irs_collection_close(c);
	m->tables[0]->columns[1]->type = INCRESTORE__COLUMN_TYPE__BOOL; /* v: utf8 -> bool */
	m->tables[0]->columns[2]->type = INCRESTORE__COLUMN_TYPE__INT64;
	man_write(f, m);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b1: segment %s: frame 0 at byte 16: column v (bool)", f->seg[0]));
	irs_collection_close(c);
	m->tables[0]->columns[0]->type = 42; /* unknown */
	man_write(f, m);
	c = NULL;
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ESCHEMA,
		   "table t column id: unknown type 42");
	man_free(f, m);
}

/* ---- hand-made segments ("another writer") */

typedef struct hand_rec {
	int op;
	uint64_t id;
	const char *v;
	int64_t n;
	int frame_end;  /* 1: cut a frame after this record */
} hand_rec;

/* Writes a segment with the internal encoder and segment writer, as another
 * implementation might, for table index `table` using schema `t`. */
static void hand_segment(fx *f, const irs_schema_table *t, uint32_t table, bool full,
			 const char *rel, const hand_rec *recs, size_t n, Increstore__Segment *out)
{
	irs_error err;
	int dirfd = open(f->coll, O_RDONLY | O_DIRECTORY);
	assert_true(dirfd >= 0);
	char dir[300];
	snprintf(dir, sizeof dir, "%s", rel);
	*strrchr(dir, '/') = '\0';
	ASSERT_OK(irs__mkdirs_at(dirfd, dir, &err), err);
	irs_segment_writer sw;
	ASSERT_OK(irs__segment_create(&sw, dirfd, rel, table, &err), err);
	irs_batch_encoder e;
	assert_int_equal(irs__batch_encoder_init(&e, &f->mem, t), 0);
	uint8_t buf[1024];
	char vb[64];
	for (size_t i = 0; i < n; i++) {
		irs_value row[8];
		memset(row, 0, sizeof row);
		small_row(row, recs[i].id, recs[i].v, recs[i].n, vb);
		size_t sz = irs__rec_build(t, recs[i].op, full, row, i, buf, sizeof buf);
		assert_true(sz > 0);
		ASSERT_OK(irs__batch_encoder_add(&e, (const irs_rec *)buf, &err), err);
		if (recs[i].frame_end || i + 1 == n) {
			const uint8_t *payload;
			size_t len;
			uint32_t cnt = e.count;
			ASSERT_OK(irs__batch_encoder_finish(&e, &payload, &len, &err), err);
			ASSERT_OK(irs__segment_append(&sw, payload, len, cnt, &err), err);
		}
	}
	irs__batch_encoder_free(&e);
	ASSERT_OK(irs__segment_finish(&sw, true, &err), err);
	close(dirfd);
	Increstore__Segment init = INCRESTORE__SEGMENT__INIT;
	*out = init;
	out->path = (char *)rel;
	out->size = sw.size;
	out->records = sw.records;
	out->crc32c = sw.crc;
	out->frames = sw.frames;
}

/* Appends a backup holding the given segments of table 0 to the manifest. */
static void splice_backup(fx *f, const char *name, bool full, Increstore__Segment *segs, size_t nsegs)
{
	Increstore__Manifest *m = man_read(f);
	Increstore__Segment *sp[4];
	uint64_t recs = 0;
	for (size_t i = 0; i < nsegs; i++) {
		sp[i] = &segs[i];
		recs += segs[i].records;
	}
	Increstore__TableBackup tb = INCRESTORE__TABLE_BACKUP__INIT;
	tb.table = 0;
	tb.n_segments = nsegs;
	tb.segments = sp;
	tb.records = recs;
	Increstore__TableBackup *tbp[1] = {&tb};
	Increstore__Backup b = INCRESTORE__BACKUP__INIT;
	b.name = (char *)name;
	b.kind = full ? INCRESTORE__BACKUP_KIND__FULL : INCRESTORE__BACKUP_KIND__INCREMENTAL;
	b.seq = m->n_chain + 1;
	b.parent = m->chain[m->n_chain - 1]->name;
	b.created_us = 1;
	b.n_tables = 1;
	b.tables = tbp;
	Increstore__Backup **chain = calloc(m->n_chain + 1, sizeof *chain);
	assert_non_null(chain);
	memcpy(chain, m->chain, m->n_chain * sizeof *chain);
	chain[m->n_chain] = &b;
	Increstore__Backup **old = m->chain;
	m->chain = chain;
	m->n_chain++;
	man_write(f, m);
	m->chain = old;
	m->n_chain--;
	man_free(f, m);
	free(chain);
}

/* A batch encoded for a different schema (2 columns) inside table t (3 columns). */
static void test_type_mismatch_batch(void **state)
{
	fx *f = *state;
	irs_error err;
	Increstore__Column c0 = INCRESTORE__COLUMN__INIT, c1 = INCRESTORE__COLUMN__INIT;
	c0.name = (char *)"id";
	c0.type = INCRESTORE__COLUMN_TYPE__UINT64;
	c1.name = (char *)"v";
	c1.type = INCRESTORE__COLUMN_TYPE__UTF8;
	Increstore__Column *cols[2] = {&c0, &c1};
	uint32_t pk[1] = {0};
	Increstore__TableSchema ts = INCRESTORE__TABLE_SCHEMA__INIT;
	ts.name = (char *)"other";
	ts.n_columns = 2;
	ts.columns = cols;
	ts.n_primary_key = 1;
	ts.primary_key = pk;
	Increstore__TableSchema *tsp[1] = {&ts};
	Increstore__Manifest m = INCRESTORE__MANIFEST__INIT;
	m.n_tables = 1;
	m.tables = tsp;
	irs_schema_table *other;
	ASSERT_OK(irs__schema_build(&f->mem, &m, &other, &err), err);
	hand_rec recs[] = {{IRS_REC_UPSERT, 1, "a", INT64_MIN, 0}, {IRS_REC_UPSERT, 2, "b", INT64_MIN, 0}};
	Increstore__Segment seg;
	hand_segment(f, other, 0, false, "data/hand/t0.seg", recs, 2, &seg);
	irs__schema_free(&f->mem, other, 1);
	splice_backup(f, "b4", false, &seg, 1);
	irs_collection *c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	ASSERT_OK(irs_collection_verify_data(c, 2, NULL, NULL, &err), err);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   "backup b4: segment data/hand/t0.seg: frame 0 at byte 16: batch has 2 columns, table t has 3");
	irs_collection_close(c);
	assert_int_equal(atomic_load(&f->mem.used), 0);
}

/* Record and frame counts in the manifest that do not match the frames. */
static void test_record_count(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c;
	char mpath[600];
	snprintf(mpath, sizeof mpath, "%s/MANIFEST", f->coll);
	size_t mlen;
	uint8_t *morig = read_file(mpath, &mlen);
	Increstore__Manifest *m = man_read(f);
	Increstore__TableBackup *tb = m->chain[1]->tables[0];
	assert_int_equal(tb->records, 120);
	assert_int_equal(tb->segments[0]->records, 120);
	assert_int_equal(tb->segments[0]->frames, 18);

	tb->records = 121;
	tb->segments[0]->records = 121;
	man_write(f, m);
	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b2: segment %s holds 18 frames and 120 records, the manifest says 18 and 121",
		     f->seg[1]));
	irs_collection_close(c);

	tb->segments[0]->records = 120;
	man_write(f, m);
	c = NULL;
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   "backup b2 table t: segments hold 120 records, the table entry says 121");

	tb->records = 120;
	tb->segments[0]->frames = 17;
	man_write(f, m);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b2: segment %s holds 18 frames and 120 records, the manifest says 17 and 120",
		     f->seg[1]));
	irs_collection_close(c);

	tb->segments[0]->frames = 18;
	tb->segments[0]->crc32c ^= 1;
	man_write(f, m);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_ECORRUPT,
		   S("backup b2: segment %s: file CRC32C", f->seg[1]));
	irs_collection_close(c);
	man_free(f, m);

	/* A table index beyond the schema, a table listed twice. */
	m = man_read(f);
	m->chain[2]->tables[0]->table = 3;
	man_write(f, m);
	ASSERT_ERR(irs_collection_open(f->coll, NULL, 0, &c, &err), err, IRS_ECORRUPT,
		   "backup b3: names table 3 of 1");
	man_free(f, m);
	write_file(mpath, morig, mlen);
	free(morig);
}

/* A restore of the whole chain refuses the duplicate with `want` in its message and
 * leaves the tables as after b3: staging in memory, and reading the backup twice (a
 * staging budget of one byte), whose repeated hashes are resolved exactly. Where the
 * fault hooks are compiled in, both again with 4 bits of each key hash kept, so that
 * the duplicate is found among many keys that only share a hash. */
static void restore_refuses_dup(irs_collection *c, const char *want)
{
	for (int mode = 0; mode < 4; mode++) {
		bool twice = mode & 1, narrow = mode >> 1;
#ifdef IRS_FAULT_INJECTION
		irs__fault_reset();
		irs__fault.stage_hash_bits = narrow ? 0xF : 0;
#else
		if (narrow)
			break;
#endif
		irs_restore_options o;
		irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
		o.shards = 2;
		o.staging_budget = twice ? 1 : 0;
		irs_restore *r = NULL;
		irs_error err;
		ASSERT_ERR(irs_restore_run(c, &o, NULL, &r, &err), err, IRS_EDUPKEY, want,
			   "; the tables are as restored through backup b3");
		assert_int_equal(irs_restore_through(r), 2);
		irs_restore_free(r);
	}
#ifdef IRS_FAULT_INJECTION
	irs__fault_reset();
#endif
}

/* A duplicate key inside one backup written by another writer: verify_data names
 * the key and both places. */
static void test_dup_key_other_writer(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	const irs_schema_table *t = &c->tables[0];
	/* across frames of one segment */
	hand_rec a[] = {
		{IRS_REC_UPSERT, 40, "x", 1, 0}, {IRS_REC_UPSERT, 41, "x", 1, 0},
		{IRS_REC_UPSERT, 42, "x", 1, 1}, {IRS_REC_UPSERT, 43, "x", 1, 0},
		{IRS_REC_ERASE, 42, NULL, INT64_MIN, 0}, {IRS_REC_UPSERT, 44, NULL, 7, 0},
	};
	Increstore__Segment seg[2];
	hand_segment(f, t, 0, false, "data/hand/a.seg", a, NSP(a), &seg[0]);
	assert_int_equal(seg[0].frames, 2);
	irs_collection_close(c);
	splice_backup(f, "b4", false, seg, 1);
	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	ASSERT_OK(irs_collection_verify_data(c, 2, NULL, NULL, &err), err);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_EDUPKEY,
		   "backup b4 table t: key id=42 appears twice (segment data/hand/a.seg frame 0 change 2, "
		   "and segment data/hand/a.seg frame 1 change 1)");
	restore_refuses_dup(c, "backup b4 table t: key id=42 appears twice in one backup");
	irs_collection_close(c);
}

/* What a restore says about a key written twice into one backup by another writer:
 * the shard-side checks, for an incremental (staging) and for a full backup (insert).
 * Where the fault hooks are compiled in, again with 4 bits of each key hash kept, so
 * that the two changes are found among many others that only share a hash. */
static void restore_dup(fx *f, const char *want)
{
	irs_collection *c = open_ok(f->coll, 0);
	for (uint32_t round = 0; round < 4; round++) {
		uint32_t shards = round & 1 ? 4 : 1;
#ifdef IRS_FAULT_INJECTION
		irs__fault_reset();
		irs__fault.stage_hash_bits = round >> 1 ? 0xF : 0;
#else
		if (round >> 1)
			break;
#endif
		irs_restore_options o;
		irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
		o.shards = shards;
		irs_restore *r = NULL;
		irs_error err;
		int rc = irs_restore_run(c, &o, NULL, &r, &err);
		if (rc != IRS_EDUPKEY || strcmp(err.message, want) != 0)
			fail_msg("%u shards: %s \"%s\", want IRS_EDUPKEY \"%s\"", shards, irs_err_name(rc),
				 err.message, want);
		irs_restore_free(r);
	}
#ifdef IRS_FAULT_INJECTION
	irs__fault_reset();
#endif
	irs_collection_close(c);
}

static void test_dup_key_restore(void **state)
{
	fx *f = *state;
	irs_collection *c = open_ok(f->coll, 0);
	const irs_schema_table *t = &c->tables[0];
	/* the two changes to 42 apart, so that a check of neighbours alone would miss them */
	hand_rec a[] = {{IRS_REC_UPSERT, 40, "x", 1, 0}, {IRS_REC_UPSERT, 42, "x", 1, 1},
			{IRS_REC_UPSERT, 43, "x", 1, 0}, {IRS_REC_UPSERT, 44, "x", 1, 0},
			{IRS_REC_UPSERT, 45, "x", 1, 0}, {IRS_REC_ERASE, 42, NULL, INT64_MIN, 0}};
	Increstore__Segment seg;
	hand_segment(f, t, 0, false, "data/hand/inc.seg", a, NSP(a), &seg);
	irs_collection_close(c);
	splice_backup(f, "b4", false, &seg, 1);
	restore_dup(f, "backup b4 table t: key id=42 appears twice in one backup; the tables are as "
		       "restored through backup b3");
}

/* The hash of uint64 key id, as the writer and the restore compute it. */
static uint64_t id_hash(uint64_t id)
{
	uint8_t le[8], key[8];
	irs__store_le64(le, id);
	assert_int_equal(irs__key_encode_part(IRS_TYPE_UINT64, le, 8, key, sizeof key), 8);
	return irs__key_hash(key, 8);
}

#ifdef IRS_FAULT_INJECTION
/* The duplicate-key check's value of key `id` with 2 bits of each hash kept (the
 * staging set maps 0 to 1): 1, 2 or 3. */
static uint64_t narrow2_of(uint64_t id)
{
	uint64_t h = id_hash(id) & 3;
	return h ? h : 1;
}

/* The suspect hashes must be searched in order: with 2 bits of each hash kept, the
 * changes below make the hashes repeat in the order 3, 1, 2, and the duplicate key's is
 * the 3, which a search of that order unsorted would miss. */
static void test_dup_key_among_shared_hashes(void **state)
{
	fx *f = *state;
	uint64_t want[] = {3, 3, 1, 1, 2, 2}, id[6];
	uint64_t next = 1000;
	for (int i = 0; i < 6; i++) {
		if (i == 1) {
			id[1] = id[0]; /* the duplicate */
			continue;
		}
		while (narrow2_of(next) != want[i])
			next++;
		id[i] = next++;
	}
	irs_collection *c = open_ok(f->coll, 0);
	const irs_schema_table *t = &c->tables[0];
	hand_rec a[] = {{IRS_REC_UPSERT, id[0], "x", 1, 0}, {IRS_REC_ERASE, id[1], NULL, INT64_MIN, 0},
			{IRS_REC_UPSERT, id[2], "x", 1, 0}, {IRS_REC_UPSERT, id[3], "x", 1, 0},
			{IRS_REC_UPSERT, id[4], "x", 1, 0}, {IRS_REC_UPSERT, id[5], "x", 1, 0}};
	Increstore__Segment seg;
	hand_segment(f, t, 0, false, "data/hand/inc.seg", a, NSP(a), &seg);
	irs_collection_close(c);
	splice_backup(f, "b4", false, &seg, 1);
	char msg[200];
	snprintf(msg, sizeof msg, "backup b4 table t: key id=%llu appears twice in one backup; the "
		 "tables are as restored through backup b3", (unsigned long long)id[0]);
	c = open_ok(f->coll, 0);
	for (int twice = 0; twice < 2; twice++) {
		irs__fault_reset();
		irs__fault.stage_hash_bits = 3;
		irs_restore_options o;
		irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
		o.shards = 1;
		o.coordinator_decodes = -1; /* one decoder: the changes stage in their order */
		o.staging_budget = twice ? 1 : 0;
		irs_restore *r = NULL;
		irs_error err;
		int rc = irs_restore_run(c, &o, NULL, &r, &err);
		irs__fault_reset();
		if (rc != IRS_EDUPKEY || strcmp(err.message, msg) != 0)
			fail_msg("read twice %d: %s \"%s\", want IRS_EDUPKEY \"%s\"", twice, irs_err_name(rc),
				 err.message, msg);
		irs_restore_free(r);
	}
	irs_collection_close(c);
}
#endif

static void test_dup_key_restore_full(void **state)
{
	fx *f = *state;
	irs_collection *c = open_ok(f->coll, 0);
	const irs_schema_table *t = &c->tables[0];
	hand_rec a[] = {{IRS_REC_UPSERT, 7, "x", 1, 0}, {IRS_REC_UPSERT, 8, "x", 1, 0}, {IRS_REC_UPSERT, 7, "y", 2, 0}};
	Increstore__Segment s1;
	hand_segment(f, t, 0, true, "data/hand/full.seg", a, NSP(a), &s1);
	irs_collection_close(c);
	splice_backup(f, "b4", true, &s1, 1);
	restore_dup(f, "backup b4 table t: key id=7 appears twice in the full backup; the tables are empty");
}

/* The same key twice within one frame of a full backup. */
static void test_dup_key_other_writer_full(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	const irs_schema_table *t = &c->tables[0];
	hand_rec a[] = {
		{IRS_REC_UPSERT, 7, "x", 1, 0}, {IRS_REC_UPSERT, 8, "x", 1, 0}, {IRS_REC_UPSERT, 7, "y", 2, 0}};
	Increstore__Segment s1;
	hand_segment(f, t, 0, true, "data/hand/full.seg", a, NSP(a), &s1);
	irs_collection_close(c);
	splice_backup(f, "b4", true, &s1, 1);
	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	ASSERT_OK(irs_collection_verify_data(c, 2, NULL, NULL, &err), err);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_EDUPKEY,
		   "backup b4 table t: key id=7 appears twice (segment data/hand/full.seg frame 0 change 0, "
		   "and segment data/hand/full.seg frame 0 change 2)");
	irs_collection_close(c);
}

/* The same key in two segments of one incremental. */
static void test_dup_key_two_segments(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	const irs_schema_table *t = &c->tables[0];
	hand_rec b[] = {{IRS_REC_UPSERT, 1, "x", 1, 0}, {IRS_REC_UPSERT, 99, "x", 1, 0}};
	hand_rec b2[] = {{IRS_REC_UPSERT, 2, "x", 1, 1}, {IRS_REC_ERASE, 99, NULL, INT64_MIN, 0}};
	Increstore__Segment s2[2];
	hand_segment(f, t, 0, false, "data/hand/i1.seg", b, NSP(b), &s2[0]);
	hand_segment(f, t, 0, false, "data/hand/i2.seg", b2, NSP(b2), &s2[1]);
	irs_collection_close(c);
	splice_backup(f, "b4", false, s2, 2);
	c = open_ok(f->coll, 0);
	ASSERT_ERR(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err, IRS_EDUPKEY,
		   "backup b4 table t: key id=99 appears twice (segment data/hand/i1.seg frame 0 change 1, "
		   "and segment data/hand/i2.seg frame 1 change 0)");
	restore_refuses_dup(c, "backup b4 table t: key id=99 appears twice in one backup");
	irs_collection_close(c);
}

/* Creating a collection: the schema is validated before anything is written; an
 * existing collection, or a directory holding other files, is refused. */
static void test_create_rules(void **state)
{
	fx *f = *state;
	irs_error err;
	static const irs_column_def dup_cols[] = {{"a", IRS_TYPE_UINT64}, {"a", IRS_TYPE_UTF8}};
	static const irs_column_def ok_cols[] = {{"a", IRS_TYPE_UINT64}, {"b", IRS_TYPE_UTF8}};
	static const irs_column_def bad_type[] = {{"a", IRS_TYPE_UINT64}, {"b", (irs_type)0}};
	static const irs_column_def noname[] = {{"a", IRS_TYPE_UINT64}, {"", IRS_TYPE_UTF8}};
	static const uint32_t pk0[] = {0}, pk5[] = {5}, pk00[] = {0, 0};
	const struct {
		irs_table_def t;
		const char *msg;
	} bad[] = {
		{{"t", dup_cols, 2, pk0, 1}, "table t: duplicate column a"},
		{{"t", ok_cols, 2, pk5, 1}, "primary key part 0 names column 5"},
		{{"t", ok_cols, 2, pk00, 2}, "primary key part 1 names column 0"},
		{{"t", ok_cols, 2, pk0, 0}, "the primary key must have 1 to 2 columns"},
		{{"t", bad_type, 2, pk0, 1}, "table t column b: unknown type 0"},
		{{"t", noname, 2, pk0, 1}, "column name '' must be 1 to 255 bytes"},
		{{"", ok_cols, 2, pk0, 1}, "table name '' must be 1 to 255 bytes"},
		{{"t\x01", ok_cols, 2, pk0, 1}, "control character"},
	};
	for (size_t i = 0; i < NSP(bad); i++) {
		ASSERT_ERR(irs_collection_create(f->coll, &bad[i].t, 1, &err), err, IRS_ESCHEMA, bad[i].msg);
		assert_false(exists(S("%s/MANIFEST", f->coll)));
	}
	ASSERT_ERR(irs_collection_create(f->coll, NULL, 0, &err), err, IRS_ESCHEMA, "the collection has 0 tables");
	irs_table_def two[2] = {{"t", ok_cols, 2, pk0, 1}, {"t", ok_cols, 2, pk0, 1}};
	ASSERT_ERR(irs_collection_create(f->coll, two, 2, &err), err, IRS_ESCHEMA, "duplicate table t");
	assert_false(exists(S("%s/MANIFEST", f->coll)));

	ASSERT_OK(irs_collection_create(f->coll, &small_table, 1, &err), err);
	ASSERT_ERR(irs_collection_create(f->coll, &small_table, 1, &err), err, IRS_EEXIST,
		   "a collection already exists there");
	irs_collection *c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	assert_int_equal(irs_collection_backup_count(c), 0);
	assert_int_equal(strlen(irs_collection_id(c)), 32);
	irs_table_def td;
	assert_int_equal(irs_collection_table(c, 0, &td), 0);
	assert_string_equal(td.name, "t");
	assert_int_equal(td.column_count, 3);
	assert_int_equal(td.primary_key_count, 1);
	assert_int_equal(td.primary_key[0], 0);
	assert_string_equal(td.columns[1].name, "v");
	assert_int_equal(td.columns[1].type, IRS_TYPE_UTF8);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);

	/* include/increstore.h: "dir ... must not exist or be an empty directory". */
	char other[600];
	snprintf(other, sizeof other, "%s/notempty", f->tmp);
	assert_int_equal(mkdir(other, 0755), 0);
	write_file(S("%s/precious.txt", other), "x", 1);
	int rc = irs_collection_create(other, &small_table, 1, &err);
	if (rc == 0)
		fail_msg("irs_collection_create made a collection inside a non-empty directory (%s); the "
			 "header says it must not exist or be empty (format/collection.c)", other);
	assert_int_equal(rc, IRS_EEXIST);
}

/* ---- the batch decoder on hand-packed ChangeBatch payloads: every rule */

typedef struct hb {
	Increstore__ChangeBatch b;
	Increstore__ColumnValues cv[3];
	Increstore__ColumnValues *cvp[3];
	uint8_t ops[4], changed[4], nulls[4];
	uint8_t id[8], n[16], len[8], data[8], fixed1[1];
} hb;

/* One UPSERT of table t: id = 5, v = "a", n = 9, every column listed. */
static void hb_init(hb *h)
{
	memset(h, 0, sizeof *h);
	Increstore__ChangeBatch b = INCRESTORE__CHANGE_BATCH__INIT;
	h->b = b;
	for (int c = 0; c < 3; c++) {
		Increstore__ColumnValues cv = INCRESTORE__COLUMN_VALUES__INIT;
		h->cv[c] = cv;
		h->cvp[c] = &h->cv[c];
	}
	h->b.count = 1;
	h->ops[0] = IRS_REC_UPSERT;
	h->b.ops = (ProtobufCBinaryData){1, h->ops};
	h->changed[0] = 0x7;
	h->b.changed = (ProtobufCBinaryData){1, h->changed};
	h->b.nulls = (ProtobufCBinaryData){1, h->nulls};
	h->b.n_columns = 3;
	h->b.columns = h->cvp;
	irs__store_le64(h->id, 5);
	h->cv[0].fixed = (ProtobufCBinaryData){8, h->id};
	irs__store_le32(h->len, 1);
	h->data[0] = 'a';
	h->cv[1].lengths = (ProtobufCBinaryData){4, h->len};
	h->cv[1].data = (ProtobufCBinaryData){1, h->data};
	irs__store_le64(h->n, 9);
	h->cv[2].fixed = (ProtobufCBinaryData){8, h->n};
}

static int count_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)rec;
	(void)err;
	(*(int *)ctx)++;
	return 0;
}

static int hb_decode(fx *f, const irs_schema_table *t, const Increstore__ChangeBatch *b, bool full,
		     int *records, irs_error *err)
{
	uint64_t used = atomic_load(&f->mem.used);
	size_t n = increstore__change_batch__get_packed_size(b);
	uint8_t *buf = malloc(n + 1);
	assert_non_null(buf);
	increstore__change_batch__pack(b, buf);
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &f->mem);
	uint32_t count = 99;
	*records = 0;
	int rc = irs__batch_decode(&d, t, buf, n, full, 0, count_sink, records, &count, err);
	if (rc == 0)
		assert_int_equal(count, (uint32_t)*records);
	else
		assert_int_equal(count, 0);
	irs__batch_decoder_free(&d);
	free(buf);
	assert_int_equal(atomic_load(&f->mem.used), used);
	return rc;
}

static void test_batch_validation(void **state)
{
	fx *f = *state;
	irs_error err;
	ASSERT_OK(irs_collection_create(f->coll, &small_table, 1, &err), err);
	irs_collection *c = open_ok(f->coll, 0);
	const irs_schema_table *t = &c->tables[0];
	hb h;
	int recs;
#define EXPECT(full, ...)                                                                  \
	ASSERT_ERR(hb_decode(f, t, &h.b, full, &recs, &err), err, IRS_ECORRUPT, __VA_ARGS__)

	hb_init(&h);
	ASSERT_OK(hb_decode(f, t, &h.b, true, &recs, &err), err);
	assert_int_equal(recs, 1);
	ASSERT_OK(hb_decode(f, t, &h.b, false, &recs, &err), err);

	hb_init(&h); h.ops[0] = 2;
	EXPECT(false, "change 0: unknown op code 2");
	hb_init(&h); h.b.ops.len = 2;
	EXPECT(false, "batch of 1 changes has 2 op codes");
	hb_init(&h); h.b.changed.len = 2;
	EXPECT(false, "needs 1-byte bitmaps, has 2 and 1");
	hb_init(&h); h.b.nulls.len = 0;
	EXPECT(false, "needs 1-byte bitmaps, has 1 and 0");
	hb_init(&h); h.b.n_columns = 2;
	EXPECT(false, "batch has 2 columns, table t has 3");
	hb_init(&h); h.b.count = IRS_MAX_BATCH_ROWS + 1;
	EXPECT(false, "batch claims 1048577 changes, more than the limit 1048576");
	hb_init(&h); h.nulls[0] = 0x1;
	EXPECT(false, "change 0: key column id is NULL");
	hb_init(&h); h.changed[0] = 0x6;
	EXPECT(false, "change 0: key column id is missing");
	hb_init(&h); h.changed[0] = 0x5; h.nulls[0] = 0x2; h.b.columns[1]->lengths.len = 0;
	h.b.columns[1]->data.len = 0;
	EXPECT(false, "change 0: column v is NULL but not listed");
	hb_init(&h); h.ops[0] = IRS_REC_ERASE;
	EXPECT(false, "change 0: an erase lists column v");
	hb_init(&h); h.ops[0] = IRS_REC_ERASE; h.changed[0] = 0x1; h.cv[1].lengths.len = 0;
	h.cv[1].data.len = 0; h.cv[2].fixed.len = 0;
	ASSERT_OK(hb_decode(f, t, &h.b, false, &recs, &err), err); /* a valid erase */
	EXPECT(true, "change 0: an erase inside a full backup");
	hb_init(&h); h.changed[0] = 0x3; h.cv[2].fixed.len = 0;
	ASSERT_OK(hb_decode(f, t, &h.b, false, &recs, &err), err); /* a partial upsert */
	EXPECT(true, "change 0: a full-backup row does not list column n");
	hb_init(&h); h.data[0] = 0xC3;
	EXPECT(false, "change 0: column v: invalid UTF-8");
	hb_init(&h); irs__store_le32(h.len, 5);
	EXPECT(false, "change 0: column v: value length 5 runs past the column data");
	hb_init(&h); h.cv[2].fixed.len = 0;
	EXPECT(false, "change 0: column n has only 0 values");
	hb_init(&h); h.cv[2].fixed.len = 16;
	EXPECT(false, "column n holds 2 values (0 data bytes), the bitmaps use 1 (0)");
	hb_init(&h); h.cv[2].fixed.len = 7;
	EXPECT(false, "column n (int64): 7 value bytes is not a multiple of 8");
	hb_init(&h); h.cv[1].fixed = (ProtobufCBinaryData){1, h.fixed1};
	EXPECT(false, "column v (utf8): malformed length array");
	hb_init(&h); h.cv[1].lengths.len = 3;
	EXPECT(false, "column v (utf8): malformed length array");
	hb_init(&h); h.cv[1].data.len = 2;
	EXPECT(false, "column v holds 1 values (2 data bytes), the bitmaps use 1 (1)");
	hb_init(&h); h.cv[0].lengths = (ProtobufCBinaryData){4, h.len};
	EXPECT(false, "column id (uint64)");

	/* A bool column: bytes other than 0 and 1 are refused. */
	Increstore__Column c0 = INCRESTORE__COLUMN__INIT, c1 = INCRESTORE__COLUMN__INIT,
			   c2 = INCRESTORE__COLUMN__INIT;
	c0.name = (char *)"id";
	c0.type = INCRESTORE__COLUMN_TYPE__UINT64;
	c1.name = (char *)"flag";
	c1.type = INCRESTORE__COLUMN_TYPE__BOOL;
	c2.name = (char *)"n";
	c2.type = INCRESTORE__COLUMN_TYPE__INT64;
	Increstore__Column *cols[3] = {&c0, &c1, &c2};
	uint32_t pk[1] = {0};
	Increstore__TableSchema ts = INCRESTORE__TABLE_SCHEMA__INIT;
	ts.name = (char *)"bt";
	ts.n_columns = 3;
	ts.columns = cols;
	ts.n_primary_key = 1;
	ts.primary_key = pk;
	Increstore__TableSchema *tsp[1] = {&ts};
	Increstore__Manifest m = INCRESTORE__MANIFEST__INIT;
	m.n_tables = 1;
	m.tables = tsp;
	irs_schema_table *bt;
	ASSERT_OK(irs__schema_build(&f->mem, &m, &bt, &err), err);
	hb_init(&h);
	h.cv[1].lengths.len = 0;
	h.cv[1].data.len = 0;
	h.fixed1[0] = 1;
	h.cv[1].fixed = (ProtobufCBinaryData){1, h.fixed1};
	ASSERT_OK(hb_decode(f, bt, &h.b, true, &recs, &err), err);
	h.fixed1[0] = 2;
	ASSERT_ERR(hb_decode(f, bt, &h.b, true, &recs, &err), err, IRS_ECORRUPT,
		   "change 0: column flag: bool byte 2");
	irs__schema_free(&f->mem, bt, 1);

	/* Not a ChangeBatch at all. */
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &f->mem);
	uint32_t count;
	ASSERT_ERR(irs__batch_decode(&d, t, (const uint8_t *)"\xff\xff\xff", 3, false, 0, count_sink, &recs,
				     &count, &err),
		   err, IRS_ECORRUPT, "payload is not a valid ChangeBatch message");
	irs__batch_decoder_free(&d);
#undef EXPECT

	/* Out of memory while unpacking is IRS_ENOMEM, not corruption. */
	{
		failalloc fa = {0};
		irs_allocator al = {fa_malloc, fa_realloc, tu_alloc_free, &fa};
		irs_mem fm;
		irs__mem_init(&fm, &al, 0);
		hb_init(&h);
		size_t n = increstore__change_batch__get_packed_size(&h.b);
		uint8_t *buf = malloc(n);
		assert_non_null(buf);
		increstore__change_batch__pack(&h.b, buf);
		irs_batch_decoder od;
		irs__batch_decoder_init(&od, &fm);
		uint32_t ocount;
		int rc = irs__batch_decode(&od, t, buf, n, false, 0, count_sink, &recs, &ocount, &err);
		irs__batch_decoder_free(&od);
		free(buf);
		irs_collection_close(c);
		if (rc != IRS_ENOMEM)
			fail_msg("decoding with a failing allocator: %s \"%s\", want IRS_ENOMEM (format/batch_decode.c "
				 "reports a failed arena allocation as a corrupt payload)",
				 irs_err_name(rc), err.message);
		assert_int_equal(atomic_load(&fm.used), 0);
	}
}

/* ================================================================== c) writer failures */

/* Asserts the collection holds exactly b1, b2, b3 and verifies. */
static void assert_original(fx *f)
{
	irs_collection *c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	assert_int_equal(irs_collection_backup_count(c), 3);
	static const char *names[] = {"b1", "b2", "b3"};
	for (uint32_t i = 0; i < 3; i++) {
		irs_backup_info bi;
		assert_int_equal(irs_collection_backup(c, i, &bi), 0);
		assert_string_equal(bi.name, names[i]);
	}
	irs_error err;
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
}

static void add_filler(irs_backup_writer *w, uint64_t from, uint64_t n)
{
	irs_value row[3];
	char buf[64];
	irs_error err;
	for (uint64_t id = from; id < from + n; id++) {
		small_row(row, id, "filler-filler-filler-filler", (int64_t)id, buf);
		ASSERT_OK(irs_backup_writer_upsert(w, 0, row, id, &err), err);
	}
}

/* An allocator that raises a cancel flag when a spill takes its 1 MiB write buffer
 * (a fresh allocation of exactly 1 MiB: the record buffers grow from smaller ones). */
static void *spill_flag_realloc(void *ctx, void *p, size_t o, size_t n)
{
	if (!o && n == (size_t)1 << 20)
		__atomic_store_n((int *)ctx, 1, __ATOMIC_RELAXED);
	return realloc(p, n);
}

static void *spill_flag_malloc(void *ctx, size_t n)
{
	return spill_flag_realloc(ctx, NULL, 0, n);
}

/* The cancel flag stops an add that spills buffered changes, whether it was set
 * before (seen once they are sorted) or while the spill writes (seen after its first
 * MiB): that add fails with IRS_ECANCELED, the writer refuses more, and its abort
 * leaves the collection as it was, with no run file behind. */
static void test_writer_spill_cancel(void **state)
{
	fx *f = *state;
	for (int during = 0; during < 2; during++) {
		int flag = !during;
		irs_allocator alloc = {spill_flag_malloc, spill_flag_realloc, tu_alloc_free, &flag};
		irs_error err;
		irs_collection *c;
		ASSERT_OK(irs_collection_open(f->coll, during ? &alloc : NULL, 0, &c, &err), err);
		uint32_t before = irs_collection_backup_count(c);
		irs_writer_options o = small_opts();
		o.memory_budget = during ? 4u << 20 : 64u << 10;
		o.cancel = &flag;
		irs_backup_writer *w;
		ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "x", &o, &w, &err), err);
		irs_value row[3];
		char buf[64];
		int rc = 0;
		uint64_t id = 0;
		while (!rc && id < 200000) {
			small_row(row, id, "filler-filler-filler-filler", (int64_t)id, buf);
			rc = irs_backup_writer_upsert(w, 0, row, id, &err);
			id++;
			/* the spill that raised the flag must stop: not finish and leave it to the next */
			if (during && !rc && flag)
				fail_msg("add %llu: the spill during which the flag went up finished",
					 (unsigned long long)id);
		}
		if (rc != IRS_ECANCELED || !strstr(err.message, "backup x: cancelled before its commit"))
			fail_msg("%s spill: add %llu: %s \"%s\"", during ? "during the" : "before the",
				 (unsigned long long)id, irs_err_name(rc), err.message);
		assert_int_equal(flag, 1);
		small_row(row, id, "late", 0, buf);
		assert_int_equal(irs_backup_writer_upsert(w, 0, row, id, &err), IRS_EINVAL);
		irs_backup_writer_abort(w);
		assert_int_equal(irs_collection_backup_count(c), before);
		irs_collection_close(c);
		assert_no_leftovers(f->coll);
	}
}

/* begin, add (spilling), abort: nothing changes and nothing is left behind. */
static void test_writer_abort(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	irs_writer_options o = small_opts();
	o.memory_budget = 64 << 10;
	irs_backup_writer *w;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "x", &o, &w, &err), err);
	add_filler(w, 5000, 3000);
	assert_int_equal(count_entries(f->coll, "tmp-"), 1);
	irs_backup_writer_abort(w);
	assert_int_equal(count_entries(f->coll, "tmp-"), 0);
	assert_int_equal(irs_collection_backup_count(c), 3);
	assert_original(f);
	assert_no_leftovers(f->coll);
	irs_backup_writer_abort(NULL);
	/* The name is free again; the next backup commits normally. */
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "x", &o, &w, &err), err);
	add_filler(w, 5000, 10);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
	assert_int_equal(irs_collection_backup_count(c), 4);
	irs_collection_close(c);
	assert_no_leftovers(f->coll);
}

/* Input errors name the tag ("line N"); after one, abort leaves the collection. */
static void test_writer_input_errors(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	irs_writer_options o = small_opts();
	irs_backup_writer *w;
	irs_value row[3];
	char buf[64];
	ASSERT_ERR(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "b2", &o, &w, &err), err, IRS_EEXIST,
		   "a backup named b2 already exists");
	ASSERT_ERR(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "bad\nname", &o, &w, &err), err,
		   IRS_EINVAL, "control character");
	ASSERT_ERR(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "", &o, &w, &err), err, IRS_EINVAL,
		   "backup name");

	/* Each refused change in a fresh writer (after an error a writer can only be
	 * aborted), after 50 good ones. */
#define BAD(kind, call, code, msg)                                                         \
	do {                                                                               \
		ASSERT_OK(irs_backup_writer_begin(c, kind, "x", &o, &w, &err), err);       \
		add_filler(w, 0, 50);                                                      \
		ASSERT_ERR(call, err, code, msg);                                          \
		irs_backup_writer_abort(w);                                                \
	} while (0)
	small_row(row, 1, "v", 1, buf);
	row[0].state = IRS_VALUE_NULL;
	BAD(IRS_BACKUP_FULL, irs_backup_writer_upsert(w, 0, row, 77, &err), IRS_EINPUT,
	    "line 77: key column id is NULL");
	BAD(IRS_BACKUP_INCREMENTAL, irs_backup_writer_erase(w, 0, row, 77, &err), IRS_EINPUT,
	    "line 77: key column id is NULL");
	row[0].state = IRS_VALUE_ABSENT;
	BAD(IRS_BACKUP_INCREMENTAL, irs_backup_writer_upsert(w, 0, row, 78, &err), IRS_EINPUT,
	    "line 78: key column id is missing");
	small_row(row, 1, "\xc3", 1, buf);
	BAD(IRS_BACKUP_FULL, irs_backup_writer_upsert(w, 0, row, 79, &err), IRS_EINPUT,
	    "line 79: column v (utf8): invalid UTF-8");
	small_row(row, 1, "v", 1, buf);
	BAD(IRS_BACKUP_FULL, irs_backup_writer_erase(w, 0, row, 80, &err), IRS_EINPUT,
	    "line 80: an erase in a full backup");
	BAD(IRS_BACKUP_FULL, irs_backup_writer_upsert(w, 5, row, 81, &err), IRS_EINVAL,
	    "table index 5 of 1");
#undef BAD
	assert_int_equal(irs_collection_backup_count(c), 3);
	irs_collection_close(c);
	assert_original(f);
	assert_no_leftovers(f->coll);
}

/* include/increstore.h: "After an error the writer can only be aborted." A commit
 * after a failed add must not publish a backup that silently lacks the change. */
static void test_writer_commit_after_error(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	irs_writer_options o = small_opts();
	irs_backup_writer *w;
	irs_value row[3];
	char buf[64];
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "x", &o, &w, &err), err);
	add_filler(w, 0, 20);
	small_row(row, 1, "v", 1, buf);
	row[0].state = IRS_VALUE_NULL;
	ASSERT_ERR(irs_backup_writer_upsert(w, 0, row, 21, &err), err, IRS_EINPUT,
		   "line 21: key column id is NULL");
	int rc = irs_backup_writer_commit(w, &err);
	if (rc == 0)
		fail_msg("commit after a failed add succeeded and published backup x without the "
			 "refused change (format/writer.c add_change: set w->failed on every error)");
	assert_int_equal(irs_collection_backup_count(c), 3);
	irs_collection_close(c);
	assert_original(f);
	assert_no_leftovers(f->coll);
}

/* Leftovers of an interrupted writer are removed by the next begin; referenced data
 * stays. */
static void test_leftovers_cleaned(void **state)
{
	fx *f = *state;
	irs_error err;
	assert_int_equal(mkdir(S("%s/tmp-deadbeef", f->coll), 0755), 0);
	write_file(S("%s/tmp-deadbeef/run-0", f->coll), "x", 1);
	assert_int_equal(mkdir(S("%s/data/b000004-00000000deadbeef", f->coll), 0755), 0);
	write_file(S("%s/data/b000004-00000000deadbeef/t0-0000.seg", f->coll), "IRSSEG\r\n", 8);
	write_file(S("%s/MANIFEST.tmp", f->coll), "partial", 7);
	irs_collection *c = open_ok(f->coll, 0);
	irs_backup_writer *w;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, NULL, NULL, &w, &err), err);
	assert_false(exists(S("%s/tmp-deadbeef", f->coll)));
	assert_false(exists(S("%s/data/b000004-00000000deadbeef", f->coll)));
	assert_false(exists(S("%s/MANIFEST.tmp", f->coll)));
	irs_backup_writer_abort(w);
	irs_collection_close(c);
	assert_original(f);
	assert_no_leftovers(f->coll);
}

/* Commits an empty incremental named `name` (NULL: the default name) and returns the
 * name it got. */
static const char *commit_empty_incremental(irs_collection *c, const char *name)
{
	static char got[IRS_MAX_NAME + 1];
	irs_backup_writer *w;
	irs_error err;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, name, NULL, &w, &err), err);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
	irs_backup_info bi;
	assert_int_equal(irs_collection_backup(c, irs_collection_backup_count(c) - 1, &bi), 0);
	snprintf(got, sizeof got, "%s", bi.name);
	return got;
}

/* A default name is now, or a microsecond after the chain's last default name when the
 * clock is behind it; a name of that shape that is no real time does not count; after
 * the last time of year 9999 there is none, and begin says so at once. */
static void test_default_names(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	commit_empty_incremental(c, "20991231T235959.999999Z");
	assert_string_equal(commit_empty_incremental(c, NULL), "21000101T000000.000000Z");
	commit_empty_incremental(c, "zzzzzzzzTzzzzzz.zzzzzzZ");
	assert_string_equal(commit_empty_incremental(c, NULL), "21000101T000000.000001Z");
	commit_empty_incremental(c, "21001399T000000.000000Z"); /* month 13 */
	commit_empty_incremental(c, "21000231T000000.000000Z"); /* 31 February */
	assert_string_equal(commit_empty_incremental(c, NULL), "21000101T000000.000002Z");
	commit_empty_incremental(c, "99991231T235959.999999Z");
	irs_backup_writer *w = NULL;
	ASSERT_ERR(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, NULL, NULL, &w, &err), err, IRS_ECHAIN,
		   "no default name sorts after the chain's last one");
	assert_null(w);
	/* the refusal left the lock free: a named backup still goes in */
	assert_string_equal(commit_empty_incremental(c, "named"), "named");
	irs_collection_close(c);
	assert_no_leftovers(f->coll);
}

/* Another writer may lay its segments out differently (docs/format.md: readers use the
 * manifest's paths only). The leftover cleanup of the next begin must not delete files
 * the manifest references, wherever they are. */
static void test_leftovers_foreign_layout(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	hand_rec a[] = {{IRS_REC_UPSERT, 500, "x", 1, 0}, {IRS_REC_UPSERT, 501, "y", 2, 0}};
	hand_rec b[] = {{IRS_REC_UPSERT, 502, "z", 3, 0}};
	Increstore__Segment seg[2];
	hand_segment(f, &c->tables[0], 0, false, "data/b4.seg", a, NSP(a), &seg[0]);
	hand_segment(f, &c->tables[0], 0, false, "other/b4-more.seg", b, NSP(b), &seg[1]);
	irs_collection_close(c);
	splice_backup(f, "b4", false, seg, 2);
	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_backup_writer *w;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "b5", NULL, &w, &err), err);
	add_filler(w, 9000, 5);
	int rc = irs_backup_writer_commit(w, &err);
	irs_collection_close(c);
	if (!exists(S("%s/data/b4.seg", f->coll)))
		fail_msg("the next writer deleted data/b4.seg, a segment the manifest references "
			 "(format/writer.c clean_leftovers removes every unreferenced-looking data/b* "
			 "entry, files included)");
	ASSERT_OK(rc, err);
	c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	assert_int_equal(irs_collection_backup_count(c), 5);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
}

/* Two writers at once on one collection: the second is refused by the lock. */
static void test_writer_lock(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c1 = open_ok(f->coll, 0), *c2 = open_ok(f->coll, 0);
	irs_backup_writer *w1, *w2 = (irs_backup_writer *)1;
	ASSERT_OK(irs_backup_writer_begin(c1, IRS_BACKUP_INCREMENTAL, "x", NULL, &w1, &err), err);
	ASSERT_ERR(irs_backup_writer_begin(c2, IRS_BACKUP_INCREMENTAL, "y", NULL, &w2, &err), err, IRS_EIO,
		   "another writer is adding a backup");
	assert_null(w2);
	irs_backup_writer_abort(w1);
	irs_collection_close(c1);
	irs_collection_close(c2);
	assert_original(f);
}

/*
 * Two handles on one collection, used one after the other (two `increstore add` runs
 * that opened the collection at about the same time): the second writer must not
 * work from its stale view of the chain. It may refuse or re-read the manifest, but
 * the first writer's committed backup must survive, data included.
 */
static void test_writer_stale_handle(void **state)
{
	fx *f = *state;
	irs_error err;
	irs_collection *c1 = open_ok(f->coll, 0), *c2 = open_ok(f->coll, 0);
	irs_backup_writer *w;
	ASSERT_OK(irs_backup_writer_begin(c2, IRS_BACKUP_INCREMENTAL, "by-c2", NULL, &w, &err), err);
	add_filler(w, 7000, 30);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
	irs_collection_close(c2);
	int rc = irs_backup_writer_begin(c1, IRS_BACKUP_INCREMENTAL, "by-c1", NULL, &w, &err);
	if (rc == 0) {
		add_filler(w, 8000, 30);
		rc = irs_backup_writer_commit(w, &err);
	}
	irs_collection_close(c1);
	irs_collection *c = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	if (irs_collection_find_backup(c, "by-c2") < 0)
		fail_msg("backup by-c2, committed through another handle, was lost (chain has %u backups; "
			 "the second writer rc %d): format/writer.c irs_backup_writer_begin must re-read "
			 "the manifest after taking the lock",
			 irs_collection_backup_count(c), rc);
	ASSERT_OK(irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(c);
}

/* The collection's MANIFEST as it is now (its path in mpath), to put back between
 * the rounds of a test that commits the same backup again and again. */
static uint8_t *manifest_copy(const fx *f, char *mpath, size_t cap, size_t *len)
{
	snprintf(mpath, cap, "%s/MANIFEST", f->coll);
	return read_file(mpath, len);
}

/*
 * An allocation failure at every point of a commit (through the collection's
 * allocator, so the re-read of the manifest after the rename is covered too): the
 * commit either succeeds or fails with IRS_ENOMEM; the collection on disk then holds the old chain or the old
 * chain plus exactly the new backup; nothing is left behind; and the same handle can
 * go on adding backups without losing any.
 */
static void test_writer_commit_faults(void **state)
{
	fx *f = *state;
	irs_error err;
	char mpath[600];
	size_t mlen;
	uint8_t *morig = manifest_copy(f, mpath, sizeof mpath, &mlen);
	failalloc fa = {-1};
	irs_allocator alloc = {fa_malloc, fa_realloc, tu_alloc_free, &fa};
	irs_writer_options o = small_opts();
	o.no_sync = 1; /* durability is not what this test is about; speed is */
	bool succeeded = false;
	int64_t n;
	for (n = 0; n < 100000 && !succeeded; n++) {
		/* Back to b1..b3 each time (the next begin removes unreferenced data), so
		 * every iteration commits the same backup and only the fault point moves. */
		write_file(mpath, morig, mlen);
		irs_collection *c = NULL;
		ASSERT_OK(irs_collection_open(f->coll, &alloc, 0, &c, &err), err);
		irs_backup_writer *w;
		ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "x", &o, &w, &err), err);
		add_filler(w, 100000, 40);
		fa.countdown = n;
		int rc = irs_backup_writer_commit(w, &err);
		bool hit = fa.countdown < 0;
		fa.countdown = -1;
		irs_collection *d = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
		uint32_t now = irs_collection_backup_count(d);
		if (rc == 0) {
			/* success with the fault armed means every allocation of the commit
			 * came before it (or the failed one was survived) */
			succeeded = !hit;
			assert_int_equal(now, 4);
		} else {
			if (rc != IRS_ENOMEM)
				fail_msg("fault %lld: commit returned %s \"%s\", want IRS_ENOMEM", (long long)n,
					 irs_err_name(rc), err.message);
			/* failed before the manifest was replaced (old chain) or after it
			 * (committed: the new chain) */
			if (now != 3 && now != 4)
				fail_msg("fault %lld: %u backups on disk, want 3 or 4", (long long)n, now);
		}
		if (now == 4) {
			irs_backup_info bi;
			assert_int_equal(irs_collection_backup(d, 3, &bi), 0);
			assert_string_equal(bi.name, "x");
			assert_int_equal(bi.records, 40);
		}
		ASSERT_OK(irs_collection_verify_data(d, UINT32_MAX, NULL, NULL, &err), err);
		irs_collection_close(d);
		assert_int_equal(count_entries(f->coll, "tmp-"), 0);
		if (now == 3) /* nothing of the failed backup may remain */
			assert_no_leftovers(f->coll);
		/* The same handle adds one more backup; none may be lost. */
		ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "y", &o, &w, &err), err);
		add_filler(w, 1, 3);
		ASSERT_OK(irs_backup_writer_commit(w, &err), err);
		d = open_ok(f->coll, 0);
		if (irs_collection_backup_count(d) != now + 1 || irs_collection_find_backup(d, "y") != (int)now)
			fail_msg("fault %lld: after one more add the chain has %u backups, want %u (a committed "
				 "backup was lost: the handle went stale when the commit failed after the rename)",
				 (long long)n, irs_collection_backup_count(d), now + 1);
		ASSERT_OK(irs_collection_verify_data(d, UINT32_MAX, NULL, NULL, &err), err);
		irs_collection_close(d);
		irs_collection_close(c);
	}
	assert_true(succeeded);
	assert_true(n > 20); /* the commit did allocate: the loop tested something */
	irs_collection *c = open_ok(f->coll, 0);
	irs_backup_writer *w;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, NULL, NULL, &w, &err), err);
	irs_backup_writer_abort(w);
	irs_collection_close(c);
	assert_no_leftovers(f->coll);
	free(morig);
}

static int hi32_cmp(const void *x, const void *y)
{
	uint64_t a = ((const uint64_t *)x)[0] >> 32, b = ((const uint64_t *)y)[0] >> 32;
	return a < b ? -1 : a > b;
}

/* The writer orders records by the top 32 bits of their hashes before it compares
 * keys: two keys that share those bits (found by a birthday search) and arrive
 * interleaved, a b a, must still meet as a pair, to be collapsed in an incremental and
 * refused in a full backup. */
static void test_writer_hash_prefix_ties(void **state)
{
	fx *f = *state;
	enum { N = 400000 };
	uint64_t(*h)[2] = malloc(sizeof *h * N);
	assert_non_null(h);
	for (uint64_t id = 0; id < N; id++) {
		h[id][0] = id_hash(10000 + id);
		h[id][1] = 10000 + id;
	}
	qsort(h, N, sizeof *h, hi32_cmp);
	uint64_t a = 0, b = 0;
	for (size_t i = 1; i < N && !a; i++)
		if (h[i][0] >> 32 == h[i - 1][0] >> 32 && h[i][0] != h[i - 1][0]) {
			a = h[i - 1][1];
			b = h[i][1];
		}
	free(h);
	if (!a)
		fail_msg("no two of %d keys share their hashes' top 32 bits", N);
	irs_error err;
	irs_collection *c = open_ok(f->coll, 0);
	irs_writer_options o = small_opts();
	o.no_sync = 1;
	irs_value row[3];
	char buf[64];
	/* an incremental: a {v}, b {v}, a {n}, b erased, then b {v} again */
	irs_backup_writer *w;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "ties", &o, &w, &err), err);
	small_row(row, a, "a1", INT64_MIN, buf);
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 1, &err), err);
	small_row(row, b, "b1", INT64_MIN, buf);
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 2, &err), err);
	small_row(row, a, NULL, 5, buf);
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 3, &err), err);
	small_row(row, b, NULL, INT64_MIN, buf);
	ASSERT_OK(irs_backup_writer_erase(w, 0, row, 4, &err), err);
	small_row(row, b, "b2", INT64_MIN, buf);
	ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 5, &err), err);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
	irs_backup_info bi;
	assert_int_equal(irs_collection_backup(c, irs_collection_backup_count(c) - 1, &bi), 0);
	assert_int_equal(bi.records, 2); /* one change for a, one for b */
	irs_restore *r;
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = 2;
	ASSERT_OK(irs_restore_run(c, &ro, NULL, &r, &err), err);
	irs_value got[3], key[3];
	small_row(key, a, NULL, INT64_MIN, buf);
	ASSERT_OK(irs_restore_get(r, 0, key, got, &err), err);
	assert_int_equal(got[1].state, IRS_VALUE_SET);
	assert_memory_equal(got[1].v.s.ptr, "a1", 2);
	assert_int_equal(got[2].state, IRS_VALUE_SET);
	assert_int_equal(got[2].v.i64, 5);
	small_row(key, b, NULL, INT64_MIN, buf);
	ASSERT_OK(irs_restore_get(r, 0, key, got, &err), err);
	assert_memory_equal(got[1].v.s.ptr, "b2", 2);
	assert_int_equal(got[2].state, IRS_VALUE_NULL); /* the erase cleared it */
	irs_restore_free(r);
	/* a full backup: a, b, a is a repeated key */
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_FULL, "dup", &o, &w, &err), err);
	uint64_t ids[3] = {a, b, a};
	for (int i = 0; i < 3; i++) {
		small_row(row, ids[i], "x", i, buf);
		ASSERT_OK(irs_backup_writer_upsert(w, 0, row, 7 + (uint64_t)i, &err), err);
	}
	assert_int_equal(irs_backup_writer_commit(w, &err), IRS_EDUPKEY);
	if (!strstr(err.message, S("key id=%llu appears twice in one backup (line 7 and line 9)", (unsigned long long)a)))
		fail_msg("%s", err.message);
	irs_collection_close(c);
}

/* An allocator that sets a cancel flag at its Nth call and never fails. It notes
 * whether the MANIFEST was still the old one then, and counts the calls after. */
typedef struct cancelalloc {
	int64_t countdown; /* < 0: never */
	int flag;
	const char *mpath; /* the MANIFEST and its bytes before the commit */
	const uint8_t *morig;
	size_t mlen;
	bool set_before_manifest; /* the flag went up while the MANIFEST was the old one */
	int64_t calls, calls_after; /* all calls; calls after the flag went up */
} cancelalloc;

static void ca_tick(cancelalloc *a)
{
	a->calls++;
	if (a->flag)
		a->calls_after++;
	if (a->countdown >= 0 && a->countdown-- == 0) {
		size_t n;
		uint8_t *now = read_file(a->mpath, &n);
		a->set_before_manifest = n == a->mlen && memcmp(now, a->morig, n) == 0;
		free(now);
		__atomic_store_n(&a->flag, 1, __ATOMIC_RELAXED);
	}
}

static void *ca_malloc(void *ctx, size_t n)
{
	ca_tick(ctx);
	return malloc(n);
}

static void *ca_realloc(void *ctx, void *p, size_t o, size_t n)
{
	(void)o;
	ca_tick(ctx);
	return realloc(p, n);
}

/* One commit of 20,000 changes in frames of 7 with the flag set at the commit's
 * allocation n (-1: before the commit, -2: never); returns what the commit returned,
 * after checking the collection holds the old chain (cancelled) or the new backup. */
static int commit_cancelled_at(fx *f, cancelalloc *ca, irs_allocator *alloc, int64_t n)
{
	irs_error err;
	irs_writer_options o = small_opts();
	o.no_sync = 1;
	o.cancel = &ca->flag;
	write_file(ca->mpath, ca->morig, ca->mlen);
	irs_collection *c = NULL;
	ASSERT_OK(irs_collection_open(f->coll, alloc, 0, &c, &err), err);
	irs_backup_writer *w;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "x", &o, &w, &err), err);
	add_filler(w, 100000, 20000);
	ca->flag = n == -1;
	ca->set_before_manifest = n == -1;
	ca->countdown = n < 0 ? -1 : n;
	ca->calls = ca->calls_after = 0;
	int rc = irs_backup_writer_commit(w, &err);
	ca->countdown = -1;
	irs_collection *d = open_ok(f->coll, IRS_OPEN_VERIFY_CRC);
	uint32_t now = irs_collection_backup_count(d);
	if (rc == IRS_ECANCELED) {
		if (now != 3)
			fail_msg("cancel at allocation %lld: %u backups on disk, want 3", (long long)n, now);
		if (!strstr(err.message, "backup x: cancelled before its commit"))
			fail_msg("cancel at allocation %lld: \"%s\"", (long long)n, err.message);
		assert_no_leftovers(f->coll);
	} else {
		if (rc != 0)
			fail_msg("cancel at allocation %lld: %s \"%s\"", (long long)n, irs_err_name(rc), err.message);
		if (ca->flag && ca->set_before_manifest)
			fail_msg("cancel at allocation %lld, before the MANIFEST was replaced: committed", (long long)n);
		assert_int_equal(now, 4);
	}
	ASSERT_OK(irs_collection_verify_data(d, UINT32_MAX, NULL, NULL, &err), err);
	irs_collection_close(d);
	/* the same handle still adds a backup once the flag is down */
	ca->flag = 0;
	ASSERT_OK(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "y", &o, &w, &err), err);
	add_filler(w, 1, 3);
	ASSERT_OK(irs_backup_writer_commit(w, &err), err);
	irs_collection_close(c);
	return rc;
}

/* The allocation after n to set the flag at: every one of the first 32 and of the last
 * 64 (the manifest is built there), about 60 spread between. */
static int64_t next_point(int64_t n, int64_t total)
{
	if (n < 32 || n >= total - 64)
		return n + 1;
	return n + n / 8 < total - 64 ? n + n / 8 : total - 64;
}

/* A cancel flag set at any point of a commit before the MANIFEST is replaced gives
 * IRS_ECANCELED with the collection as it was, and nothing left behind; a flag set
 * after it commits. The flag is seen within 4096 merged changes: the commit goes on
 * for at most that many (about 600 of its frames), not to its end. */
static void test_writer_cancel(void **state)
{
	fx *f = *state;
	char mpath[600];
	cancelalloc ca = {.countdown = -1, .mpath = mpath};
	ca.morig = manifest_copy(f, mpath, sizeof mpath, &ca.mlen);
	irs_allocator alloc = {ca_malloc, ca_realloc, tu_alloc_free, &ca};
	assert_int_equal(commit_cancelled_at(f, &ca, &alloc, -2), 0);
	int64_t total = ca.calls; /* the commit's allocations */
	assert_true(total > 2000); /* about one a frame of 7 */
	assert_int_equal(commit_cancelled_at(f, &ca, &alloc, -1), IRS_ECANCELED);
	int cancelled = 0, committed = 0;
	for (int64_t n = 0; n < total; n = next_point(n, total)) {
		int rc = commit_cancelled_at(f, &ca, &alloc, n);
		if (rc == IRS_ECANCELED) {
			cancelled++;
			if (ca.calls_after > 1000)
				fail_msg("cancel at allocation %lld of %lld: %lld more allocations before the commit "
					 "stopped", (long long)n, (long long)total, (long long)ca.calls_after);
		} else {
			committed++;
		}
	}
	assert_true(cancelled > 60);
	assert_true(committed > 0); /* the points after the MANIFEST was replaced */
	free((void *)ca.morig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* a) round trip */
		cmocka_unit_test_setup_teardown(test_round_trip, fx_setup_dir, fx_teardown),
		cmocka_unit_test_setup_teardown(test_collapse_rules, fx_setup_dir, fx_teardown),
		cmocka_unit_test_setup_teardown(test_small_fixture, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_dupkey, fx_setup_small, fx_teardown),
		/* b) damage */
		cmocka_unit_test_setup_teardown(test_trunc_open, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_trunc_reader, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_record_claim_bomb, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bitflip_payload, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_length_names_its_frame, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_verify_upto, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_stored_crc, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_segment_header, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_manifest_damage, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_frame_len_beyond, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_frame_len_huge, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_path_escape, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_missing_segment, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_chain_reordered, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_chain_gap, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_chain_incremental_first, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_chain_parent, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_type_mismatch_manifest, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_type_mismatch_batch, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_record_count, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dup_key_other_writer, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dup_key_other_writer_full, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dup_key_two_segments, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dup_key_restore, fx_setup_small, fx_teardown),
#ifdef IRS_FAULT_INJECTION
		cmocka_unit_test_setup_teardown(test_dup_key_among_shared_hashes, fx_setup_small, fx_teardown),
#endif
		cmocka_unit_test_setup_teardown(test_dup_key_restore_full, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_validation, fx_setup_dir, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_rules, fx_setup_dir, fx_teardown),
		/* c) writer failures */
		cmocka_unit_test_setup_teardown(test_writer_abort, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_input_errors, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_commit_after_error, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_leftovers_cleaned, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_default_names, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_leftovers_foreign_layout, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_lock, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_stale_handle, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_commit_faults, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_cancel, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_spill_cancel, fx_setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writer_hash_prefix_ties, fx_setup_small, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
