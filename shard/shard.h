/*
 * shard.h (private): the shard pool, the messages between the coordinator
 * (engine/coordinator.c) and the shard threads (shard/shard.c, shard/decode.c), and
 * the plan of the backup being restored. docs/design.md section 2 is the overview.
 *
 * THREADS
 *   The coordinator is the thread that called irs_restore_run. Each shard thread owns
 *   one partition of every table (rows whose key hash maps to it, irs__shard_of in
 *   common/keycodec.h) and is the only thread that writes it. Shards also decode:
 *   every shard takes frames of the current backup from a shared atomic cursor,
 *   decodes them and routes each change record to its owner in runs (irs_run) through
 *   the owner's inbox. When there are fewer shards than CPUs the coordinator decodes
 *   too (irs__coordinator_decode) instead of sleeping through the phase: it is one
 *   more decoder (pool->shards[nshards], with no partitions and no thread of its
 *   own), so one shard is not left to decode and apply alone while a core idles.
 *
 * PROTOCOL for backup i (every arrow is an inbox message or a countdown)
 *
 *   coordinator                         shard s (every s)
 *   -----------                         -----------------
 *   plan i: index frames, arm
 *   `decoding` = D, `staged` = S        (D decoders: S, or S + 1 with the coordinator)
 *   BEGIN(i) to every shard  ------->   take frames until none left; route runs;
 *                                       flush runs; `decoding`--; the shard that
 *                                       brings it to 0 posts END to every inbox
 *                                       (after all runs: FIFO per producer, and
 *                                       every producer pushed before it counted down)
 *                                       RUN: full -> apply now; incremental -> stage
 *                                       END: incremental -> duplicate check and
 *                                       memory reservation for what it staged;
 *                                       post result; `staged`--, last one wakes:
 *   [decode too, when D > S]
 *   wait `staged` (futex)   <-------
 *   all results SUCCESS? and not cancelled:
 *     arm `applied` = S; APPLY  ---->   apply the staged runs (cannot fail), free them
 *     else DISCARD (or CLEAR)  ----->   drop staged runs (full: clear partitions)
 *   wait `applied` (futex)  <-------    post result; `applied`--, last one wakes
 *   publish "through i", barrier callback (all shards idle), next backup.
 *
 * FAILURE ATOMICITY (docs/design.md section 4): everything that can fail for an
 * incremental (decode, validation, duplicates, memory) happens before `staged` reaches
 * zero; APPLY only uses memory the shard reserved while staging. A full backup is
 * applied while it streams (staging a whole base would double peak memory); if it
 * fails, CLEAR empties the tables, which is the state "before the full backup".
 *
 * OWNERSHIP: the pool's shards, their partitions and buffers are allocated by
 * irs__pool_start from pool->mem and released by irs__pool_stop (threads, buffers)
 * and irs__pool_free (partitions). The plan is written by the coordinator only while
 * no shard works on it (before BEGIN, after `applied`), and read by shards in between.
 */
#ifndef IRS_SHARD_SHARD_H
#define IRS_SHARD_SHARD_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cancel.h"
#include "common/keycodec.h"
#include "format/batch.h"
#include "format/collection.h"
#include "proto/messages.pb-c.h"
#include "shard/countdown.h"
#include "shard/inbox.h"
#include "shard/table.h"

enum irs_msg_type {
	IRS_MSG_RUN = 1,
	IRS_MSG_BEGIN,
	IRS_MSG_END,      /* no more runs for the current backup */
	IRS_MSG_APPLY,
	IRS_MSG_DISCARD,
	IRS_MSG_CLEAR,
	IRS_MSG_QUIT,
	IRS_MSG_RETURN    /* a consumed run back to the shard that allocated it, for reuse */
};

typedef struct irs_msg {
	struct cds_wfcq_node node;  /* inbox link */
	uint32_t type;              /* irs_msg_type */
} irs_msg;

/* A run: many change records of one table for one destination shard. Allocated by the
 * decoding shard, owned by the destination once pushed, freed after apply/discard. */
