/*
 * test_messages.c: every restore error names the backup it happened in.
 *
 * The plan of a backup (engine/plan.c) carries the label every message of that backup
 * starts with: "backup NAME", or "checkpoint of backup NAME" while a checkpoint is
 * loaded (test_checkpoint.c). The label is set before anything can fail, and the
 * plan's arrays may be freed and grown afterwards: these tests fail where the label was
 * lost on that path (the first backup, whose arrays grow from nothing, and a backup
 * with more segments than the one before it), and they check the whole message:
 * label, segment, frame, byte offset, and where the tables are.
 *
 * The chain: table t (id uint64 | v utf8); b00 a full backup of one segment, b01 and
 * b02 incrementals written in many small segments.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "format/collection.h"
#include "increstore.h"
#include "test_util.h"

#include "test_collections.h"

typedef struct fixture {
	char tmp[256];
	char dir[300];
} fixture;

/* Writes one backup of n changes to keys first, first+1, ... */
static void write_backup(irs_collection *c, irs_backup_kind kind, const char *name, uint64_t first,
			 uint64_t n, uint64_t segment_bytes)
{
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.no_sync = 1;
	wo.batch_rows = 16;
	wo.segment_bytes = segment_bytes;
	irs_backup_writer *w;
	irs_error err;
	if (irs_backup_writer_begin(c, kind, name, &wo, &w, &err))
		fail_msg("begin %s: %s", name, err.message);
	for (uint64_t i = 0; i < n; i++) {
		char s[32];
		snprintf(s, sizeof s, "value-%llu", (unsigned long long)(first + i));
		irs_value row[2] = {tu_u64(first + i), tu_str(s)};
		if (irs_backup_writer_upsert(w, 0, row, i + 1, &err))
			fail_msg("%s: %s", name, err.message);
	}
	if (irs_backup_writer_commit(w, &err))
		fail_msg("commit %s: %s", name, err.message);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	snprintf(f->tmp, sizeof f->tmp, "/tmp/irs_test_messages_XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/c", f->tmp);
	static const irs_column_def cols[] = {{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}};
	static const uint32_t pk[] = {0};
	irs_table_def t = {"t", cols, 2, pk, 1};
	irs_error err;
	if (irs_collection_create(f->dir, &t, 1, &err))
		return -1;
	irs_collection *c;
	if (irs_collection_open(f->dir, NULL, 0, &c, &err))
		return -1;
	write_backup(c, IRS_BACKUP_FULL, "b00", 0, 50, 0);
	write_backup(c, IRS_BACKUP_INCREMENTAL, "b01", 40, 200, 512);
	write_backup(c, IRS_BACKUP_INCREMENTAL, "b02", 100, 200, 512);
	irs_collection_close(c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	gen_rmrf(f->tmp);
	free(f);
	return 0;
}

/* Path (relative) of segment s of backup b, table 0. */
static const char *seg_path(const irs_collection *c, uint32_t b, size_t s)
{
	const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], 0);
	assert_non_null(tb);
	assert_true(s < tb->n_segments);
	return tb->segments[s]->path;
}

/* XORs byte `at` of a segment file with x; returns the old byte. */
static uint8_t poke(const char *dir, const char *rel, off_t at, uint8_t x)
{
	char path[700];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, at), 1);
	uint8_t nb = b ^ x;
	assert_int_equal(pwrite(fd, &nb, 1, at), 1);
	close(fd);
	return b;
}

/* Restores everything, expecting `code` with exactly the message `want` (a
 * printf-style pattern is formatted by the caller) and the tables through `through`. */
