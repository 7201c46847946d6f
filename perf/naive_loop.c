/*
 * naive_loop.c: the single-threaded baseline of docs/design.md section 6: read, decode and
 * apply the same collection with the same table code, in one thread, with no queues
 * and no shards. It prints one JSON line (seconds, changes, rows, digest) so perf/
 * can set it beside `increstore restore --shards N` on the same files. The files are
 * read and decoded by perf_walk.h (the library's reader and batch decoder), and each
 * frame is applied to its table as a shard applies it: reserve, apply, unreserve.
 *
 * Like the engine's default mode, it checks the expected state the manifest records
 * after each backup (collections made by `gen`), with the same per-change digest the
 * shards maintain (rows a change writes whole hashed by the decoder, as theirs are);
 * --no-check-expected leaves that out, as the engine's flag does. It
 * does not look for duplicate keys within a backup (the engine's staging does).
 *
 *     irs_naive_loop DIR [--no-check-expected]
 */
#include "perf_walk.h"
#include "shard/table.h"

typedef struct part_ctx {
	irs_table_part *part;
	irs_apply_counts counts;
} part_ctx;

typedef struct loop_ctx {
	irs_collection *c;
	part_ctx *parts;
	bool check;
} loop_ctx;

/* One frame of table t: reserve for its records, then apply them as one batch, as a
 * shard does. */
static int apply_frame(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	part_ctx *p = &((loop_ctx *)vc)->parts[t];
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

/* After backup b: every table against the expected state the manifest records. */
static int check_backup(void *vc, uint32_t b)
{
	loop_ctx *x = vc;
	for (uint32_t t = 0; t < x->c->ntables && x->check; t++) {
		const Increstore__TableBackup *tb = irs__backup_table(&x->c->backups[b], t);
		if (!tb || !tb->expected)
			continue;
		irs_table_part *part = x->parts[t].part;
		if (irs__part_count(part) != tb->expected->rows ||
		    irs__part_digest(part) != tb->expected->digest) {
			fprintf(stderr, "backup %s table %s: not the expected state\n",
				x->c->backups[b].pb->name, x->c->tables[t].name);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	bool check = !(argc > 2 && strcmp(argv[2], "--no-check-expected") == 0);
	if (argc > 2 && check) {
		fprintf(stderr, "usage: irs_naive_loop DIR [--no-check-expected]\n");
		return 2;
	}
	irs_collection *c = perf_open(argc > 2 ? 2 : argc, argv, "irs_naive_loop DIR [--no-check-expected]");
	double t0 = perf_now();
	uint32_t base = c->backups[c->nbackups - 1].base;
	part_ctx *parts = calloc(c->ntables, sizeof *parts);
	for (uint32_t t = 0; t < c->ntables; t++) {
		irs_table_backup_info tbi;
		irs_collection_table_backup(c, base, t, &tbi);
		if (irs__part_create(&c->mem, &c->tables[t], tbi.records, &parts[t].part))
			return 4;
		if (check)
			irs__part_track_digest(parts[t].part);
	}
	loop_ctx x = {c, parts, check};
	perf_walk_cb cb = {.frame = apply_frame, .backup_end = check_backup, .ctx = &x,
			   .row_digests = check};
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
