/*
 * shard.c: the shard thread, and its owner job: receiving runs for its partitions.
 * The protocol it follows is drawn in shard.h; shard/decode.c is the decoder job.
 *
 * A full backup is applied as its runs arrive; an incremental is staged (shard/stage.c:
 * kept as received, its keys checked for repeats and its memory added up as each run
 * arrives, the memory reserved at END); APPLY then applies it without any step that can
 * fail.
 *
 * INVARIANTS
 *   - Only this thread touches sh->parts, sh->staged and sh->out.
 *   - A run belongs to its producer until pushed, then to its destination.
 *   - sh->result and sh->error are written by this thread before it counts a
 *     countdown down, and read by the coordinator after the countdown's wait returns
 *     (the countdown's acq_rel/acquire pair orders them).
 */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "shard/fault.h"
#include "shard/shard.h"

#define STATUS(x) INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__##x

void irs__shard_fail(irs_shard *sh, int code)
{
	if (sh->result.status != STATUS(ERROR)) {
		sh->result.status = STATUS(ERROR);
		if (!sh->error.code)
			sh->error.code = code;
		sh->result.error_code = sh->error.code;
		sh->result.error = sh->error.message;
	}
	atomic_store_explicit(&sh->pool->plan.abort, 1, memory_order_relaxed);
}

/* Collects pointers to the records of a run (for batch apply with prefetching). */
static size_t run_records(const irs_run *run, const irs_rec **out)
{
	size_t n = 0;
	for (size_t off = 0; off < run->used; n++) {
		const irs_rec *rec = (const irs_rec *)(run->data + off);
		out[n] = rec;
		off += irs__rec_padded(rec->size);
	}
	return n;
}

static void count_applied(irs_shard *sh, const irs_apply_counts *ac)
{
	Increstore__IncrementalRestoreResult *res = &sh->result;
	uint64_t n = ac->inserted + ac->updated + ac->erased + ac->noop_erases;
	res->inserted += ac->inserted;
	res->updated += ac->updated;
	res->erased += ac->erased;
	res->noop_erases += ac->noop_erases;
	res->applied += n;
	atomic_fetch_add_explicit(&sh->pool->changes_done, n, memory_order_relaxed);
}

/* Full backup: apply a run as it arrives, allocating as it goes (a failed full backup
 * is cleared). A key that is already present is a duplicate within the full backup
 * (the table started empty). */
static void apply_full_run(irs_shard *sh, irs_run *run)
{
	irs_pool *pool = sh->pool;
	const irs_schema_table *t = &pool->tables[run->table];
	irs_table_part *part = sh->parts[run->table];
	if (sh->result.status == STATUS(ERROR))
		goto out;
	const irs_rec **recs = sh->recs;
	size_t n = run_records(run, recs);
	size_t at;
	irs_apply_counts ac = {0};
	int rc = irs__part_insert_batch(part, recs, n, &ac, &at);
	if (rc == IRS_EDUPKEY) {
		char key[256];
		irs__rec_key_format(t, irs__rec_key(recs[at]), recs[at]->key_len, key, sizeof key);
		irs__seterr(&sh->error, rc, "%s table %s: key %s appears twice in the full backup",
			    pool->plan.name, t->name, key);
	} else if (rc) {
		irs__seterr(&sh->error, rc, "shard %u: %s inserting rows of table %s", sh->id,
			    rc == IRS_ELIMIT ? "memory limit reached" : "out of memory", t->name);
	}
	if (rc)
		irs__shard_fail(sh, rc);
	count_applied(sh, &ac);
	irs__fault_slow_apply(sh->id);
out:
	irs__run_free(pool, run);
}

static void reset_result(irs_shard *sh);

/* Pass 1 of an incremental read twice: its memory was reserved in pass 0, so this
 * applies without any step that can fail, as the runs stream in. */
static void apply_run(irs_shard *sh, irs_run *run)
{
	const irs_rec **recs = sh->recs;
	size_t n = run_records(run, recs);
	irs_apply_counts ac = {0};
	irs__part_apply_batch(sh->parts[run->table], recs, n, &ac);
	count_applied(sh, &ac);
}

void irs__shard_take_run(irs_shard *sh, irs_run *run)
{
	reset_result(sh);
	const irs_plan *p = &sh->pool->plan;
	if (p->full) {
		apply_full_run(sh, run);
		return;
	}
	if (p->reread) {
		if (p->pass == 0)
			irs__stage_run(sh, run); /* checks; keeps nothing */
		else if (sh->result.status != STATUS(ERROR))
			apply_run(sh, run);
		irs__run_free(sh->pool, run);
		return;
	}
	*sh->staged_tail = run;
	sh->staged_tail = &run->next;
	sh->staged_records += run->count;
	irs__stage_run(sh, run);
}

