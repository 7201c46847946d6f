/*
 * read_fixtures.c: the restored state the read benchmarks (bench_reads.cc) read, and
 * the reads they time, through the public API.
 *
 * DATA: the collection at $IRS_BENCH_COLLECTION (for W1: `increstore gen DIR --rows
 * 5000000 --incrementals 10 --changes 500000 --seed 7`), else one generated once per
 * run into a temporary directory by the increstore command of this build, shaped like
 * W1 at a tenth of its size ($IRS_BENCH_ROWS rows, default 500000, and 10 incrementals
 * of a tenth as many changes). It is restored with 2 shards (so 2 partitions), the
 * restored table's uint64 keys are collected once in key order, and a shuffled copy
 * drives the gets. The first table must have a one-column uint64 key (gen's `t`).
 *
 * Each reading function may run on several benchmark threads at once: they only read
 * the restore (any number of threads may) and the key arrays.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/restore.h"
#include "read_fixtures.h"

struct irs_bench_reads {
	irs_collection *c;
	irs_restore *r;
	irs_table_def def;
	uint32_t ncols;
	uint64_t *keys;      /* every key, in key order */
	uint64_t *shuffled;  /* the same keys in random order */
	size_t n;
	char tmp[128];       /* generated collection's directory, "" for $IRS_BENCH_COLLECTION */
	char desc[256];
};

static irs_bench_reads *the;
static char why_buf[IRS_ERROR_MESSAGE_MAX + 64];

static void cleanup(void)
{
	if (!the)
		return;
	irs_restore_free(the->r);
	irs_collection_close(the->c);
	if (the->tmp[0]) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", the->tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", the->tmp);
	}
	free(the->keys);
	free(the->shuffled);
	free(the);
	the = NULL;
}

/* Generates the default collection with this build's increstore; "" on success. */
static const char *generate(irs_bench_reads *b, char *path, size_t cap)
{
	const char *rows_env = getenv("IRS_BENCH_ROWS");
	unsigned long long rows = rows_env ? strtoull(rows_env, NULL, 10) : 500000;
	if (rows < 100)
		rows = 100;
	snprintf(b->tmp, sizeof b->tmp, "/tmp/irs_bench_reads_XXXXXX");
	if (!mkdtemp(b->tmp))
		return "cannot create a temporary directory";
	snprintf(path, cap, "%s/c", b->tmp);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "'%s' gen '%s' --rows %llu --incrementals 10 --changes %llu --seed 7 --quiet >/dev/null",
		 IRS_BENCH_CLI, path, rows, rows / 10);
	if (system(cmd) != 0)
		return "increstore gen failed (set IRS_BENCH_COLLECTION to a collection instead)";
	snprintf(b->desc, sizeof b->desc, "gen --rows %llu", rows);
	return "";
}

static int collect_keys(irs_bench_reads *b)
{
	uint64_t rows = irs_restore_row_count(b->r, 0);
	b->keys = malloc(sizeof(uint64_t) * (rows ? rows : 1));
	b->shuffled = malloc(sizeof(uint64_t) * (rows ? rows : 1));
	irs_value *row = calloc(b->ncols, sizeof *row);
	irs_cursor *cur;
	irs_error err;
	if (!b->keys || !b->shuffled || !row || irs_restore_cursor_open(b->r, 0, NULL, NULL, &cur, &err) != 0) {
		free(row);
		return -1;
	}
	while (b->n < rows && irs_cursor_next(cur, row, &err) == 1)
		b->keys[b->n++] = row[b->def.primary_key[0]].v.u64;
	irs_cursor_close(cur);
	free(row);
	memcpy(b->shuffled, b->keys, sizeof(uint64_t) * b->n);
	uint64_t s = 7;
	for (size_t i = b->n; i > 1; i--) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		size_t j = (size_t)((s >> 33) % i);
		uint64_t t = b->shuffled[i - 1];
		b->shuffled[i - 1] = b->shuffled[j];
		b->shuffled[j] = t;
	}
	/* the ordered benchmarks start from an unsorted restore */
	irs__read_order_drop(b->r);
	return 0;
}

irs_bench_reads *irs_bench_reads_open(const char **why)
{
	if (the || why_buf[0]) {
		*why = the ? NULL : why_buf;
		return the;
	}
	irs_bench_reads *b = calloc(1, sizeof *b);
	char path[256];
	const char *env = getenv("IRS_BENCH_COLLECTION");
	const char *problem = "";
	if (env && *env) {
		snprintf(path, sizeof path, "%s", env);
		const char *base = strrchr(env, '/');
		snprintf(b->desc, sizeof b->desc, "%s", base && base[1] ? base + 1 : env);
	} else {
		problem = generate(b, path, sizeof path);
	}
	irs_error err;
	if (!*problem && irs_collection_open(path, NULL, 0, &b->c, &err) != 0) {
		snprintf(why_buf, sizeof why_buf, "%s", err.message);
		problem = why_buf;
	}
	if (!*problem) {
		irs_collection_table(b->c, 0, &b->def);
		b->ncols = b->def.column_count;
		if (b->def.primary_key_count != 1 || b->def.columns[b->def.primary_key[0]].type != IRS_TYPE_UINT64)
			problem = "the first table's key is not one uint64 column (as gen's is)";
	}
	if (!*problem) {
		irs_restore_options o;
		irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
		o.shards = 2;
		o.check_expected = 0;
		if (irs_restore_run(b->c, &o, NULL, &b->r, &err) != 0) {
			snprintf(why_buf, sizeof why_buf, "restore: %s", err.message);
			problem = why_buf;
		} else if (collect_keys(b) != 0) {
			problem = "out of memory collecting the keys";
		}
	}
	the = b;
	atexit(cleanup);
	if (*problem) {
		if (problem != why_buf)
			snprintf(why_buf, sizeof why_buf, "%s", problem);
		cleanup();
		*why = why_buf;
		return NULL;
	}
	*why = NULL;
	return b;
}

