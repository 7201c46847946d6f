/*
 * cmd_import_ydb.c: `increstore import-ydb DUMP DIR [--append]`: a collection made from
 * a YDB backup collection dumped with `ydb tools dump -p .backups/collections/<name>`.
 *
 * ALGORITHM
 *   1. Walk DUMP (ydb_dump.h) and plan the import (ydb_plan.h): which backups, the
 *      tables and their columns. Every refusal about the dump's structure happens here,
 *      before anything is written.
 *   2. Stage (ydb_stage.h): a new, empty directory next to DIR, or a hard-linked copy
 *      of DIR with --append.
 *   3. For each backup in name order: one backup writer, every table streamed into it
 *      (ydb_load.h), commit.
 *   4. Put the staging directory in DIR's place with one rename.
 *   Any failure, or SIGINT/SIGTERM, discards the staging directory: no collection is
 *   created, or DIR stays exactly as it was.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/cli_support.h"
#include "ydb_dump.h"
#include "ydb_load.h"
#include "ydb_plan.h"
#include "ydb_stage.h"

enum { OPT_APPEND = 1, OPT_QUIET };

static const irs_cli_opt opts[] = {
	{"--append", false, OPT_APPEND},
	{"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},
	{NULL, false, 0},
};

typedef struct totals {
	uint64_t rows, upserts, erases, bytes;
	uint32_t fulls, incrementals;
} totals;

/* Turns a commit error's "line N" tags back into files and lines, drops the staging
 * directory the writer names, and names the backup. */
static void explain_commit_error(irs_error *err, const irs_ydb_plan_backup *b, const char *staging)
{
	size_t n = strlen(staging);
	if (strncmp(err->message, staging, n) == 0 && strncmp(err->message + n, ": ", 2) == 0)
		memmove(err->message, err->message + n + 2, strlen(err->message + n + 2) + 1);
	for (uint32_t k = 0; k < b->ntables; k++) {
		const irs_ydb_dump_table *t = b->tables[k].dump;
		char pat[300];
		snprintf(pat, sizeof pat, "table %s:", t->name);
		if (strstr(err->message, pat)) {
			irs_ydb_load_rewrite_lines(err, (const char *const *)t->files, t->nfiles);
			break;
		}
	}
	irs__errprefix(err, "backup %s", b->dump->name);
}

/* Writes one backup into c. */
static int import_backup(irs_collection *c, const irs_ydb_plan *p, const irs_ydb_plan_backup *b,
			 const char *staging, totals *tot, irs_error *err)
{
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.collapse_duplicates = 0; /* a YDB table has each key once: a repeat is damage */
	wo.cancel = &irs_cli_cancelled;
	irs_backup_writer *w;
	int rc = irs_backup_writer_begin(c, b->dump->kind, b->dump->name, &wo, &w, err);
	if (rc)
		return rc;
	for (uint32_t k = 0; k < b->ntables; k++) {
		const irs_ydb_plan_table *t = &b->tables[k];
		char label[600];
		snprintf(label, sizeof label, "backup %s: table %s", b->dump->name, t->dump->name);
		irs_ydb_load l = {
			.w = w,
			.table = t->table,
			.ncols = p->tables[t->table].column_count,
			.scheme = &t->scheme,
			.target = t->target,
			.sys = b->dump->kind == IRS_BACKUP_INCREMENTAL ? &t->sys : NULL,
			.files = (const char *const *)t->dump->files,
			.nfiles = t->dump->nfiles,
			.cancel = &irs_cli_cancelled,
			.label = label,
		};
		rc = irs_ydb_load_table(&l, err);
		tot->rows += l.rows;
		tot->upserts += l.upserts;
		tot->erases += l.erases;
		tot->bytes += l.bytes;
		if (rc) {
			irs_backup_writer_abort(w);
			return rc;
		}
	}
	rc = irs_backup_writer_commit(w, err);
	if (rc)
		explain_commit_error(err, b, staging);
	return rc;
}

