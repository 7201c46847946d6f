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

#include "common/clock.h"
#include "common/error.h"
#include "engine/checkpoint.h"
#include "common/options.h"
#include "engine/memory_model.h"
#include "engine/restore.h"
#include "shard/fault.h"

/* Bytes of each version of irs_restore_options (common/options.h). */
static const size_t restore_options_size[] = {
	0, IRS_OPTIONS_END(irs_restore_options, checkpoint_seconds), /* 1: 0.1.0 */
	IRS_OPTIONS_END(irs_restore_options, staging_budget),         /* 2: partitions, staging budget */
	IRS_OPTIONS_END(irs_restore_options, coordinator_decodes),    /* 3: the coordinator decodes */
};
#define RESTORE_OPTIONS_VERSIONS (sizeof restore_options_size / sizeof restore_options_size[0] - 1)

static void restore_options_defaults(irs_restore_options *o)
{
	memset(o, 0, sizeof *o);
	o->version = IRS_RESTORE_OPTIONS_VERSION;
	o->check_expected = 1;
}

void irs_restore_options_init(irs_restore_options *o, uint32_t version)
{
	irs_restore_options d;
	restore_options_defaults(&d);
	d.version = version;
	irs__options_init(o, &d, version, restore_options_size, RESTORE_OPTIONS_VERSIONS);
}

uint32_t irs__online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > IRS_MAX_SHARDS ? IRS_MAX_SHARDS : (uint32_t)n;
}

static void report_progress(irs_restore *r, uint32_t backup, uint32_t done, uint32_t total,
			    uint64_t changes_total, uint64_t bytes_total)
{
	if (!r->o.progress)
		return;
	/* a checkpoint's load counts as the changes of the backups it holds (as if
	 * restored here) and no bytes: bytes_total is what this run reads of the chain */
	bool ck = r->loading_checkpoint;
	irs_progress p = {
		.backup_index = backup,
		.backups_done = done,
		.backups_total = total,
		.backup_name = r->c->backups[backup].pb->name,
		.changes_done = ck ? r->ckpt_changes : atomic_load_explicit(&r->pool.changes_done, memory_order_relaxed),
		.changes_total = changes_total,
		.bytes_done = ck ? 0 : atomic_load_explicit(&r->pool.bytes_done, memory_order_relaxed),
		.bytes_total = bytes_total,
	};
	r->o.progress(r->o.progress_ctx, &p);
}

typedef struct phase_progress {
	irs_restore *r;
	uint32_t backup, done, total;
	uint64_t changes_total, bytes_total;
	uint64_t next_ns;           /* the next report while the coordinator decodes */
} phase_progress;

static void decode_tick(void *ctx)
{
	phase_progress *pp = ctx;
	uint64_t now = irs__now_ns();
	if (now < pp->next_ns)
		return;
	pp->next_ns = now + IRS_PROGRESS_NS;
	report_progress(pp->r, pp->backup, pp->done, pp->total, pp->changes_total, pp->bytes_total);
}

/* Sleeps until the countdown is zero, reporting progress every 100 ms meanwhile. */
static void wait_phase(irs_restore *r, irs_countdown *cd, uint32_t backup, uint32_t done,
		       uint32_t total, uint64_t changes_total, uint64_t bytes_total)
{
	if (!r->o.progress) {
		irs__countdown_wait(cd);
		return;
	}
	while (!irs__countdown_wait_for(cd, IRS_PROGRESS_NS))
		report_progress(r, backup, done, total, changes_total, bytes_total);
}

/* After BEGIN: the coordinator's share of the decoding (when it decodes too, reporting
 * progress between frames), then wait_phase. */
static void decode_and_wait(irs_restore *r, irs_countdown *cd, uint32_t backup, uint32_t done,
			    uint32_t total, uint64_t changes_total, uint64_t bytes_total)
{
	if (r->pool.ndecoders > r->pool.nshards) {
		phase_progress pp = {r, backup, done, total, changes_total, bytes_total,
				     irs__now_ns() + IRS_PROGRESS_NS};
		r->pool.tick = r->o.progress ? decode_tick : NULL;
		r->pool.tick_ctx = &pp;
		irs__coordinator_decode(&r->pool);
		r->pool.tick = NULL;
	}
	wait_phase(r, cd, backup, done, total, changes_total, bytes_total);
}

