/*
 * shard.c: the shard thread. The protocol it follows is drawn in engine/restore.h;
 * this file is the shard's side of it.
 *
 * A shard does two jobs in each backup:
 *   decoder   takes frames from the plan's shared cursor, decodes them (engine/batch.c)
 *             and appends every record to the run of its owning shard; full runs are
 *             pushed to the owner's inbox (wait-free enqueue). Runs hold many records,
 *             so the queue sees one node per run, not per change.
 *   owner     receives runs for its partition. A full backup is applied as the runs
 *             arrive; an incremental is staged (kept as received), checked for
 *             duplicate keys, and its memory reserved; APPLY then applies it without
 *             any step that can fail.
 *
 * INVARIANTS
 *   - Only this thread touches sh->parts, sh->staged and sh->out.
 *   - A run belongs to its producer until pushed, then to its destination.
 *   - sh->result and sh->error are written by this thread before it counts a
 *     countdown down, and read by the coordinator after the countdown's wait returns
 *     (the countdown's acq_rel/acquire pair orders them).
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "engine/restore.h"
#include "shard/keycodec.h"

/* Records the first error of this shard for the current backup. */
static void shard_fail(irs_shard *sh, int code)
{
	if (sh->result.status != INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__ERROR) {
		sh->result.status = INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__ERROR;
		sh->result.error_code = code;
		if (!sh->error.code)
			sh->error.code = code;
	}
	atomic_store_explicit(&sh->r->plan.abort, 1, memory_order_relaxed);
}

/* A consumed run goes back to the shard that allocated it, which reuses it: no
 * malloc/free (and no fresh pages to fault in) per run in the steady state. Odd-sized
 * runs (one huge record) are freed. */
static void run_free(irs_restore *r, irs_run *run)
{
	if (run->cap != r->run_cap) {
		irs__free(&r->mem, run, sizeof *run + run->cap);
		return;
	}
	irs__inbox_push(&r->shards[run->owner].returns, &run->msg.node);
}

static void push_run(irs_restore *r, uint32_t dest, irs_run *run)
{
	run->msg.type = IRS_MSG_RUN;
	run->next = NULL;
	irs__inbox_push(&r->shards[dest].inbox, &run->msg.node);
}

/* Pushes every partly filled outgoing run. */
static void flush_runs(irs_shard *sh)
{
	irs_restore *r = sh->r;
	for (uint32_t d = 0; d < r->nshards; d++) {
		if (sh->out[d]) {
			push_run(r, d, sh->out[d]);
			sh->out[d] = NULL;
		}
	}
}

typedef struct route_ctx {
	irs_shard *sh;
	uint32_t table;
} route_ctx;

/* Decoder sink: appends a record to its owner's run. */
static int route(void *ctx, const irs_rec *rec, irs_error *err)
{
	route_ctx *rc = ctx;
	irs_shard *sh = rc->sh;
	irs_restore *r = sh->r;
	uint32_t dest = irs__shard_of(rec->hash, r->nshards);
	size_t sz = irs__rec_padded(rec->size);
	irs_run *run = sh->out[dest];
	if (run && (run->table != rc->table || run->cap - run->used < sz)) {
		push_run(r, dest, run);
		run = sh->out[dest] = NULL;
	}
	if (!run) {
		size_t cap = sz > r->run_cap ? sz : r->run_cap;
		struct cds_wfcq_node *n = cap == r->run_cap ? irs__inbox_pop_nonblocking(&sh->returns) : NULL;
		run = n ? caa_container_of(caa_container_of(n, irs_msg, node), irs_run, msg)
			: irs__malloc(&r->mem, sizeof *run + cap);
		if (!run)
			return irs__seterr(err, irs__mem_over_limit(&r->mem) ? IRS_ELIMIT : IRS_ENOMEM,
					   "shard %u: no memory for a %zu-byte run", sh->id, cap);
		run->owner = sh->id;
		run->table = rc->table;
		run->count = 0;
		run->used = 0;
		run->cap = cap;
		sh->out[dest] = run;
	}
	memcpy(run->data + run->used, rec, rec->size);
	run->used += sz;
	run->count++;
	IRS_FAULT_YIELD(sh->yield_counter);
	return 0;
}

