/*
 * coordinator.c: irs_restore_run, the coordinator's side of the restore protocol
 * drawn in restore.h.
 *
 * For each backup from the base full to the target it plans (indexes the frames of
 * the backup's segments), starts every shard, sleeps on the `staged` countdown (a
 * futex; with a progress callback it wakes every 100 ms to report), reads every
 * shard's IncrementalRestoreResult, and only when all say SUCCESS (and the per-segment
 * record counts match the manifest, and nobody cancelled) lets the shards APPLY. It
 * then publishes "restored through backup i", checks the expected state recorded in
 * the manifest, and calls the barrier callback while every shard is idle.
 *
 * OWNERSHIP: the coordinator creates and joins the shard threads; the partitions
 * outlive them and belong to the irs_restore handle returned to the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "checkpoint.h"
#include "memory_model.h"
#include "restore.h"

#ifdef IRS_FAULT_INJECTION
irs_fault_hooks irs__fault = {.fail_backup = -1, .fail_frame = -1, .eio_backup = -1, .slow_shard = -1};

void irs__fault_reset(void)
{
	irs_fault_hooks off = {.fail_backup = -1, .fail_frame = -1, .eio_backup = -1, .slow_shard = -1};
	irs__fault = off;
}
#endif

void irs_restore_options_init(irs_restore_options *o, uint32_t version)
{
	memset(o, 0, sizeof *o);
	o->version = version;
	o->check_expected = 1;
}

static uint32_t default_shards(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 256 ? 256 : (uint32_t)n;
}

static void send_all(irs_restore *r, uint32_t type)
{
	for (uint32_t s = 0; s < r->nshards; s++) {
		r->shards[s].cmd.type = type;
		irs__inbox_push(&r->shards[s].inbox, &r->shards[s].cmd.node);
	}
}

static void report_progress(irs_restore *r, uint32_t backup, uint32_t done, uint32_t total,
			    uint64_t changes_total, uint64_t bytes_total)
{
	if (!r->o.progress)
		return;
	irs_progress p = {
		.backup_index = backup,
		.backups_done = done,
		.backups_total = total,
		.backup_name = r->c->backups[backup].pb->name,
		.changes_done = atomic_load_explicit(&r->changes_done, memory_order_relaxed),
		.changes_total = changes_total,
		.bytes_done = atomic_load_explicit(&r->bytes_done, memory_order_relaxed),
		.bytes_total = bytes_total,
	};
	r->o.progress(r->o.progress_ctx, &p);
}

/* Sleeps until the countdown is zero, reporting progress every 100 ms meanwhile. */
static void wait_phase(irs_restore *r, irs_countdown *cd, uint32_t backup, uint32_t done,
		       uint32_t total, uint64_t changes_total, uint64_t bytes_total)
{
	if (!r->o.progress) {
		irs__countdown_wait(cd);
		return;
	}
	while (!irs__countdown_wait_for(cd, 100 * 1000 * 1000))
		report_progress(r, backup, done, total, changes_total, bytes_total);
}

static void plan_release(irs_restore *r)
{
	irs_plan *p = &r->plan;
	for (uint32_t s = 0; s < p->nsegs; s++)
		if (p->seg_fd[s] >= 0)
			close(p->seg_fd[s]);
	p->nsegs = 0;
	p->nframes = 0;
}

static void plan_free(irs_restore *r)
{
	irs_plan *p = &r->plan;
	plan_release(r);
	irs__free(&r->mem, p->frames, sizeof(irs_frame_ref) * p->frames_cap);
	irs__free(&r->mem, p->frame_table, sizeof(uint32_t) * p->segs_cap);
	irs__free(&r->mem, (void *)p->seg_path, sizeof(char *) * p->segs_cap);
	irs__free(&r->mem, p->seg_fd, sizeof(int) * p->segs_cap);
	irs__free(&r->mem, p->seg_records, sizeof(uint64_t) * p->segs_cap);
	irs__free(&r->mem, (void *)p->seg_decoded, sizeof(uint64_t) * p->segs_cap);
	memset(p, 0, sizeof *p);
}