/* APPLY: every staged run, in arrival order; nothing here can fail. */
static void apply_staged(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	irs_run *run = sh->staged;
	while (run) {
		irs_run *next = run->next;
		const irs_rec **recs = sh->recs;
		size_t n = run_records(run, recs);
		irs_apply_counts ac = {0};
		irs__part_apply_batch(sh->parts[run->table], recs, n, &ac);
		count_applied(sh, &ac);
		irs__fault_yield(&sh->yield_counter);
		irs__fault_slow_apply(sh->id);
		irs__run_free(pool, run);
		run = next;
	}
	sh->staged = NULL;
	sh->staged_tail = &sh->staged;
	sh->staged_records = 0;
}

static void discard_staged(irs_shard *sh)
{
	irs_run *run = sh->staged;
	while (run) {
		irs_run *next = run->next;
		irs__run_free(sh->pool, run);
		run = next;
	}
	sh->staged = NULL;
	sh->staged_tail = &sh->staged;
	sh->staged_records = 0;
	for (uint32_t ti = 0; ti < sh->pool->ntables; ti++)
		if (sh->parts[ti])
			irs__part_unreserve(sh->parts[ti]);
}

/* Starts this shard's result for the current backup, once: runs of a backup can
 * arrive from faster shards before this shard has seen its BEGIN. */
static void reset_result(irs_shard *sh)
{
	if (sh->result_gen == sh->pool->plan.gen)
		return;
	sh->result_gen = sh->pool->plan.gen;
	Increstore__IncrementalRestoreResult init = INCRESTORE__INCREMENTAL_RESTORE_RESULT__INIT;
	sh->result = init;
	sh->result.shard_id = sh->id;
	sh->result.backup_index = sh->pool->plan.backup;
	sh->result.status = STATUS(IN_PROGRESS);
	irs__errclear(&sh->error);
	if (!sh->pool->plan.full && !irs__is_coordinator(sh)) /* the coordinator stages nothing */
		irs__stage_begin(sh);
}

/* A phase this shard ended without an error succeeded. */
static void settle(irs_shard *sh)
{
	if (sh->result.status == STATUS(IN_PROGRESS))
		sh->result.status = STATUS(SUCCESS);
}

/* After its decoding: the decoder that counts `decoding` to zero tells every shard
 * that no more runs will come (every run of this backup is already queued). */
static void decoding_done(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	if (!irs__countdown_done(&pool->plan.decoding))
		return;
	for (uint32_t s = 0; s < pool->nshards; s++) {
		pool->shards[s].end.type = IRS_MSG_END;
		irs__inbox_push(&pool->shards[s].inbox, &pool->shards[s].end.node);
	}
}

void irs__coordinator_decode(irs_pool *pool)
{
	irs_shard *sh = &pool->shards[pool->nshards];
	reset_result(sh);
	irs__shard_decode(sh);
	settle(sh);
	decoding_done(sh);
}

/* Counts a phase countdown down; the shard that completes it wakes the coordinator. */
static void report(irs_shard *sh, irs_countdown *cd)
{
	settle(sh);
	/* Stamped before counting down: once the count is zero the coordinator reads it. */
	sh->idle_since_ns = irs__now_ns();
	irs__countdown_done(cd);
}

void *irs__shard_main(void *arg)
{
	irs_shard *sh = arg;
	irs_pool *pool = sh->pool;
	irs_plan *p = &pool->plan;
	for (;;) {
		struct cds_wfcq_node *node = irs__inbox_pop_blocking(&sh->inbox, 0);
		irs_msg *m = caa_container_of(node, irs_msg, node);
		switch (m->type) {
		case IRS_MSG_BEGIN:
			reset_result(sh);
			sh->result.wait_ns += irs__now_ns() - sh->idle_since_ns;
			irs__shard_decode(sh);
			decoding_done(sh);
			break;
		case IRS_MSG_RUN:
			irs__shard_take_run(sh, caa_container_of(m, irs_run, msg));
			break;
		case IRS_MSG_END:
			if (p->reread && p->pass == 1) {
				report(sh, &p->applied);
				break;
			}
			if (!p->full)
				irs__stage_end(sh);
			report(sh, &p->staged);
			break;
		case IRS_MSG_APPLY:
			sh->result.wait_ns += irs__now_ns() - sh->idle_since_ns;
			apply_staged(sh);
			report(sh, &p->applied);
			break;
		case IRS_MSG_DISCARD:
			discard_staged(sh);
			report(sh, &p->applied);
			break;
		case IRS_MSG_CLEAR:
			discard_staged(sh);
			for (uint32_t ti = 0; ti < pool->ntables; ti++)
				if (sh->parts[ti])
					irs__part_clear(sh->parts[ti]);
			report(sh, &p->applied);
			break;
		case IRS_MSG_RETURN:
			irs__run_returned(sh, caa_container_of(m, irs_run, msg));
			break;
		case IRS_MSG_QUIT:
			return NULL;
		}
	}
}
