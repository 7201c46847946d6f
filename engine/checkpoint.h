/*
 * checkpoint.h (private): restore checkpoints (checkpoint.c describes the layout and
 * the crash-safe write protocol). Both functions run on the coordinator while every
 * shard is idle.
 */
#ifndef IRS_ENGINE_CHECKPOINT_H
#define IRS_ENGINE_CHECKPOINT_H

#include "restore.h"

/*
 * Looks for a checkpoint in r->o.checkpoint_dir for this restore (target chain index
 * upto). 0 with *state NULL: none yet. 0 with *state: the checkpoint's collection (one
 * full backup, the caller closes it) standing for chain index *through. IRS_EINVAL: it
 * belongs to another collection, target or table filter. IRS_ECORRUPT/EIO otherwise.
 */
int irs__checkpoint_load(irs_restore *r, uint32_t upto, irs_collection **state, int64_t *through,
			 irs_error *err);

/* Checks the framing and CRC of a RESTORE_STATE file's bytes and unpacks it (with a
 * bounded allocator: format.h, irs__pb_budget_init); *out is freed with
 * irs__restore_state_free. */
int irs__restore_state_parse(const uint8_t *buf, size_t len, Increstore__RestoreState **out,
			     irs_error *err);
void irs__restore_state_free(Increstore__RestoreState *rs);

/* Writes the tables as restored through chain index b, and makes it the current one. */
int irs__checkpoint_write(irs_restore *r, uint32_t b, irs_error *err);

#endif