/* Indexes the frames of backup b's segments (enabled tables only). */
/*
 * Indexes the frames of backup sb of `src` (enabled tables only). src is the restored
 * collection, or a checkpoint (a collection of the same schema holding one full
 * backup), whose state stands for chain index b of the restored collection.
 */
static int plan_backup(irs_restore *r, const irs_collection *src, uint32_t sb, uint32_t b,
		       irs_error *err)
{
	const irs_collection *c = src;
	irs_plan *p = &r->plan;
	plan_release(r);
	p->backup = b;
	p->src = src;
	p->src_backup = sb;
	p->gen++;
	p->full = c->backups[sb].kind == IRS_BACKUP_FULL;
	if (src == r->c)
		snprintf(p->name_buf, sizeof p->name_buf, "%s", c->backups[sb].pb->name);
	else
		snprintf(p->name_buf, sizeof p->name_buf, "checkpoint of %s", r->c->backups[b].pb->name);
	p->name = p->name_buf;
	uint32_t nsegs = 0;
	for (uint32_t t = 0; t < c->ntables; t++)
		if (r->enabled[t] && c->backups[sb].by_table[t])
			nsegs += (uint32_t)c->backups[sb].by_table[t]->n_segments;
	if (nsegs > p->segs_cap) {
		uint32_t ncap = nsegs;
		uint64_t gen = p->gen;
		plan_free(r);
		p->gen = gen;
		p->backup = b;
		p->src = src;
		p->src_backup = sb;
		p->full = c->backups[sb].kind == IRS_BACKUP_FULL;
		p->frame_table = irs__malloc(&r->mem, sizeof(uint32_t) * ncap);
		p->seg_path = irs__malloc(&r->mem, sizeof(char *) * ncap);
		p->seg_fd = irs__malloc(&r->mem, sizeof(int) * ncap);
		p->seg_records = irs__malloc(&r->mem, sizeof(uint64_t) * ncap);
		p->seg_decoded = irs__malloc(&r->mem, sizeof(uint64_t) * ncap);
		p->segs_cap = ncap;
		if (!p->frame_table || !p->seg_path || !p->seg_fd || !p->seg_records || !p->seg_decoded)
			return irs__seterr(err, IRS_ENOMEM, "out of memory planning backup %s",
					   p->name);
	}
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = c->backups[sb].by_table[t];
		if (!r->enabled[t] || !tb)
			continue;
		for (size_t s = 0; s < tb->n_segments; s++) {
			uint32_t si = p->nsegs;
			p->frame_table[si] = t;
			p->seg_path[si] = tb->segments[s]->path;
			p->seg_records[si] = tb->segments[s]->records;
			atomic_init(&p->seg_decoded[si], 0);
			p->seg_fd[si] = -1;
			p->nsegs++;
			int rc = irs__segment_index(&r->mem, c->dirfd, tb->segments[s]->path, t, si, &p->frames,
						    &p->nframes, &p->frames_cap, &p->seg_fd[si], err);
			if (rc) {
				irs__errprefix(err, "%s", p->name);
				return rc;
			}
		}
	}
	p->want_digest = false;
	for (uint32_t t = 0; t < c->ntables && r->o.check_expected; t++)
		if (r->enabled[t] && c->backups[sb].by_table[t] && c->backups[sb].by_table[t]->expected)
			p->want_digest = true;
	atomic_store_explicit(&p->next_frame, 0, memory_order_relaxed);
	atomic_store_explicit(&p->abort, 0, memory_order_relaxed);
	return 0;
}

/* The first failure among the shards' results (lowest shard id; a cancellation only
 * when nothing else failed), copied into err. */
static int collect_results(irs_restore *r, irs_error *err)
{
	int cancel_rc = 0;
	for (uint32_t s = 0; s < r->nshards; s++) {
		irs_shard *sh = &r->shards[s];
		if (sh->result.status == INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__SUCCESS)
			continue;
		int code = sh->error.code ? sh->error.code : IRS_ESHARD;
		if (code == IRS_ECANCELED) {
			cancel_rc = code;
			continue;
		}
		if (err) {
			*err = sh->error;
			err->code = code;
			if (!err->message[0])
				snprintf(err->message, sizeof err->message, "shard %u failed", s);
		}
		return code;
	}
	if (cancel_rc)
		return irs__seterr(err, IRS_ECANCELED, "cancelled");
	return 0;
}

