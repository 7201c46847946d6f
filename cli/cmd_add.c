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

/* Rows: .csv is CSV, anything else (.jsonl, .json, .ndjson, stdin) is JSONL. */
static irs_import_format format_of(const char *path, irs_backup_kind kind)
{
	if (kind == IRS_BACKUP_INCREMENTAL)
		return IRS_IMPORT_CHANGES_JSONL;
	return irs_cli_has_ext(path, ".csv") ? IRS_IMPORT_ROWS_CSV : IRS_IMPORT_ROWS_JSONL;
}

/* Fills s->table/path from s->arg; prints a usage error and returns false on failure. */
/* The table whose name is arg[0..n), or -1; false when out of memory. */
static bool table_of_prefix(irs_collection *c, const char *arg, size_t n, int *table)
{
	char *name = strndup(arg, n);
	if (!name) {
		irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
		return false;
	}
	*table = irs_collection_find_table(c, name);
	free(name);
	return true;
}

/*
 * TABLE=FILE: a table name may hold '=' itself (create allows it), so every '=' is a
 * candidate split, and the one whose prefix names a table wins. When several do
 * ("x=y=f" with tables x and x=y), the one whose file exists wins; when both files
 * exist the argument is refused as ambiguous ("x=./y=f" or "x=y=./f" say which was
 * meant), and when neither does the first split is taken, so that opening its file
 * names what is missing. Sets *split to the '=' taken, or NULL when no prefix is a
 * table.
 */
/* Counts the splits of s->arg whose prefix names a table (and, with need_file, whose
 * file exists); *first and *second are the first two found. -1 when out of memory. */
static int count_splits(irs_collection *c, const spec *s, bool need_file, const char **first,
			const char **second, int *first_table)
{
	int found = 0;
	for (const char *e = strchr(s->arg, '='); e; e = strchr(e + 1, '=')) {
		int t;
		if (e == s->arg)
			continue;
		if (!table_of_prefix(c, s->arg, (size_t)(e - s->arg), &t))
			return -1;
		if (t < 0 || (need_file && strcmp(e + 1, "-") != 0 && access(e + 1, F_OK) != 0))
			continue;
		if (found++ == 0) {
			*first = e;
			*first_table = t;
		} else if (found == 2) {
			*second = e;
		}
	}
	return found;
}

static bool find_split(const irs_cli_command *cmd, irs_collection *c, const spec *s,
		       const char **split, int *table)
{
	const char *a = NULL, *b = NULL;
	int first_table = -1;
	*split = NULL;
	int n = count_splits(c, s, false, &a, &b, &first_table);
	if (n < 0)
		return false;
	if (n >= 1) {
		*split = a;
		*table = first_table;
	}
	if (n <= 1)
		return true;
	const char *fa = NULL, *fb = NULL;
	int with_file = count_splits(c, s, true, &fa, &fb, table);
	if (with_file < 0)
		return false;
	if (with_file == 0) {
		*table = first_table;
		return true;
	}
	*split = fa;
	if (with_file == 1)
		return true;
	irs_cli_usage_error(cmd,
			    "'%s' is ambiguous: tables '%.*s' and '%.*s' both match; write the file "
			    "as ./FILE to say where it starts",
			    s->arg, (int)(fa - s->arg), s->arg, (int)(fb - s->arg), s->arg);
	return false;
}