/* Whether msg already starts with the plan's label ("backup NAME: ..."). */
static bool names_backup(const char *msg, const char *label)
{
	size_t n = strlen(label);
	return strncmp(msg, label, n) == 0 && (msg[n] == ':' || msg[n] == ' ');
}

/* The first failure among the shards' results (lowest shard id, then the coordinator's
 * decoding; a cancellation only when nothing else failed), copied into err, naming
 * the backup. */
static int collect_results(irs_restore *r, irs_error *err)
{
	const char *label = r->pool.plan.name;
	int cancel_rc = 0;
	for (uint32_t s = 0; s < r->pool.ndecoders; s++) {
		const Increstore__IncrementalRestoreResult *res = &r->pool.shards[s].result;
		if (res->status == INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__SUCCESS)
			continue;
		int code = res->error_code ? res->error_code : IRS_ESHARD;
		if (code == IRS_ECANCELED) {
			cancel_rc = code;
			continue;
		}
		if (!res->error || !res->error[0])
			return s < r->pool.nshards ? irs__seterr(err, code, "%s: shard %u failed", label, s)
						   : irs__seterr(err, code, "%s: the coordinator's decoding failed", label);
		if (names_backup(res->error, label))
			return irs__seterr(err, code, "%s", res->error);
		return irs__seterr(err, code, "%s: %s", label, res->error);
	}
	if (cancel_rc)
		return irs__seterr(err, IRS_ECANCELED, "cancelled during %s", label);
	return 0;
}

/* Compares each restored table with the expected state the manifest records. */
static int check_expected(irs_restore *r, irs_error *err)
{
	const irs_collection *c = r->pool.plan.src;
	uint32_t b = r->pool.plan.src_backup;
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], t);
		if (!r->enabled[t] || !tb || !tb->expected)
			continue;
		/* O(shards): the partitions track their digests (restore_expects_states) */
		uint64_t rows = irs_restore_row_count(r, t), digest = irs_restore_digest(r, t);
		if (rows != tb->expected->rows || digest != tb->expected->digest)
			return irs__seterr(err, IRS_EMISMATCH,
					   "%s table %s: restored %llu rows with digest %016llx, the "
					   "manifest expects %llu rows with digest %016llx",
					   r->pool.plan.name, c->tables[t].name, (unsigned long long)rows,
					   (unsigned long long)digest, (unsigned long long)tb->expected->rows,
					   (unsigned long long)tb->expected->digest);
	}
	return 0;
}

static void stats_collect(irs_restore *r, uint32_t b, uint64_t t0, uint64_t woke)
{
	if (r->nstats == r->stats_cap)
		return; /* cannot happen: at most upto - base + 1 backups run */
	irs_backup_stats *st = &r->stats[r->nstats];
	memset(st, 0, sizeof *st);
	st->backup_index = b;
	uint64_t *per_shard = r->shard_applied + (size_t)r->nstats * r->pool.nshards;
	st->shard_applied = per_shard;
	r->nstats++;
	st->wall_ns = irs__now_ns() - t0;
	uint64_t last_done = 0;
	for (uint32_t s = 0; s < r->pool.nshards; s++) {
		const irs_shard *sh = &r->pool.shards[s];
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
		if (res->wait_ns > st->max_shard_wait_ns)
			st->max_shard_wait_ns = res->wait_ns;
		if (sh->idle_since_ns > last_done)
			last_done = sh->idle_since_ns;
	}
	if (r->pool.ndecoders > r->pool.nshards) /* the coordinator decoded part of it */
		st->bytes += r->pool.shards[r->pool.nshards].result.decoded_bytes;
	st->barrier_turnaround_ns = woke > last_done ? woke - last_done : 0;
}