static void take_run(irs_shard *sh, irs_run *run);

/* Handles the runs that arrived while this shard was decoding (they never wait for
 * the end of decoding: for a full backup that keeps memory flat). */
static void drain_runs_nonblocking(irs_shard *sh)
{
	struct cds_wfcq_node *n;
	while ((n = irs__inbox_pop_nonblocking(&sh->inbox))) {
		irs_msg *m = caa_container_of(n, irs_msg, node);
		/* Only runs can arrive while this shard still decodes (END needs its count). */
		take_run(sh, caa_container_of(m, irs_run, msg));
	}
}

/* The decoder job: frames from the shared cursor until none are left. */
static void decode_frames(irs_shard *sh)
{
	irs_restore *r = sh->r;
	irs_plan *p = &r->plan;
	const irs_collection *c = r->c;
	for (;;) {
		if (atomic_load_explicit(&p->abort, memory_order_relaxed))
			break;
		if (irs__cancelled(r)) {
			irs__seterr(&sh->error, IRS_ECANCELED, "cancelled");
			shard_fail(sh, IRS_ECANCELED);
			break;
		}
		size_t fi = atomic_fetch_add_explicit(&p->next_frame, 1, memory_order_relaxed);
		if (fi >= p->nframes)
			break;
		const irs_frame_ref *f = &p->frames[fi];
		uint32_t seg = f->segment;
		const char *path = p->seg_path[seg];
		irs_error *err = &sh->error;
		int rc = irs__frame_read(&r->mem, p->seg_fd[seg], path, f, &sh->frame_buf, &sh->frame_cap, err);
#ifdef IRS_FAULT_INJECTION
		if (!rc && irs__fault.eio_backup == (int64_t)p->backup && irs__fault.eio_frame == fi)
			rc = irs__seterr(err, IRS_EIO, "segment %s: frame %u at byte %llu: read failed: "
					 "injected I/O error", path, f->index, (unsigned long long)f->offset);
#endif
		if (rc) {
			irs__errprefix(err, "backup %s", p->name);
			shard_fail(sh, rc);
			break;
		}
		route_ctx ctx = {sh, p->frame_table[seg]};
		uint32_t n = 0;
		rc = irs__batch_decode(&sh->dec, &c->tables[ctx.table], sh->frame_buf, f->length, p->full,
				       0, route, &ctx, &n, err);
		if (rc) {
			if (rc == IRS_ECORRUPT)
				irs__errprefix(err, "backup %s: segment %s: frame %u at byte %llu",
					       p->name, path, f->index,
					       (unsigned long long)f->offset);
			shard_fail(sh, rc);
			break;
		}
		atomic_fetch_add_explicit(&p->seg_decoded[seg], n, memory_order_relaxed);
		IRS_FAULT_YIELD(sh->yield_counter);
#ifdef IRS_FAULT_INJECTION
		if (irs__fault.fail_backup == (int64_t)p->backup && irs__fault.fail_shard == sh->id &&
		    irs__fault.fail_frame == (int64_t)++sh->frames_decoded) {
			irs__seterr(err, IRS_ESHARD, "shard %u: injected failure after frame %llu of backup %u",
				    sh->id, (unsigned long long)sh->frames_decoded, p->backup);
			shard_fail(sh, IRS_ESHARD);
			break;
		}
#endif
		atomic_fetch_add_explicit(&r->bytes_done, f->length + IRS_FRAME_HEADER, memory_order_relaxed);
		sh->result.decoded_bytes += f->length + IRS_FRAME_HEADER;
		drain_runs_nonblocking(sh);
	}
	flush_runs(sh);
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
	atomic_fetch_add_explicit(&sh->r->changes_done, n, memory_order_relaxed);
}

