/*
 * restore.h (private): the state shared by the coordinator (engine/coordinator.c)
 * and the shard threads (shard/shard.c) during a restore.
 *
 * THREADS
 *   The coordinator is the thread that called irs_restore_run. Each shard thread owns
 *   one partition of every table (rows whose key hash maps to it, keycodec.h) and is
 *   the only thread that writes it. Shards also decode: every shard takes frames of
 *   the current backup from a shared atomic cursor, decodes them and routes each change
 *   record to its owner in runs (irs_run) through the owner's inbox.
 *
 * PROTOCOL for backup i (every arrow is an inbox message or a countdown)
 *
 *   coordinator                         shard s (every s)
 *   -----------                         -----------------
 *   plan i: index frames, arm
 *   `decoding` = S, `staged` = S
 *   BEGIN(i) to every shard  ------->   take frames until none left; route runs;
 *                                       flush runs; `decoding`--; the shard that
 *                                       brings it to 0 posts END to every inbox
 *                                       (after all runs: FIFO per producer, and
 *                                       every producer pushed before it counted down)
 *                                       RUN: full -> apply now; incremental -> stage
 *                                       END: incremental -> duplicate check and
 *                                       memory reservation for what it staged;
 *                                       post result; `staged`--, last one wakes:
 *   wait `staged` (futex)   <-------
 *   all results SUCCESS? and not cancelled:
 *     arm `applied` = S; APPLY  ---->   apply the staged runs (cannot fail), free them
 *     else DISCARD (or CLEAR)  ----->   drop staged runs (full: clear partitions)
 *   wait `applied` (futex)  <-------    post result; `applied`--, last one wakes
 *   publish "through i", barrier callback (all shards idle), next backup.
 *
 * FAILURE ATOMICITY: everything that can fail for an incremental (decode, validation,
 * duplicates, memory) happens before `staged` reaches zero; APPLY only uses memory the
 * shard reserved while staging. A full backup is applied while it streams (staging a
 * whole base would double peak memory); if it fails, CLEAR empties the tables, which
 * is the state "before the full backup" that DESIGN section 4 asks for.
 */
#ifndef IRS_ENGINE_RESTORE_H
#define IRS_ENGINE_RESTORE_H

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "collection.h"
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
	IRS_MSG_QUIT
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
	alignas(8) uint8_t data[];  /* records, each padded to 8 bytes */
} irs_run;

/* The current backup's work, read-only for shards during a phase except the atomics. */
typedef struct irs_plan {
	uint32_t backup;            /* chain index (in r->c; the checkpoint's state counts as `through`) */
	const irs_collection *src;  /* where its segments are: r->c, or a checkpoint's collection */
	uint32_t src_backup;        /* chain index in src */
	const char *name;           /* for messages: the backup's name, or "checkpoint ..." */
	char name_buf[IRS_MAX_NAME + 32];
	uint64_t gen;               /* incremented for every backup started */
	bool full;
	bool want_digest;           /* shards compute partition digests after APPLY */
	irs_frame_ref *frames;      /* every frame of every enabled table's segments */
	size_t nframes, frames_cap;
	uint32_t *frame_table;      /* per segment: table index */
	const char **seg_path;      /* per segment */
	int *seg_fd;                /* per segment, opened by the coordinator */
	uint64_t *seg_records;      /* per segment: the manifest's record count */
	_Atomic uint64_t *seg_decoded; /* per segment: records decoded so far */
	uint32_t nsegs, segs_cap;
	_Atomic size_t next_frame;  /* shards take frames from here */
	_Atomic int abort;          /* set on the first error: others stop taking frames */
	irs_countdown decoding;
	irs_countdown staged;
	irs_countdown applied;
} irs_plan;

