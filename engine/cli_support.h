/*
 * cli_support.h (private): the one internal header the increstore command includes
 * besides the public increstore.h. It names what the command needs from inside the
 * library and why, so the CLI's reach into the layers below stays in one place
 * (ci/check_layers.sh holds the CLI to it):
 *
 *   common/error.h      irs__seterr / irs__errprefix and IRS_PRINTF: the importers and
 *                       commands report errors in the library's form
 *   common/schema.h     limits (IRS_MAX_COLUMNS, IRS_MAX_NAME, ...), the schema of a
 *                       table, little-endian helpers
 *   common/record.h     change records: verify's oracle applies them with SQL
 *   common/digest.h     gen records expected digests with the digest's definition
 *   format/collection.h verify reads the chain it checks (backups, segments)
 *   format/format.h     ... and the segment files themselves
 *   format/batch.h      ... decoding their frames with the restore's own decoder
 *                       (decoding is shared and tested on its own; applying is not)
 *   engine/textout.h    JSON, CSV and timestamp text of values
 *   irs__checkpoint_discard (engine/checkpoint.c, declared below) restore
 *                       --checkpoint-restart: discards this collection's checkpoints
 */
#ifndef IRS_ENGINE_CLI_SUPPORT_H
#define IRS_ENGINE_CLI_SUPPORT_H

#include "common/digest.h"
#include "common/error.h"
#include "common/record.h"
#include "common/schema.h"
#include "engine/textout.h"
#include "format/batch.h"
#include "format/collection.h"
#include "format/format.h"

/* engine/checkpoint.h: under DIR's lock, removes the checkpoints restores of c wrote
 * there (and CURRENT, unless it names another collection's); nothing else. */
int irs__checkpoint_discard(const char *dir, const irs_collection *c, irs_error *err);

#endif
