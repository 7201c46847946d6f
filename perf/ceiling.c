/*
 * ceiling.c: the apply-only ceiling of docs/design.md section 6. Everything but the table
 * work happens before the timer:
 *
 *   - the chain (last full backup, then its incrementals) is read and decoded with
 *     the library's reader (perf_walk.h) and every record copied into one of two
 *     per-thread arrays, routed by irs__shard_of(hash, 2) as the engine routes them;
 *   - each thread's partition is created with irs__part_create (sized from the
 *     manifest's final row count) and irs__part_reserve'd for every UPSERT it will
 *     apply, through an allocator that backs big blocks with 2 MiB-aligned memory,
 *     asks for transparent huge pages (as the table itself does) and touches every
 *     byte, so no page fault happens while timed.
 *
 * Timed: 2 threads (created and parked beforehand) each run irs__part_apply_batch
 * over their array, backup by backup, meeting at a pthread barrier after each (as a
 * restore must; the barrier costs microseconds). This is the table's own speed
 * limit, not a restore. full_seconds is the full backup's share; the incrementals'
 * rate is printed apart because inserting fresh rows costs more than updating.
 *
 *     irs_ceiling DIR [THREADS]
 *
 * Prints {"engine": "ceiling", "seconds", "changes", "rows", "digest"} (digest of the
 * first table, common/digest.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "perf_walk.h"
#include "common/keycodec.h"
#include "shard/table.h"

#define MAXT 64

/* ---------------------------------------------------------------- touching allocator */

static void *touch_malloc(void *ctx, size_t size)
{
	(void)ctx;
	const size_t huge = (size_t)2 << 20;
	void *p;
	if (size >= 2 * huge) {
		p = aligned_alloc(huge, (size + huge - 1) & ~(huge - 1));
#ifdef MADV_HUGEPAGE
		if (p)
			(void)madvise(p, (size + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
	} else {
		p = malloc(size ? size : 1);
	}
	if (p)
		memset(p, 0, size);
	return p;
}

static void *touch_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
	void *q = touch_malloc(ctx, new_size);
	if (q && ptr)
		memcpy(q, ptr, old_size < new_size ? old_size : new_size);
	free(ptr);
	return q;
}

static void touch_free(void *ctx, void *ptr, size_t size)
{
	(void)ctx, (void)size;
	free(ptr);
}

/* ---------------------------------------------------------------- routing */

typedef struct lane {          /* one thread's records of one table */
	uint8_t *buf;
	size_t used, cap;
	size_t *off;
	size_t n, ncap;
	uint64_t upserts, bytes;   /* reservation */
	const irs_rec **recs;
	size_t *start;             /* [backup - base]: index of the backup's first record */
	irs_table_part *part;
	irs_apply_counts counts;
} lane;

typedef struct ctx {
	irs_collection *c;
	uint32_t threads, base, nb;
	lane *lanes;               /* [thread * ntables + table] */
} ctx;

static int mark(void *vc, uint32_t b, bool full)
{
	ctx *x = vc;
	(void)full;
	for (size_t i = 0; i < (size_t)x->threads * x->c->ntables; i++)
		x->lanes[i].start[b - x->base] = x->lanes[i].n;
	return 0;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "out of memory\n");
		exit(3);
	}
	return q;
}

