/*
 * naive_loop.c: the single-threaded baseline of docs/design.md section 6: read, decode and
 * apply the same collection with the same table code, in one thread, with no queues
 * and no shards. It prints one JSON line (seconds, changes, rows, digest) so perf/
 * can set it beside `increstore restore --shards N` on the same files.
 *
 *     irs_naive_loop DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/batch.h"
#include "format/collection.h"
#include "shard/table.h"

typedef struct sink_ctx {
	irs_table_part *part;
	irs_apply_counts counts;
	uint8_t *buf;            /* the frame's records, back to back */
	size_t used, cap;
	const irs_rec **recs;
	size_t n, recs_cap;
	uint64_t bytes;          /* sum of row bounds */
} sink_ctx;

/* Collects a frame's records; the frame is then applied as one batch. */
static int collect(void *ctx, const irs_rec *rec, irs_error *err)
{
	sink_ctx *s = ctx;
	size_t sz = irs__rec_padded(rec->size);
	if (s->used + sz > s->cap || s->n == s->recs_cap)
		return irs__seterr(err, IRS_ENOMEM, "frame larger than the loop's buffer");
	memcpy(s->buf + s->used, rec, rec->size);
	s->recs[s->n++] = (const irs_rec *)(s->buf + s->used);
	s->used += sz;
	s->bytes += irs__part_rec_bound(s->part, rec);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: irs_naive_loop DIR\n");
		return 2;
	}
	irs_error err;
	irs_collection *c;
	if (irs_collection_open(argv[1], NULL, 0, &c, &err)) {
		fprintf(stderr, "%s\n", err.message);
		return 3;
	}
	double t0 = now_s();
	uint32_t last = c->nbackups - 1, base = c->backups[last].base;
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &c->mem);
	sink_ctx *parts = calloc(c->ntables, sizeof *parts);
	for (uint32_t t = 0; t < c->ntables; t++) {
		irs_table_backup_info tbi;
		irs_collection_table_backup(c, base, t, &tbi);
		if (irs__part_create(&c->mem, &c->tables[t], tbi.records, &parts[t].part))
			return 4;
		parts[t].cap = 2u * IRS_MAX_FRAME;
		parts[t].buf = malloc(parts[t].cap);
		parts[t].recs_cap = IRS_MAX_BATCH_ROWS;
		parts[t].recs = malloc(sizeof(irs_rec *) * parts[t].recs_cap);
	}
	uint64_t changes = 0;
	for (uint32_t b = base; b <= last; b++) {
		for (uint32_t t = 0; t < c->ntables; t++) {
			const Increstore__TableBackup *tb = c->backups[b].by_table[t];
			for (size_t s = 0; tb && s < tb->n_segments; s++) {
				irs_segment_reader r;
				if (irs__segment_open(&r, &c->mem, c->dirfd, tb->segments[s]->path, t, &err))
					goto fail;
				const uint8_t *payload;
				size_t len;
				int rc;
				while ((rc = irs__segment_next(&r, &payload, &len, &err)) == 1) {
					uint32_t n;
					sink_ctx *sk = &parts[t];
					sk->used = sk->n = 0;
					sk->bytes = 0;
					if (irs__batch_decode(&d, &c->tables[t], payload, len,
							      c->backups[b].kind == IRS_BACKUP_FULL, 0, collect, sk,
							      &n, &err))
						goto fail;
					if (irs__part_reserve(sk->part, sk->n, sk->bytes)) {
						irs__seterr(&err, IRS_ENOMEM, "out of memory");
						goto fail;
					}
					irs__part_apply_batch(sk->part, sk->recs, sk->n, &sk->counts);
					irs__part_unreserve(sk->part);
					changes += n;
				}
				irs__segment_close(&r);
				if (rc < 0)
					goto fail;
			}
		}
	}
	double secs = now_s() - t0;
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
fail:
	fprintf(stderr, "%s\n", err.message);
	return 3;
}