/* Compares each restored table with the expected state the manifest records. */
static int check_expected(irs_restore *r, irs_error *err)
{
	const irs_collection *c = r->plan.src;
	uint32_t b = r->plan.src_backup;
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = c->backups[b].by_table[t];
		if (!r->enabled[t] || !tb || !tb->expected)
			continue;
		uint64_t rows = irs_restore_row_count(r, t), digest = 0;
		int rc = 0;
		for (uint32_t s = 0; s < r->nshards; s++) {
			digest += r->shards[s].digest[t];
			if (r->shards[s].digest_rc)
				rc = r->shards[s].digest_rc;
		}
		if (rc)
			return irs__seterr(err, rc, "backup %s table %s: cannot compute the digest",
					   r->plan.name, c->tables[t].name);
		r->digests[t] = digest; /* the CLI prints it too */
		r->digest_gen[t] = r->plan.gen + 1;
		if (rows != tb->expected->rows || digest != tb->expected->digest)
			return irs__seterr(err, IRS_EMISMATCH,
					   "backup %s table %s: restored %llu rows with digest %016llx, the "
					   "manifest expects %llu rows with digest %016llx",
					   r->plan.name, c->tables[t].name, (unsigned long long)rows,
					   (unsigned long long)digest, (unsigned long long)tb->expected->rows,
					   (unsigned long long)tb->expected->digest);
	}
	return 0;
}

static void stats_collect(irs_restore *r, uint32_t b, uint64_t t0, uint64_t woke,
			  const uint64_t *wait_before)
{
	irs_backup_stats *st = &r->stats[r->nstats];
	memset(st, 0, sizeof *st);
	st->backup_index = b;
	uint64_t *per_shard = r->shard_applied + (size_t)r->nstats * r->nshards;
	st->shard_applied = per_shard;
	r->nstats++;
	st->wall_ns = irs__now_ns() - t0;
	uint64_t last_done = 0;
	for (uint32_t s = 0; s < r->nshards; s++) {
		const irs_shard *sh = &r->shards[s];
		const Increstore__IncrementalRestoreResult *res = &sh->result;
		st->inserted += res->inserted;
		st->updated += res->updated;
		st->erased += res->erased;
		st->noop_erases += res->noop_erases;
		st->bytes += res->decoded_bytes;
		st->sum_shard_applied += res->applied;
		per_shard[s] = res->applied;
		if (res->applied > st->max_shard_applied)
			st->max_shard_applied = res->applied;
		uint64_t w = sh->wait_ns - wait_before[s];
		if (w > st->max_shard_wait_ns)
			st->max_shard_wait_ns = w;
		if (sh->idle_since_ns > last_done)
			last_done = sh->idle_since_ns;
	}
	st->barrier_turnaround_ns = woke > last_done ? woke - last_done : 0;
}

/* Runs backup b through stage and apply. On failure the tables are left as they were
 * after b-1 (incremental) or empty (full). */
