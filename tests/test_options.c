/*
 * test_options.c: the version field of the option structs is read (common/options.h).
 *
 * VERSION-1 CALLERS: the structs below are irs_restore_options and irs_writer_options
 * exactly as version 1 (release 0.1.0) laid them out. They are frozen: a caller compiled
 * then passes them to every later library. The test checks that the current header
 * only appended to them (every version-1 field at the same offset and size), that
 * *_options_init(o, 1) writes no byte past a version-1 struct, and that the library
 * reads no byte past it (the structs are heap blocks of exactly their size, so ASan
 * reports any read beyond), restoring and writing with them.
 *
 * UNKNOWN VERSIONS (0, newer than the library) are IRS_EINVAL naming the version, and
 * *_options_init with one writes only the version field.
 *
 * DEFAULTS FOR THE REST: the copy rule itself, on a struct with two versions: a
 * version-1 caller's bytes are taken, version 2's field keeps its default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/options.h"
#include "test_collections.h"

/* ------------------------------------------------------------------ frozen layouts */

/* irs_restore_options, version 1 (0.1.0). Never edit. */
typedef struct v1_restore_options {
	uint32_t version;
	uint32_t shards;
	const char *upto;
	const char *const *tables;
	uint32_t table_count;
	irs_progress_fn progress;
	void *progress_ctx;
	irs_barrier_fn barrier;
	void *barrier_ctx;
	const volatile int *cancel;
	uint64_t memory_limit;
	int check_expected;
	const char *checkpoint_dir;
	uint32_t checkpoint_every;
	uint32_t checkpoint_seconds;
} v1_restore_options;

/* irs_writer_options, version 1 (0.1.0). Never edit. */
typedef struct v1_writer_options {
	uint32_t version;
	size_t memory_budget;
	uint32_t batch_rows;
	uint64_t segment_bytes;
	int collapse_duplicates;
	int no_sync;
} v1_writer_options;

/* Each version-1 field sits at the same offset, with the same size, in the current struct. */
#define SAME_FIELD(cur, old, f)                                                      \
	_Static_assert(offsetof(cur, f) == offsetof(old, f) &&                           \
			       sizeof(((cur *)0)->f) == sizeof(((old *)0)->f),          \
		       #cur "." #f " moved: fields may only be appended")
SAME_FIELD(irs_restore_options, v1_restore_options, version);
SAME_FIELD(irs_restore_options, v1_restore_options, shards);
SAME_FIELD(irs_restore_options, v1_restore_options, upto);
SAME_FIELD(irs_restore_options, v1_restore_options, tables);
SAME_FIELD(irs_restore_options, v1_restore_options, table_count);
SAME_FIELD(irs_restore_options, v1_restore_options, progress);
SAME_FIELD(irs_restore_options, v1_restore_options, progress_ctx);
SAME_FIELD(irs_restore_options, v1_restore_options, barrier);
SAME_FIELD(irs_restore_options, v1_restore_options, barrier_ctx);
SAME_FIELD(irs_restore_options, v1_restore_options, cancel);
SAME_FIELD(irs_restore_options, v1_restore_options, memory_limit);
SAME_FIELD(irs_restore_options, v1_restore_options, check_expected);
SAME_FIELD(irs_restore_options, v1_restore_options, checkpoint_dir);
SAME_FIELD(irs_restore_options, v1_restore_options, checkpoint_every);
SAME_FIELD(irs_restore_options, v1_restore_options, checkpoint_seconds);
SAME_FIELD(irs_writer_options, v1_writer_options, version);
SAME_FIELD(irs_writer_options, v1_writer_options, memory_budget);
SAME_FIELD(irs_writer_options, v1_writer_options, batch_rows);
SAME_FIELD(irs_writer_options, v1_writer_options, segment_bytes);
SAME_FIELD(irs_writer_options, v1_writer_options, collapse_duplicates);
SAME_FIELD(irs_writer_options, v1_writer_options, no_sync);

#define CANARY 0xA5
#define TAIL 64

static void assert_canary(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != CANARY)
			fail_msg("byte %zu past the struct was overwritten (0x%02x)", i, p[i]);
}

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/irs_test_options_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	strcat(dir, "/c");
	gen_schema g;
	const int kinds[] = {0};
	gen_schema_init(&g, kinds, 1);
	gen_params gp = {.seed = 3, .rows = 200, .incrementals = 2, .changes = 50, .max_str = 12};
	gen_collection(dir, &g, &gp);
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