/*
 * The apply pass of an incremental read twice (shard.h): every shard decodes the
 * backup again and the owners apply as the runs stream in, into the memory pass 0
 * reserved. Decoding validated everything in pass 0, and each decoder allocated what
 * its pass 1 needs at pass 0's END (shard/decode.c), so this fails only when a segment
 * file changed since (increstore's writers never rewrite one) or its device fails; the
 * tables are then partly applied, and the restore says so.
 */
static int apply_second_pass(irs_restore *r, uint32_t b, uint32_t done, uint32_t total,
			     uint64_t changes_total, uint64_t bytes_total, irs_error *err)
{
	irs_plan *p = &r->pool.plan;
	p->pass = 1;
	atomic_store_explicit(&p->next_frame, 0, memory_order_relaxed);
	atomic_store_explicit(&p->abort, 0, memory_order_relaxed);
	irs__countdown_arm(&p->decoding, r->pool.ndecoders);
	irs__countdown_arm(&p->applied, r->pool.nshards);
	irs__pool_send_all(&r->pool, IRS_MSG_BEGIN);
	decode_and_wait(r, &p->applied, b, done, total, changes_total, bytes_total);
	int rc = collect_results(r, err);
	if (rc) {
		r->through = -1;
		r->partly_applied = true;
		if (err) {
			/* "<label>: <what failed>" -> "<label>: its second read failed ...: <what>" */
			char what[sizeof err->message];
			size_t n = strlen(p->name);
			const char *m = err->message;
			if (strncmp(m, p->name, n) == 0 && m[n] == ':')
				m += n + (m[n + 1] == ' ' ? 2 : 1);
			snprintf(what, sizeof what, "%s", m);
			irs__seterr(err, rc, "%s: read twice, and its second read failed after part of it was "
				    "applied: %s", p->name, what);
		}
	}
	return rc;
}

/* Runs backup b through stage and apply. On failure the tables are left as they were
 * after b-1 (incremental) or empty (full). */
static int run_backup(irs_restore *r, const irs_collection *src, uint32_t sb, uint32_t b,
		      uint32_t done, uint32_t total, uint64_t changes_total, uint64_t bytes_total,
		      irs_error *err)
{
	const irs_collection *c = r->c;
	irs_plan *p = &r->pool.plan;
	uint64_t t0 = irs__now_ns();
	int rc = 0;
	if (irs__pool_cancelled(&r->pool))
		rc = irs__seterr(err, IRS_ECANCELED, "cancelled before backup %s", c->backups[b].pb->name);
	if (!rc)
		rc = irs__plan_backup(r, src, sb, b, err);
	if (!rc)
		irs__read_order_drop(r); /* the shards are about to change the tables */
	if (rc)
		return rc; /* nothing reached a shard: the tables are untouched */
	irs__countdown_arm(&p->decoding, r->pool.ndecoders);
	irs__countdown_arm(&p->staged, r->pool.nshards);
	irs__pool_send_all(&r->pool, IRS_MSG_BEGIN);
	decode_and_wait(r, &p->staged, b, done, total, changes_total, bytes_total);

	rc = collect_results(r, err);
	for (uint32_t s = 0; !rc && s < p->nsegs; s++) {
		uint64_t got = atomic_load_explicit(&p->seg_decoded[s], memory_order_relaxed);
		if (got != p->seg_records[s])
			rc = irs__seterr(err, IRS_ECORRUPT,
					 "%s: segment %s holds %llu records, the manifest says %llu",
					 p->name, p->seg_path[s], (unsigned long long)got,
					 (unsigned long long)p->seg_records[s]);
	}
	if (!rc && irs__pool_cancelled(&r->pool))
		rc = irs__seterr(err, IRS_ECANCELED, "cancelled during %s", p->name);
	/* the coordinator's own decoder gets ready for the second read as the shards' did */
	if (!rc && p->reread && r->pool.ndecoders > r->pool.nshards)
		rc = irs__decoder_prepare_reread(&r->pool.shards[r->pool.nshards], err);

	if (!rc && p->reread) {
		rc = apply_second_pass(r, b, done, total, changes_total, bytes_total, err);
		if (rc)
			return rc;
	} else {
		/* A full backup was applied while streaming: on failure it is cleared instead. */
		uint32_t next = rc ? (p->full ? IRS_MSG_CLEAR : IRS_MSG_DISCARD) : IRS_MSG_APPLY;
		irs__countdown_arm(&p->applied, r->pool.nshards);
		irs__pool_send_all(&r->pool, next);
		wait_phase(r, &p->applied, b, done, total, changes_total, bytes_total);
		if (rc)
			return rc;
	}
	uint64_t woke = irs__now_ns();
	for (uint32_t s = 0; s < r->pool.nshards; s++)
		for (uint32_t t = 0; t < c->ntables; t++)
			if (r->pool.shards[s].parts[t])
				irs__part_unreserve(r->pool.shards[s].parts[t]);
	r->through = b;
	uint64_t used = atomic_load_explicit(&r->mem.peak, memory_order_relaxed);
	if (used > r->peak_bytes)
		r->peak_bytes = used;
	/* a partitioned or filtered restore holds only some rows: nothing to compare */
	if (r->o.check_expected && !r->pool.part_count && !r->pool.filter)
		rc = check_expected(r, err);
	stats_collect(r, b, t0, woke); /* the backup's time includes its check */
	if (rc)
		return rc;
	report_progress(r, b, done + 1, total, changes_total, bytes_total);
	if (r->o.barrier && r->o.barrier(r->o.barrier_ctx, r, b) != 0)
		return irs__seterr(err, IRS_ECANCELED, "cancelled by the barrier callback after backup %s",
				   c->backups[b].pb->name);
	return 0;
}