static int run_backup(irs_restore *r, const irs_collection *src, uint32_t sb, uint32_t b,
		      uint32_t done, uint32_t total, uint64_t changes_total, uint64_t bytes_total,
		      irs_error *err)
{
	const irs_collection *c = r->c;
	irs_plan *p = &r->plan;
	uint64_t t0 = irs__now_ns();
	uint64_t wait_before[256];
	for (uint32_t s = 0; s < r->nshards; s++)
		wait_before[s] = r->shards[s].wait_ns;
	int rc = 0;
	if (irs__cancelled(r))
		rc = irs__seterr(err, IRS_ECANCELED, "cancelled before backup %s", c->backups[b].pb->name);
	if (!rc)
		rc = plan_backup(r, src, sb, b, err);
	if (rc)
		return rc; /* nothing reached a shard: the tables are untouched */
	irs__countdown_arm(&p->decoding, r->nshards);
	irs__countdown_arm(&p->staged, r->nshards);
	send_all(r, IRS_MSG_BEGIN);
	wait_phase(r, &p->staged, b, done, total, changes_total, bytes_total);

	rc = collect_results(r, err);
	for (uint32_t s = 0; !rc && s < p->nsegs; s++) {
		uint64_t got = atomic_load_explicit(&p->seg_decoded[s], memory_order_relaxed);
		if (got != p->seg_records[s])
			rc = irs__seterr(err, IRS_ECORRUPT,
					 "%s: segment %s holds %llu records, the manifest says %llu",
					 p->name, p->seg_path[s], (unsigned long long)got,
					 (unsigned long long)p->seg_records[s]);
	}
	if (!rc && irs__cancelled(r))
		rc = irs__seterr(err, IRS_ECANCELED, "cancelled during %s", p->name);

	/* A full backup was applied while streaming: on failure it is cleared instead. */
	uint32_t next = rc ? (p->full ? IRS_MSG_CLEAR : IRS_MSG_DISCARD) : IRS_MSG_APPLY;
	irs__countdown_arm(&p->applied, r->nshards);
	send_all(r, next);
	wait_phase(r, &p->applied, b, done, total, changes_total, bytes_total);
	uint64_t woke = irs__now_ns();
	if (rc)
		return rc;
	for (uint32_t s = 0; s < r->nshards; s++)
		for (uint32_t t = 0; t < c->ntables; t++)
			if (r->shards[s].parts[t])
				irs__part_unreserve(r->shards[s].parts[t]);
	r->through = b;
	stats_collect(r, b, t0, woke, wait_before);
	uint64_t used = atomic_load_explicit(&r->mem.peak, memory_order_relaxed);
	if (used > r->peak_bytes)
		r->peak_bytes = used;
	if (r->o.check_expected) {
		rc = check_expected(r, err);
		if (rc)
			return rc;
	}
	report_progress(r, b, done + 1, total, changes_total, bytes_total);
	if (r->o.barrier && r->o.barrier(r->o.barrier_ctx, r, b) != 0)
		return irs__seterr(err, IRS_ECANCELED, "cancelled by the barrier callback after backup %s",
				   c->backups[b].pb->name);
	return 0;
}

static void shards_stop(irs_restore *r)
{
	if (r->stopped || !r->shards)
		return;
	r->stopped = true;
	for (uint32_t s = 0; s < r->nshards; s++) {
		irs_shard *sh = &r->shards[s];
		if (!sh->started)
			continue;
		sh->cmd.type = IRS_MSG_QUIT;
		irs__inbox_push(&sh->inbox, &sh->cmd.node);
		pthread_join(sh->thread, NULL);
		sh->started = false;
	}
	for (uint32_t s = 0; s < r->nshards; s++) {
		irs_shard *sh = &r->shards[s];
		irs__batch_decoder_free(&sh->dec);
		irs__free(&r->mem, sh->frame_buf, sh->frame_cap);
		sh->frame_buf = NULL;
		sh->frame_cap = 0;
		if (sh->out) {
			for (uint32_t d = 0; d < r->nshards; d++)
				if (sh->out[d])
					irs__free(&r->mem, sh->out[d], sizeof(irs_run) + sh->out[d]->cap);
			irs__free(&r->mem, sh->out, sizeof(irs_run *) * r->nshards);
			sh->out = NULL;
		}
		irs__free(&r->mem, sh->recs, sizeof(*sh->recs) * sh->recs_cap);
		sh->recs = NULL;
		irs__free(&r->mem, sh->dup_set, sizeof(*sh->dup_set) * sh->dup_cap);
		irs__free(&r->mem, sh->dup_table, sizeof(uint32_t) * sh->dup_cap);
		sh->dup_set = NULL;
		sh->dup_table = NULL;
		struct cds_wfcq_node *n;
		while ((n = irs__inbox_pop_nonblocking(&sh->returns)))
			irs__free(&r->mem, caa_container_of(caa_container_of(n, irs_msg, node), irs_run, msg),
				  sizeof(irs_run) + r->run_cap);
		irs__inbox_destroy(&sh->inbox);
		irs__inbox_destroy(&sh->returns);
	}
	plan_free(r);
}

