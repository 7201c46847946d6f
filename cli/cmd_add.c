/*
 * cmd_add.c: `increstore add DIR --full|--incremental FILE... [--name NAME]`: one new
 * backup made from row or change files, atomically.
 *
 * ALGORITHM
 *   1. Resolve every FILE argument to a table ("T=path", or just "path" when the
 *      collection has one table) and a format (by extension), and open every file,
 *      so that usage mistakes and missing files fail before anything is written.
 *   2. Begin a backup writer, stream each file into it (import.h), commit.
 *   Any failure, or SIGINT/SIGTERM, aborts the writer: the collection is left exactly
 *   as it was (the writer writes data first and replaces the MANIFEST last).
 *   Tables that get no file: in an incremental, no changes; in a full backup, no rows.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "import.h"

enum { OPT_FULL = 1, OPT_INCREMENTAL, OPT_NAME, OPT_QUIET };

static const irs_cli_opt opts[] = {
	{"--full", false, OPT_FULL},
	{"--incremental", false, OPT_INCREMENTAL},
	{"--name", true, OPT_NAME},
	{"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},
	{NULL, false, 0},
};

typedef struct spec {
	const char *arg;        /* as typed */
	const char *path;       /* the file part ("-" = stdin) */
	const char *shown;      /* the file in messages */
	uint32_t table;
	irs_table_def def;
	irs_import_format fmt;
	int fd;
	irs_import_stats stats;
} spec;

static bool has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), e = strlen(ext);
	return n > e && strcasecmp(path + n - e, ext) == 0;
}

/* Rows: .csv is CSV, anything else (.jsonl, .json, .ndjson, stdin) is JSONL. */
static irs_import_format format_of(const char *path, irs_backup_kind kind)
{
	if (kind == IRS_BACKUP_INCREMENTAL)
		return IRS_IMPORT_CHANGES_JSONL;
	return has_ext(path, ".csv") ? IRS_IMPORT_ROWS_CSV : IRS_IMPORT_ROWS_JSONL;
}

/* Fills s->table/path from s->arg; prints a usage error and returns false on failure. */
static bool resolve(const irs_cli_command *cmd, irs_collection *c, spec *s)
{
	uint32_t ntables = irs_collection_table_count(c);
	const char *eq = strchr(s->arg, '=');
	s->path = s->arg;
	if (eq && eq != s->arg) {
		size_t n = (size_t)(eq - s->arg);
		char *name = strndup(s->arg, n);
		if (!name) {
			irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
			return false;
		}
		int t = irs_collection_find_table(c, name);
		if (t >= 0) {
			s->table = (uint32_t)t;
			s->path = eq + 1;
			free(name);
			if (!*s->path) {
				irs_cli_usage_error(cmd, "'%s': missing the file after '='", s->arg);
				return false;
			}
			return true;
		}
		/* With one table, "a=b.jsonl" may be a file name; otherwise it names a table. */
		if (ntables > 1 || access(s->arg, F_OK) != 0) {
			irs_cli_find_table(cmd, c, name); /* prints the error */
			free(name);
			return false;
		}
		free(name);
	}
	if (ntables != 1) {
		irs_cli_usage_error(cmd,
				    "the collection has %u tables: name the table of each file as "
				    "TABLE=FILE ('%s')",
				    ntables, s->arg);
		return false;
	}
	s->table = 0;
	return true;
}

/*
 * Rewrites a writer error for a repeated key ("DIR: table T: key ... appears twice ...
 * (line A and line B)") to start with the file of table T instead:
 * "FILE: table T: key ... (line A and line B)".
 */
static void name_file_in_error(irs_error *err, const spec *specs, int n)
{
	for (int i = 0; i < n; i++) {
		char pat[IRS_ERROR_MESSAGE_MAX];
		snprintf(pat, sizeof pat, "table %s:", specs[i].def.name);
		const char *at = strstr(err->message, pat);
		if (at) {
			char rest[IRS_ERROR_MESSAGE_MAX];
			snprintf(rest, sizeof rest, "%s", at);
			irs__seterr(err, err->code, "%s: %s", specs[i].shown, rest);
			return;
		}
	}
	if (n == 1)
		irs__errprefix(err, "%s", specs[0].shown);
}