static int route(void *vc, uint32_t t, const irs_rec *const *recs, size_t n)
{
	ctx *x = vc;
	for (size_t i = 0; i < n; i++) {
		const irs_rec *r = recs[i];
		lane *l = &x->lanes[irs__shard_of(r->hash, x->threads) * x->c->ntables + t];
		size_t sz = irs__rec_padded(r->size);
		if (l->used + sz > l->cap) {
			l->cap = (l->cap + sz) * 2;
			l->buf = xrealloc(l->buf, l->cap);
		}
		if (l->n == l->ncap) {
			l->ncap = l->ncap * 2 + 1024;
			l->off = xrealloc(l->off, l->ncap * sizeof *l->off);
		}
		memcpy(l->buf + l->used, r, r->size);
		l->off[l->n++] = l->used;
		l->used += sz;
		if (r->op == IRS_REC_UPSERT) {
			l->upserts++;
			l->bytes += irs__rec_row_bound(&x->c->tables[t], r);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- timed apply */

static atomic_int go;
static pthread_barrier_t barrier;
static double t_start, *t_done; /* t_done[backup]: when every thread finished it */

typedef struct worker {
	pthread_t th;
	lane *lanes;
	uint32_t ntables, nb, id;
} worker;

static void *run(void *arg)
{
	worker *w = arg;
	while (!atomic_load_explicit(&go, memory_order_acquire))
		;
	for (uint32_t b = 0; b < w->nb; b++) {
		for (uint32_t t = 0; t < w->ntables; t++) {
			lane *l = &w->lanes[t];
			irs__part_apply_batch(l->part, l->recs + l->start[b], l->start[b + 1] - l->start[b],
					      &l->counts);
		}
		pthread_barrier_wait(&barrier);
		if (w->id == 0)
			t_done[b] = perf_now();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint32_t threads = 2;
	if (argc == 3) {
		threads = (uint32_t)atoi(argv[2]);
		argc = 2;
		if (threads < 1 || threads > MAXT) {
			fprintf(stderr, "THREADS: 1..%d\n", MAXT);
			return 2;
		}
	}
	irs_collection *c = perf_open(argc, argv, "irs_ceiling DIR [THREADS]");
	ctx x = {.c = c, .threads = threads};
	x.lanes = calloc((size_t)threads * c->ntables, sizeof *x.lanes);
	x.base = c->backups[c->nbackups - 1].base;
	x.nb = c->nbackups - x.base;
	for (size_t i = 0; i < (size_t)threads * c->ntables; i++)
		x.lanes[i].start = calloc(x.nb + 1, sizeof *x.lanes[i].start);
	t_done = calloc(x.nb, sizeof *t_done);
	perf_walk_cb cb = {.backup_begin = mark, .frame = route, .ctx = &x};
	uint64_t changes;
	if (perf_walk(c, &cb, &changes))
		return 3;

	irs_allocator touch = {touch_malloc, touch_realloc, touch_free, NULL};
	irs_mem mem;
	irs__mem_init(&mem, &touch, 0);
	uint32_t last = c->nbackups - 1;
	for (uint32_t t = 0; t < c->ntables; t++) {
		irs_table_backup_info tbi;
		irs_collection_table_backup(c, last, t, &tbi);
		for (uint32_t th = 0; th < threads; th++) {
			lane *l = &x.lanes[th * c->ntables + t];
			l->start[x.nb] = l->n;
			l->recs = xrealloc(NULL, (l->n + 1) * sizeof *l->recs);
			for (size_t i = 0; i < l->n; i++)
				l->recs[i] = (const irs_rec *)(l->buf + l->off[i]);
			uint64_t expect = tbi.has_expected ? tbi.expected_rows / threads + 1 : 0;
			if (irs__part_create(&mem, &c->tables[t], expect, &l->part) ||
			    irs__part_reserve(l->part, l->upserts, l->bytes)) {
				fprintf(stderr, "out of memory\n");
				return 4;
			}
		}
	}

	worker *w = calloc(threads, sizeof *w);
	pthread_barrier_init(&barrier, NULL, threads);
	for (uint32_t th = 0; th < threads; th++) {
		w[th].lanes = &x.lanes[th * c->ntables];
		w[th].ntables = c->ntables;
		w[th].nb = x.nb;
		w[th].id = th;
		if (pthread_create(&w[th].th, NULL, run, &w[th])) {
			fprintf(stderr, "pthread_create failed\n");
			return 3;
		}
	}
	double t0 = t_start = perf_now();
	atomic_store_explicit(&go, 1, memory_order_release);
	for (uint32_t th = 0; th < threads; th++)
		pthread_join(w[th].th, NULL);
	double secs = perf_now() - t0;

	uint64_t rows = 0, digest = 0;
	for (uint32_t th = 0; th < threads; th++)
		for (uint32_t t = 0; t < c->ntables; t++) {
			lane *l = &x.lanes[th * c->ntables + t];
			if (irs__part_error(l->part)) {
				fprintf(stderr, "apply failed: an unreserved change\n");
				return 3;
			}
			rows += irs__part_count(l->part);
			if (t == 0) {
				digest = irs__digest_add(digest, irs__part_digest(l->part));
			}
		}
	uint64_t full_changes = 0;
	for (size_t i = 0; i < (size_t)threads * c->ntables; i++)
		full_changes += x.lanes[i].start[1];
	double full_s = t_done[0] - t_start;
	printf("{\"engine\": \"ceiling\", \"seconds\": %.6f, \"changes\": %llu, \"rows\": %llu, "
	       "\"digest\": \"%016llx\", \"threads\": %u, \"full_seconds\": %.6f, \"full_changes\": %llu, "
	       "\"incremental_mchanges_per_s\": %.2f, \"note\": \"pre-decoded, pre-routed, memory "
	       "reserved and touched, a barrier between backups; timed: irs__part_apply_batch only\"}\n",
	       secs, (unsigned long long)changes, (unsigned long long)rows, (unsigned long long)digest,
	       threads, full_s, (unsigned long long)full_changes,
	       (double)(changes - full_changes) / (secs - full_s) / 1e6);
	return 0;
}