typedef struct irs_shard {
	struct irs_restore *r;
	uint32_t id;
	pthread_t thread;
	bool started;
	irs_inbox inbox;
	irs_inbox returns;          /* runs of standard size coming back for reuse */
	irs_msg cmd;                /* BEGIN/APPLY/...; reused: one command in flight */
	irs_msg end;                /* END for this shard, posted by the last decoder */
	irs_table_part **parts;     /* one per table (NULL for filtered-out tables) */
	/* decoding side */
	irs_batch_decoder dec;
	irs_run **out;              /* per destination shard: the run being filled */
	uint8_t *frame_buf;
	size_t frame_cap;
	const irs_rec **recs;       /* a run's record pointers; sized for the largest run */
	size_t recs_cap;
	/* receiving side, current backup */
	irs_run *staged, **staged_tail;
	uint64_t staged_records;
	uint64_t *resv_rows;        /* per table: staged upserts to reserve for */
	uint64_t *resv_bytes;       /* per table: their row bounds */
	const irs_rec **dup_set;    /* duplicate-key check of the staged records, reused */
	uint32_t *dup_table;
	size_t dup_cap;
	/* report */
	Increstore__IncrementalRestoreResult result;
	uint64_t result_gen;        /* plan.gen the result belongs to */
	uint64_t *digest;           /* per table: partition digest after APPLY (want_digest) */
	int digest_rc;              /* 0, or the error computing one */
	irs_error error;
	uint64_t idle_since_ns;     /* when it last reported: barrier statistics */
	uint64_t wait_ns;
	unsigned yield_counter;     /* IRS_FAULT_YIELD */
	uint64_t frames_decoded;    /* in the current backup (fault hooks) */
} irs_shard;

struct irs_restore {
	const irs_collection *c;
	irs_mem mem;
	irs_restore_options o;
	uint32_t nshards;
	irs_shard *shards;
	bool *enabled;              /* per table */
	int64_t through;            /* last backup fully applied, -1 for none */
	int64_t resumed_from;       /* chain index of the checkpoint resumed from, -1 for none */
	uint32_t upto;              /* the restore's target chain index */
	bool stopped;               /* shard threads joined and their buffers freed */
	irs_plan plan;
	size_t run_cap;             /* bytes of record data per run */
	_Atomic uint64_t changes_done;
	_Atomic uint64_t bytes_done;
	irs_backup_stats *stats;
	uint32_t nstats;
	uint64_t *shard_applied;    /* nstats x nshards, behind stats[].shard_applied */
	uint64_t peak_bytes;
	uint8_t *scratch;           /* unescaped key strings for reads */
	uint64_t *digests;          /* per table: cached irs_restore_digest */
	uint64_t *digest_gen;       /* per table: plan.gen + 1 when cached, 0 = none */
	size_t scratch_cap;
};

#ifdef IRS_FAULT_INJECTION
/*
 * Test-only hooks (compiled only with IRS_FAULT_INJECTION, never in releases). Tests
 * set them before irs_restore_run and reset them after; restores read them once.
 */
typedef struct irs_fault_hooks {
	int64_t fail_backup;   /* chain index whose staging fails on shard fail_shard; -1 = off */
	uint32_t fail_shard;
	int64_t fail_frame;    /* -1: at the end of staging; n: when that shard has decoded n frames */
	size_t run_bytes;      /* run capacity override (tiny runs stress the queues); 0 = off */
	int yield_every;       /* sched_yield() in hot paths about once per N events; 0 = off */
	int64_t eio_backup;    /* chain index whose frame eio_frame reads as EIO; -1 = off */
	uint32_t eio_frame;    /* index in the backup's frame list */
	int64_t slow_shard;    /* this shard sleeps slow_us per run it applies; -1 = off */
	uint32_t slow_us;
} irs_fault_hooks;
extern irs_fault_hooks irs__fault;
void irs__fault_reset(void);
#define IRS_FAULT_YIELD(counter)                                                            \
	do {                                                                                \
		if (irs__fault.yield_every && ++(counter) % (unsigned)irs__fault.yield_every == 0) \
			sched_yield();                                                      \
	} while (0)
#else
#define IRS_FAULT_YIELD(counter) ((void)0)
#endif

/* The caller's cancel flag, read with a relaxed atomic load: it is written by another
 * thread or a signal handler while shards read it. */
static inline bool irs__cancelled(const irs_restore *r)
{
	return r->o.cancel && __atomic_load_n(r->o.cancel, __ATOMIC_RELAXED) != 0;
}

/* shard/shard.c */
void *irs__shard_main(void *arg);

#endif
