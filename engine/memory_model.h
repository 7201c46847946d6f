/*
 * memory_model.h (private): a lower bound of the memory a restore must allocate,
 * computed from the manifest alone (engine/memory_model.c documents the model).
 *
 * The coordinator uses it to refuse a restore up front when a memory limit cannot
 * possibly be met, instead of failing after minutes of work.
 */
#ifndef IRS_ENGINE_MEMORY_MODEL_H
#define IRS_ENGINE_MEMORY_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "format/collection.h"

/*
 * Sets *bytes to a conservative LOWER bound of the bytes irs_restore_run must hold
 * at once (through its irs_mem) to restore backups [base, upto] of c: the base full
 * backup's rows in the tables where enabled[t] (enabled NULL = every table), with
 * `shards` shard threads. A restore whose memory_limit is below *bytes certainly
 * fails; one above it may still fail (incrementals grow the tables, runs and buffers
 * come on top). Pure: reads the manifest only, no I/O, no allocation.
 * Returns 0, or IRS_EINVAL (base is not a full backup, upto < base, out of range,
 * shards 0). Thread: any.
 */
int irs__memory_estimate(const irs_collection *c, uint32_t base, uint32_t upto, const bool *enabled,
			 uint32_t shards, uint64_t *bytes);

#endif