typedef struct irs_run {
	irs_msg msg;                /* type IRS_MSG_RUN */
	struct irs_run *next;       /* destination's staged list */
	uint32_t owner;             /* shard that allocated it: where it is recycled */
	uint32_t table;
	uint32_t count;             /* records */
	size_t used, cap;           /* bytes of data */
	bool spare;                 /* its decoder's spare for one big change: goes back to it */
	alignas(8) uint8_t data[];  /* records, each padded to 8 bytes */
} irs_run;

/*
 * The memory of a decoder's standard-size runs, freed only with the pool (runs are
 * recycled, never freed one by one). In a big restore (pool->huge_run_slabs) they are
 * carved from slabs of one huge page each (irs__malloc_huge), so a run touched for the
 * first time faults once per 2 MiB instead of once per 4 KiB page; otherwise a slab is
 * one run, and a small restore with many shards stays small.
 */
typedef struct irs_run_slabs {
	uint8_t *next;              /* the next free run in the current slab */
	size_t left;                /* runs left there */
	struct irs_run_slab { void *base; size_t bytes; } *v;
	size_t n, cap;
} irs_run_slabs;

/* The current backup's work, read-only for shards during a phase except the atomics. */
typedef struct irs_plan {
	uint32_t backup;            /* chain index (a checkpoint's state counts as the backup it holds) */
	const irs_collection *src;  /* where its segments are: the collection, or a checkpoint */
	uint32_t src_backup;        /* chain index in src */
	const char *name;           /* for messages: "backup NAME", "checkpoint of backup NAME (DIR)" */
	char name_buf[IRS_MAX_NAME + 512];
	uint64_t gen;               /* incremented for every backup started */
	bool full;
	/* An incremental too big to stage in memory is read twice: pass 0 decodes and
	 * checks it (keys, bounds) keeping nothing, pass 1 decodes it again and applies
	 * as it streams (shard/stage.c, docs/design.md section 8). */
	bool reread;
	uint8_t pass;
	irs_frame_ref *frames;      /* every frame of every enabled table's segments */
	size_t nframes, frames_cap;
	uint32_t max_frame;         /* the longest of them (bytes) */
	uint32_t *frame_table;      /* per segment: table index */
	const char **seg_path;      /* per segment */
	int *seg_fd;                /* per segment, opened by the coordinator */
	uint64_t *seg_records;      /* per segment: the manifest's record count */
	uint64_t records;           /* all of them: sizes the staging of an incremental */
	_Atomic uint64_t *seg_decoded; /* per segment: records decoded so far */
	uint32_t nsegs, segs_cap;
	_Atomic size_t next_frame;  /* shards take frames from here */
	_Atomic int abort;          /* set on the first error: others stop taking frames */
	_Atomic size_t big_bound;   /* the largest padded record bound its pass 0 decoded */
	irs_countdown decoding;
	irs_countdown staged;
	irs_countdown applied;
} irs_plan;

typedef struct irs_pool irs_pool;

/* How often a restore with a progress callback reports while a phase runs. */
#define IRS_PROGRESS_NS ((uint64_t)100 * 1000 * 1000)

/* A restore that keeps only some keys (engine/diff.c): keep() says whether the change
 * to `key` of table `table` is kept. Called by every decoding shard at once: it must
 * only read shared state. */
typedef struct irs_key_filter {
	bool (*keep)(const void *ctx, uint32_t table, const uint8_t *key, size_t key_len, uint64_t hash);
	const void *ctx;
} irs_key_filter;