static bool resolve(const irs_cli_command *cmd, irs_collection *c, spec *s)
{
	uint32_t ntables = irs_collection_table_count(c);
	const char *eq = strchr(s->arg, '=');
	s->path = s->arg;
	const char *split;
	int table = -1;
	if (!find_split(cmd, c, s, &split, &table))
		return false;
	if (split) {
		s->table = (uint32_t)table;
		s->path = split + 1;
		if (!*s->path) {
			irs_cli_usage_error(cmd, "'%s': missing the file after '='", s->arg);
			return false;
		}
		return true;
	}
	/* With one table, "a=b.jsonl" may be a file name; otherwise it names a table. */
	if (eq && eq != s->arg && (ntables > 1 || access(s->arg, F_OK) != 0)) {
		char *name = strndup(s->arg, (size_t)(eq - s->arg));
		if (!name) {
			irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
			return false;
		}
		irs_cli_find_table(cmd, c, name); /* prints the error */
		free(name);
		return false;
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

typedef struct add_args {
	int kind;               /* 0 until --full or --incremental */
	const char *name;
	bool quiet;
	spec *specs;            /* one per FILE argument (argc of them fit) */
	int nspecs;
} add_args;

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	add_args *a = ctx;
	switch (id) {
	case OPT_FULL:
	case OPT_INCREMENTAL: {
		int k = id == OPT_FULL ? IRS_BACKUP_FULL : IRS_BACKUP_INCREMENTAL;
		if (a->kind && a->kind != k)
			return irs_cli_usage_error(p->cmd, "give either --full or --incremental, not both");
		a->kind = k;
		break;
	}
	case OPT_NAME: a->name = p->arg; break;
	case OPT_QUIET: a->quiet = true; break;
	case IRS_CLI_OPT_POSITIONAL: a->specs[a->nspecs++].arg = p->arg; break;
	}
	return 0;
}

/* Step 1: resolves every FILE argument to a table and a format and opens it. Returns
 * 0, or the exit code after printing the error. */
static int open_inputs(const irs_cli_command *cmd, irs_collection *c, const char *dir,
		       const add_args *a)
{
	bool stdin_used = false;
	for (int i = 0; i < a->nspecs; i++) {
		spec *s = &a->specs[i];
		if (!resolve(cmd, c, s))
			return IRS_CLI_EXIT_USAGE;
		for (int j = 0; j < i; j++)
			if (a->specs[j].table == s->table) {
				irs_table_def d;
				irs_collection_table(c, s->table, &d);
				return irs_cli_usage_error(cmd, "table '%s' has two files ('%s' and '%s')",
							   d.name, a->specs[j].arg, s->arg);
			}
		if (a->kind == IRS_BACKUP_INCREMENTAL && irs_cli_has_ext(s->path, ".csv"))
			return irs_cli_usage_error(cmd,
						   "'%s': incremental backups take changes as JSONL "
						   "({\"op\": ...} per line), not CSV",
						   s->arg);
		if (irs_collection_table(c, s->table, &s->def) != 0)
			return irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot read table %u", dir, s->table);
		s->fmt = format_of(s->path, (irs_backup_kind)a->kind);
		if (strcmp(s->path, "-") == 0) {
			if (stdin_used)
				return irs_cli_usage_error(cmd, "standard input ('-') is given twice");
			stdin_used = true;
			s->fd = STDIN_FILENO;
			s->shown = "<stdin>";
		} else {
			/* the importer waits for a FIFO's input, checking the cancel flag */
			s->fd = irs_cli_open_input(s->path);
			if (s->fd < 0)
				return irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot open: %s", s->path,
						      strerror(errno));
			s->shown = s->path;
		}
	}
	return 0;
}

/* Step 2: one writer, every file, commit. Any failure or a signal aborts the writer,
 * which leaves the collection as it was. Returns 0 or the exit code. */
static int write_backup(irs_collection *c, const add_args *a)
{
	irs_error err = {0};
	irs_backup_writer *w = NULL;
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.collapse_duplicates = a->kind == IRS_BACKUP_INCREMENTAL;
	wo.cancel = &irs_cli_cancelled; /* a signal during the commit adds nothing */
	if (irs_backup_writer_begin(c, (irs_backup_kind)a->kind, a->name, &wo, &w, &err) != 0)
		return irs_cli_fail(&err);
	irs_import_sink sink = irs_import_writer_sink(w);
	for (int i = 0; i < a->nspecs; i++) {
		spec *s = &a->specs[i];
		irs_import_options io;
		irs_import_options_init(&io);
		io.format = s->fmt;
		io.name = s->shown;
		io.table = s->table;
		io.cancel = &irs_cli_cancelled;
		int irc = irs_import_fd(&s->def, s->fd, &io, &sink, &s->stats, &err);
		if (irc != 0) {
			irs_backup_writer_abort(w);
			if (irc == IRS_ECANCELED)
				irs__errprefix(&err, "no backup was added");
			return irs_cli_fail(&err);
		}
	}
	if (__atomic_load_n(&irs_cli_cancelled, __ATOMIC_RELAXED)) {
		irs_backup_writer_abort(w);
		return irs_cli_errorf(IRS_CLI_EXIT_CANCELED, "cancelled: no backup was added");
	}
	int crc = irs_backup_writer_commit(w, &err); /* releases w in every case */
	if (crc != 0) {
		if (crc == IRS_EDUPKEY)
			name_file_in_error(&err, a->specs, a->nspecs);
		return irs_cli_fail(&err);
	}
	return 0;
}

