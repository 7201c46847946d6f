/*
 * pool.c: the life of the shard pool (shard.h): allocating the shards, their buffers
 * and partitions, starting and stopping the threads, and freeing it all.
 *
 * ORDER: everything irs__pool_stop undoes (inboxes, decoders) is set up for every
 * shard before anything that can fail, so a pool that failed half way is stopped and
 * freed by the same two calls as a healthy one.
 */
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "shard/fault.h"
#include "shard/shard.h"

static void pool_send(irs_pool *pool, uint32_t s, uint32_t type)
{
	irs_shard *sh = &pool->shards[s];
	sh->cmd.type = type;
	irs__inbox_push(&sh->inbox, &sh->cmd.node);
}

void irs__pool_send_all(irs_pool *pool, uint32_t type)
{
	for (uint32_t s = 0; s < pool->nshards; s++)
		pool_send(pool, s, type);
}

/* Allocates one shard's buffers and partitions (its inboxes already exist); the
 * coordinator's decoder gets buffers only. */
static int shard_setup(irs_pool *pool, irs_shard *sh, const bool *enabled,
		       const uint64_t *expected_rows, irs_error *err)
{
	irs_mem *mem = pool->mem;
	uint32_t nt = pool->ntables;
	size_t recs_cap = pool->run_cap / IRS_REC_HEADER + 2;
	sh->parts = irs__calloc(mem, sizeof(*sh->parts) * nt);
	sh->out = irs__calloc(mem, sizeof(irs_run *) * pool->nshards);
	sh->recs = irs__malloc(mem, sizeof(*sh->recs) * recs_cap);
	sh->recs_cap = sh->recs ? recs_cap : 0;
	sh->resv_rows = irs__calloc(mem, sizeof(uint64_t) * nt);
	sh->resv_bytes = irs__calloc(mem, sizeof(uint64_t) * nt);
	if (!sh->parts || !sh->out || !sh->recs || !sh->resv_rows || !sh->resv_bytes)
		return irs__seterr(err, IRS_ENOMEM, "out of memory creating shard %u", sh->id);
	for (uint32_t t = 0; t < nt && !irs__is_coordinator(sh); t++) {
		if (!enabled[t])
			continue;
		/* this shard's share (of this partition), with 1/8 slack for an uneven split */
		uint64_t share = expected_rows[t] / pool->nshards / (pool->part_count ? pool->part_count : 1);
		int rc = irs__part_create(mem, &pool->tables[t], share + share / 8 + 16, &sh->parts[t]);
		if (rc)
			return irs__seterr(err, rc, "%s creating table %s on shard %u",
					   rc == IRS_ELIMIT ? "memory limit reached" : "out of memory",
					   pool->tables[t].name, sh->id);
		if (pool->track_digest)
			irs__part_track_digest(sh->parts[t]);
	}
	return 0;
}

int irs__pool_start(irs_pool *pool, const bool *enabled, const uint64_t *expected_rows,
		    irs_error *err)
{
	if (pool->ndecoders < pool->nshards)
		pool->ndecoders = pool->nshards;
	pool->shards = irs__calloc(pool->mem, sizeof(irs_shard) * pool->ndecoders);
	if (!pool->shards)
		return irs__seterr(err, IRS_ENOMEM, "out of memory creating %u shards", pool->nshards);
	for (uint32_t s = 0; s < pool->ndecoders; s++) {
		irs_shard *sh = &pool->shards[s];
		sh->pool = pool;
		sh->id = s;
		sh->staged_tail = &sh->staged;
		irs__inbox_init(&sh->inbox);
		/* one run to every shard being filled, and a few more in flight each */
		sh->outstanding_max = 64 * pool->nshards + 128;
		irs__batch_decoder_init(&sh->dec, pool->mem);
	}
	/* Runs in huge-page slabs once a decoder's share of the base fills a few of them
	 * (at 16 bytes a record, a lower bound): a few thousand rows keep runs one by one. */
	uint64_t rows = 0;
	for (uint32_t t = 0; t < pool->ntables; t++)
		if (enabled[t])
			rows += expected_rows[t];
	bool big = rows / pool->ndecoders * 16 >= ((uint64_t)8 << 20);
	pool->huge_run_slabs = irs__fault_huge_run_slabs(big);
	for (uint32_t s = 0; s < pool->ndecoders; s++) {
		int rc = shard_setup(pool, &pool->shards[s], enabled, expected_rows, err);
		if (rc)
			return rc;
	}
	for (uint32_t s = 0; s < pool->nshards; s++) {
		irs_shard *sh = &pool->shards[s];
		sh->idle_since_ns = irs__now_ns();
		int e = irs__fault_thread_start(s);
		if (!e)
			e = pthread_create(&sh->thread, NULL, irs__shard_main, sh);
		if (e)
			return irs__seterr(err, IRS_ESHARD, "cannot start shard thread %u: %s", s, strerror(e));
		sh->started = true;
	}
	return 0;
}