static void restore_fails(const fixture *f, int code, const char *want, int64_t through)
{
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c, &err), 0);
	for (uint32_t shards = 1; shards <= 3; shards += 2) {
		irs_restore_options o;
		irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
		o.shards = shards;
		irs_restore *r = NULL;
		int rc = irs_restore_run(c, &o, NULL, &r, &err);
		if (rc != code || strcmp(err.message, want) != 0)
			fail_msg("%u shards: got %s \"%s\"\n  want %s \"%s\"", shards, irs_err_name(rc),
				 err.message, irs_err_name(code), want);
		assert_int_equal(irs_restore_through(r), through);
		irs_restore_free(r);
	}
	irs_collection_close(c);
}

/* The first backup: its plan's arrays grow from nothing. A frame length that runs past
 * the end (found while planning) and a payload bit flip (found while decoding). */
static void test_first_backup_named(void **state)
{
	fixture *f = *state;
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c, &err), 0);
	char rel[256];
	snprintf(rel, sizeof rel, "%s", seg_path(c, 0, 0));
	assert_int_equal(irs__backup_table(&c->backups[0], 0)->n_segments, 1);
	irs_collection_close(c);

	/* the length's high byte: 2^24 more than the file holds */
	poke(f->dir, rel, 16 + 3, 0x01);
	char want[700];
	snprintf(want, sizeof want, "backup b00: segment %s: frame 0 at byte 16: length ", rel);
	irs_collection *c2;
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c2, &err), 0);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 2;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c2, &o, NULL, &r, &err), IRS_ECORRUPT);
	if (strncmp(err.message, want, strlen(want)) != 0 || !strstr(err.message, "runs past the end of the file") ||
	    !strstr(err.message, "; the tables are empty"))
		fail_msg("message: \"%s\"", err.message);
	assert_int_equal(irs_restore_through(r), -1);
	irs_restore_free(r);
	irs_collection_close(c2);
	poke(f->dir, rel, 16 + 3, 0x01);

	/* a payload bit flip: the frame's CRC32C, checked by the shard that decodes it */
	poke(f->dir, rel, 16 + 8 + 2, 0x20);
	snprintf(want, sizeof want, "backup b00: segment %s: frame 0 at byte 16: CRC32C mismatch", rel);
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c2, &err), 0);
	r = NULL;
	assert_int_equal(irs_restore_run(c2, &o, NULL, &r, &err), IRS_ECORRUPT);
	if (strncmp(err.message, want, strlen(want)) != 0 || !strstr(err.message, "; the tables are empty"))
		fail_msg("message: \"%s\"", err.message);
	irs_restore_free(r);
	irs_collection_close(c2);
	poke(f->dir, rel, 16 + 8 + 2, 0x20);
}

/* A backup with more segments than the one before: the plan's arrays are freed and
 * grown for it. Damage in its last segment, found while planning and while decoding. */
static void test_grown_backup_named(void **state)
{
	fixture *f = *state;
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c, &err), 0);
	size_t nseg = irs__backup_table(&c->backups[1], 0)->n_segments;
	assert_true(nseg > irs__backup_table(&c->backups[0], 0)->n_segments);
	char rel[256];
	snprintf(rel, sizeof rel, "%s", seg_path(c, 1, nseg - 1));
	irs_collection_close(c);

	char want[800];
	poke(f->dir, rel, 16 + 3, 0x01);
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c, &err), 0);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 3;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c, &o, NULL, &r, &err), IRS_ECORRUPT);
	snprintf(want, sizeof want, "backup b01: segment %s: frame 0 at byte 16: length ", rel);
	if (strncmp(err.message, want, strlen(want)) != 0 ||
	    !strstr(err.message, "; the tables are as restored through backup b00"))
		fail_msg("message: \"%s\"", err.message);
	assert_int_equal(irs_restore_through(r), 0);
	irs_restore_free(r);
	irs_collection_close(c);
	poke(f->dir, rel, 16 + 3, 0x01);

	/* payload damage: the whole message, exactly (the CRC values read back) */
	uint8_t old = poke(f->dir, rel, 16 + 8 + 1, 0x40);
	(void)old;
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c, &err), 0);
	irs_collection_close(c);
	char path[700];
	snprintf(path, sizeof path, "%s/%s", f->dir, rel);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t hdr[8];
	assert_int_equal(fseek(fp, 16, SEEK_SET), 0);
	assert_int_equal(fread(hdr, 1, 8, fp), 8);
	uint32_t len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	uint32_t stored = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
	uint8_t *payload = malloc(len);
	assert_int_equal(fread(payload, 1, len, fp), len);
	fclose(fp);
	uint32_t computed = irs__crc32c(0, payload, len);
	free(payload);
	snprintf(want, sizeof want,
		 "backup b01: segment %s: frame 0 at byte 16: CRC32C mismatch (stored %08x, computed %08x); "
		 "the tables are as restored through backup b00",
		 rel, stored, computed);
	restore_fails(f, IRS_ECORRUPT, want, 0);
	poke(f->dir, rel, 16 + 8 + 1, 0x40);
}

