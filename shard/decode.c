/*
 * decode.c: the decoder job of a shard (the BEGIN message of shard.h's protocol).
 *
 * Every shard takes frames of the current backup from the plan's shared cursor, reads
 * and decodes each (format/segment.c, format/batch_decode.c) and appends every change record
 * to the run of the shard that owns its key. A full run is pushed to its owner's inbox
 * (wait-free enqueue), so the queue sees one node per run, not per change. Between
 * frames the decoder handles the runs other decoders sent it, so a full backup is
 * applied while it streams and memory stays flat.
 *
 * OWNERSHIP: an outgoing run belongs to its producer (sh->out[dest]) until pushed, then
 * to its destination, which sends standard-size runs back to the producer's inbox (a
 * RETURN message) for reuse: no malloc/free (and no fresh pages to fault in) per run in
 * the steady state.
 *
 * FLOW CONTROL: in a full backup (and in both passes of an incremental read twice)
 * runs are consumed as they arrive, so a decoder that ran ahead of the shards
 * consuming its runs would only pile up memory. It counts its runs that are out
 * (being filled, queued or being consumed) and, at outstanding_max,
 * pushes what it has filled and handles its own inbox (runs to apply, runs coming
 * back) until some come back. Every shard waiting this way still applies what others
 * sent it, so the runs it waits for always come back. An incremental staged in memory
 * keeps every run until APPLY, so there the count only measures.
 *
 * A BACKUP READ TWICE applies as pass 1 streams, past the point of no return, so pass
 * 1 must not fail for memory: at the END of pass 0 each decoder allocates what its
 * pass 1 needs (irs__decoder_prepare_reread: a frame buffer for the largest frame, the
 * batch decoder's arrays, a run of its own), and in pass 1 a decoder that cannot get
 * a new run waits for its own runs to come back instead (they always do: see above).
 * A change larger than a standard run gets a run of its own, allocated per change: in
 * pass 1, when that allocation fails, the decoder's spare takes it (big_spare, as big
 * as the largest change pass 0 saw, allocated by prepare); the spare's consumer sends it
 * back like a standard run, and a decoder needing it again waits for it. In a
 * partitioned restore, the buffer for changes another partition keeps is grown to that
 * size by prepare too.
 */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/keycodec.h"
#include "shard/fault.h"
#include "shard/shard.h"

void irs__run_free(irs_pool *pool, irs_run *run)
{
	if (run->cap != pool->run_cap && !run->spare) {
		irs__free(pool->mem, run, sizeof *run + run->cap); /* odd-sized: one huge record */
		return;
	}
	run->msg.type = IRS_MSG_RETURN;
	irs__inbox_push(&pool->shards[run->owner].inbox, &run->msg.node);
}

void irs__run_returned(irs_shard *sh, irs_run *run)
{
	if (run->spare) {
		sh->big_spare_out = false;
		return;
	}
	run->next = sh->free_runs;
	sh->free_runs = run;
	sh->outstanding--;
}

static void push_run(irs_pool *pool, uint32_t dest, irs_run *run)
{
	run->msg.type = IRS_MSG_RUN;
	run->next = NULL;
	irs__inbox_push(&pool->shards[dest].inbox, &run->msg.node);
}

/* Pushes every partly filled outgoing run. */
static void flush_runs(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	for (uint32_t d = 0; d < pool->nshards; d++) {
		if (sh->out[d]) {
			push_run(pool, d, sh->out[d]);
			sh->out[d] = NULL;
		}
	}
}

/* The decoder as messages name it: "shard N", or the coordinator (its decoder is
 * pool->shards[nshards], a shard number no shard has). */
static const char *decoder_name(const irs_shard *sh, char buf[32])
{
	if (irs__is_coordinator(sh))
		return "the coordinator";
	snprintf(buf, 32, "shard %u", sh->id);
	return buf;
}

/* The bytes of one standard-size run in a slab (a multiple of 64, so that every run
 * header starts a cache line). */
static size_t run_stride(const irs_pool *pool)
{
	return (sizeof(irs_run) + pool->run_cap + 63) & ~(size_t)63;
}