/* "added full backup NAME (#SEQ): N rows" or "added incremental backup ...". */
static void print_added(const irs_collection *c, const add_args *a)
{
	uint32_t nb = irs_collection_backup_count(c);
	irs_backup_info bi;
	uint64_t ups = 0, ers = 0;
	for (int i = 0; i < a->nspecs; i++) {
		ups += a->specs[i].stats.upserts;
		ers += a->specs[i].stats.erases;
	}
	if (!nb || irs_collection_backup(c, nb - 1, &bi) != 0)
		return;
	if (a->kind == IRS_BACKUP_FULL)
		printf("added full backup %s (#%" PRIu64 "): %" PRIu64 " row%s\n", bi.name, bi.seq,
		       bi.records, bi.records == 1 ? "" : "s");
	else
		printf("added incremental backup %s (#%" PRIu64 "): %" PRIu64 " change%s (read %" PRIu64
		       " upsert%s, %" PRIu64 " erase%s%s)\n",
		       bi.name, bi.seq, bi.records, bi.records == 1 ? "" : "s", ups, ups == 1 ? "" : "s",
		       ers, ers == 1 ? "" : "s", bi.records < ups + ers ? "; repeated keys collapsed" : "");
}

/* Opens the collection, then steps 1 and 2. Returns 0 or the exit code. */
static int add_backup(const irs_cli_command *cmd, const char *dir, const add_args *a)
{
	irs_collection *c = NULL;
	int rc = irs_cli_open(dir, 0, &c);
	if (rc)
		return rc;
	if (a->name && irs_collection_find_backup(c, a->name) >= 0)
		rc = irs_cli_usage_error(cmd, "--name: the collection already has a backup named '%s'",
					 a->name);
	if (!rc)
		rc = open_inputs(cmd, c, dir, a);
	if (!rc)
		rc = write_backup(c, a);
	if (!rc && !a->quiet)
		print_added(c, a);
	irs_collection_close(c);
	return rc;
}

static int run_add(const irs_cli_command *cmd, int argc, char **argv)
{
	add_args a = {0};
	a.specs = calloc((size_t)argc, sizeof *a.specs);
	if (!a.specs)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	for (int i = 0; i < argc; i++)
		a.specs[i].fd = -1;
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &a, .more_args = true};
	int rc = irs_cli_parse_args(cmd, argc, argv, &args);
	if (rc == IRS_CLI_ARGS_OK) {
		if (!a.kind)
			rc = irs_cli_usage_error(cmd, "missing --full or --incremental");
		else if (a.nspecs == 0)
			rc = irs_cli_usage_error(cmd, "%s needs at least one file",
						 a.kind == IRS_BACKUP_FULL ? "--full" : "--incremental");
		else
			rc = add_backup(cmd, args.dir, &a);
	}
	for (int i = 0; i < a.nspecs; i++)
		if (a.specs[i].fd > STDIN_FILENO)
			close(a.specs[i].fd);
	free(a.specs);
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
	"TABLE may hold '=': the split whose prefix names a table is taken, and of\n"
	"two such splits the one whose file exists (write ./FILE to settle it).\n"
	"\n"
	"--full: rows. A table without a file is empty in this backup.\n"
	"  .csv    CSV with a header line of column names; an unquoted empty field is\n"
	"          NULL, \"\" is the empty string; columns not in the header are NULL\n"
	"  other   JSONL (.jsonl, .json): one object per line, column -> value; an\n"
	"          absent column or null is NULL\n"
	"  Keys must be distinct within the backup. An empty file is an empty table.\n"
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
	true, /* cancellable */
};
