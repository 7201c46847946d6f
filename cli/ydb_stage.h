/*
 * ydb_stage.h (private to the CLI): making a multi-backup import all-or-nothing.
 *
 * One backup writer commit is atomic, but an import writes many backups. So the import
 * writes into a staging directory next to DIR (same file system: "<parent>/.<name>.import-XXXXXX")
 * and only a finished import is put in DIR's place, with one rename:
 *   - a new collection: the staging directory starts empty and is renamed to DIR
 *     (DIR must not exist, or be an empty directory);
 *   - appending: the staging directory starts as a copy of DIR made of hard links
 *     (collection files are never modified in place: segments are written once, the
 *     MANIFEST is replaced by rename, so the copy shares the data but not the
 *     changes); it is swapped with DIR by renameat2(RENAME_EXCHANGE), and the old tree
 *     is then removed. Where the file system cannot exchange, two renames are used,
 *     and a crash between them leaves the collection at the staging name.
 * A failure or a signal discards the staging directory, so DIR is as it was. A crash
 * leaves a staging directory behind, which is safe to delete.
 */
#ifndef IRS_CLI_YDB_STAGE_H
#define IRS_CLI_YDB_STAGE_H

#include <stdbool.h>

#include "increstore.h"

typedef struct irs_ydb_stage {
	char *final;       /* DIR, without trailing slashes */
	char *tmp;         /* the staging directory, or NULL */
	bool append;
} irs_ydb_stage;

/* A new collection: DIR must not exist or be an empty directory (else IRS_EEXIST);
 * creates an empty staging directory. IRS_EIO, IRS_ENOMEM. */
int irs_ydb_stage_new(const char *dir, irs_ydb_stage *s, irs_error *err);

/* Appending to the collection at DIR: a hard-linked copy of it (copied where links are
 * not possible), every directory of it fsynced. */
int irs_ydb_stage_clone(const char *dir, irs_ydb_stage *s, irs_error *err);

/* Puts the staging directory in DIR's place and syncs the parent directory; s->tmp is
 * gone afterwards. */
int irs_ydb_stage_publish(irs_ydb_stage *s, irs_error *err);

/* Removes the staging directory if it is still there, and frees s. */
void irs_ydb_stage_discard(irs_ydb_stage *s);

#endif
