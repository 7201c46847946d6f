/*
 * checkpoint.h (private): restore checkpoints (checkpoint.c describes the layout and
 * the crash-safe write protocol). Both functions run on the coordinator while every
 * shard is idle.
 */
#ifndef IRS_ENGINE_CHECKPOINT_H
#define IRS_ENGINE_CHECKPOINT_H

#include "restore.h"

/*
 * Makes DIR when missing (*made says so; made may be NULL), opens it, takes its lock
 * (IRS_EIO "in use by another restore" when held) and checks that it is writable.
 * *dfd holds the lock until closed. A DIR it made is removed again when that fails.
 */
int irs__checkpoint_lock(const char *dir, int *dfd, bool *made, irs_error *err);

/*
 * Starts over: under DIR's lock, removes every checkpoint DIR/CHECKPOINTS lists for
 * collection c, and CURRENT unless it names another collection's checkpoint.
 * Nothing else in DIR is touched. The CLI's --checkpoint-restart.
 */
int irs__checkpoint_discard(const char *dir, const irs_collection *c, irs_error *err);

/* Appends to the message of a failure while loading the checkpoint's data how to
 * start over. */
void irs__checkpoint_hint(const irs_restore *r, irs_error *err);

/*
 * Takes DIR's lock for the whole restore (r->ckpt_dfd, irs__checkpoint_lock), then
 * looks for a checkpoint in r->o.checkpoint_dir for this restore (target chain index
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