/* A segment holding fewer records than the manifest says (checked by the coordinator
 * after staging) names its backup too. */
static void test_record_count_named(void **state)
{
	fixture *f = *state;
	char mpath[400];
	snprintf(mpath, sizeof mpath, "%s/MANIFEST", f->dir);
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	Increstore__Manifest *m;
	irs_error err;
	assert_int_equal(irs__manifest_read(f->dir, &mem, &m, &err), 0);
	Increstore__TableBackup *tb = m->chain[2]->tables[0];
	tb->segments[0]->records--;
	tb->records--;
	char rel[256];
	snprintf(rel, sizeof rel, "%s", tb->segments[0]->path);
	uint64_t has = tb->segments[0]->records + 1;
	assert_int_equal(irs__manifest_write(f->dir, m, false, &err), 0);
	char want[800];
	snprintf(want, sizeof want,
		 "backup b02: segment %s holds %llu records, the manifest says %llu; the tables are as "
		 "restored through backup b01",
		 rel, (unsigned long long)has, (unsigned long long)has - 1);
	restore_fails(f, IRS_ECORRUPT, want, 1);
	tb->segments[0]->records++;
	tb->records++;
	assert_int_equal(irs__manifest_write(f->dir, m, false, &err), 0);
	irs__manifest_free(&mem, m);
}

/* An expected state that differs from what the restore produced. */
static void test_expected_state_named(void **state)
{
	fixture *f = *state;
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	Increstore__Manifest *m;
	irs_error err;
	assert_int_equal(irs__manifest_read(f->dir, &mem, &m, &err), 0);
	Increstore__ExpectedState es = INCRESTORE__EXPECTED_STATE__INIT;
	es.rows = 999;
	es.digest = 0x1234;
	Increstore__TableBackup *tb = m->chain[1]->tables[0];
	tb->expected = &es;
	assert_int_equal(irs__manifest_write(f->dir, m, false, &err), 0);
	tb->expected = NULL;
	irs_collection *c;
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c, &err), 0);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 2;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c, &o, NULL, &r, &err), IRS_EMISMATCH);
	/* b00 holds keys 0..49, b01 upserts 40..239: 240 rows */
	const char *head = "backup b01 table t: restored 240 rows with digest ";
	const char *tail = ", the manifest expects 999 rows with digest 0000000000001234; the tables are as "
			   "restored through backup b01";
	size_t n = strlen(err.message);
	if (strncmp(err.message, head, strlen(head)) != 0 || n < strlen(tail) ||
	    strcmp(err.message + n - strlen(tail), tail) != 0)
		fail_msg("message \"%s\"", err.message);
	assert_int_equal(irs_restore_through(r), 1);
	irs_restore_free(r);
	irs_collection_close(c);
	assert_int_equal(irs__manifest_write(f->dir, m, false, &err), 0);
	irs__manifest_free(&mem, m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_backup_named),
		cmocka_unit_test(test_grown_backup_named),
		cmocka_unit_test(test_record_count_named),
		cmocka_unit_test(test_expected_state_named),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