/* Full backup: apply a run as it arrives. A key that is already present is a
 * duplicate within the full backup (the table started empty). */
static void apply_full_run(irs_shard *sh, irs_run *run)
{
	irs_restore *r = sh->r;
	const irs_schema_table *t = &r->c->tables[run->table];
	irs_table_part *part = sh->parts[run->table];
	if (sh->result.status == INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__ERROR)
		goto out;
	const irs_rec **recs = sh->recs;
	size_t n = run_records(run, recs);
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += irs__part_rec_bound(part, recs[i]);
	int rc = irs__part_reserve(part, n, bytes);
	if (rc) {
		irs__seterr(&sh->error, rc, "shard %u: %s reserving %zu rows of table %s", sh->id,
			    rc == IRS_ELIMIT ? "memory limit reached" : "out of memory", n, t->name);
		shard_fail(sh, rc);
		goto out;
	}
	size_t dup;
	irs_apply_counts ac = {0};
	if (irs__part_insert_batch(part, recs, n, &ac, &dup) != 0) {
		char key[256];
		irs__rec_key_format(t, irs__rec_key(recs[dup]), recs[dup]->key_len, key, sizeof key);
		irs__seterr(&sh->error, IRS_EDUPKEY, "backup %s table %s: key %s appears twice in the full backup",
			    r->plan.name, t->name, key);
		shard_fail(sh, IRS_EDUPKEY);
	}
	count_applied(sh, &ac);
out:
	run_free(r, run);
}

static void reset_result(irs_shard *sh);

static void take_run(irs_shard *sh, irs_run *run)
{
	reset_result(sh);
	if (sh->r->plan.full) {
		apply_full_run(sh, run);
		return;
	}
	*sh->staged_tail = run;
	sh->staged_tail = &run->next;
	sh->staged_records += run->count;
}

/*
 * End of an incremental's data for this shard: check that no key repeats among the
 * staged records, then reserve the memory APPLY will use. A temporary open-addressing
 * set of record pointers finds repeats (hash first, then the key bytes).
 */
