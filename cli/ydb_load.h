/*
 * ydb_load.h (private to the CLI): streaming one table of one YDB backup (its
 * data_N.csv files) into an increstore backup writer.
 *
 * A full backup's rows become full rows. An incremental backup's rows become changes by
 * YDB's restore rule (ydb_change.h). When the rule needs column-state tags
 * (generations 2 and 3), the files are read twice: first only the system columns, to
 * collect the tags and recover the tag -> column map, then everything. Files are read
 * in chunks; a line may be at most max_line bytes, so memory does not grow with the
 * file size.
 *
 * ERRORS name the data file and line: "FILE:LINE: field K (column C, Type): reason",
 * "FILE:LINE: N fields, but the table has M columns", "FILE:LINE: key column C is
 * NULL", ... (IRS_EINPUT), IRS_EIO, IRS_ENOMEM, IRS_ECANCELED, or the writer's code
 * with its message prefixed by "FILE:LINE: ".
 *
 * TAGS: each change is passed to the writer with tag = (file index + 1) << 40 | line,
 * so a writer error found later (a key twice in one backup, at commit) can be turned
 * back into file names and lines with irs_ydb_load_rewrite_lines.
 */
#ifndef IRS_CLI_YDB_LOAD_H
#define IRS_CLI_YDB_LOAD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"
#include "ydb_change.h"
#include "ydb_scheme.h"

typedef struct irs_ydb_load {
	irs_backup_writer *w;
	uint32_t table;                 /* the collection's table index */
	uint32_t ncols;                 /* the collection table's column count */
	const irs_ydb_scheme *scheme;   /* this backup's scheme.pb of the table */
	const uint32_t *target;         /* per scheme column: collection column, or
					 * IRS_YDB_NOT_MAPPED for a system column */
	const irs_ydb_sys *sys;         /* incremental: its system columns; NULL: a full backup */
	const char *const *files;       /* data files in order */
	uint32_t nfiles;
	size_t max_line;                /* 0 = 64 MiB */
	const volatile sig_atomic_t *cancel; /* may be NULL */
	const char *label;              /* "backup B: table T", for errors not about one line */
	/* filled in */
	uint64_t rows;                  /* lines read (second pass only) */
	uint64_t upserts, erases;       /* changes passed to the writer */
	uint64_t bytes;                 /* data bytes read (second pass only) */
} irs_ydb_load;

/* Streams every file of l into l->w. Thread: any; self-contained. */
int irs_ydb_load_table(irs_ydb_load *l, irs_error *err);

/*
 * Rewrites every "line N" in err's message, where N is a tag this module made for the
 * files of one table, as "FILE:LINE". Other numbers are left alone.
 */
void irs_ydb_load_rewrite_lines(irs_error *err, const char *const *files, uint32_t nfiles);

#endif