/* Frees the buffers a shard uses while it runs (not its partitions). */
static void shard_buffers_free(irs_pool *pool, irs_shard *sh)
{
	irs_mem *mem = pool->mem;
	irs__batch_decoder_free(&sh->dec);
	irs__free(mem, sh->frame_buf, sh->frame_cap);
	sh->frame_buf = NULL;
	sh->frame_cap = 0;
	irs__free(mem, sh->drop_buf, sh->drop_cap);
	sh->drop_buf = NULL;
	sh->drop_cap = 0;
	if (sh->out) {
		for (uint32_t d = 0; d < pool->nshards; d++)
			if (sh->out[d] && sh->out[d]->cap != pool->run_cap && sh->out[d] != sh->big_spare)
				/* standard ones: slabs; the spare: below */
				irs__free(mem, sh->out[d], sizeof(irs_run) + sh->out[d]->cap);
		irs__free(mem, sh->out, sizeof(irs_run *) * pool->nshards);
		sh->out = NULL;
	}
	if (sh->big_spare)
		irs__free(mem, sh->big_spare, sizeof(irs_run) + sh->big_spare_size);
	sh->big_spare = NULL;
	sh->big_spare_size = 0;
	irs__free(mem, sh->recs, sizeof(*sh->recs) * sh->recs_cap);
	sh->recs = NULL;
	irs__free(mem, sh->hset, sizeof(uint64_t) * sh->hset_alloc);
	irs__free(mem, sh->suspects, sizeof(uint64_t) * sh->suspects_cap);
	sh->hset = sh->suspects = NULL;
	sh->hset_cap = sh->hset_alloc = sh->suspects_cap = 0;
	irs__run_slabs_free(sh);
	irs__inbox_destroy(&sh->inbox);
}

void irs__pool_stop(irs_pool *pool)
{
	if (pool->stopped || !pool->shards)
		return;
	pool->stopped = true;
	for (uint32_t s = 0; s < pool->nshards; s++) {
		irs_shard *sh = &pool->shards[s];
		if (!sh->started)
			continue;
		pool_send(pool, s, IRS_MSG_QUIT);
		pthread_join(sh->thread, NULL);
		sh->started = false;
	}
	if (pool->ndecoders > pool->nshards) /* runs the shards sent back after its last frame */
		irs__decoder_drain(&pool->shards[pool->nshards]);
	for (uint32_t s = 0; s < pool->ndecoders; s++)
		shard_buffers_free(pool, &pool->shards[s]);
}

void irs__pool_free(irs_pool *pool)
{
	if (!pool->shards)
		return;
	irs_mem *mem = pool->mem;
	uint32_t nt = pool->ntables;
	for (uint32_t s = 0; s < pool->ndecoders; s++) {
		irs_shard *sh = &pool->shards[s];
		if (sh->parts) {
			for (uint32_t t = 0; t < nt; t++)
				irs__part_destroy(sh->parts[t]);
			irs__free(mem, sh->parts, sizeof(*sh->parts) * nt);
		}
		irs__free(mem, sh->resv_rows, sizeof(uint64_t) * nt);
		irs__free(mem, sh->resv_bytes, sizeof(uint64_t) * nt);
	}
	irs__free(mem, pool->shards, sizeof(irs_shard) * pool->ndecoders);
	pool->shards = NULL;
}