/* ------------------------------------------------------------------ restore options */

static void test_restore_init_v1_stays_inside(void **state)
{
	(void)state;
	struct {
		v1_restore_options o;
		unsigned char tail[TAIL];
	} buf;
	memset(&buf, CANARY, sizeof buf);
	irs_restore_options_init((irs_restore_options *)(void *)&buf.o, 1);
	/* version 1 ends at its last field; the bytes after it are not the library's */
	size_t end = offsetof(v1_restore_options, checkpoint_seconds) + sizeof(uint32_t);
	assert_canary((unsigned char *)&buf + end, sizeof buf - end);
	assert_int_equal(buf.o.version, 1);
	assert_int_equal(buf.o.shards, 0);
	assert_null(buf.o.upto);
	assert_null(buf.o.tables);
	assert_null(buf.o.progress);
	assert_null(buf.o.barrier);
	assert_null(buf.o.cancel);
	assert_int_equal(buf.o.memory_limit, 0);
	assert_int_equal(buf.o.check_expected, 1);
	assert_null(buf.o.checkpoint_dir);
	assert_int_equal(buf.o.checkpoint_every, 0);
	assert_int_equal(buf.o.checkpoint_seconds, 0);
}

static void test_restore_run_v1_caller(void **state)
{
	(void)state;
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	/* exactly a version-1 struct on the heap: ASan flags a read past it */
	v1_restore_options *o = malloc(sizeof *o);
	assert_non_null(o);
	irs_restore_options_init((irs_restore_options *)(void *)o, 1);
	o->shards = 3;
	o->upto = "b01";
	irs_restore *r = NULL;
	int rc = irs_restore_run(c, (const irs_restore_options *)(const void *)o, NULL, &r, &err);
	if (rc)
		fail_msg("%s", err.message);
	assert_int_equal(irs_restore_shard_count(r), 3);
	assert_int_equal(irs_restore_through(r), 1);
	irs_restore_free(r);
	free(o);
	irs_collection_close(c);
}

static void test_restore_unknown_versions(void **state)
{
	(void)state;
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	const uint32_t versions[] = {0, IRS_RESTORE_OPTIONS_VERSION + 1, 1000};
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		struct {
			irs_restore_options o;
			unsigned char tail[TAIL];
		} buf;
		memset(&buf, CANARY, sizeof buf);
		irs_restore_options_init(&buf.o, versions[i]);
		assert_int_equal(buf.o.version, versions[i]);
		/* only the version field was written */
		assert_canary((unsigned char *)&buf + sizeof(uint32_t), sizeof buf - sizeof(uint32_t));
		irs_restore_options_init(&buf.o, IRS_RESTORE_OPTIONS_VERSION);
		buf.o.version = versions[i];
		irs_restore *r = (irs_restore *)&buf; /* must be set to NULL */
		assert_int_equal(irs_restore_run(c, &buf.o, NULL, &r, &err), IRS_EINVAL);
		assert_null(r);
		char want[64];
		snprintf(want, sizeof want, "irs_restore_options version %u:", versions[i]);
		if (!strstr(err.message, want))
			fail_msg("message lacks '%s': %s", want, err.message);
	}
	irs_collection_close(c);
}

/* ------------------------------------------------------------------ diff options */