static void finish_stage(irs_shard *sh)
{
	irs_restore *r = sh->r;
	const irs_collection *c = r->c;
	if (r->plan.full || sh->result.status == INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__ERROR)
		return;
#ifdef IRS_FAULT_INJECTION
	if (irs__fault.fail_backup == (int64_t)r->plan.backup && irs__fault.fail_shard == sh->id &&
	    irs__fault.fail_frame < 0) {
		irs__seterr(&sh->error, IRS_ESHARD, "shard %u: injected failure in backup %u", sh->id,
			    r->plan.backup);
		shard_fail(sh, IRS_ESHARD);
		return;
	}
#endif
	uint64_t n = sh->staged_records;
	for (uint32_t ti = 0; ti < c->ntables; ti++)
		sh->resv_rows[ti] = sh->resv_bytes[ti] = 0;
	if (n) {
		size_t cap = 16;
		while (cap < n * 2)
			cap *= 2;
		/* The set's memory is kept from backup to backup: fresh pages cost more than
		 * the zeroing. */
		if (cap > sh->dup_cap) {
			irs__free(&r->mem, sh->dup_set, sizeof(*sh->dup_set) * sh->dup_cap);
			irs__free(&r->mem, sh->dup_table, sizeof(uint32_t) * sh->dup_cap);
			sh->dup_cap = 0;
			sh->dup_set = irs__malloc(&r->mem, sizeof(*sh->dup_set) * cap);
			sh->dup_table = irs__malloc(&r->mem, sizeof(uint32_t) * cap);
			if (!sh->dup_set || !sh->dup_table) {
				irs__free(&r->mem, sh->dup_set, sizeof(*sh->dup_set) * cap);
				irs__free(&r->mem, sh->dup_table, sizeof(uint32_t) * cap);
				sh->dup_set = NULL;
				sh->dup_table = NULL;
				irs__seterr(&sh->error, irs__mem_over_limit(&r->mem) ? IRS_ELIMIT : IRS_ENOMEM,
					    "shard %u: no memory to check %llu staged changes", sh->id,
					    (unsigned long long)n);
				shard_fail(sh, sh->error.code);
				return;
			}
			sh->dup_cap = cap;
		}
		const irs_rec **set = sh->dup_set;
		uint32_t *set_table = sh->dup_table;
		memset(set, 0, sizeof(*set) * cap);
		for (irs_run *run = sh->staged; run; run = run->next) {
			const irs_rec **recs = sh->recs;
			size_t nr = run_records(run, recs);
			for (size_t j = 0; j < nr; j++) {
				/* the slots are random: start their cache misses 8 records early */
				if (j + 8 < nr)
					__builtin_prefetch(&set[(size_t)recs[j + 8]->hash & (cap - 1)], 1);
				const irs_rec *rec = recs[j];
				size_t i = (size_t)rec->hash & (cap - 1);
				for (; set[i]; i = (i + 1) & (cap - 1)) {
					const irs_rec *o = set[i];
					if (o->hash == rec->hash && set_table[i] == run->table &&
					    irs__key_cmp(irs__rec_key(o), o->key_len, irs__rec_key(rec),
							 rec->key_len) == 0) {
						const irs_schema_table *t = &c->tables[run->table];
						char key[256];
						irs__rec_key_format(t, irs__rec_key(rec), rec->key_len, key, sizeof key);
						irs__seterr(&sh->error, IRS_EDUPKEY,
							    "backup %s table %s: key %s appears twice in one backup",
							    r->plan.name, t->name, key);
						shard_fail(sh, IRS_EDUPKEY);
						return;
					}
				}
				set[i] = rec;
				set_table[i] = run->table;
				/* in the same pass: what the reservation below needs */
				if (rec->op == IRS_REC_UPSERT) {
					sh->resv_rows[run->table]++;
					sh->resv_bytes[run->table] += irs__part_rec_bound(sh->parts[run->table], rec);
				}
			}
		}
	}
	/* Reserve, per table, room for every upsert as a new row of its largest size. */
	for (uint32_t ti = 0; ti < c->ntables; ti++) {
		uint64_t rows = sh->resv_rows[ti], bytes = sh->resv_bytes[ti];
		sh->resv_rows[ti] = sh->resv_bytes[ti] = 0;
		if (!sh->parts[ti] || !rows)
			continue;
		const irs_schema_table *t = &c->tables[ti];
		int rc = irs__part_reserve(sh->parts[ti], rows, bytes);
		if (rc) {
			irs__seterr(&sh->error, rc, "shard %u: %s reserving memory for %llu changes of table %s",
				    sh->id, rc == IRS_ELIMIT ? "memory limit reached" : "out of memory",
				    (unsigned long long)rows, t->name);
			shard_fail(sh, rc);
			return;
		}
	}
}

/* APPLY: every staged run, in arrival order; nothing here can fail. */
static void apply_staged(irs_shard *sh)
{
	irs_restore *r = sh->r;
	irs_run *run = sh->staged;
	while (run) {
		irs_run *next = run->next;
		const irs_rec **recs = sh->recs;
		size_t n = run_records(run, recs);
		irs_apply_counts ac = {0};
		irs__part_apply_batch(sh->parts[run->table], recs, n, &ac);
		count_applied(sh, &ac);
		IRS_FAULT_YIELD(sh->yield_counter);
#ifdef IRS_FAULT_INJECTION
		if (irs__fault.slow_shard == (int64_t)sh->id)
			usleep(irs__fault.slow_us);
#endif
		run_free(r, run);
		run = next;
	}
	sh->staged = NULL;
	sh->staged_tail = &sh->staged;
	sh->staged_records = 0;
}

