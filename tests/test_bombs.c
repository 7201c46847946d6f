/*
 * test_bombs.c: hand-made collections that ask for far more memory than their bytes
 * justify, run through the `increstore` binary with the peak RSS of the process
 * measured (wait4's ru_maxrss).
 *
 *   MANIFEST record claims: a 3-row segment whose manifest entry claims 2^28 or 2^40
 *     records (the table would be sized from the claim). Refused when the collection
 *     is opened: exit 3, one line naming MANIFEST and the backup.
 *   a 60 MB frame of 30 M empty `columns` entries: exit 3 naming the frame.
 *   a valid frame padded with 30 M unknown varint fields: accepted (forward
 *     compatibility), the rows restored.
 *   a MANIFEST of 4 M empty chain entries, a checkpoint RESTORE_STATE of 8 M empty
 *     table names: protobuf-c's unpack would allocate over 100
 *     bytes for each 2-byte entry; the bounded unpack refuses them (exit 3).
 *
 * Each peak is compared with the peak of a restore of the undamaged collection by the
 * same binary (so sanitizer builds compare like with like): at most that plus what the
 * damaged input may take (twice the frame read; an unpack's budget and the message),
 * plus 48 MiB. Without the bounds the same runs took 4.2 GB, 3.6 GB, 2.2 GB, 640 MB and
 * 416 MB (measured with the binary before the fixes). A last test measures what real manifests decode to, against the budget.
 *
 * The test process itself stays small (files are written in 1 MiB pieces), since a
 * child's peak starts from its parent's size at fork.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "engine/checkpoint.h"
#include "format/collection.h"
#include "increstore.h"
#include "test_util.h"

#include "test_collections.h"

#define MIB (1024L * 1024L)
#define BOMB_ENTRIES 30000000u /* 60 MB of 2-byte entries */

typedef struct fixture {
	char tmp[256];
	char dir[300];         /* the collection: b00 full (3 rows), b01 incremental (2 changes) */
	char b01_seg[256];     /* b01's segment, relative */
	long base_rss_kb;      /* peak of a restore of the undamaged collection */
	irs_mem mem;
} fixture;

/* ------------------------------------------------------------------ running the CLI */

typedef struct run {
	int exit_code;         /* -1 when killed by a signal */
	long rss_kb;
	char err[4096];        /* stderr */
	char out[4096];        /* the start of stdout */
} run;