/* Creates (or, appending, opens) the staged collection and writes every planned backup. */
static int write_all(const irs_ydb_plan *p, const irs_ydb_stage *st, bool quiet, totals *tot,
		     irs_error *err)
{
	int rc = 0;
	if (!st->append)
		rc = irs_collection_create(st->tmp, p->tables, p->ntables, err);
	irs_collection *c = NULL;
	if (!rc)
		rc = irs_collection_open(st->tmp, NULL, 0, &c, err);
	for (uint32_t i = 0; !rc && i < p->nbackups; i++) {
		const irs_ydb_plan_backup *b = &p->backups[i];
		if (__atomic_load_n(&irs_cli_cancelled, __ATOMIC_RELAXED)) {
			rc = irs__seterr(err, IRS_ECANCELED, "cancelled");
			break;
		}
		double t0 = irs_cli_now_s();
		uint64_t rows0 = tot->rows, bytes0 = tot->bytes;
		rc = import_backup(c, p, b, st->tmp, tot, err);
		if (rc)
			break;
		if (b->dump->kind == IRS_BACKUP_FULL)
			tot->fulls++;
		else
			tot->incrementals++;
		double el = irs_cli_now_s() - t0;
		if (!quiet) {
			char sz[32];
			fprintf(stderr, "imported %s backup %s (%u/%u): %" PRIu64 " %s, %s in %.2f s (%.1f MB/s)\n",
				irs_cli_kind_name(b->dump->kind), b->dump->name, i + 1, p->nbackups,
				tot->rows - rows0, b->dump->kind == IRS_BACKUP_FULL ? "rows" : "changes",
				irs_cli_format_bytes(tot->bytes - bytes0, sz), el,
				el > 0 ? (double)(tot->bytes - bytes0) / el / 1e6 : 0.0);
		}
	}
	irs_collection_close(c);
	return rc;
}

static void print_summary(const char *dump, const char *dir, const irs_ydb_plan *p, bool append,
			  const totals *tot, double secs)
{
	char sz[32];
	printf("%s %u backup%s (%u full + %u incremental) from %s %s %s: %" PRIu64 " rows read, %" PRIu64
	       " upserts, %" PRIu64 " erases, %s in %.2f s (%.1f MB/s)\n",
	       append ? "appended" : "imported", p->nbackups, p->nbackups == 1 ? "" : "s", tot->fulls,
	       tot->incrementals, dump, append ? "to" : "into", dir, tot->rows, tot->upserts, tot->erases,
	       irs_cli_format_bytes(tot->bytes, sz), secs, secs > 0 ? (double)tot->bytes / secs / 1e6 : 0.0);
	printf("  %u table%s:", p->ntables, p->ntables == 1 ? "" : "s");
	for (uint32_t t = 0; t < p->ntables; t++)
		printf("%s %s", t ? "," : "", p->tables[t].name);
	printf("\n");
}

/* A failure after SIGINT/SIGTERM, whatever failed, is the cancellation (exit 5):
 * scanning and planning do not stop for a signal, and nothing exists yet. */
static int fail_or_cancelled(irs_error *err, bool append)
{
	if (err->code == IRS_ECANCELED || __atomic_load_n(&irs_cli_cancelled, __ATOMIC_RELAXED))
		irs__seterr(err, IRS_ECANCELED, "cancelled: %s",
			    append ? "the collection is unchanged" : "no collection was created");
	return irs_cli_fail(err);
}

static int run_import_ydb(const irs_cli_command *cmd, int argc, char **argv)
{
	irs_cli_parser ps;
	irs_cli_parser_init(&ps, cmd, argc, argv);
	const char *dump = NULL, *dir = NULL;
	bool append = false, quiet = false;
	for (int o; (o = irs_cli_getopt(&ps, opts)) != IRS_CLI_OPT_END;) {
		switch (o) {
		case IRS_CLI_OPT_HELP: return IRS_CLI_EXIT_OK;
		case IRS_CLI_OPT_ERROR: return IRS_CLI_EXIT_USAGE;
		case OPT_APPEND: append = true; break;
		case OPT_QUIET: quiet = true; break;
		case IRS_CLI_OPT_POSITIONAL:
			if (!dump)
				dump = ps.arg;
			else if (!dir)
				dir = ps.arg;
			else
				return irs_cli_usage_error(cmd, "unexpected argument '%s'", ps.arg);
			break;
		}
	}
	if (!dump)
		return irs_cli_usage_error(cmd, "missing the dump directory");
	if (!dir)
		return irs_cli_usage_error(cmd, "missing the collection directory");
	double t0 = irs_cli_now_s();

	irs_error err = {0};
	irs_ydb_dump d;
	if (irs_ydb_dump_scan(dump, &d, &err))
		return fail_or_cancelled(&err, append);
	irs_collection *existing = NULL;
	int rc = append ? irs_cli_open(dir, 0, &existing) : 0;
	if (rc) {
		irs_ydb_dump_free(&d);
		return rc;
	}
	irs_ydb_plan p;
	int prc = irs_ydb_plan_make(&d, existing, &p, &err);
	irs_collection_close(existing);
	if (prc) {
		irs_ydb_dump_free(&d);
		return fail_or_cancelled(&err, append);
	}
	if (append && p.nbackups == 0) {
		if (!quiet)
			printf("%s is up to date with %s: it has all %u of its backups\n", dir, dump, p.skipped);
		irs_ydb_plan_free(&p);
		irs_ydb_dump_free(&d);
		return IRS_CLI_EXIT_OK;
	}

	irs_ydb_stage st;
	totals tot = {0};
	int src = append ? irs_ydb_stage_clone(dir, &st, &err) : irs_ydb_stage_new(dir, &st, &err);
	if (!src)
		src = write_all(&p, &st, quiet, &tot, &err);
	if (!src && __atomic_load_n(&irs_cli_cancelled, __ATOMIC_RELAXED))
		src = irs__seterr(&err, IRS_ECANCELED, "cancelled");
	if (!src)
		src = irs_ydb_stage_publish(&st, &err);
	irs_ydb_stage_discard(&st);
	if (src) {
		if (src == IRS_ECANCELED)
			err.code = IRS_ECANCELED;
		rc = fail_or_cancelled(&err, append);
	} else if (!quiet) {
		print_summary(dump, dir, &p, append, &tot, irs_cli_now_s() - t0);
	}
	irs_ydb_plan_free(&p);
	irs_ydb_dump_free(&d);
	return rc;
}