/* A standard-size run from this decoder's slabs (irs_run_slabs), or NULL. */
static irs_run *slab_take(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	irs_run_slabs *s = &sh->slabs;
	size_t stride = run_stride(pool);
	if (!s->left) {
		size_t runs = 1, bytes = stride;
		if (pool->huge_run_slabs && IRS_HUGE_PAGE / stride > 1) {
			runs = IRS_HUGE_PAGE / stride;
			bytes = IRS_HUGE_PAGE;
		}
		if (s->n == s->cap) {
			size_t nc = s->cap ? 2 * s->cap : 8;
			void *v = irs__realloc(pool->mem, s->v, s->cap * sizeof *s->v, nc * sizeof *s->v);
			if (!v)
				return NULL;
			s->v = v;
			s->cap = nc;
		}
		uint8_t *base = irs__malloc_huge(pool->mem, bytes);
		if (!base)
			return NULL;
		s->v[s->n].base = base;
		s->v[s->n++].bytes = bytes;
		s->next = base;
		s->left = runs;
	}
	irs_run *run = (irs_run *)s->next;
	s->next += stride;
	s->left--;
	run->spare = false; /* irs__run_returned reads it before run_new sets the rest */
	return run;
}

void irs__run_slabs_free(irs_shard *sh)
{
	irs_run_slabs *s = &sh->slabs;
	for (size_t i = 0; i < s->n; i++)
		irs__free(sh->pool->mem, s->v[i].base, s->v[i].bytes);
	irs__free(sh->pool->mem, s->v, s->cap * sizeof *s->v);
	*s = (irs_run_slabs){0};
	sh->free_runs = NULL;
}

static void take_while_decoding(irs_shard *sh, struct cds_wfcq_node *n);
static void flush_runs(irs_shard *sh);

/* Pass 1 of a backup read twice, which must not fail for memory (the top comment). */
static bool second_read(const irs_shard *sh)
{
	return sh->pool->plan.reread && sh->pool->plan.pass == 1;
}

/* Applies what arrives until one of this decoder's standard runs (big: its spare) is
 * back; the caller knows one is on its way. */
static void await_own_run(irs_shard *sh, bool big)
{
	while (big ? sh->big_spare_out : !sh->free_runs)
		take_while_decoding(sh, irs__inbox_pop_blocking(&sh->inbox, 0));
}

/* In pass 1: pushes what this decoder filled and waits until one of its standard runs
 * (big: its spare) is back, applying what arrives meanwhile. False when nothing is out
 * that could come back. */
static bool wait_for_own_run(irs_shard *sh, bool big)
{
	if (!second_read(sh) || (big ? !sh->big_spare || !sh->big_spare_out : sh->outstanding == 0))
		return false;
	flush_runs(sh);
	await_own_run(sh, big);
	return true;
}