const char *irs_bench_reads_describe(const irs_bench_reads *b)
{
	static char d[400];
	snprintf(d, sizeof d, "%zu rows, %u partitions (%s)", b->n, irs_restore_partition_count(b->r), b->desc);
	return d;
}

size_t irs_bench_reads_rows(const irs_bench_reads *b)
{
	return b->n;
}

uint32_t irs_bench_reads_partitions(const irs_bench_reads *b)
{
	return irs_restore_partition_count(b->r);
}

void irs_bench_reads_drop_order(irs_bench_reads *b)
{
	irs__read_order_drop(b->r);
}

size_t irs_bench_reads_get(const irs_bench_reads *b, size_t from, size_t n)
{
	irs_value key[16], row[16];
	if (b->ncols > 16)
		return 0;
	memset(key, 0, sizeof key);
	uint32_t kc = b->def.primary_key[0];
	key[kc].state = IRS_VALUE_SET;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		key[kc].v.u64 = b->shuffled[(from + i) % b->n];
		found += irs_restore_get(b->r, 0, key, row, NULL) == 0;
	}
	return found;
}

size_t irs_bench_reads_get_batch(const irs_bench_reads *b, size_t from, size_t n, size_t batch,
				 irs_bench_batch_buf *buf)
{
	if (buf->cap < batch) {
		free(buf->keys);
		free(buf->rows);
		free(buf->found);
		buf->keys = calloc(batch * b->ncols, sizeof(irs_value));
		buf->rows = calloc(batch * b->ncols, sizeof(irs_value));
		buf->found = calloc(batch, 1);
		buf->cap = batch;
	}
	irs_value *keys = buf->keys;
	uint32_t kc = b->def.primary_key[0];
	size_t found = 0;
	for (size_t done = 0; done < n; done += batch) {
		size_t m = n - done < batch ? n - done : batch;
		for (size_t i = 0; i < m; i++) {
			keys[i * b->ncols + kc].state = IRS_VALUE_SET;
			keys[i * b->ncols + kc].v.u64 = b->shuffled[(from + done + i) % b->n];
		}
		if (irs_restore_get_batch(b->r, 0, keys, m, buf->rows, buf->found, NULL) != 0)
			return 0;
		for (size_t i = 0; i < m; i++)
			found += buf->found[i];
	}
	return found;
}

void irs_bench_batch_buf_free(irs_bench_batch_buf *buf)
{
	free(buf->keys);
	free(buf->rows);
	free(buf->found);
	memset(buf, 0, sizeof *buf);
}

uint64_t irs_bench_reads_scan_ordered(const irs_bench_reads *b, uint32_t part, uint32_t parts)
{
	irs_value lo[16], hi[16], row[16];
	if (b->ncols > 16 || !b->n)
		return 0;
	memset(lo, 0, sizeof lo);
	memset(hi, 0, sizeof hi);
	uint32_t kc = b->def.primary_key[0];
	/* key-range slice `part` of `parts`, at the key quantiles */
	size_t a = b->n * part / parts, z = b->n * (part + 1) / parts;
	lo[kc].state = IRS_VALUE_SET;
	lo[kc].v.u64 = b->keys[a];
	hi[kc].state = IRS_VALUE_SET;
	hi[kc].v.u64 = z < b->n ? b->keys[z] : 0;
	irs_cursor *cur;
	if (irs_restore_cursor_open(b->r, 0, part ? lo : NULL, z < b->n ? hi : NULL, &cur, NULL) != 0)
		return 0;
	uint64_t n = 0;
	while (irs_cursor_next(cur, row, NULL) == 1)
		n++;
	irs_cursor_close(cur);
	return n;
}

uint64_t irs_bench_reads_scan_partitions(const irs_bench_reads *b, uint32_t first, uint32_t step)
{
	irs_value row[16];
	if (b->ncols > 16)
		return 0;
	uint64_t n = 0;
	for (uint32_t p = first; p < irs_restore_partition_count(b->r); p += step) {
		irs_cursor *cur;
		if (irs_restore_cursor_open_partition(b->r, 0, p, &cur, NULL) != 0)
			return 0;
		while (irs_cursor_next(cur, row, NULL) == 1)
			n++;
		irs_cursor_close(cur);
	}
	return n;
}
