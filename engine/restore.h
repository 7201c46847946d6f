/*
 * restore.h (private): the restore handle (struct irs_restore) that the coordinator
 * (engine/coordinator.c) builds and the read, export and checkpoint code
 * (engine/restore_read.c, export.c, checkpoint.c) use. The shard pool it drives and
 * the protocol between them are in shard/shard.h.
 *
 * OWNERSHIP: the handle owns its pool (threads until the run ends, partitions until
 * irs_restore_free) and everything below, all allocated from `mem`.
 */
#ifndef IRS_ENGINE_RESTORE_H
#define IRS_ENGINE_RESTORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "format/collection.h"
#include "shard/shard.h"

/*
 * engine/read_order.c: each partition's rows in key order, computed when an ordered
 * read first asks for them and kept until the tables change (the next backup), so at
 * most once per barrier. Reader threads share it: `lock` guards every field, `done`
 * wakes readers waiting for a partition another reader is sorting.
 */
typedef struct irs_sorted_table irs_sorted_table;
typedef struct irs_read_order {
	pthread_mutex_t lock;
	pthread_cond_t done;
	irs_sorted_table **tables;  /* one per table, NULL until an ordered read of it */
	uint32_t ntables;
	int ready;                  /* lock and done are initialised */
	_Atomic uint32_t turn;      /* spreads readers' first partitions (cursor.c) */
	uint64_t sorts;             /* partitions sorted so far (tests check "at most once") */
} irs_read_order;

struct irs_restore {
	const irs_collection *c;
	irs_mem mem;
	irs_restore_options o;
	irs_pool pool;              /* the shards; pool.plan is the backup in progress */
	bool *enabled;              /* per table */
	int64_t through;            /* last backup fully applied, -1 for none */
	bool partly_applied;        /* an apply pass failed half way (shard.h, read twice) */
	int64_t resumed_from;       /* chain index of the checkpoint resumed from, -1 for none */
	bool loading_checkpoint;    /* progress reports say ckpt_changes and no bytes */
	uint64_t ckpt_changes;      /* the changes of the backups a checkpoint holds */
	uint32_t upto;              /* the restore's target chain index */
	irs_backup_stats *stats;
	uint32_t nstats, stats_cap; /* stats_cap: the backups this restore applies at most */
	uint64_t *shard_applied;    /* stats_cap x nshards, behind stats[].shard_applied */
	uint64_t peak_bytes;
	irs_read_order order;       /* the tables' sorted order, for ordered reads */
	const uint64_t *presize_rows; /* per table: rows to size partitions for (hooks), or NULL */
	int ckpt_dfd;               /* the checkpoint directory, locked while the restore runs; -1 */
	bool ckpt_made;             /* this restore made the checkpoint directory */
};

/*
 * What a restore run from inside the engine may add to irs_restore_run's options
 * (engine/diff.c): a key filter (the pool keeps only the changes it accepts; expected
 * states are then not checked), and the rows to size each table's partitions for
 * instead of the base full's row count (a filtered restore keeps far fewer).
 */
typedef struct irs_restore_hooks {
	const irs_key_filter *filter;  /* NULL = every key; read concurrently by the shards */
	const uint64_t *presize_rows;  /* per collection table, or NULL; must outlive the run */
} irs_restore_hooks;

/* irs_restore_run with hooks (NULL = none); everything else as irs_restore_run.
 * A filter cannot be combined with checkpoints (IRS_EINVAL). Thread: as irs_restore_run. */
int irs__restore_run_hooked(const irs_collection *c, const irs_restore_options *opts,
			    const irs_allocator *alloc, const irs_restore_hooks *hooks,
			    irs_restore **out, irs_error *err);

/* engine/read_order.c */

/* Prepares r->order (no table sorted). Errors: IRS_ENOMEM. Thread: coordinator. */
int irs__read_order_init(irs_restore *r);
/* Forgets every sorted order: call before the tables change. Thread: coordinator, with
 * no reader active (the readers' time is after the run or inside a barrier callback). */