/* A run for `table` with room for sz bytes: a recycled one when standard-sized. */
static int run_new(irs_shard *sh, uint32_t table, size_t sz, irs_run **out, irs_error *err)
{
	irs_pool *pool = sh->pool;
	size_t cap = sz > pool->run_cap ? sz : pool->run_cap;
	irs_run *run = NULL;
	bool standard = cap == pool->run_cap;
	if (standard && !sh->free_runs && !(run = slab_take(sh)))
		wait_for_own_run(sh, false);
	if (standard && !run && sh->free_runs) {
		run = sh->free_runs;
		sh->free_runs = run->next;
	}
	if (!standard && !(run = irs__malloc(pool->mem, sizeof *run + cap)) && second_read(sh) &&
	    sh->big_spare && sh->big_spare_size >= cap) {
		wait_for_own_run(sh, true);
		run = sh->big_spare; /* with cap as asked: it holds this change alone, as any odd run */
		sh->big_spare_out = true;
	}
	if (!run) {
		char name[32];
		return irs__seterr(err, irs__mem_over_limit(pool->mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "%s: no memory for a %zu-byte run", decoder_name(sh, name), cap);
	}
	if (cap == pool->run_cap)
		sh->outstanding++;
	run->owner = sh->id;
	run->table = table;
	run->count = 0;
	run->used = 0;
	run->cap = cap;
	run->spare = run == sh->big_spare;
	*out = run;
	return 0;
}

static uint8_t *drop_room(irs_shard *sh, size_t bound, irs_error *err);

int irs__decoder_prepare_reread(irs_shard *sh, irs_error *err)
{
	irs_pool *pool = sh->pool;
	const irs_plan *p = &pool->plan;
	uint32_t ncols = 0;
	for (uint32_t t = 0; t < pool->ntables; t++)
		if (pool->tables[t].ncols > ncols)
			ncols = pool->tables[t].ncols;
	int rc = irs__frame_buf_reserve(pool->mem, &sh->frame_buf, &sh->frame_cap, p->max_frame, err);
	if (!rc)
		rc = irs__batch_decoder_reserve(&sh->dec, ncols, err);
	size_t big = atomic_load_explicit(&p->big_bound, memory_order_relaxed);
	if (!rc && (pool->part_count || pool->filter) && !drop_room(sh, big, err))
		rc = err ? err->code : IRS_ENOMEM;
	if (!rc && big > pool->run_cap && (!sh->big_spare || sh->big_spare_size < big)) {
		/* the one from an earlier backup may still be on its way back (the coordinator's
		 * decoder reads its inbox only while it decodes): its RETURN is queued by now */
		await_own_run(sh, true);
		irs__free(pool->mem, sh->big_spare, sh->big_spare ? sizeof(irs_run) + sh->big_spare_size : 0);
		sh->big_spare = irs__malloc(pool->mem, sizeof(irs_run) + big);
		sh->big_spare_size = sh->big_spare ? big : 0;
		if (sh->big_spare) {
			sh->big_spare->spare = true;
			sh->big_spare->owner = sh->id;
		} else {
			rc = irs__seterr(err, irs__mem_over_limit(pool->mem) ? IRS_ELIMIT : IRS_ENOMEM,
					 "no memory for a %zu-byte run", big);
		}
	}
	if (!rc && !sh->free_runs && sh->outstanding == 0) {
		irs_run *run = slab_take(sh);
		if (run) {
			sh->outstanding++; /* as run_new counts it; returned at once */
			irs__run_returned(sh, run);
		} else {
			rc = irs__seterr(err, irs__mem_over_limit(pool->mem) ? IRS_ELIMIT : IRS_ENOMEM,
					 "no memory for a %zu-byte run", pool->run_cap);
		}
	}
	if (rc) {
		char name[32];
		irs__errprefix(err, "%s: before reading it a second time", decoder_name(sh, name));
	}
	return rc;
}

typedef struct route_ctx {
	irs_shard *sh;
	uint32_t table;
	uint32_t dest;              /* the shard of the record being built */
	bool dropped;               /* it is not kept: decoded into drop_buf */
} route_ctx;

/* Room for a record that is not kept: it is still decoded, so still validated. */
static uint8_t *drop_room(irs_shard *sh, size_t bound, irs_error *err)
{
	if (bound > sh->drop_cap) {
		irs_mem *mem = sh->pool->mem;
		size_t cap = bound < 4096 ? 4096 : bound;
		uint8_t *b = irs__malloc(mem, cap);
		if (!b) {
			char name[32];
			irs__seterr(err, irs__mem_over_limit(mem) ? IRS_ELIMIT : IRS_ENOMEM,
				    "%s: no memory for a %zu-byte change", decoder_name(sh, name), bound);
			return NULL;
		}
		irs__free(mem, sh->drop_buf, sh->drop_cap);
		sh->drop_buf = b;
		sh->drop_cap = cap;
	}
	return sh->drop_buf;
}

/* Decoder output: room for a record at the end of its owner's run, opening a new run
 * when the current one is full or holds another table. */
static uint8_t *route_room(void *ctx, uint64_t hash, const uint8_t *key, size_t key_len,
			   size_t bound, irs_error *err)
{
	route_ctx *rc = ctx;
	irs_shard *sh = rc->sh;
	irs_pool *pool = sh->pool;
	size_t sz = irs__rec_padded(bound);
	if (sz > sh->big_bound) /* what a second read's spare must hold (prepare) */
		sh->big_bound = sz;
	rc->dropped = (pool->part_count || pool->filter) && !irs__pool_keeps(pool, rc->table, key, key_len, hash);
	if (rc->dropped)
		return drop_room(sh, bound, err);
	uint32_t dest = irs__shard_of(hash, pool->nshards);
	irs_run *run = sh->out[dest];
	if (run && (run->table != rc->table || run->cap - run->used < sz)) {
		push_run(pool, dest, run);
		run = sh->out[dest] = NULL;
		/* a run's worth of records later: take in what others sent, so runs keep
		 * coming back and no shard waits a whole frame for this one */
		irs__decoder_drain(sh);
	}
	if (!run) {
		if (run_new(sh, rc->table, sz, &sh->out[dest], err))
			return NULL;
		run = sh->out[dest];
	}
	rc->dest = dest;
	return run->data + run->used;
}

/* Decoder output: the record is complete; it stays in the run. */
static int route_done(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	route_ctx *rc = ctx;
	irs_shard *sh = rc->sh;
	if (rc->dropped)
		return 0;
	irs_run *run = sh->out[rc->dest];
	run->used += irs__rec_padded(rec->size);
	run->count++;
	irs__fault_yield(&sh->yield_counter);
	return 0;
}

/* Handles a message that arrived while this shard decodes: only runs (to apply or
 * stage) and returned runs can (END needs this shard's count first). */
static void take_while_decoding(irs_shard *sh, struct cds_wfcq_node *n)
{
	irs_msg *m = caa_container_of(n, irs_msg, node);
	irs_run *run = caa_container_of(m, irs_run, msg);
	if (m->type == IRS_MSG_RETURN)
		irs__run_returned(sh, run);
	else
		irs__shard_take_run(sh, run);
}

/* The runs that arrived while this shard was decoding never wait for the end of
 * decoding: for a full backup that keeps memory flat. */
void irs__decoder_drain(irs_shard *sh)
{
	struct cds_wfcq_node *n;
	while ((n = irs__inbox_pop_nonblocking(&sh->inbox)))
		take_while_decoding(sh, n);
}

/* Flow control (see the top comment): in a full backup, waits until fewer than
 * outstanding_max of this shard's runs are out, applying what arrives meanwhile. */
static void wait_for_runs(irs_shard *sh)
{
	const irs_plan *p = &sh->pool->plan;
	if ((!p->full && !p->reread) || sh->outstanding < sh->outstanding_max)
		return;
	flush_runs(sh);
	/* down to half, so that the decoder then runs for a while before it waits again;
	 * the coordinator keeps reporting progress meanwhile */
	bool ticks = irs__is_coordinator(sh) && sh->pool->tick;
	while (sh->outstanding > sh->outstanding_max / 2) {
		struct cds_wfcq_node *n = irs__inbox_pop_blocking(&sh->inbox, ticks ? IRS_PROGRESS_NS : 0);
		if (n)
			take_while_decoding(sh, n);
		else
			sh->pool->tick(sh->pool->tick_ctx);
	}
}

/* Reads, decodes and routes frame fi of the plan. */
static int decode_frame(irs_shard *sh, size_t fi)
{
	irs_pool *pool = sh->pool;
	irs_plan *p = &pool->plan;
	const irs_frame_ref *f = &p->frames[fi];
	uint32_t seg = f->segment;
	const char *path = p->seg_path[seg];
	irs_error *err = &sh->error;
	int rc = irs__frame_read(pool->mem, p->seg_fd[seg], path, f, &sh->frame_buf, &sh->frame_cap, err);
	if (!rc)
		rc = irs__fault_frame_read(p->backup, p->pass, fi, path, f->index, f->offset, err);
	if (rc) {
		irs__errprefix(err, "%s", p->name);
		return rc;
	}
	route_ctx ctx = {sh, p->frame_table[seg], 0, false};
	sh->dec.row_digests = pool->track_digest;
	irs_rec_out out = {route_room, route_done, &ctx};
	uint32_t n = 0;
	rc = irs__batch_decode_to(&sh->dec, &pool->tables[ctx.table], sh->frame_buf, f->length, p->full,
				  0, &out, &n, err);
	if (rc) {
		if (rc == IRS_ECORRUPT)
			irs__errprefix(err, "%s: segment %s: frame %u at byte %llu", p->name, path,
				       f->index, (unsigned long long)f->offset);
		return rc;
	}
	if (p->pass == 0) /* a backup read twice is counted once */
		atomic_fetch_add_explicit(&p->seg_decoded[seg], n, memory_order_relaxed);
	irs__fault_yield(&sh->yield_counter);
	rc = irs__fault_after_frame(p->backup, sh->id, ++sh->frames_decoded, err);
	if (rc)
		return rc;
	if (p->pass == 0) {
		atomic_fetch_add_explicit(&pool->bytes_done, f->length + IRS_FRAME_HEADER, memory_order_relaxed);
		sh->result.decoded_bytes += f->length + IRS_FRAME_HEADER;
	}
	return 0;
}

void irs__shard_decode(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	irs_plan *p = &pool->plan;
	sh->frames_decoded = 0;
	sh->big_bound = 0;
	for (;;) {
		if (atomic_load_explicit(&p->abort, memory_order_relaxed))
			break;
		/* the apply pass of a backup read twice is past the point of no return */
		if (p->pass == 0 && irs__pool_cancelled(pool)) {
			irs__seterr(&sh->error, IRS_ECANCELED, "cancelled");
			irs__shard_fail(sh, IRS_ECANCELED);
			break;
		}
		size_t fi = atomic_fetch_add_explicit(&p->next_frame, 1, memory_order_relaxed);
		if (fi >= p->nframes)
			break;
		int rc = decode_frame(sh, fi);
		if (rc) {
			irs__shard_fail(sh, rc);
			break;
		}
		irs__decoder_drain(sh);
		wait_for_runs(sh);
		if (irs__is_coordinator(sh) && pool->tick)
			pool->tick(pool->tick_ctx); /* the coordinator's progress reports */
	}
	flush_runs(sh);
	/* before this decoder counts `decoding` down: the END that follows reads it */
	size_t big = atomic_load_explicit(&p->big_bound, memory_order_relaxed);
	while (sh->big_bound > big &&
	       !atomic_compare_exchange_weak_explicit(&p->big_bound, &big, sh->big_bound, memory_order_relaxed,
						      memory_order_relaxed))
		;
}