static void read_into(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* Runs `increstore ARGS...` (NULL-terminated) and measures its peak RSS. */
static void cli(const fixture *f, run *r, ...)
{
	/* IRS_TEST_CLI in the environment runs another build of the binary (to check that
	 * an older one fails these tests) */
	const char *argv[16] = {getenv("IRS_TEST_CLI") ? getenv("IRS_TEST_CLI") : IRS_TEST_CLI};
	va_list ap;
	va_start(ap, r);
	int n = 1;
	for (const char *a; (a = va_arg(ap, const char *)) && n < 15;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	char errp[400], outp[400];
	snprintf(errp, sizeof errp, "%s/stderr", f->tmp);
	snprintf(outp, sizeof outp, "%s/stdout", f->tmp);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (e < 0 || o < 0 || dup2(e, 2) < 0 || dup2(o, 1) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	struct rusage ru;
	assert_int_equal(wait4(pid, &status, 0, &ru), pid);
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->rss_kb = ru.ru_maxrss;
	read_into(errp, r->err, sizeof r->err);
	read_into(outp, r->out, sizeof r->out);
}

/* stderr is exactly one line "increstore: ..." holding every string in subs. */
static void one_line(const run *r, const char *const *subs)
{
	size_t n = strlen(r->err);
	if (strncmp(r->err, "increstore: ", 12) != 0 || n == 0 || r->err[n - 1] != '\n' ||
	    strchr(r->err, '\n') != r->err + n - 1)
		fail_msg("want one error line, got \"%s\"", r->err);
	for (; *subs; subs++)
		if (!strstr(r->err, *subs))
			fail_msg("the line lacks \"%s\": %s", *subs, r->err);
}

/* The peak of r is at most the undamaged restore's, plus `extra` bytes (what the damaged
 * input may take: the frame it reads, the budget of an unpack), plus 48 MiB (a
 * sanitizer's allocator holds freed memory for a while). */
static void small_peak(const fixture *f, const run *r, long extra, const char *what)
{
#if defined(__SANITIZE_THREAD__)
	extra *= 5; /* ThreadSanitizer keeps shadow memory of 4 bytes per byte touched */
#endif
	long allowed = f->base_rss_kb + extra / 1024 + 48 * 1024;
	print_message("  %s: peak RSS %ld KiB (undamaged restore %ld KiB, allowed %ld KiB)\n", what,
		      r->rss_kb, f->base_rss_kb, allowed);
	if (r->rss_kb > allowed)
		fail_msg("%s: peak RSS %ld KiB, more than %ld KiB", what, r->rss_kb, allowed);
}

/* ------------------------------------------------------------------ building bombs */

/* Writes a segment of table 0 holding one frame whose payload is `head` followed by
 * `reps` copies of the 2 bytes `pad`; fills in its manifest entry (records = claim). */
static void write_segment(const fixture *f, const char *rel, const uint8_t *head, size_t head_len,
			  const uint8_t pad[2], size_t reps, uint64_t records, Increstore__Segment *out)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", f->dir, rel);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	size_t len = head_len + 2 * reps;
	uint8_t *chunk = malloc(MIB);
	assert_non_null(chunk);
	for (size_t i = 0; i < MIB; i += 2)
		memcpy(chunk + i, pad, 2);
	/* the payload's CRC first, in pieces */
	uint32_t pcrc = head_len ? irs__crc32c(0, head, head_len) : 0;
	for (size_t left = 2 * reps; left;) {
		size_t k = left < (size_t)MIB ? left : (size_t)MIB;
		pcrc = irs__crc32c(pcrc, chunk, k);
		left -= k;
	}
	uint8_t hdr[IRS_SEGMENT_HEADER + IRS_FRAME_HEADER];
	memcpy(hdr, IRS_SEGMENT_MAGIC, 8);
	irs__store_le32(hdr + 8, IRS_FORMAT_VERSION);
	irs__store_le32(hdr + 12, 0);
	irs__store_le32(hdr + 16, (uint32_t)len);
	irs__store_le32(hdr + 20, pcrc);
	uint32_t fcrc = irs__crc32c(0, hdr, sizeof hdr);
	assert_int_equal(fwrite(hdr, 1, sizeof hdr, fp), sizeof hdr);
	if (head_len) {
		fcrc = irs__crc32c(fcrc, head, head_len);
		assert_int_equal(fwrite(head, 1, head_len, fp), head_len);
	}
	for (size_t left = 2 * reps; left;) {
		size_t k = left < (size_t)MIB ? left : (size_t)MIB;
		fcrc = irs__crc32c(fcrc, chunk, k);
		assert_int_equal(fwrite(chunk, 1, k, fp), k);
		left -= k;
	}
	free(chunk);
	assert_int_equal(fclose(fp), 0);
	Increstore__Segment init = INCRESTORE__SEGMENT__INIT;
	*out = init;
	out->path = (char *)rel;
	out->size = sizeof hdr + len;
	out->records = records;
	out->crc32c = fcrc;
	out->frames = 1;
}

/* Reads the payload of frame 0 of a segment (malloc'd). */
static uint8_t *first_payload(const fixture *f, const char *rel, size_t *len)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", f->dir, rel);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t hdr[IRS_SEGMENT_HEADER + IRS_FRAME_HEADER];
	assert_int_equal(fread(hdr, 1, sizeof hdr, fp), sizeof hdr);
	*len = irs__load_le32(hdr + 16);
	uint8_t *p = malloc(*len);
	assert_int_equal(fread(p, 1, *len, fp), *len);
	fclose(fp);
	return p;
}

/* Points backup b's table-0 segment at seg (and its record count); returns the old
 * manifest bytes so the caller can put them back. */
static Increstore__Manifest *splice_segment(fixture *f, uint32_t b, const Increstore__Segment *seg)
{
	Increstore__Manifest *m;
	irs_error err;
	assert_int_equal(irs__manifest_read(f->dir, &f->mem, &m, &err), 0);
	Increstore__TableBackup *tb = m->chain[b]->tables[0];
	Increstore__Segment *old = tb->segments[0];
	Increstore__Segment **one = malloc(sizeof *one);
	one[0] = (Increstore__Segment *)seg;
	Increstore__Manifest copy = *m;
	Increstore__Segment **saved = tb->segments;
	size_t saved_n = tb->n_segments;
	uint64_t saved_rec = tb->records;
	tb->segments = one;
	tb->n_segments = 1;
	tb->records = seg->records;
	assert_int_equal(irs__manifest_write(f->dir, &copy, false, &err), 0);
	tb->segments = saved;
	tb->n_segments = saved_n;
	tb->records = saved_rec;
	(void)old;
	free(one);
	return m;
}

static void unsplice_segment(fixture *f, Increstore__Manifest *m)
{
	irs_error err;
	assert_int_equal(irs__manifest_write(f->dir, m, false, &err), 0);
	irs__manifest_free(&f->mem, m);
}

/* ------------------------------------------------------------------ fixture */

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	irs__mem_init(&f->mem, NULL, 0);
	snprintf(f->tmp, sizeof f->tmp, "/tmp/irs_test_bombs_XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/c", f->tmp);
	static const irs_column_def cols[] = {{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}};
	static const uint32_t pk[] = {0};
	irs_table_def t = {"t", cols, 2, pk, 1};
	irs_error err;
	irs_collection *c;
	if (irs_collection_create(f->dir, &t, 1, &err) || irs_collection_open(f->dir, NULL, 0, &c, &err))
		return -1;
	for (uint32_t b = 0; b < 2; b++) {
		irs_writer_options wo;
		irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
		wo.no_sync = 1;
		irs_backup_writer *w;
		if (irs_backup_writer_begin(c, b ? IRS_BACKUP_INCREMENTAL : IRS_BACKUP_FULL, b ? "b01" : "b00",
					    &wo, &w, &err))
			return -1;
		for (uint64_t i = 0; i < (b ? 2u : 3u); i++) {
			irs_value row[2] = {tu_u64(b * 2 + i), tu_str("x")};
			if (irs_backup_writer_upsert(w, 0, row, i + 1, &err))
				return -1;
		}
		if (irs_backup_writer_commit(w, &err))
			return -1;
	}
	snprintf(f->b01_seg, sizeof f->b01_seg, "%s", irs__backup_table(&c->backups[1], 0)->segments[0]->path);
	irs_collection_close(c);
	run r;
	cli(f, &r, "restore", f->dir, "--shards", "2", NULL);
	if (r.exit_code != 0 || !strstr(r.out, "table t: 4 rows"))
		return -1;
	f->base_rss_kb = r.rss_kb;
	char p[400];
	snprintf(p, sizeof p, "%s/data/bomb", f->dir);
	mkdir(p, 0755);
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

/* ------------------------------------------------------------------ tests */

/* A manifest claiming 2^28 or 2^40 records for the full backup's 3-row segment. */
static void test_record_claim_cli(void **state)
{
	fixture *f = *state;
	static const uint64_t claims[] = {(uint64_t)1 << 28, (uint64_t)1 << 40};
	for (size_t i = 0; i < 2; i++) {
		Increstore__Manifest *m;
		irs_error err;
		assert_int_equal(irs__manifest_read(f->dir, &f->mem, &m, &err), 0);
		Increstore__TableBackup *tb = m->chain[0]->tables[0];
		uint64_t old = tb->segments[0]->records;
		tb->segments[0]->records = claims[i];
		tb->records = claims[i];
		assert_int_equal(irs__manifest_write(f->dir, m, false, &err), 0);
		char claim[64];
		snprintf(claim, sizeof claim, "claims %llu records", (unsigned long long)claims[i]);
		run r;
		cli(f, &r, "restore", f->dir, "--shards", "2", NULL);
		small_peak(f, &r, 0, claim);
		assert_int_equal(r.exit_code, 3);
		one_line(&r, (const char *const[]){"MANIFEST: backup b00 table t: segment ", claim,
						   "more than its", NULL});
		tb->segments[0]->records = old;
		tb->records = old;
		assert_int_equal(irs__manifest_write(f->dir, m, false, &err), 0);
		irs__manifest_free(&f->mem, m);
	}
}

/* A 60 MB frame of 30 M empty `columns` entries in b01. */
static void test_frame_columns_bomb(void **state)
{
	fixture *f = *state;
	Increstore__Segment seg;
	static const uint8_t empty_column[2] = {0x2a, 0x00}; /* field 5, length 0 */
	write_segment(f, "data/bomb/columns.seg", NULL, 0, empty_column, BOMB_ENTRIES, 1, &seg);
	Increstore__Manifest *m = splice_segment(f, 1, &seg);
	run r;
	cli(f, &r, "restore", f->dir, "--shards", "2", "--quiet", NULL);
	small_peak(f, &r, 2 * (long)seg.size, "30 M empty columns");
	assert_int_equal(r.exit_code, 3);
	char want[128];
	snprintf(want, sizeof want, "batch has %u columns, table t has 2", BOMB_ENTRIES);
	one_line(&r, (const char *const[]){"backup b01: segment data/bomb/columns.seg: frame 0 at byte 16",
					   want, "; the tables are as restored through backup b00", NULL});
	unsplice_segment(f, m);
}

/* b01's valid frame padded with 30 M unknown varint fields: accepted, rows restored. */
static void test_frame_unknown_fields(void **state)
{
	fixture *f = *state;
	size_t len;
	uint8_t *head = first_payload(f, f->b01_seg, &len);
	Increstore__Segment seg;
	static const uint8_t unknown_varint[2] = {0x78, 0x00}; /* field 15, varint 0 */
	write_segment(f, "data/bomb/unknown.seg", head, len, unknown_varint, BOMB_ENTRIES, 2, &seg);
	free(head);
	Increstore__Manifest *m = splice_segment(f, 1, &seg);
	run r;
	cli(f, &r, "restore", f->dir, "--shards", "2", NULL);
	small_peak(f, &r, 2 * (long)seg.size, "a valid batch with 30 M unknown fields");
	if (r.exit_code != 0 || !strstr(r.out, "table t: 4 rows"))
		fail_msg("exit %d: %s%s", r.exit_code, r.out, r.err);
	unsplice_segment(f, m);
}

/* Writes DIR/MANIFEST with a payload made of the real manifest's payload followed by
 * `reps` copies of `pad` (protobuf concatenation: appended repeated entries). */
static long write_padded_manifest(const fixture *f, const uint8_t pad[2], size_t reps)
{
	char path[400];
	snprintf(path, sizeof path, "%s/MANIFEST", f->dir);
	size_t mlen;
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	uint8_t hdr[IRS_MANIFEST_HEADER];
	assert_int_equal(fread(hdr, 1, sizeof hdr, fp), sizeof hdr);
	mlen = irs__load_le32(hdr + 12);
	uint8_t *payload = malloc(mlen);
	assert_int_equal(fread(payload, 1, mlen, fp), mlen);
	fclose(fp);
	uint8_t *chunk = malloc(MIB);
	for (size_t i = 0; i < MIB; i += 2)
		memcpy(chunk + i, pad, 2);
	size_t len = mlen + 2 * reps;
	uint32_t crc = irs__crc32c(0, payload, mlen);
	for (size_t left = 2 * reps; left;) {
		size_t k = left < (size_t)MIB ? left : (size_t)MIB;
		crc = irs__crc32c(crc, chunk, k);
		left -= k;
	}
	irs__store_le32(hdr + 12, (uint32_t)len);
	irs__store_le32(hdr + 16, crc);
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(hdr, 1, sizeof hdr, fp), sizeof hdr);
	assert_int_equal(fwrite(payload, 1, mlen, fp), mlen);
	for (size_t left = 2 * reps; left;) {
		size_t k = left < (size_t)MIB ? left : (size_t)MIB;
		assert_int_equal(fwrite(chunk, 1, k, fp), k);
		left -= k;
	}
	assert_int_equal(fclose(fp), 0);
	free(chunk);
	free(payload);
	return (long)(sizeof hdr + len);
}