typedef struct irs_shard {
	irs_pool *pool;
	uint32_t id;
	pthread_t thread;
	bool started;
	irs_inbox inbox;
	irs_msg cmd;                /* BEGIN/APPLY/...; reused: one command in flight */
	irs_msg end;                /* END for this shard, posted by the last decoder */
	irs_table_part **parts;     /* one per table (NULL for filtered-out tables) */
	/* decoding side */
	irs_batch_decoder dec;
	irs_run **out;              /* per destination shard: the run being filled */
	irs_run *free_runs;         /* standard-size runs returned for reuse (a list by `next`) */
	irs_run_slabs slabs;        /* where this decoder's standard-size runs live */
	uint8_t *drop_buf;          /* where records this restore does not keep are decoded */
	size_t drop_cap;
	size_t big_bound;           /* the largest padded record bound it decoded this pass */
	irs_run *big_spare;         /* for a change larger than a run in a second read, or NULL */
	size_t big_spare_size;      /* the bytes of data it has room for (its cap is per use) */
	bool big_spare_out;         /* it is out: being filled, queued or applied */
	uint32_t outstanding;       /* standard-size runs out: being filled, queued or applied */
	uint32_t outstanding_max;   /* a full backup's decoder waits at this many (flow control) */
	uint8_t *frame_buf;
	size_t frame_cap;
	const irs_rec **recs;       /* a run's record pointers; sized for the largest run */
	size_t recs_cap;
	/* receiving side, current backup */
	irs_run *staged, **staged_tail;
	uint64_t staged_records;
	uint64_t *resv_rows;        /* per table: staged upserts to reserve for */
	uint64_t *resv_bytes;       /* per table: their row bounds */
	uint64_t *hset;             /* duplicate-key check: key hashes seen (0 = empty slot) */
	size_t hset_cap, hset_count;  /* slots in use (a power of two), keys in them */
	size_t hset_alloc;          /* slots allocated: the largest hset_cap so far */
	uint64_t *suspects;         /* hashes seen twice: checked exactly at END */
	size_t nsuspects, suspects_cap;
	/* The report for the current backup, modelled on YDB's TEvIncrementalRestoreResult:
	 * status, counts, the time this shard waited at the previous barrier, and on ERROR
	 * the code and the message (error points into `error.message`). */
	Increstore__IncrementalRestoreResult result;
	uint64_t result_gen;        /* plan.gen the result belongs to */
	irs_error error;            /* the first failure of this backup */
	uint64_t idle_since_ns;     /* when it last reported: barrier statistics */
	unsigned yield_counter;     /* fault hooks: sched_yield every N events */
	uint64_t frames_decoded;    /* in the current backup (fault hooks) */
} irs_shard;

/* The shards of one restore and what they share. */
struct irs_pool {
	irs_mem *mem;                  /* every shard allocation (the restore's accounting) */
	const irs_schema_table *tables;
	uint32_t ntables;
	uint32_t nshards;
	uint32_t ndecoders;            /* nshards, or nshards + 1 when the coordinator decodes too */
	irs_shard *shards;             /* ndecoders of them; [nshards] is the coordinator's */
	void (*tick)(void *ctx);       /* called by the coordinator between the frames it decodes */
	void *tick_ctx;
	irs_plan plan;
	size_t run_cap;                /* bytes of record data per run */
	bool huge_run_slabs;           /* standard runs in slabs of a huge page (irs_run_slabs) */
	const volatile int *cancel;    /* the caller's flag, or NULL */
	bool track_digest;             /* partitions maintain their digest per change */
	uint32_t part_index;           /* keep only keys of hash partition part_index ... */
	uint32_t part_count;           /* ... of part_count (irs__key_partition); 0 = all */
	const irs_key_filter *filter;  /* keep only the keys it accepts; NULL = all */
	_Atomic uint64_t changes_done; /* progress, all backups */
	_Atomic uint64_t bytes_done;
	bool stopped;                  /* threads joined and their buffers freed */
};

/* Whether sh is the coordinator's decoder (pool->shards[nshards]), not a shard. */
static inline bool irs__is_coordinator(const irs_shard *sh)
{
	return sh->id == sh->pool->nshards;
}

/* Whether this restore keeps the change to `key` of `table` (a partitioned or
 * filtered restore keeps only some). Thread: any (reads shared, immutable state). */
static inline bool irs__pool_keeps(const irs_pool *pool, uint32_t table, const uint8_t *key,
				   size_t key_len, uint64_t hash)
{
	if (pool->part_count && irs__key_partition(hash, pool->part_count) != pool->part_index)
		return false;
	return !pool->filter || pool->filter->keep(pool->filter->ctx, table, key, key_len, hash);
}