void irs_restore_free(irs_restore *r)
{
	if (!r)
		return;
	shards_stop(r);
	irs_mem *mem = &r->mem;
	const irs_collection *c = r->c;
	if (r->shards) {
		for (uint32_t s = 0; s < r->nshards; s++) {
			irs_shard *sh = &r->shards[s];
			if (sh->parts) {
				for (uint32_t t = 0; t < c->ntables; t++)
					irs__part_destroy(sh->parts[t]);
				irs__free(mem, sh->parts, sizeof(*sh->parts) * c->ntables);
			}
			irs__free(mem, sh->digest, sizeof(uint64_t) * c->ntables);
			irs__free(mem, sh->resv_rows, sizeof(uint64_t) * c->ntables);
			irs__free(mem, sh->resv_bytes, sizeof(uint64_t) * c->ntables);
		}
		irs__free(mem, r->shards, sizeof(irs_shard) * r->nshards);
	}
	irs__free(mem, r->enabled, sizeof(bool) * c->ntables);
	irs__free(mem, r->stats, sizeof(irs_backup_stats) * (c->nbackups ? c->nbackups : 1));
	irs__free(mem, r->scratch, r->scratch_cap);
	irs__free(mem, r->shard_applied, sizeof(uint64_t) * r->nshards * c->nbackups);
	irs__free(mem, r->digests, sizeof(uint64_t) * c->ntables);
	irs__free(mem, r->digest_gen, sizeof(uint64_t) * c->ntables);
	irs_allocator a = mem->a;
	a.free(a.ctx, r, sizeof *r);
}

/* Allocates the shards, sizes their partitions from the row counts of backup `base` of
 * `sizing` (the base full, or a checkpoint's), starts the threads. */
static int shards_start(irs_restore *r, const irs_collection *sizing, uint32_t base, irs_error *err)
{
	const irs_collection *c = r->c;
	r->shards = irs__calloc(&r->mem, sizeof(irs_shard) * r->nshards);
	if (!r->shards)
		return irs__seterr(err, IRS_ENOMEM, "out of memory creating %u shards", r->nshards);
	size_t recs_cap = r->run_cap / IRS_REC_HEADER + 2;
	/* Everything shards_stop undoes is set up first, for every shard. */
	for (uint32_t s = 0; s < r->nshards; s++) {
		irs_shard *sh = &r->shards[s];
		sh->r = r;
		sh->id = s;
		sh->staged_tail = &sh->staged;
		irs__inbox_init(&sh->inbox);
		irs__inbox_init(&sh->returns);
		irs__batch_decoder_init(&sh->dec, &r->mem);
	}
	for (uint32_t s = 0; s < r->nshards; s++) {
		irs_shard *sh = &r->shards[s];
		sh->parts = irs__calloc(&r->mem, sizeof(*sh->parts) * c->ntables);
		sh->out = irs__calloc(&r->mem, sizeof(irs_run *) * r->nshards);
		sh->recs = irs__malloc(&r->mem, sizeof(*sh->recs) * recs_cap);
		sh->recs_cap = recs_cap;
		sh->digest = irs__calloc(&r->mem, sizeof(uint64_t) * c->ntables);
		sh->resv_rows = irs__calloc(&r->mem, sizeof(uint64_t) * c->ntables);
		sh->resv_bytes = irs__calloc(&r->mem, sizeof(uint64_t) * c->ntables);
		if (!sh->parts || !sh->out || !sh->recs || !sh->digest || !sh->resv_rows || !sh->resv_bytes)
			return irs__seterr(err, IRS_ENOMEM, "out of memory creating shard %u", s);
		for (uint32_t t = 0; t < c->ntables; t++) {
			if (!r->enabled[t])
				continue;
			irs_table_backup_info tbi;
			irs_collection_table_backup(sizing, base, t, &tbi);
			uint64_t expect = tbi.records / r->nshards + tbi.records / r->nshards / 8 + 16;
			int rc = irs__part_create(&r->mem, &c->tables[t], expect, &sh->parts[t]);
			if (rc)
				return irs__seterr(err, rc, "%s creating table %s on shard %u",
						   rc == IRS_ELIMIT ? "memory limit reached" : "out of memory",
						   c->tables[t].name, s);
		}
	}
	for (uint32_t s = 0; s < r->nshards; s++) {
		irs_shard *sh = &r->shards[s];
		sh->idle_since_ns = irs__now_ns();
		int e = pthread_create(&sh->thread, NULL, irs__shard_main, sh);
		if (e)
			return irs__seterr(err, IRS_ESHARD, "cannot start shard thread %u: %s", s, strerror(e));
		sh->started = true;
	}
	return 0;
}

