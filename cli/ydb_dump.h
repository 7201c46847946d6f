/*
 * ydb_dump.h (private to the CLI): finding the backups, tables and data files of a YDB
 * backup collection dumped with `ydb tools dump -p .backups/collections/<name> -o DUMP`
 * (or copied from `ydb export s3`, which has the same shape).
 *
 * LAYOUT
 *   DUMP/<name>_full/ and DUMP/<name>_incremental/   one backup each, in name order
 *     .../<path>/scheme.pb                           a table, named <path> ("DirA/TableA")
 *     .../<path>/data_<N>.csv                        its rows, N in numeric order
 * Skipped: every __ydb_backup_meta subtree (index backups), permissions.pb,
 * metadata.json, *.sha256, and the subdirectories of a table directory (changefeeds).
 * Other entries at the top of DUMP are ignored.
 *
 * REFUSED (IRS_EINPUT, naming the path): a file named `incomplete` or `incomplete.csv`
 * anywhere (a dump still running or kept after a failure), a compressed data file
 * (data_N.csv.zst) or an encrypted one (*.enc), data files in a directory without
 * scheme.pb, two data files with the same number, directories nested deeper than 64,
 * and a DUMP without any backup directory.
 */
#ifndef IRS_CLI_YDB_DUMP_H
#define IRS_CLI_YDB_DUMP_H

#include <stdint.h>

#include "increstore.h"

typedef struct irs_ydb_dump_table {
	char *name;             /* path relative to the backup directory */
	char *dir;              /* the table's directory */
	char **files;           /* data files, numeric order, full paths */
	uint32_t nfiles;
	uint64_t bytes;         /* size of the data files */
} irs_ydb_dump_table;

typedef struct irs_ydb_dump_backup {
	char *name;             /* the directory's name ("20250101000000Z_full") */
	irs_backup_kind kind;
	char *dir;
	irs_ydb_dump_table *tables; /* sorted by name (bytewise) */
	uint32_t ntables;
} irs_ydb_dump_backup;

typedef struct irs_ydb_dump {
	irs_ydb_dump_backup *backups; /* sorted by name (bytewise) */
	uint32_t nbackups;
} irs_ydb_dump;

/* Walks DUMP. Errors: IRS_EIO (cannot read), IRS_EINPUT (see REFUSED), IRS_ENOMEM. */
int irs_ydb_dump_scan(const char *root, irs_ydb_dump *out, irs_error *err);

/* Releases what a scan filled in; NULL is a no-op. */
void irs_ydb_dump_free(irs_ydb_dump *d);

/* The table of backup b named name, or NULL. */
const irs_ydb_dump_table *irs_ydb_dump_find_table(const irs_ydb_dump_backup *b, const char *name);

#endif