/* A MANIFEST padded with 4 M empty chain entries (8 MB): over the unpack budget. */
static void test_manifest_unpack_bomb(void **state)
{
	fixture *f = *state;
	Increstore__Manifest *m;
	irs_error err;
	assert_int_equal(irs__manifest_read(f->dir, &f->mem, &m, &err), 0);
	static const uint8_t empty_backup[2] = {0x22, 0x00}; /* field 4 (chain), length 0 */
	long bytes = write_padded_manifest(f, empty_backup, 4u << 20);
	run r;
	cli(f, &r, "restore", f->dir, NULL);
	/* the unpack's budget (16x the payload + 4 MiB) and the payload itself */
	small_peak(f, &r, (long)IRS_PB_BUDGET(bytes) + bytes, "4 M empty chain entries");
	assert_int_equal(r.exit_code, 3);
	one_line(&r, (const char *const[]){"/MANIFEST: the payload at byte 20 decodes to more than ",
					   "not a message this format writes", NULL});
	unsplice_segment(f, m);
}

/* A checkpoint whose RESTORE_STATE holds 8 M empty table names (16 MB, the most a
 * state file may hold). */
static void test_restore_state_bomb(void **state)
{
	fixture *f = *state;
	char ck[400], sub[500], path[600];
	snprintf(ck, sizeof ck, "%s/ck", f->tmp);
	run r;
	cli(f, &r, "restore", f->dir, "--quiet", "--upto", "b00", "--checkpoint", ck,
	    "--checkpoint-seconds", "0", NULL);
	assert_int_equal(r.exit_code, 0);
	/* the restore up to b00 wrote no checkpoint (none after the last backup): make one
	 * by hand that names a checkpoint directory, with a padded state */
	snprintf(sub, sizeof sub, "%s/ckpt-000001-bomb", ck);
	mkdir(ck, 0755);
	assert_int_equal(mkdir(sub, 0755), 0);
	Increstore__RestoreState rs = INCRESTORE__RESTORE_STATE__INIT;
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(f->dir, NULL, 0, &c, &err), 0);
	rs.collection_id = (char *)irs_collection_id(c);
	rs.upto = "b01";
	rs.through_seq = 1;
	rs.through_name = "b00";
	char *tables[1] = {"t"};
	rs.n_tables = 1;
	rs.tables = tables;
	size_t plen = increstore__restore_state__get_packed_size(&rs);
	size_t reps = (8u << 20) - 64;
	size_t len = plen + 2 * reps;
	uint8_t *buf = malloc(20 + len);
	increstore__restore_state__pack(&rs, buf + 20);
	for (size_t i = 0; i < reps; i++) {
		buf[20 + plen + 2 * i] = 0x22; /* field 4 (tables), length 0 */
		buf[20 + plen + 2 * i + 1] = 0x00;
	}
	irs_collection_close(c);
	memcpy(buf, "IRSCKP\r\n", 8);
	irs__store_le32(buf + 8, 1);
	irs__store_le32(buf + 12, (uint32_t)len);
	irs__store_le32(buf + 16, irs__crc32c(0, buf + 20, len));
	snprintf(path, sizeof path, "%s/RESTORE_STATE", sub);
	FILE *fp = fopen(path, "wb");
	assert_int_equal(fwrite(buf, 1, 20 + len, fp), 20 + len);
	fclose(fp);
	free(buf);
	snprintf(path, sizeof path, "%s/CURRENT", ck);
	fp = fopen(path, "w");
	fputs("ckpt-000001-bomb\n", fp);
	fclose(fp);
	cli(f, &r, "restore", f->dir, "--quiet", "--checkpoint", ck, NULL);
	/* the state's budget (4x its length + 1 MiB) and the state itself */
	small_peak(f, &r, 5 * (long)len + MIB, "8 M empty table names");
	assert_int_equal(r.exit_code, 3);
	one_line(&r, (const char *const[]){"ckpt-000001-bomb/RESTORE_STATE: the payload at byte 20 decodes to more than ",
					   NULL});
	gen_rmrf(ck);
}