void irs__read_order_drop(irs_restore *r);
/* Drops the orders and releases what init made. */
void irs__read_order_free(irs_restore *r);
/*
 * The rows of partition `s` of `table` sorted by encoded key (*rows, *n), sorting them
 * on the first call since the last drop. Concurrent callers sort different partitions
 * and wait for the ones another caller is sorting. The array stays valid until the
 * next drop. An export passes its cancel flag (a sort of many rows takes seconds): a
 * sort it stops is left to the next caller; public reads pass NULL. Errors: IRS_ENOMEM,
 * IRS_ELIMIT (the memory limit), IRS_ECANCELED. Thread: any reader.
 */
int irs__read_order_part(const irs_restore *r, uint32_t table, uint32_t s, const volatile int *cancel,
			 const uint8_t *const **rows, size_t *n);

/* engine/plan.c: the coordinator's plan of one backup (shard.h's irs_plan). */

/*
 * Plans backup sb of `src` for the shards: opens its segments (enabled tables only) and
 * indexes their frames. src is the restored collection, or a checkpoint (a collection
 * of the same schema holding one full backup) whose state stands for chain index b of
 * the restored collection. Errors name the backup. Thread: coordinator, shards idle.
 */
int irs__plan_backup(irs_restore *r, const irs_collection *src, uint32_t sb, uint32_t b,
		     irs_error *err);
/* Closes the plan's segment files and frees its arrays, leaving it zeroed. */
void irs__plan_free(irs_restore *r);

/* engine/cursor.c: what the exports read through */

/* irs_restore_cursor_open and irs_restore_scan (whole tables here) with the cancel
 * flag of an export, which stops the sort of a partition as well: IRS_ECANCELED. */
int irs__cursor_open(const irs_restore *r, uint32_t table, const irs_value *lo, const irs_value *hi,
		     const volatile int *cancel, irs_cursor **out, irs_error *err);
int irs__scan(const irs_restore *r, uint32_t table, irs_row_fn fn, void *ctx, const volatile int *cancel,
	      irs_error *err);

/* Bytes of scratch that decoding any row of `table` needs (irs__part_row_values). */
size_t irs__table_key_scratch(const irs_restore *r, uint32_t table);
/* The next row of an ordered cursor as its partition and blob, not decoded: 1, or 0
 * at the end. Thread: the cursor's. */
int irs__cursor_next_blob(irs_cursor *c, const irs_table_part **part, const uint8_t **blob);

/* engine/export.c: irs_restore_export of a new collection holding every table, those a
 * filtered restore left empty too (a checkpoint's schema must be the collection's). */
int irs__export_checkpoint(const irs_restore *r, const char *path, irs_error *err);

/* engine/export.c: IRS_ECANCELED when the restore's cancel flag is set, read every
 * 1024 calls (*rows counts them, the first included); 0 otherwise. */
int irs__export_cancelled(const irs_restore *r, uint64_t *rows);

/*
 * engine/export_text.c: the rows of `table` in key order as JSONL (csv 0) or CSV rows
 * (csv 1, without the header), appended to f. Formatting runs on helper threads, one
 * per online CPU beyond the caller's, and the text is written in key order (the same
 * bytes whatever the helpers). Returns 0, IRS_ECANCELED, IRS_EIO (fwrite failed:
 * *io_errno says why), IRS_ENOMEM/IRS_ELIMIT, IRS_ECORRUPT (with err set) or
 * IRS_EINVAL. Thread: a reader's (the tables do not change meanwhile).
 */
int irs__export_text_rows(const irs_restore *r, uint32_t table, int csv, FILE *f, int *io_errno,
			  irs_error *err);

/* The online CPUs, 1 to IRS_MAX_SHARDS: the default shard count, and how many threads
 * a digest scan uses at most (coordinator.c). */
uint32_t irs__online_cpus(void);

#endif