/* A failed restore leaves no checkpoint directory it made and wrote nothing to. Removed
 * while its lock is still held, so that no restore that has just taken it loses it. */
static void drop_made_checkpoint_dir(irs_restore *r, int rc)
{
	if (rc && r->ckpt_made && r->ckpt_dfd >= 0)
		rmdir(r->o.checkpoint_dir); /* fails, as it should, once a checkpoint is in it */
}

/* Stops the shard threads and releases what only a running restore needs. */
static void restore_stop(irs_restore *r)
{
	irs__pool_stop(&r->pool);
	irs__plan_free(r);
	if (r->ckpt_dfd >= 0)
		close(r->ckpt_dfd); /* and the checkpoint directory's lock with it */
	r->ckpt_dfd = -1;
}

void irs_restore_free(irs_restore *r)
{
	if (!r)
		return;
	restore_stop(r);
	irs__read_order_free(r); /* before the partitions its arrays point into */
	irs__pool_free(&r->pool);
	irs_mem *mem = &r->mem;
	const irs_collection *c = r->c;
	irs__free(mem, r->enabled, sizeof(bool) * c->ntables);
	irs__free(mem, r->stats, sizeof(irs_backup_stats) * r->stats_cap);
	irs__free(mem, r->shard_applied, sizeof(uint64_t) * r->pool.nshards * r->stats_cap);
	irs_allocator a = mem->a;
	a.free(a.ctx, r, sizeof *r);
}

/* Starts the shards with partitions sized from the row counts of backup `base` of
 * `sizing` (the base full, or a checkpoint's). Those counts come from a manifest, but
 * opening it refused any count its segment's bytes cannot hold (format/collection.c,
 * segment_check), so the sizes are bounded by the data on disk. */
