/*
 * naive_loop.c: the single-threaded baseline of docs/design.md section 6: read, decode and
 * apply the same collection with the same table code, in one thread, with no queues
 * and no shards. It prints one JSON line (seconds, changes, rows, digest) so perf/
 * can set it beside `increstore restore --shards N` on the same files. The files are
 * read and decoded by perf_walk.h (the library's reader and batch decoder), and each
 * frame is applied to its table as a shard applies it: reserve, apply, unreserve.
 *
 *     irs_naive_loop DIR
 */
#include "perf_walk.h"
#include "shard/table.h"

typedef struct part_ctx {
	irs_table_part *part;
	irs_apply_counts counts;
} part_ctx;

/* One frame of table t: reserve for its records, then apply them as one batch, as a
 * shard does. */
static int apply_frame(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	part_ctx *p = &((part_ctx *)vc)[t];
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += irs__part_rec_bound(p->part, recs[i]);
	if (irs__part_reserve(p->part, n, bytes)) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	irs__part_apply_batch(p->part, recs, n, &p->counts);
	irs__part_unreserve(p->part);
	return 0;
}

int main(int argc, char **argv)
{
	irs_collection *c = perf_open(argc, argv, "irs_naive_loop DIR");
	double t0 = perf_now();
	uint32_t base = c->backups[c->nbackups - 1].base;
	part_ctx *parts = calloc(c->ntables, sizeof *parts);
	for (uint32_t t = 0; t < c->ntables; t++) {
		irs_table_backup_info tbi;
		irs_collection_table_backup(c, base, t, &tbi);
		if (irs__part_create(&c->mem, &c->tables[t], tbi.records, &parts[t].part))
			return 4;
	}
	perf_walk_cb cb = {.frame = apply_frame, .ctx = parts};
	uint64_t changes;
	if (perf_walk(c, &cb, &changes))
		return 3;
	double secs = perf_now() - t0;
	uint64_t rows = 0;
	for (uint32_t t = 0; t < c->ntables; t++)
		rows += irs__part_count(parts[t].part);
	uint64_t digest = 0;
	if (c->ntables)
		digest = irs__part_digest(parts[0].part);
	printf("{\"engine\": \"naive_loop\", \"seconds\": %.6f, \"changes\": %llu, \"rows\": %llu, "
	       "\"digest\": \"%016llx\"}\n",
	       secs, (unsigned long long)changes, (unsigned long long)rows, (unsigned long long)digest);
	return 0;
}