/* The caller's cancel flag, read with a relaxed atomic load: it is written by another
 * thread or a signal handler while shards read it. Thread: any. */
static inline bool irs__pool_cancelled(const irs_pool *pool)
{
	return irs__cancel_requested(pool->cancel);
}

/*
 * Sets up pool->nshards shards with their buffers and, for each table t with
 * enabled[t], a partition sized for expected_rows[t] rows in all (spread over the
 * shards), maintaining its digest when track_digest, then starts the threads; with
 * ndecoders > nshards also the coordinator's decoder (buffers only). The caller set
 * mem, tables, ntables, nshards, ndecoders (0 = nshards), run_cap, cancel and
 * track_digest. On error the pool is half built: irs__pool_stop and
 * irs__pool_free release what was made. Errors: IRS_ENOMEM, IRS_ELIMIT (creating a
 * partition), IRS_ESHARD (a thread did not start). Thread: the coordinator.
 */
int irs__pool_start(irs_pool *pool, const bool *enabled, const uint64_t *expected_rows,
		    irs_error *err);

/* Sends the command `type` (BEGIN, APPLY, DISCARD, CLEAR) to every shard. The previous
 * command must have been consumed (its countdown reached zero). Thread: coordinator. */
void irs__pool_send_all(irs_pool *pool, uint32_t type);

/* Stops and joins the threads and frees their buffers; the partitions stay readable.
 * Idempotent. Thread: the coordinator. */
void irs__pool_stop(irs_pool *pool);

/* Frees the partitions and the shards (after irs__pool_stop). Thread: owner of the pool. */
void irs__pool_free(irs_pool *pool);

/* shard/shard.c: a shard thread's body (arg: its irs_shard). */
void *irs__shard_main(void *arg);

/* shard/decode.c: the decoder job of BEGIN: frames from the plan's cursor until none
 * are left, every record routed to its owner's run. */
void irs__shard_decode(irs_shard *sh);

/* shard/shard.c: the coordinator's share of the decoding of the current backup (or
 * pass), after BEGIN was sent: the decoder job on pool->shards[nshards], counting
 * `decoding` down like a shard. Its result joins the shards' (status, error, bytes).
 * Thread: the coordinator, only when ndecoders > nshards. */
void irs__coordinator_decode(irs_pool *pool);

/* shard/shard.c: handles one run arriving at its owner (apply or stage). */
void irs__shard_take_run(irs_shard *sh, irs_run *run);

/* shard/stage.c: staging an incremental. begin: with the backup's first message;
 * run: as each run arrives; end: at END, reserving the memory APPLY will use. */
void irs__stage_begin(irs_shard *sh);
void irs__stage_run(irs_shard *sh, irs_run *run);
void irs__stage_end(irs_shard *sh);

/* shard/shard.c: records the first error of this shard for the current backup and
 * makes the other decoders stop. */
void irs__shard_fail(irs_shard *sh, int code);

/* A consumed run goes back to the shard that allocated it. */
void irs__run_free(irs_pool *pool, irs_run *run);

/* Frees the memory of every standard-size run this decoder made, wherever the runs
 * are. Thread: at pool teardown, once no run is in use. */
void irs__run_slabs_free(irs_shard *sh);

/* shard/decode.c: at the END of pass 0 of a backup read twice, before the point of no
 * return: allocates what this decoder's pass 1 needs, so that pass 1 does not fail for
 * memory (decode.c's top comment). IRS_ENOMEM/IRS_ELIMIT naming the decoder. Thread:
 * the decoder's (the shard's, or the coordinator's for its own). */
int irs__decoder_prepare_reread(irs_shard *sh, irs_error *err);

/* shard/decode.c: a RETURN message arrived: the run joins the free list. */
void irs__run_returned(irs_shard *sh, irs_run *run);

/* shard/decode.c: handles what waits in a decoder's inbox without blocking: runs to
 * apply or stage, runs coming back. */
void irs__decoder_drain(irs_shard *sh);

#endif