/* What real manifests decode to, measured with the budget allocator: well under the
 * budget for every shape a writer makes (wide schemas of short names; long chains;
 * many tables, each with an expected state in every backup). */
static void measure(const Increstore__Manifest *m, const char *what)
{
	size_t len = increstore__manifest__get_packed_size(m);
	uint8_t *buf = malloc(len);
	increstore__manifest__pack(m, buf);
	irs_mem mem;
	irs__mem_init(&mem, NULL, 0);
	irs_pb_budget b;
	ProtobufCAllocator pa;
	irs__pb_budget_init(&b, &mem, IRS_PB_BUDGET(len), &pa);
	Increstore__Manifest *u = increstore__manifest__unpack(&pa, len, buf);
	assert_non_null(u);
	print_message("  %s: %zu bytes decode to a peak of %zu (%.1fx; budget %zu)\n", what, len, b.peak,
		      (double)b.peak / (double)len, b.limit);
	/* half the budget at most: real manifests have room to spare */
	assert_true(b.peak <= b.limit / 2);
	increstore__manifest__free_unpacked(u, &pa);
	free(buf);
}

static void test_manifest_budget_real_shapes(void **state)
{
	(void)state;
	enum { NT = 64, NC = 4096, NB = 100000, NT2 = 2048, NB2 = 100 };
	/* a wide schema: 64 tables of 4096 columns named c0..c4095 */
	Increstore__Manifest m = INCRESTORE__MANIFEST__INIT;
	m.format_version = 1;
	m.collection_id = "0123456789abcdef0123456789abcdef";
	Increstore__TableSchema *ts = calloc(NT, sizeof *ts);
	Increstore__TableSchema **tsp = calloc(NT, sizeof *tsp);
	Increstore__Column *cols = calloc(NC, sizeof *cols);
	Increstore__Column **colp = calloc(NC, sizeof *colp);
	char (*names)[8] = calloc(NC, 8);
	uint32_t pk = 0;
	for (uint32_t c = 0; c < NC; c++) {
		Increstore__Column init = INCRESTORE__COLUMN__INIT;
		cols[c] = init;
		snprintf(names[c], 8, "c%u", c);
		cols[c].name = names[c];
		cols[c].type = INCRESTORE__COLUMN_TYPE__BOOL;
		colp[c] = &cols[c];
	}
	char (*tnames)[8] = calloc(NT2, 8);
	for (uint32_t t = 0; t < NT; t++) {
		Increstore__TableSchema init = INCRESTORE__TABLE_SCHEMA__INIT;
		ts[t] = init;
		snprintf(tnames[t], 8, "t%u", t);
		ts[t].name = tnames[t];
		ts[t].n_columns = NC;
		ts[t].columns = colp;
		ts[t].n_primary_key = 1;
		ts[t].primary_key = &pk;
		tsp[t] = &ts[t];
	}
	m.n_tables = NT;
	m.tables = tsp;
	measure(&m, "64 tables x 4096 columns");

	/* a long chain: 100 000 backups of one segment each, with expected states */
	m.n_tables = 1;
	ts[0].n_columns = 2;
	Increstore__Backup *bs = calloc(NB, sizeof *bs);
	Increstore__Backup **bp = calloc(NB, sizeof *bp);
	Increstore__TableBackup *tbs = calloc(NB, sizeof *tbs);
	Increstore__TableBackup **tbp = calloc(NB, sizeof *tbp);
	Increstore__Segment *segs = calloc(NB, sizeof *segs);
	Increstore__Segment **segp = calloc(NB, sizeof *segp);
	Increstore__ExpectedState *exps = calloc(NB, sizeof *exps);
	char (*bnames)[16] = calloc(NB, 16);
	char (*paths)[64] = calloc(NB, 64);
	for (uint32_t b = 0; b < NB; b++) {
		Increstore__Backup binit = INCRESTORE__BACKUP__INIT;
		Increstore__TableBackup tinit = INCRESTORE__TABLE_BACKUP__INIT;
		Increstore__Segment sinit = INCRESTORE__SEGMENT__INIT;
		Increstore__ExpectedState einit = INCRESTORE__EXPECTED_STATE__INIT;
		snprintf(bnames[b], 16, "inc-%06u", b);
		snprintf(paths[b], 64, "data/b%06u-0123456789abcdef/t0-0000.seg", b + 1);
		segs[b] = sinit;
		segs[b].path = paths[b];
		segs[b].size = 123456;
		segs[b].records = 4567;
		segs[b].crc32c = 0xdeadbeef;
		segs[b].frames = 2;
		segp[b] = &segs[b];
		exps[b] = einit;
		exps[b].rows = 1000000 + b;
		exps[b].digest = 0x0123456789abcdefull * (b + 1);
		tbs[b] = tinit;
		tbs[b].n_segments = 1;
		tbs[b].segments = &segp[b];
		tbs[b].records = 4567;
		tbs[b].expected = &exps[b];
		tbp[b] = &tbs[b];
		bs[b] = binit;
		bs[b].name = bnames[b];
		bs[b].kind = b ? INCRESTORE__BACKUP_KIND__INCREMENTAL : INCRESTORE__BACKUP_KIND__FULL;
		bs[b].seq = b + 1;
		bs[b].parent = b ? bnames[b - 1] : "";
		bs[b].created_us = 1700000000000000 + b;
		bs[b].n_tables = 1;
		bs[b].tables = &tbp[b];
		bp[b] = &bs[b];
	}
	m.n_chain = NB;
	m.chain = bp;
	measure(&m, "100 000 backups");

	/* many tables, each with an expected state and no segment in every backup */
	Increstore__TableSchema *ts2 = calloc(NT2, sizeof *ts2);
	Increstore__TableSchema **tsp2 = calloc(NT2, sizeof *tsp2);
	Increstore__TableBackup *tb2 = calloc((size_t)NT2 * NB2, sizeof *tb2);
	Increstore__TableBackup **tbp2 = calloc((size_t)NT2 * NB2, sizeof *tbp2);
	for (uint32_t t = 0; t < NT2; t++) {
		ts2[t] = ts[0];
		snprintf(tnames[t], 8, "t%u", t);
		ts2[t].name = tnames[t];
		tsp2[t] = &ts2[t];
	}
	for (uint32_t b = 0; b < NB2; b++) {
		for (uint32_t t = 0; t < NT2; t++) {
			Increstore__TableBackup tinit = INCRESTORE__TABLE_BACKUP__INIT;
			Increstore__TableBackup *x = &tb2[(size_t)b * NT2 + t];
			*x = tinit;
			x->table = t;
			x->expected = &exps[t];
			tbp2[(size_t)b * NT2 + t] = x;
		}
		bs[b].n_tables = NT2;
		bs[b].tables = &tbp2[(size_t)b * NT2];
	}
	m.n_tables = NT2;
	m.tables = tsp2;
	m.n_chain = NB2;
	measure(&m, "2048 tables x 100 backups with expected states");

	free(ts), free(tsp), free(cols), free(colp), free(names), free(tnames);
	free(bs), free(bp), free(tbs), free(tbp), free(segs), free(segp), free(exps), free(bnames), free(paths);
	free(ts2), free(tsp2), free(tb2), free(tbp2);
}

