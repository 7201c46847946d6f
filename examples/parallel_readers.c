/*
 * parallel_readers.c: restores a collection, then reads one table from several threads
 * at once, as a program serving the restored data would:
 *
 *   - each thread takes every THREADS-th partition and reads it with a partition
 *     cursor (no sorting: the partitions are disjoint and hold all the rows), keeping
 *     the keys it saw;
 *   - each thread then looks all its keys up again with one batched get;
 *   - meanwhile the main thread counts the rows in key order with an ordered cursor,
 *     then the rows before the middle one with a bounded cursor.
 *
 * Any number of threads may read a finished restore at once; each cursor belongs to
 * one thread. The tests build and run it (examples/run_parallel.sh).
 *
 *     irs_example_parallel DIR [TABLE [THREADS]]
 */
#include <increstore.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
	pthread_t thread;
	const irs_restore *r;
	const irs_table_def *def;
	uint32_t table, ncols, first, step;   /* partitions first, first + step, ... */
	uint64_t rows, found;
	int rc;
	irs_error err;
} reader;

/* Copies the key columns of row into keys (growing it); strings are copied too. */
static int keep_key(irs_value **keys, size_t *cap, size_t n, const irs_table_def *def,
		    const irs_value *row)
{
	if (n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 1024;
		irs_value *k = realloc(*keys, ncap * def->column_count * sizeof *k);
		if (!k)
			return -1;
		*keys = k;
		*cap = ncap;
	}
	irs_value *k = *keys + n * def->column_count;
	memset(k, 0, def->column_count * sizeof *k); /* non-key columns ABSENT */
	for (uint32_t i = 0; i < def->primary_key_count; i++) {
		uint32_t c = def->primary_key[i];
		k[c] = row[c];
		irs_type t = def->columns[c].type;
		if (t == IRS_TYPE_UTF8 || t == IRS_TYPE_BYTES) {
			/* a cursor's key strings last until its next row: copy them */
			void *p = malloc(row[c].v.s.len + 1);
			if (!p)
				return -1;
			memcpy(p, row[c].v.s.ptr, row[c].v.s.len);
			k[c].v.s.ptr = p;
		}
	}
	return 0;
}

static void *read_partitions(void *arg)
{
	reader *rd = arg;
	const irs_table_def *def = rd->def;
	irs_value *row = calloc(rd->ncols, sizeof *row);
	irs_value *keys = NULL;
	size_t cap = 0;
	rd->rc = row ? 0 : IRS_ENOMEM;
	uint32_t parts = irs_restore_partition_count(rd->r);
	for (uint32_t p = rd->first; p < parts && rd->rc == 0; p += rd->step) {
		irs_cursor *cur;
		rd->rc = irs_restore_cursor_open_partition(rd->r, rd->table, p, &cur, &rd->err);
		int got = 0;
		while (rd->rc == 0 && (got = irs_cursor_next(cur, row, &rd->err)) == 1) {
			rd->rc = keep_key(&keys, &cap, rd->rows, def, row) ? IRS_ENOMEM : 0;
			rd->rows++;
		}
		if (got < 0)
			rd->rc = got;
		irs_cursor_close(cur);
	}
	if (rd->rc == 0 && rd->rows) {
		irs_value *rows = calloc(rd->rows * rd->ncols, sizeof *rows);
		uint8_t *found = calloc(rd->rows, 1);
		rd->rc = rows && found ? irs_restore_get_batch(rd->r, rd->table, keys, rd->rows, rows, found,
							       &rd->err)
				       : IRS_ENOMEM;
		for (uint64_t i = 0; rd->rc == 0 && i < rd->rows; i++)
			rd->found += found[i];
		free(rows);
		free(found);
	}
	for (uint64_t i = 0; i < rd->rows && keys; i++)
		for (uint32_t k = 0; k < def->primary_key_count; k++) {
			uint32_t col = def->primary_key[k];
			if (def->columns[col].type == IRS_TYPE_UTF8 || def->columns[col].type == IRS_TYPE_BYTES)
				free((void *)keys[i * rd->ncols + col].v.s.ptr);
		}
	free(keys);
	free(row);
	return NULL;
}

/* Rows in key order, below `hi` when it is not NULL. The first key column of the row at
 * position `at` goes to *mid (when mid is not NULL). */
