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

#include <stdbool.h>
#include <stdint.h>

#include "format/collection.h"
#include "shard/shard.h"

struct irs_restore {
	const irs_collection *c;
	irs_mem mem;
	irs_restore_options o;
	irs_pool pool;              /* the shards; pool.plan is the backup in progress */
	bool *enabled;              /* per table */
	int64_t through;            /* last backup fully applied, -1 for none */
	int64_t resumed_from;       /* chain index of the checkpoint resumed from, -1 for none */
	uint32_t upto;              /* the restore's target chain index */
	irs_backup_stats *stats;
	uint32_t nstats, stats_cap; /* stats_cap: the backups this restore applies at most */
	uint64_t *shard_applied;    /* stats_cap x nshards, behind stats[].shard_applied */
	uint64_t peak_bytes;
	int ckpt_dfd;               /* the checkpoint directory, locked while the restore runs; -1 */
	uint8_t *scratch;           /* unescaped key strings for reads */
	size_t scratch_cap;
};

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

#endif