/* Opening a chain of 20 000 backups of a 4096-table schema, each listing one table
 * with no data: what it costs is proportional to the manifest (the per-backup table
 * index holds the entries listed, not one slot per table of the schema: that was
 * 32 KiB per backup, 640 MiB here). */
static void test_wide_chain_open(void **state)
{
	(void)state;
	enum { NT = 4096, NB = 20000 };
	char tmp[64];
	snprintf(tmp, sizeof tmp, "/tmp/irs_test_bombs_XXXXXX");
	assert_non_null(mkdtemp(tmp));
	Increstore__Manifest m = INCRESTORE__MANIFEST__INIT;
	m.format_version = IRS_FORMAT_VERSION;
	m.collection_id = "0123456789abcdef0123456789abcdef";
	Increstore__Column col[2] = {INCRESTORE__COLUMN__INIT, INCRESTORE__COLUMN__INIT};
	col[0].name = "id";
	col[0].type = INCRESTORE__COLUMN_TYPE__UINT64;
	col[1].name = "v";
	col[1].type = INCRESTORE__COLUMN_TYPE__UINT64;
	Increstore__Column *colp[2] = {&col[0], &col[1]};
	uint32_t pk = 0;
	Increstore__TableSchema *ts = calloc(NT, sizeof *ts);
	Increstore__TableSchema **tsp = calloc(NT, sizeof *tsp);
	char (*tn)[8] = calloc(NT, 8);
	for (uint32_t t = 0; t < NT; t++) {
		Increstore__TableSchema init = INCRESTORE__TABLE_SCHEMA__INIT;
		ts[t] = init;
		snprintf(tn[t], 8, "t%u", t);
		ts[t].name = tn[t];
		ts[t].n_columns = 2;
		ts[t].columns = colp;
		ts[t].n_primary_key = 1;
		ts[t].primary_key = &pk;
		tsp[t] = &ts[t];
	}
	Increstore__Backup *bs = calloc(NB, sizeof *bs);
	Increstore__Backup **bp = calloc(NB, sizeof *bp);
	Increstore__TableBackup *tbs = calloc(NB, sizeof *tbs);
	Increstore__TableBackup **tbp = calloc(NB, sizeof *tbp);
	char (*bn)[8] = calloc(NB, 8);
	for (uint32_t b = 0; b < NB; b++) {
		Increstore__Backup binit = INCRESTORE__BACKUP__INIT;
		Increstore__TableBackup tinit = INCRESTORE__TABLE_BACKUP__INIT;
		tbs[b] = tinit;
		tbs[b].table = b % NT;
		tbp[b] = &tbs[b];
		bs[b] = binit;
		snprintf(bn[b], 8, "%u", b);
		bs[b].name = bn[b];
		bs[b].kind = b ? INCRESTORE__BACKUP_KIND__INCREMENTAL : INCRESTORE__BACKUP_KIND__FULL;
		bs[b].seq = b + 1;
		bs[b].parent = b ? bn[b - 1] : "";
		bs[b].n_tables = 1;
		bs[b].tables = &tbp[b];
		bp[b] = &bs[b];
	}
	m.n_tables = NT;
	m.tables = tsp;
	m.n_chain = NB;
	m.chain = bp;
	size_t len = increstore__manifest__get_packed_size(&m);
	irs_error err;
	assert_int_equal(irs__manifest_write(tmp, &m, false, &err), 0);
	irs_collection *c;
	if (irs_collection_open(tmp, NULL, 0, &c, &err))
		fail_msg("open: %s", err.message);
	uint64_t peak = atomic_load(&c->mem.peak);
	print_message("  %u backups of %u tables: a %zu-byte manifest; opening peaks at %llu bytes (%.1fx)\n",
		      NB, NT, len, (unsigned long long)peak, (double)peak / (double)len);
	assert_true(peak <= IRS_PB_BUDGET(len) + 64 * (uint64_t)len);
	irs_collection_close(c);
	free(ts), free(tsp), free(tn), free(bs), free(bp), free(tbs), free(tbp), free(bn);
	gen_rmrf(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_claim_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_columns_bomb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_unknown_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_unpack_bomb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_state_bomb, setup, teardown),
		cmocka_unit_test(test_manifest_budget_real_shapes),
		cmocka_unit_test(test_wide_chain_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