static int count_change(void *ctx, uint32_t table, irs_diff_op op, const irs_value *row)
{
	(void)table, (void)op, (void)row;
	++*(uint64_t *)ctx;
	return 0;
}

/* irs_diff_options follows the same rule: v1 exactly, unknown versions refused (they
 * were once copied whole whatever their version). */
static void test_diff_versions(void **state)
{
	(void)state;
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	struct {
		irs_diff_options o;
		unsigned char tail[TAIL];
	} buf;
	memset(&buf, CANARY, sizeof buf);
	irs_diff_options_init(&buf.o, 1); /* version 1 is the whole current struct */
	assert_int_equal(buf.o.version, 1);
	assert_int_equal(buf.o.check_expected, 1);
	assert_null(buf.o.tables);
	size_t end = offsetof(irs_diff_options, check_expected) + sizeof(int);
	assert_canary((unsigned char *)&buf + end, sizeof buf - end);
	irs_backup_info bi;
	assert_int_equal(irs_collection_backup(c, 0, &bi), 0);
	const char *first = bi.name;
	uint64_t n = 0;
	assert_int_equal(irs_collection_diff(c, first, NULL, &buf.o, NULL, count_change, &n, NULL, &err), 0);
	const uint32_t versions[] = {0, IRS_DIFF_OPTIONS_VERSION + 1, 99};
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		memset(&buf, CANARY, sizeof buf);
		irs_diff_options_init(&buf.o, versions[i]);
		assert_int_equal(buf.o.version, versions[i]);
		assert_canary((unsigned char *)&buf + sizeof(uint32_t), sizeof buf - sizeof(uint32_t));
		irs_diff_options_init(&buf.o, IRS_DIFF_OPTIONS_VERSION);
		buf.o.version = versions[i];
		uint64_t m = 0;
		assert_int_equal(irs_collection_diff(c, first, NULL, &buf.o, NULL, count_change, &m, NULL, &err),
				 IRS_EINVAL);
		assert_int_equal(m, 0);
		char want[64];
		snprintf(want, sizeof want, "irs_diff_options version %u:", versions[i]);
		if (!strstr(err.message, want))
			fail_msg("message lacks '%s': %s", want, err.message);
	}
	irs_collection_close(c);
}

/* ------------------------------------------------------------------ writer options */

static void test_writer_v1_caller(void **state)
{
	(void)state;
	struct {
		v1_writer_options o;
		unsigned char tail[TAIL];
	} buf;
	memset(&buf, CANARY, sizeof buf);
	irs_writer_options_init((irs_writer_options *)(void *)&buf.o, 1);
	size_t end = offsetof(v1_writer_options, no_sync) + sizeof(int);
	assert_canary((unsigned char *)&buf + end, sizeof buf - end);
	assert_int_equal(buf.o.version, 1);
	assert_int_equal(buf.o.memory_budget, 0);
	assert_int_equal(buf.o.batch_rows, 0);
	assert_int_equal(buf.o.segment_bytes, 0);
	assert_int_equal(buf.o.collapse_duplicates, 1);
	assert_int_equal(buf.o.no_sync, 0);

	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	v1_writer_options *o = malloc(sizeof *o);
	assert_non_null(o);
	irs_writer_options_init((irs_writer_options *)(void *)o, 1);
	o->no_sync = 1;
	o->batch_rows = 7;
	irs_backup_writer *w = NULL;
	if (irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "v1", (const irs_writer_options *)(void *)o,
				    &w, &err) != 0)
		fail_msg("%s", err.message);
	free(o);
	irs_value row[5] = {tu_u64(77), tu_i64(-1), tu_str("x"), tu_dbl(0.5), tu_bool(1)};
	assert_int_equal(irs_backup_writer_upsert(w, 0, row, 1, &err), 0);
	if (irs_backup_writer_commit(w, &err) != 0)
		fail_msg("%s", err.message);
	assert_int_equal(irs_collection_find_backup(c, "v1"), (int)irs_collection_backup_count(c) - 1);
	irs_collection_close(c);
}