static int run_add(const irs_cli_command *cmd, int argc, char **argv)
{
	irs_cli_parser p;
	irs_cli_parser_init(&p, cmd, argc, argv);
	const char *dir = NULL, *name = NULL;
	int kind = 0;
	bool quiet = false;
	spec *specs = calloc((size_t)argc, sizeof *specs);
	int nspecs = 0;
	if (!specs)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	int rc = IRS_CLI_EXIT_OK;
	for (int o; (o = irs_cli_getopt(&p, opts)) != IRS_CLI_OPT_END;) {
		switch (o) {
		case IRS_CLI_OPT_HELP:
			free(specs);
			return IRS_CLI_EXIT_OK;
		case IRS_CLI_OPT_ERROR:
			free(specs);
			return IRS_CLI_EXIT_USAGE;
		case OPT_FULL:
		case OPT_INCREMENTAL: {
			int k = o == OPT_FULL ? IRS_BACKUP_FULL : IRS_BACKUP_INCREMENTAL;
			if (kind && kind != k) {
				free(specs);
				return irs_cli_usage_error(cmd, "give either --full or --incremental, not both");
			}
			kind = k;
			break;
		}
		case OPT_NAME:
			name = p.arg;
			break;
		case OPT_QUIET:
			quiet = true;
			break;
		case IRS_CLI_OPT_POSITIONAL:
			if (!dir)
				dir = p.arg;
			else
				specs[nspecs++].arg = p.arg;
			break;
		}
	}
	if (!dir) {
		free(specs);
		return irs_cli_usage_error(cmd, "missing the collection directory");
	}
	if (!kind) {
		free(specs);
		return irs_cli_usage_error(cmd, "missing --full or --incremental");
	}
	if (nspecs == 0) {
		free(specs);
		return irs_cli_usage_error(cmd, "%s needs at least one file",
					   kind == IRS_BACKUP_FULL ? "--full" : "--incremental");
	}
	for (int i = 0; i < nspecs; i++)
		specs[i].fd = -1;

	irs_collection *c = NULL;
	irs_backup_writer *w = NULL;
	irs_error err = {0};
	if ((rc = irs_cli_open(dir, 0, &c)) != 0)
		goto out;
	if (name && irs_collection_find_backup(c, name) >= 0) {
		rc = irs_cli_usage_error(cmd, "--name: the collection already has a backup named '%s'",
					 name);
		goto out;
	}

	/* 1. Resolve and open everything first. */
	bool stdin_used = false;
	for (int i = 0; i < nspecs; i++) {
		spec *s = &specs[i];
		if (!resolve(cmd, c, s)) {
			rc = IRS_CLI_EXIT_USAGE;
			goto out;
		}
		for (int j = 0; j < i; j++)
			if (specs[j].table == s->table) {
				irs_table_def d;
				irs_collection_table(c, s->table, &d);
				rc = irs_cli_usage_error(cmd, "table '%s' has two files ('%s' and '%s')",
							 d.name, specs[j].arg, s->arg);
				goto out;
			}
		if (kind == IRS_BACKUP_INCREMENTAL && has_ext(s->path, ".csv")) {
			rc = irs_cli_usage_error(cmd,
						 "'%s': incremental backups take changes as JSONL "
						 "({\"op\": ...} per line), not CSV",
						 s->arg);
			goto out;
		}
		if (irs_collection_table(c, s->table, &s->def) != 0) {
			rc = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot read table %u", dir, s->table);
			goto out;
		}
		s->fmt = format_of(s->path, (irs_backup_kind)kind);
		if (strcmp(s->path, "-") == 0) {
			if (stdin_used) {
				rc = irs_cli_usage_error(cmd, "standard input ('-') is given twice");
				goto out;
			}
			stdin_used = true;
			s->fd = STDIN_FILENO;
			s->shown = "<stdin>";
		} else {
			s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
			if (s->fd < 0) {
				rc = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot open: %s", s->path,
						    strerror(errno));
				goto out;
			}
			s->shown = s->path;
		}
	}

	/* 2. One writer, every file, commit. */
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.collapse_duplicates = kind == IRS_BACKUP_INCREMENTAL;
	if (irs_backup_writer_begin(c, (irs_backup_kind)kind, name, &wo, &w, &err) != 0) {
		rc = irs_cli_fail(&err);
		goto out;
	}
	irs_cli_cancel_install();
	irs_import_sink sink = irs_import_writer_sink(w);
	for (int i = 0; i < nspecs; i++) {
		spec *s = &specs[i];
		irs_import_options io;
		irs_import_options_init(&io);
		io.format = s->fmt;
		io.name = s->shown;
		io.table = s->table;
		io.cancel = &irs_cli_cancelled;
		int irc = irs_import_fd(&s->def, s->fd, &io, &sink, &s->stats, &err);
		if (irc != 0) {
			irs_backup_writer_abort(w);
			w = NULL;
			if (irc == IRS_ECANCELED)
				irs__errprefix(&err, "no backup was added");
			rc = irs_cli_fail(&err);
			goto out;
		}
	}
	if (__atomic_load_n(&irs_cli_cancelled, __ATOMIC_RELAXED)) {
		irs_backup_writer_abort(w);
		w = NULL;
		rc = irs_cli_errorf(IRS_CLI_EXIT_CANCELED, "cancelled: no backup was added");
		goto out;
	}
	int crc = irs_backup_writer_commit(w, &err);
	w = NULL; /* released by commit in every case */
	if (crc != 0) {
		if (crc == IRS_EDUPKEY)
			name_file_in_error(&err, specs, nspecs);
		rc = irs_cli_fail(&err);
		goto out;
	}

	if (!quiet) {
		uint32_t nb = irs_collection_backup_count(c);
		irs_backup_info bi;
		uint64_t ups = 0, ers = 0;
		for (int i = 0; i < nspecs; i++) {
			ups += specs[i].stats.upserts;
			ers += specs[i].stats.erases;
		}
		if (nb && irs_collection_backup(c, nb - 1, &bi) == 0) {
			if (kind == IRS_BACKUP_FULL)
				printf("added full backup %s (#%" PRIu64 "): %" PRIu64 " row%s\n", bi.name,
				       bi.seq, bi.records, bi.records == 1 ? "" : "s");
			else
				printf("added incremental backup %s (#%" PRIu64 "): %" PRIu64
				       " change%s (read %" PRIu64 " upsert%s, %" PRIu64 " erase%s%s)\n",
				       bi.name, bi.seq, bi.records, bi.records == 1 ? "" : "s", ups,
				       ups == 1 ? "" : "s", ers, ers == 1 ? "" : "s",
				       bi.records < ups + ers ? "; repeated keys collapsed" : "");
		}
	}