static int shards_start(irs_restore *r, const irs_collection *sizing, uint32_t base, irs_error *err)
{
	const irs_collection *c = r->c;
	uint64_t *rows = irs__calloc(&r->mem, sizeof(uint64_t) * c->ntables);
	if (!rows)
		return irs__seterr(err, IRS_ENOMEM, "out of memory creating %u shards", r->pool.nshards);
	for (uint32_t t = 0; t < c->ntables; t++) {
		irs_table_backup_info tbi;
		if (r->enabled[t] && r->presize_rows)
			rows[t] = r->presize_rows[t];
		else if (r->enabled[t] && irs_collection_table_backup(sizing, base, t, &tbi) == 0)
			rows[t] = tbi.records;
	}
	int rc = irs__pool_start(&r->pool, r->enabled, rows, err);
	irs__free(&r->mem, rows, sizeof(uint64_t) * c->ntables);
	return rc;
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

/* Allocates the handle and everything it keeps, with every table enabled or not
 * per the options; the shards are not started yet. */
static int restore_create(const irs_collection *c, const irs_restore_options *o,
			  const irs_allocator *alloc, uint32_t nbackups, irs_restore **out, irs_error *err)
{
	irs_mem mem;
	irs__mem_init(&mem, alloc, o->memory_limit);
	irs_restore *r = mem.a.malloc(mem.a.ctx, sizeof *r);
	if (!r)
		return irs__seterr(err, IRS_ENOMEM, "out of memory creating the restore");
	memset(r, 0, sizeof *r);
	*out = r;
	r->mem = mem;
	r->c = c;
	r->o = *o;
	r->through = -1;
	r->resumed_from = -1;
	r->ckpt_dfd = -1;
	irs_pool *pool = &r->pool;
	pool->mem = &r->mem;
	pool->tables = c->tables;
	pool->ntables = c->ntables;
	pool->nshards = o->shards;
	/* by default, with fewer shards than CPUs the coordinator decodes too instead of
	 * sleeping: one shard is then not left to decode and apply alone */
	bool helps = o->coordinator_decodes > 0 || (o->coordinator_decodes == 0 && pool->nshards < irs__online_cpus());
	pool->ndecoders = pool->nshards + helps;
	pool->cancel = o->cancel;
	if (o->partition_count > 1) {
		pool->part_index = o->partition;
		pool->part_count = o->partition_count;
	}
	/* Runs big enough to amortise a queue node and a wakeup over many changes, small
	 * enough that S decoders x S destinations of them stay a few MiB. */
	size_t run_cap = (4u << 20) / pool->nshards;
	if (run_cap > (64u << 10))
		run_cap = 64u << 10;
	if (run_cap < (4u << 10))
		run_cap = 4u << 10;
	pool->run_cap = irs__fault_run_cap(run_cap);
	irs__countdown_init(&pool->plan.decoding);
	irs__countdown_init(&pool->plan.staged);
	irs__countdown_init(&pool->plan.applied);
	r->enabled = irs__calloc(&r->mem, sizeof(bool) * c->ntables);
	/* statistics for the backups this restore applies, not for the whole chain */
	r->stats_cap = nbackups;
	r->stats = irs__calloc(&r->mem, sizeof(irs_backup_stats) * nbackups);
	r->shard_applied = irs__calloc(&r->mem, sizeof(uint64_t) * pool->nshards * nbackups);
	if (!r->enabled || !r->stats || !r->shard_applied || irs__read_order_init(r) != 0)
		return irs__seterr(err, IRS_ENOMEM, "out of memory creating the restore");
	return irs__tables_enable(c, o->tables, o->table_count, r->enabled, err);
}

/* True when some backup this restore applies records an expected state it will check:
 * then the partitions track their digests per change, so each check costs O(shards)
 * instead of a scan of every row. */
static bool restore_expects_states(const irs_restore *r, uint32_t base)
{
	const irs_collection *c = r->c;
	if (!r->o.check_expected || r->pool.part_count || r->pool.filter)
		return false;
	for (uint32_t b = base; b <= r->upto; b++)
		for (uint32_t t = 0; t < c->ntables; t++)
			if (r->enabled[t] && irs__backup_table(&c->backups[b], t) && irs__backup_table(&c->backups[b], t)->expected)
				return true;
	return false;
}

/* Refuses up front what certainly cannot fit the memory limit (engine/memory_model.c). */
static int memory_precheck(irs_restore *r, uint32_t base, irs_error *err)
{
	const irs_collection *c = r->c;
	uint64_t need = 0;
	/* the model sizes whole tables: a partitioned or filtered restore keeps fewer rows */
	if (!r->o.memory_limit || r->pool.part_count || r->pool.filter ||
	    irs__memory_estimate(c, base, r->upto, r->enabled, r->pool.nshards, &need) != 0 ||
	    need <= r->o.memory_limit)
		return 0;
	return irs__seterr(err, IRS_ELIMIT,
			   "memory limit of %llu bytes: the base backup %s alone needs at least %llu bytes",
			   (unsigned long long)r->o.memory_limit, c->backups[base].pb->name,
			   (unsigned long long)need);
}

/* The records and segment bytes of backups from..to of the restored tables. */
static void chain_sums(const irs_restore *r, uint32_t from, uint32_t to, uint64_t *changes, uint64_t *bytes)
{
	*changes = *bytes = 0;
	for (uint32_t b = from; b <= to; b++)
		for (uint32_t t = 0; t < r->c->ntables; t++) {
			irs_table_backup_info tbi;
			if (r->enabled[t] && irs_collection_table_backup(r->c, b, t, &tbi) == 0) {
				*changes += tbi.records;
				*bytes += tbi.bytes;
			}
		}
}

/* Restores backups first..upto (after a checkpoint, or from the base full), writing
 * checkpoints after barriers as the options ask. */
static int run_chain(irs_restore *r, uint32_t base, uint32_t first, uint64_t changes_total,
		     uint64_t bytes_total, irs_error *err)
{
	const irs_restore_options *o = &r->o;
	uint64_t last_ckpt_ns = irs__now_ns();
	uint32_t since_ckpt = 0, every = o->checkpoint_every ? o->checkpoint_every : 1;
	int rc = 0;
	for (uint32_t b = first; b <= r->upto && !rc; b++) {
		rc = run_backup(r, r->c, b, b, b - base, r->upto - base + 1, changes_total, bytes_total, err);
		since_ckpt++;
		if (!rc && o->checkpoint_dir && b < r->upto && since_ckpt >= every &&
		    irs__now_ns() - last_ckpt_ns >= (uint64_t)o->checkpoint_seconds * 1000000000u) {
			rc = irs__checkpoint_write(r, b, err);
			last_ckpt_ns = irs__now_ns();
			since_ckpt = 0;
		}
	}
	return rc;
}

/* Appends where the tables stand to a failure's message. */
static void say_where(const irs_restore *r, irs_error *err)
{
	if (!err)
		return;
	char where[300];
	if (r->partly_applied)
		snprintf(where, sizeof where, "; the tables are partly applied: restore again");
	else if (r->through >= 0)
		snprintf(where, sizeof where, "; the tables are as restored through backup %s",
			 r->c->backups[r->through].pb->name);
	else
		snprintf(where, sizeof where, "; the tables are empty");
	size_t n = strlen(err->message);
	snprintf(err->message + n, sizeof err->message - n, "%s", where);
}

int irs_restore_run(const irs_collection *c, const irs_restore_options *opts,
		    const irs_allocator *alloc, irs_restore **out, irs_error *err)
{
	return irs__restore_run_hooked(c, opts, alloc, NULL, out, err);
}

int irs__restore_run_hooked(const irs_collection *c, const irs_restore_options *opts,
			    const irs_allocator *alloc, const irs_restore_hooks *hooks,
			    irs_restore **out, irs_error *err)
{
	irs__errclear(err);
	if (!c || !out)
		return irs__seterr(err, IRS_EINVAL, "irs_restore_run: NULL argument");
	*out = NULL;
	irs_restore_options o;
	restore_options_defaults(&o);
	int rc = irs__options_read(&o, opts, restore_options_size, RESTORE_OPTIONS_VERSIONS,
				   "irs_restore_options", err);
	if (rc)
		return rc;
	if (!o.shards)
		o.shards = irs__online_cpus();
	if (o.shards > IRS_MAX_SHARDS)
		return irs__seterr(err, IRS_EINVAL, "%u shards: at most %u", o.shards, IRS_MAX_SHARDS);
	if (o.partition_count > IRS_MAX_PARTITIONS || (o.partition_count > 1 && o.partition >= o.partition_count))
		return irs__seterr(err, IRS_EINVAL, "partition %u of %u: need 0 <= I < K <= %u", o.partition,
				   o.partition_count, IRS_MAX_PARTITIONS);
	/* A checkpoint records neither the partition nor a filter: resuming one with
	 * another would silently load the wrong rows. */
	if (o.checkpoint_dir && (o.partition_count > 1 || (hooks && hooks->filter)))
		return irs__seterr(err, IRS_EINVAL, "checkpoints cannot be combined with a partitioned restore");
	if (c->nbackups == 0)
		return irs__seterr(err, IRS_ECHAIN, "%s: the collection holds no backup yet", c->dir);
	uint32_t upto = c->nbackups - 1;
	if (o.upto) {
		int i = irs_collection_find_backup(c, o.upto);
		if (i < 0)
			return irs__seterr(err, IRS_ENOTFOUND, "%s: no backup named %s", c->dir, o.upto);
		upto = (uint32_t)i;
	}
	irs_restore *r = NULL;
	uint32_t base = c->backups[upto].base;
	rc = restore_create(c, &o, alloc, upto - base + 1, &r, err);
	if (rc)
		goto fail;
	if (hooks) {
		r->pool.filter = hooks->filter;
		r->presize_rows = hooks->presize_rows;
	}
	r->upto = upto;
	irs_collection *ckpt = NULL;
	int64_t ckpt_through = -1;
	if (o.checkpoint_dir && (rc = irs__checkpoint_load(r, upto, &ckpt, &ckpt_through, err)) != 0)
		goto fail;
	if (!ckpt && (rc = memory_precheck(r, base, err)) != 0)
		goto fail;
	r->pool.track_digest = restore_expects_states(r, base);
	rc = ckpt ? shards_start(r, ckpt, 0, err) : shards_start(r, c, base, err);
	if (rc) {
		irs_collection_close(ckpt);
		say_where(r, err); /* the partitions or threads: nothing was restored */
		goto fail;
	}
	uint64_t changes_total, bytes_total;
	chain_sums(r, base, upto, &changes_total, &bytes_total);
	uint32_t first = base;
	bool ckpt_damaged = false;
	if (ckpt) {
		/* Load the checkpoint's tables as the state after backup ckpt_through. Progress
		 * counts it at that backup's place in the chain with the chain's changes
		 * through it, as run_chain goes on to count the rest; its bytes (and a
		 * speed) are those this run reads after it. */
		uint64_t held_bytes;
		chain_sums(r, base, (uint32_t)ckpt_through, &r->ckpt_changes, &held_bytes);
		bytes_total -= held_bytes;
		r->loading_checkpoint = true;
		rc = run_backup(r, ckpt, 0, (uint32_t)ckpt_through, (uint32_t)ckpt_through - base, upto - base + 1,
				changes_total, bytes_total, err);
		r->loading_checkpoint = false;
		atomic_store_explicit(&r->pool.changes_done, r->ckpt_changes, memory_order_relaxed);
		atomic_store_explicit(&r->pool.bytes_done, 0, memory_order_relaxed);
		ckpt_damaged = rc == IRS_ECORRUPT;
		irs_collection_close(ckpt);
		if (!rc)
			r->resumed_from = ckpt_through;
		first = (uint32_t)ckpt_through + 1;
	}
	if (!rc)
		rc = run_chain(r, base, first, changes_total, bytes_total, err);
	drop_made_checkpoint_dir(r, rc);
	restore_stop(r);
	rc = limit_error(r, rc, err);
	if (rc)
		say_where(r, err);
	if (ckpt_damaged)
		irs__checkpoint_hint(r, err);
	*out = r;
	return rc;
fail:
	if (r) {
		drop_made_checkpoint_dir(r, rc);
		rc = limit_error(r, rc, err);
	}
	irs_restore_free(r);
	return rc;
}