const irs_cli_command irs_cli_cmd_import_ydb = {
	"import-ydb",
	"import a YDB backup collection dumped by `ydb tools dump`",
	"usage: increstore import-ydb DUMP DIR [--append] [--quiet]\n"
	"\n"
	"Creates the collection DIR from a YDB backup collection that the YDB CLI dumped to\n"
	"DUMP with\n"
	"    ydb tools dump -p .backups/collections/<name> -o DUMP\n"
	"(an `ydb export s3` tree copied to disk has the same shape). DIR must not exist or\n"
	"be an empty directory.\n"
	"\n"
	"  backups   every DUMP/<timestamp>_full and DUMP/<timestamp>_incremental directory,\n"
	"            in name order, named after the directory; the first must be full\n"
	"  tables    every directory holding a scheme.pb, named by its path inside the\n"
	"            backup (Orders, DirA/TableA); columns and primary key from the full\n"
	"            backup's scheme.pb; a table missing from a full backup is empty in it\n"
	"  rows      data_N.csv files as the YDB CLI writes them, read in streaming\n"
	"  changes   an incremental backup's rows become upserts and erases exactly as YDB\n"
	"            restores them (every generation of its __ydb_incrBackupImpl_ columns)\n"
	"  types     Bool; Int8/16/32 -> int32; Int64, Interval (us) -> int64;\n"
	"            Uint8/16/32 -> uint32; Uint64; Float, Double -> double; Utf8, Json,\n"
	"            JsonDocument -> utf8; String, Yson -> bytes; Date, Datetime, Timestamp\n"
	"            -> timestamp. Other types (Decimal, Uuid, DyNumber, Tz*, Date32 and the\n"
	"            other 64-bit time types, Pg, containers) are refused.\n"
	"  skipped   __ydb_backup_meta (index backups), permissions.pb, changefeeds\n"
	"  refused   a dump holding `incomplete` files, compressed (.zst) or encrypted\n"
	"            (.enc) files, a table whose columns or key change between backups,\n"
	"            an incremental backup before any full backup\n"
	"\n"
	"All or nothing: the backups are written to a staging directory next to DIR\n"
	"(.<name>.import-XXXXXX) that replaces DIR only when everything succeeded.\n"
	"\n"
	"options:\n"
	"  --append      DIR is a collection imported earlier: import only the backups of\n"
	"                DUMP after its last one. Refused when the chains diverge (a backup\n"
	"                on one side only, or of another kind, up to DIR's last backup);\n"
	"                DIR's tables cannot change. On failure DIR is left as it was.\n"
	"  -q, --quiet   no progress lines and no summary\n"
	"\n"
	"Progress: one line per backup on stderr. SIGINT/SIGTERM stop the import (exit 5)\n"
	"and discard it.\n"
	"\n"
	"exit codes: 0 imported (or already up to date), 2 usage, 3 invalid, incomplete or\n"
	"unsupported dump (the message names the backup, table, file, line or column), 4\n"
	"I/O error, missing DUMP, DIR already exists, 5 cancelled\n",
	run_import_ydb,
	true, /* cancellable */
};