static void test_writer_unknown_versions(void **state)
{
	(void)state;
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(dir, NULL, 0, &c, &err), 0);
	uint32_t before = irs_collection_backup_count(c);
	const uint32_t versions[] = {0, IRS_WRITER_OPTIONS_VERSION + 1};
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		struct {
			irs_writer_options o;
			unsigned char tail[TAIL];
		} buf;
		memset(&buf, CANARY, sizeof buf);
		irs_writer_options_init(&buf.o, versions[i]);
		assert_canary((unsigned char *)&buf + sizeof(uint32_t), sizeof buf - sizeof(uint32_t));
		irs_backup_writer *w = NULL;
		assert_int_equal(irs_backup_writer_begin(c, IRS_BACKUP_INCREMENTAL, "bad", &buf.o, &w, &err),
				 IRS_EINVAL);
		assert_null(w);
		char want[64];
		snprintf(want, sizeof want, "irs_writer_options version %u:", versions[i]);
		if (!strstr(err.message, want))
			fail_msg("message lacks '%s': %s", want, err.message);
	}
	assert_int_equal(irs_collection_backup_count(c), before);
	irs_collection_close(c);
}

/* ------------------------------------------------------------------ the copy rule */

/* A struct that gained a field in version 2. */
typedef struct two_versions {
	uint32_t version;
	uint32_t a;   /* version 1 */
	uint64_t b;   /* version 2, default 42 */
} two_versions;

static const size_t two_size[] = {0, IRS_OPTIONS_END(two_versions, a), IRS_OPTIONS_END(two_versions, b)};

static void two_defaults(two_versions *o)
{
	memset(o, 0, sizeof *o);
	o->version = 2;
	o->a = 7;
	o->b = 42;
}

static void test_copy_rule(void **state)
{
	(void)state;
	/* an old caller's version-1 struct: 8 bytes, followed by bytes that are not its own */
	struct {
		uint32_t version, a;
		unsigned char tail[TAIL];
	} old;
	memset(&old, CANARY, sizeof old);
	two_versions d;
	two_defaults(&d);
	d.version = 1;
	irs__options_init(&old, &d, 1, two_size, 2);
	assert_int_equal(old.version, 1);
	assert_int_equal(old.a, 7);
	assert_canary(old.tail, sizeof old.tail);
	old.a = 9;
	two_versions got;
	two_defaults(&got);
	irs_error err;
	assert_int_equal(irs__options_read(&got, &old, two_size, 2, "two_versions", &err), 0);
	assert_int_equal(got.version, 1);
	assert_int_equal(got.a, 9);
	assert_int_equal(got.b, 42); /* version 1 has no b: the default */
	/* a version-2 caller's b is read */
	two_versions cur = {.version = 2, .a = 1, .b = 5};
	two_defaults(&got);
	assert_int_equal(irs__options_read(&got, &cur, two_size, 2, "two_versions", &err), 0);
	assert_int_equal(got.b, 5);
	/* NULL options: the defaults */
	two_defaults(&got);
	assert_int_equal(irs__options_read(&got, NULL, two_size, 2, "two_versions", &err), 0);
	assert_int_equal(got.a, 7);
	cur.version = 3;
	assert_int_equal(irs__options_read(&got, &cur, two_size, 2, "two_versions", &err), IRS_EINVAL);
	assert_non_null(strstr(err.message, "two_versions version 3: this library"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_init_v1_stays_inside),
		cmocka_unit_test(test_restore_run_v1_caller),
		cmocka_unit_test(test_restore_unknown_versions),
		cmocka_unit_test(test_diff_versions),
		cmocka_unit_test(test_writer_v1_caller),
		cmocka_unit_test(test_writer_unknown_versions),
		cmocka_unit_test(test_copy_rule),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