out:
	if (w)
		irs_backup_writer_abort(w);
	for (int i = 0; i < nspecs; i++)
		if (specs[i].fd > STDIN_FILENO)
			close(specs[i].fd);
	irs_collection_close(c);
	free(specs);
	return rc;
}

const irs_cli_command irs_cli_cmd_add = {
	"add",
	"add a full or incremental backup from JSONL/CSV files",
	"usage: increstore add DIR --full FILE [--name NAME]\n"
	"       increstore add DIR --incremental FILE [--name NAME]\n"
	"       increstore add DIR --full|--incremental TABLE=FILE... [--name NAME]\n"
	"\n"
	"Adds one backup at the end of the collection's chain, atomically: on any error\n"
	"nothing is added. With one table, FILE may be given alone; otherwise name the\n"
	"table of each file as TABLE=FILE. '-' reads JSONL from standard input.\n"
	"\n"
	"--full: rows. A table without a file is empty in this backup.\n"
	"  .csv    CSV with a header line of column names; an unquoted empty field is\n"
	"          NULL, \"\" is the empty string; columns not in the header are NULL\n"
	"  other   JSONL (.jsonl, .json): one object per line, column -> value; an\n"
	"          absent column or null is NULL\n"
	"  Keys must be distinct within the backup.\n"
	"--incremental: changes, JSONL only; a table without a file has no changes.\n"
	"  {\"op\": \"upsert\", \"row\": {...}}   listed columns change (null sets NULL);\n"
	"                                    key columns required\n"
	"  {\"op\": \"erase\", \"key\": {...}}    the key columns\n"
	"  Repeated keys are collapsed in file order.\n"
	"\n"
	"Values: integers as JSON numbers (uint64 up to 18446744073709551615), double as\n"
	"a number or \"NaN\"/\"Infinity\"/\"-Infinity\", bool true/false (CSV also t/f/1/0),\n"
	"utf8 as a string, bytes as a string or {\"base64\": \"...\"} (CSV: raw), timestamp\n"
	"as integer microseconds or RFC 3339 (\"2024-01-01T10:00:00.5Z\", \"...+02:00\").\n"
	"\n"
	"options:\n"
	"  --full          the files hold rows of a full backup\n"
	"  --incremental   the files hold changes of an incremental backup\n"
	"  --name NAME     the backup's name (default: a UTC timestamp that sorts in\n"
	"                  chain order)\n"
	"  -q, --quiet     print nothing on success\n"
	"\n"
	"exit codes: 0 added, 2 usage, 3 invalid input (the message names file:line),\n"
	"4 I/O error or missing file, 5 cancelled\n",
	run_add,
};