static int count_ordered(const irs_restore *r, uint32_t table, const irs_table_def *def,
			 const irs_value *hi, uint64_t at, irs_value *mid, uint64_t *n, irs_error *err)
{
	irs_value *row = calloc(def->column_count, sizeof *row);
	irs_cursor *cur = NULL;
	int rc = row ? irs_restore_cursor_open(r, table, NULL, hi, &cur, err) : IRS_ENOMEM;
	*n = 0;
	if (rc == 0)
		while ((rc = irs_cursor_next(cur, row, err)) == 1) {
			if ((*n)++ != at || !mid)
				continue;
			*mid = row[def->primary_key[0]];
			irs_type t = def->columns[def->primary_key[0]].type;
			if (t == IRS_TYPE_UTF8 || t == IRS_TYPE_BYTES) {
				/* a cursor's key strings last until its next row: copy (freed by the caller) */
				void *p = malloc(mid->v.s.len + 1);
				if (!p) {
					rc = IRS_ENOMEM;
					break;
				}
				memcpy(p, mid->v.s.ptr, mid->v.s.len);
				mid->v.s.ptr = p;
			}
		}
	irs_cursor_close(cur);
	free(row);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [TABLE [THREADS]]\n", argv[0]);
		return 2;
	}
	irs_error err;
	irs_collection *c = NULL;
	if (irs_collection_open(argv[1], NULL, 0, &c, &err) != 0) {
		fprintf(stderr, "%s\n", err.message);
		return 3;
	}
	int table = argc > 2 ? irs_collection_find_table(c, argv[2]) : 0;
	uint32_t nthreads = argc > 3 ? (uint32_t)atoi(argv[3]) : 3;
	if (table < 0 || nthreads < 1 || nthreads > 64) {
		fprintf(stderr, "bad table or thread count\n");
		irs_collection_close(c);
		return 2;
	}
	irs_table_def def;
	irs_collection_table(c, (uint32_t)table, &def);
	irs_restore_options opts;
	irs_restore_options_init(&opts, IRS_RESTORE_OPTIONS_VERSION);
	opts.shards = 4;
	irs_restore *r = NULL;
	int rc = irs_restore_run(c, &opts, NULL, &r, &err);
	reader *rd = calloc(nthreads, sizeof *rd);
	uint32_t started = 0;
	uint64_t total = 0, found = 0, ordered = 0, lower = 0;
	if (!rd)
		rc = IRS_ENOMEM;
	for (; rc == 0 && started < nthreads; started++) {
		rd[started] = (reader){.r = r, .def = &def, .table = (uint32_t)table,
				       .ncols = def.column_count, .first = started, .step = nthreads};
		if (pthread_create(&rd[started].thread, NULL, read_partitions, &rd[started]) != 0)
			break;
	}
	/* The main thread reads the same table in key order meanwhile, then the rows before
	 * the middle row's first key column: a bound that sets only that column is a key
	 * prefix (for a one-column key, exactly the first half). */
	uint64_t middle = irs_restore_row_count(r, (uint32_t)table) / 2;
	irs_value *hi = calloc(def.column_count, sizeof *hi); /* every column ABSENT */
	if (rc == 0 && !hi)
		rc = IRS_ENOMEM;
	if (rc == 0)
		rc = count_ordered(r, (uint32_t)table, &def, NULL, middle, &hi[def.primary_key[0]], &ordered, &err);
	if (rc == 0 && ordered > 0)
		rc = count_ordered(r, (uint32_t)table, &def, hi, 0, NULL, &lower, &err);
	irs_type kt = def.columns[def.primary_key[0]].type;
	if (hi && (kt == IRS_TYPE_UTF8 || kt == IRS_TYPE_BYTES))
		free((void *)hi[def.primary_key[0]].v.s.ptr);
	free(hi);
	for (uint32_t i = 0; i < started; i++) {
		pthread_join(rd[i].thread, NULL);
		if (rd[i].rc && rc == 0) {
			rc = rd[i].rc;
			err = rd[i].err;
		}
		total += rd[i].rows;
		found += rd[i].found;
	}
	if (rc == 0) {
		printf("%u threads read %" PRIu64 " rows from %u partitions; batched gets found %" PRIu64 "\n",
		       nthreads, total, irs_restore_partition_count(r), found);
		printf("ordered cursor: %" PRIu64 " rows, %" PRIu64 " before the middle row's first key column\n",
		       ordered, lower);
		printf("%" PRIu64 " rows\n", irs_restore_row_count(r, (uint32_t)table));
	} else {
		fprintf(stderr, "%s\n", err.message);
	}
	free(rd);
	irs_restore_free(r);
	irs_collection_close(c);
	return rc == 0 ? 0 : 1;
}
