/*
 * perf_walk.h: what the perf/ contenders share. Each walks a generated collection's
 * chain (the last full backup, then every incremental after it) with the library's
 * own reader and batch decoder (as the engine's shards decode frames) and hands
 * every decoded change record to the contender, a frame at a time. Header-only
 * (static functions) so each program stays one file plus this.
 */
#ifndef IRS_PERF_WALK_H
#define IRS_PERF_WALK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/digest.h"
#include "format/batch.h"
#include "format/collection.h"

static inline double perf_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Callbacks of one walk. begin/end may be NULL. A non-zero return stops the walk. */
typedef struct perf_walk_cb {
	int (*backup_begin)(void *ctx, uint32_t backup, bool full);
	/* one frame of table t: its records, valid during the call only */
	int (*frame)(void *ctx, uint32_t t, const irs_rec *const *recs, size_t n);
	int (*backup_end)(void *ctx, uint32_t backup);
	void *ctx;
	bool row_digests; /* records carry their row's digest where they can (batch.h) */
} perf_walk_cb;

typedef struct perf_frame_buf {
	uint8_t *buf;
	size_t used, cap;
	const irs_rec **recs;
	size_t n, recs_cap;
} perf_frame_buf;

static inline uint8_t *perf__room(void *ctx, uint64_t hash, const uint8_t *key, size_t key_len,
				  size_t bound, irs_error *err)
{
	(void)hash, (void)key, (void)key_len;
	perf_frame_buf *f = ctx;
	if (f->used + irs__rec_padded(bound) > f->cap || f->n == f->recs_cap) {
		irs__seterr(err, IRS_ENOMEM, "frame larger than the buffer");
		return NULL;
	}
	return f->buf + f->used;
}

static inline int perf__done(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	perf_frame_buf *f = ctx;
	f->recs[f->n++] = rec;
	f->used += irs__rec_padded(rec->size);
	return 0;
}

/*
 * Reads and decodes backups [base of the last, last] of c in chain order, table by
 * table, frame by frame, calling cb. Records are decoded straight into the frame's
 * buffer, as the engine's decoders write them straight into runs; with
 * cb->row_digests the decoder hashes every row a change writes whole, as the shards'
 * decoders do when the restore keeps digests. *changes receives the number of changes.
 * Returns 0, or prints the error and returns non-zero.
 */
static inline int perf_walk(irs_collection *c, const perf_walk_cb *cb, uint64_t *changes)
{
	irs_error err;
	memset(&err, 0, sizeof err);
	uint32_t last = c->nbackups - 1, base = c->backups[last].base;
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &c->mem);
	d.row_digests = cb->row_digests;
	perf_frame_buf f = {.cap = 2u * IRS_MAX_FRAME, .recs_cap = IRS_MAX_BATCH_ROWS};
	f.buf = malloc(f.cap);
	f.recs = malloc(sizeof *f.recs * f.recs_cap);
	irs_rec_out out = {perf__room, perf__done, &f};
	int rc = 0;
	*changes = 0;
	if (!f.buf || !f.recs) {
		fprintf(stderr, "out of memory\n");
		rc = 1;
		goto out;
	}
	for (uint32_t b = base; b <= last && !rc; b++) {
		bool full = c->backups[b].kind == IRS_BACKUP_FULL;
		if (cb->backup_begin && (rc = cb->backup_begin(cb->ctx, b, full)))
			break;
		for (uint32_t t = 0; t < c->ntables && !rc; t++) {
			const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], t);
			for (size_t s = 0; tb && s < tb->n_segments && !rc; s++) {
				irs_segment_reader r;
				if (irs__segment_open(&r, &c->mem, c->dirfd, tb->segments[s]->path, t, &err)) {
					fprintf(stderr, "%s\n", err.message);
					rc = 1;
					break;
				}
				const uint8_t *payload;
				size_t len;
				int nr;
				while ((nr = irs__segment_next(&r, &payload, &len, &err)) == 1) {
					uint32_t n;
					f.used = f.n = 0;
					if (irs__batch_decode_to(&d, &c->tables[t], payload, len, full, 0, &out, &n,
								 &err)) {
						nr = -1;
						break;
					}
					*changes += n;
					if ((rc = cb->frame(cb->ctx, t, f.recs, f.n)))
						break;
				}
				irs__segment_close(&r);
				if (nr < 0) {
					fprintf(stderr, "%s\n", err.message);
					rc = 1;
				}
			}
		}
		if (!rc && cb->backup_end)
			rc = cb->backup_end(cb->ctx, b);
	}
out:
	free(f.buf);
	free(f.recs);
	irs__batch_decoder_free(&d);
	return rc;
}

static inline int perf__noop_frame(void *ctx, uint32_t t, const irs_rec *const *recs, size_t n)
{
	(void)ctx, (void)t, (void)recs, (void)n;
	return 0;
}

/* Seconds to read and decode the whole chain (the records then go nowhere). */
static inline double perf_decode_only(irs_collection *c)
{
	perf_walk_cb cb = {.frame = perf__noop_frame};
	uint64_t n;
	double t0 = perf_now();
	if (perf_walk(c, &cb, &n))
		exit(3);
	return perf_now() - t0;
}

static inline irs_collection *perf_open(int argc, char **argv, const char *usage)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s\n", usage);
		exit(2);
	}
	irs_error err;
	irs_collection *c;
	if (irs_collection_open(argv[1], NULL, 0, &c, &err)) {
		fprintf(stderr, "%s\n", err.message);
		exit(3);
	}
	return c;
}

#endif