/* The expected-state check needs every table's digest: each shard computes its own
 * partitions' in parallel, instead of the coordinator reading every row alone. */
static void digest_parts(irs_shard *sh)
{
	sh->digest_rc = 0;
	for (uint32_t ti = 0; ti < sh->r->c->ntables; ti++) {
		sh->digest[ti] = 0;
		if (sh->parts[ti] && !sh->digest_rc)
			sh->digest_rc = irs__part_digest(sh->parts[ti], &sh->digest[ti]);
	}
}

static void discard_staged(irs_shard *sh)
{
	irs_run *run = sh->staged;
	while (run) {
		irs_run *next = run->next;
		run_free(sh->r, run);
		run = next;
	}
	sh->staged = NULL;
	sh->staged_tail = &sh->staged;
	sh->staged_records = 0;
	for (uint32_t ti = 0; ti < sh->r->c->ntables; ti++)
		if (sh->parts[ti])
			irs__part_unreserve(sh->parts[ti]);
}

/* Starts this shard's result for the current backup, once: runs of a backup can
 * arrive from faster shards before this shard has seen its BEGIN. */
static void reset_result(irs_shard *sh)
{
	if (sh->result_gen == sh->r->plan.gen)
		return;
	sh->result_gen = sh->r->plan.gen;
	Increstore__IncrementalRestoreResult init = INCRESTORE__INCREMENTAL_RESTORE_RESULT__INIT;
	sh->result = init;
	sh->result.shard_id = sh->id;
	sh->result.backup_index = sh->r->plan.backup;
	sh->result.status = INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__IN_PROGRESS;
	irs__errclear(&sh->error);
}

/* Counts a phase countdown down; the shard that completes it wakes the coordinator. */
static void report(irs_shard *sh, irs_countdown *cd)
{
	if (sh->result.status == INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__IN_PROGRESS)
		sh->result.status = INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__SUCCESS;
	/* Stamped before counting down: once the count is zero the coordinator reads it. */
	sh->idle_since_ns = irs__now_ns();
	irs__countdown_done(cd);
}

void *irs__shard_main(void *arg)
{
	irs_shard *sh = arg;
	irs_restore *r = sh->r;
	irs_plan *p = &r->plan;
	for (;;) {
		struct cds_wfcq_node *node = irs__inbox_pop_blocking(&sh->inbox);
		irs_msg *m = caa_container_of(node, irs_msg, node);
		switch (m->type) {
		case IRS_MSG_BEGIN:
			sh->wait_ns += irs__now_ns() - sh->idle_since_ns;
			reset_result(sh);
			sh->frames_decoded = 0;
			decode_frames(sh);
			if (irs__countdown_done(&p->decoding)) {
				/* Last decoder: every run of this backup is already queued. */
				for (uint32_t s = 0; s < r->nshards; s++) {
					r->shards[s].end.type = IRS_MSG_END;
					irs__inbox_push(&r->shards[s].inbox, &r->shards[s].end.node);
				}
			}
			break;
		case IRS_MSG_RUN:
			take_run(sh, caa_container_of(m, irs_run, msg));
			break;
		case IRS_MSG_END:
			finish_stage(sh);
			report(sh, &p->staged);
			break;
		case IRS_MSG_APPLY:
			sh->wait_ns += irs__now_ns() - sh->idle_since_ns;
			apply_staged(sh);
			if (p->want_digest)
				digest_parts(sh);
			report(sh, &p->applied);
			break;
		case IRS_MSG_DISCARD:
			discard_staged(sh);
			report(sh, &p->applied);
			break;
		case IRS_MSG_CLEAR:
			discard_staged(sh);
			for (uint32_t ti = 0; ti < r->c->ntables; ti++)
				if (sh->parts[ti])
					irs__part_clear(sh->parts[ti]);
			report(sh, &p->applied);
			break;
		case IRS_MSG_QUIT:
			return NULL;
		}
	}
}