/* An allocation refused by the memory limit reports as IRS_ELIMIT naming the limit,
 * whichever layer saw the NULL first. */
static int limit_error(irs_restore *r, int rc, irs_error *err)
{
	if ((rc == IRS_ENOMEM || rc == IRS_ELIMIT) && r->mem.limit && irs__mem_over_limit(&r->mem)) {
		if (err) {
			err->code = IRS_ELIMIT;
			irs__errprefix(err, "memory limit of %llu bytes reached", (unsigned long long)r->mem.limit);
		}
		return IRS_ELIMIT;
	}
	return rc;
}

int irs_restore_run(const irs_collection *c, const irs_restore_options *opts,
		    const irs_allocator *alloc, irs_restore **out, irs_error *err)
{
	irs__errclear(err);
	if (!c || !out)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_run: NULL argument");
	*out = NULL;
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	if (opts)
		o = *opts;
	if (!o.shards)
		o.shards = default_shards();
	if (o.shards > 256)
		return irs__seterr(err, IRS_EINVAL, "--shards %u: at most 256 shards", o.shards);
	if (c->nbackups == 0)
		return irs__seterr(err, IRS_ECHAIN, "%s: the collection holds no backup yet", c->dir);
	uint32_t upto = c->nbackups - 1;
	if (o.upto) {
		int i = irs_collection_find_backup(c, o.upto);
		if (i < 0)
			return irs__seterr(err, IRS_ENOTFOUND, "%s: no backup named %s", c->dir, o.upto);
		upto = (uint32_t)i;
	}
	irs_mem mem;
	irs__mem_init(&mem, alloc, o.memory_limit);
	irs_restore *r = mem.a.malloc(mem.a.ctx, sizeof *r);
	if (!r)
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	memset(r, 0, sizeof *r);
	r->mem = mem;
	r->c = c;
	r->o = o;
	r->nshards = o.shards;
	r->through = -1;
	r->resumed_from = -1;
	irs__countdown_init(&r->plan.decoding);
	irs__countdown_init(&r->plan.staged);
	irs__countdown_init(&r->plan.applied);
	/* Runs big enough to amortise a queue node and a wakeup over many changes, small
	 * enough that S decoders x S destinations of them stay a few MiB. */
	r->run_cap = (4u << 20) / r->nshards;
	if (r->run_cap > (64u << 10))
		r->run_cap = 64u << 10;
	if (r->run_cap < (4u << 10))
		r->run_cap = 4u << 10;
#ifdef IRS_FAULT_INJECTION
	if (irs__fault.run_bytes)
		r->run_cap = irs__fault.run_bytes;
#endif
	int rc = 0;
	r->enabled = irs__calloc(&r->mem, sizeof(bool) * c->ntables);
	r->stats = irs__calloc(&r->mem, sizeof(irs_backup_stats) * (c->nbackups ? c->nbackups : 1));
	r->shard_applied = irs__calloc(&r->mem, sizeof(uint64_t) * r->nshards * c->nbackups);
	r->digests = irs__calloc(&r->mem, sizeof(uint64_t) * c->ntables);
	r->digest_gen = irs__calloc(&r->mem, sizeof(uint64_t) * c->ntables);
	r->scratch_cap = IRS_MAX_KEY_BYTES;
	r->scratch = irs__malloc(&r->mem, r->scratch_cap);
	if (!r->enabled || !r->stats || !r->scratch || !r->shard_applied || !r->digests || !r->digest_gen) {
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t t = 0; t < c->ntables; t++)
		r->enabled[t] = o.tables == NULL;
	for (uint32_t i = 0; o.tables && i < o.table_count; i++) {
		int t = irs_collection_find_table(c, o.tables[i]);
		if (t < 0) {
			rc = irs__seterr(err, IRS_ENOTFOUND, "%s: no table named %s", c->dir, o.tables[i]);
			goto fail;
		}
		r->enabled[t] = true;
	}
	uint32_t base = c->backups[upto].base;
	r->upto = upto;
	irs_collection *ckpt = NULL;
	int64_t ckpt_through = -1;
	if (o.checkpoint_dir) {
		rc = irs__checkpoint_load(r, upto, &ckpt, &ckpt_through, err);
		if (rc)
			goto fail;
	}
	if (o.memory_limit && !ckpt) {
		/* Refuse up front what certainly cannot fit (engine/memory_model.c). */
		uint64_t need = 0;
		if (irs__memory_estimate(c, base, upto, r->enabled, r->nshards, &need) == 0 &&
		    need > o.memory_limit) {
			rc = irs__seterr(err, IRS_ELIMIT,
					 "memory limit of %llu bytes: the base backup %s alone needs at least %llu bytes",
					 (unsigned long long)o.memory_limit, c->backups[base].pb->name,
					 (unsigned long long)need);
			goto fail;
		}
	}
	rc = ckpt ? shards_start(r, ckpt, 0, err) : shards_start(r, c, base, err);
	if (rc) {
		irs_collection_close(ckpt);
		goto fail;
	}
	uint64_t changes_total = 0, bytes_total = 0;
	for (uint32_t b = base; b <= upto; b++)
		for (uint32_t t = 0; t < c->ntables; t++) {
			irs_table_backup_info tbi;
			if (r->enabled[t] && irs_collection_table_backup(c, b, t, &tbi) == 0) {
				changes_total += tbi.records;
				bytes_total += tbi.bytes;
			}
		}
	uint32_t first = base;
	if (ckpt) {
		/* Load the checkpoint's tables as the state after backup ckpt_through. */
		rc = run_backup(r, ckpt, 0, (uint32_t)ckpt_through, 0, upto - (uint32_t)ckpt_through + 1,
				changes_total, bytes_total, err);
		irs_collection_close(ckpt);
		if (!rc)
			r->resumed_from = ckpt_through;
		first = (uint32_t)ckpt_through + 1;
	}
	uint64_t last_ckpt_ns = irs__now_ns();
	uint32_t since_ckpt = 0;
	for (uint32_t b = first; b <= upto && !rc; b++) {
		rc = run_backup(r, c, b, b, b - base, upto - base + 1, changes_total, bytes_total, err);
		since_ckpt++;
		uint32_t every = o.checkpoint_every ? o.checkpoint_every : 1;
		if (!rc && o.checkpoint_dir && b < upto && since_ckpt >= every &&
		    irs__now_ns() - last_ckpt_ns >= (uint64_t)o.checkpoint_seconds * 1000000000u) {
			rc = irs__checkpoint_write(r, b, err);
			last_ckpt_ns = irs__now_ns();
			since_ckpt = 0;
		}
	}
	shards_stop(r);
	rc = limit_error(r, rc, err);
	if (rc && err) {
		char where[300];
		if (r->through >= 0)
			snprintf(where, sizeof where, "; the tables are as restored through backup %s",
				 c->backups[r->through].pb->name);
		else
			snprintf(where, sizeof where, "; the tables are empty");
		size_t n = strlen(err->message);
		snprintf(err->message + n, sizeof err->message - n, "%s", where);
	}
	*out = r;
	return rc;
fail:
	rc = limit_error(r, rc, err);
	irs_restore_free(r);
	return rc;
}
