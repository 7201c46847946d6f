/*
 * cmd_diff.c: `increstore diff DIR --from A --to B [--table T] --out F.jsonl|DIR/|-`:
 * the net changes between two backups (irs_collection_diff) as the changes JSONL that
 * `add --incremental` reads: {"op": "upsert", "row": {every column}} for a row new or
 * different at B, {"op": "erase", "key": {the key columns}} for a row gone at B.
 *
 * OUTPUT: one file (one table: the collection's only one, or --table), or DIR/ with
 * DIR/<table>.jsonl for every table (an empty file for a table without changes), so
 * `add --incremental T1=DIR/T1.jsonl T2=DIR/T2.jsonl` takes them all. Each file is
 * written to a temporary name beside it and renamed into place only when the whole
 * diff succeeded; on failure nothing is left. Values are in the text forms of
 * engine/textout.h, which the importer reads back exactly (NaN payloads aside).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_FROM = 1, OPT_TO, OPT_TABLE, OPT_OUT, OPT_SHARDS, OPT_LIMIT, OPT_NOCHECK, OPT_QUIET };

static const irs_cli_opt opts[] = {
	{"--from", true, OPT_FROM},         {"--to", true, OPT_TO},
	{"--table", true, OPT_TABLE},       {"--out", true, OPT_OUT},
	{"--shards", true, OPT_SHARDS},     {"--memory-limit", true, OPT_LIMIT},
	{"--no-check-expected", false, OPT_NOCHECK},
	{"--quiet", false, OPT_QUIET},      {"-q", false, OPT_QUIET},
	{NULL, false, 0},
};

typedef struct diff_args {
	const char *dir, *from, *to, *table, *out;
	uint64_t shards, limit;
	bool quiet, check;
} diff_args;

/* One output file: a table's changes. */
typedef struct out_file {
	char *path, *tmp;           /* tmp NULL for stdout */
	char *made;                 /* the shallowest directory made for it, or NULL */
	FILE *f;
	uint64_t upserts, erases;
} out_file;

/* The diff callback's state. */
typedef struct diff_out {
	const irs_collection *c;
	out_file *files;            /* per collection table; f NULL = not written */
	irs_textbuf line;
	int io_errno;               /* a failed write */
	const char *io_path;        /* and the file it was for */
	double write_s;             /* time spent formatting and writing lines */
} diff_out;

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	diff_args *a = ctx;
	bool ok = true;
	switch (id) {
	case OPT_FROM: a->from = p->arg; break;
	case OPT_TO: a->to = p->arg; break;
	case OPT_TABLE: a->table = p->arg; break;
	case OPT_OUT: a->out = p->arg; break;
	case OPT_SHARDS: ok = irs_cli_parse_u64(p, p->arg, 1, 256, &a->shards); break;
	case OPT_LIMIT: ok = irs_cli_parse_size(p, p->arg, 1, UINT64_MAX, &a->limit); break;
	case OPT_NOCHECK: a->check = false; break;
	case OPT_QUIET: a->quiet = true; break;
	}
	return ok ? 0 : IRS_CLI_EXIT_USAGE;
}

/* {"name": value, ...} of the columns of t whose value in row is not ABSENT. */
static int put_object(irs_textbuf *b, const irs_schema_table *t, const irs_value *row)
{
	int rc = irs__textbuf_put(b, "{", 1);
	bool first = true;
	for (uint32_t c = 0; !rc && c < t->ncols; c++) {
		if (row[c].state == IRS_VALUE_ABSENT)
			continue;
		if (!first)
			rc = irs__textbuf_put(b, ", ", 2);
		first = false;
		if (!rc)
			rc = irs__text_json_string(b, t->cols[c].name, strlen(t->cols[c].name));
		if (!rc)
			rc = irs__textbuf_put(b, ": ", 2);
		if (!rc)
			rc = irs__text_json_value(b, t->cols[c].type, &row[c]);
	}
	return rc ? rc : irs__textbuf_put(b, "}", 1);
}

static int on_change(void *ctx, uint32_t table, irs_diff_op op, const irs_value *row)
{
	diff_out *d = ctx;
	out_file *of = &d->files[table];
	if (!of->f)
		return 0;
	double t0 = irs_cli_now_s();
	irs_textbuf *b = &d->line;
	irs__textbuf_reset(b);
	const char *head = op == IRS_DIFF_UPSERT ? "{\"op\": \"upsert\", \"row\": " : "{\"op\": \"erase\", \"key\": ";
	int rc = irs__textbuf_put(b, head, strlen(head));
	if (!rc)
		rc = put_object(b, &d->c->tables[table], row);
	if (!rc)
		rc = irs__textbuf_put(b, "}\n", 2);
	if (rc)
		return rc;
	if (fwrite(b->data, 1, b->len, of->f) != b->len) {
		d->io_errno = errno ? errno : EIO;
		d->io_path = of->tmp ? of->path : "standard output";
		return IRS_EIO;
	}
	if (op == IRS_DIFF_UPSERT)
		of->upserts++;
	else
		of->erases++;
	d->write_s += irs_cli_now_s() - t0;
	return 0;
}

/* Opens table t's output at `path` (a temporary beside it; "-" = stdout). */
static int open_out(out_file *of, const char *path)
{
	if (strcmp(path, "-") == 0) {
		of->f = stdout;
		of->path = strdup(path);
		return of->path ? 0 : irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	}
	size_t n = strlen(path) + 32;
	of->path = strdup(path);
	of->tmp = malloc(n);
	if (!of->path || !of->tmp)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	snprintf(of->tmp, n, "%s.tmp-%ld", path, (long)getpid());
	of->f = fopen(of->tmp, "we");
	if (!of->f)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot create: %s", of->path, strerror(errno));
	setvbuf(of->f, NULL, _IOFBF, 1 << 20);
	return 0;
}

/* Opens the outputs --out and --table ask for (usage errors before anything exists). */
static int open_outputs(const irs_cli_command *cmd, const diff_args *a, diff_out *d, int table)
{
	uint32_t nt = irs_collection_table_count(d->c);
	size_t n = strlen(a->out);
	if (n == 0 || a->out[n - 1] != '/') {
		if (table < 0 && nt > 1)
			return irs_cli_usage_error(cmd,
						   "--out %s: the collection has %u tables; name one with --table, or give "
						   "a directory ending in '/' for one file per table",
						   a->out, nt);
		return open_out(&d->files[table < 0 ? 0 : table], a->out);
	}
	int ec = irs_cli_check_table_paths(cmd, d->c, table, ".jsonl");
	if (ec)
		return ec;
	for (uint32_t t = 0; t < nt; t++) {
		if (table >= 0 && (uint32_t)table != t)
			continue;
		char path[8192];
		snprintf(path, sizeof path, "%s%s.jsonl", a->out, d->c->tables[t].name);
		ec = irs_cli_make_parents(path, &d->files[t].made);
		if (!ec)
			ec = open_out(&d->files[t], path);
		if (ec)
			return ec;
	}
	return 0;
}

/* Closes every output; on success renames the temporaries into place, else removes
 * them. Returns the first failure's exit code (0 when all went well). The paths stay
 * for the summary: free_outputs releases them. */
static int close_outputs(diff_out *d, bool ok)
{
	int ec = 0;
	for (uint32_t t = 0; t < irs_collection_table_count(d->c); t++) {
		out_file *of = &d->files[t];
		if (of->f && of->f != stdout) {
			if (fclose(of->f) != 0 && ok && !ec)
				ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: write failed: %s", of->path, strerror(errno));
			if (ok && !ec && rename(of->tmp, of->path) != 0)
				ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: rename failed: %s", of->path, strerror(errno));
		} else if (of->f == stdout && fflush(stdout) != 0 && ok && !ec) {
			ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "standard output: write failed: %s", strerror(errno));
		}
		of->f = NULL;
	}
	for (uint32_t t = irs_collection_table_count(d->c); t-- > 0;) {
		out_file *of = &d->files[t];
		if (of->tmp && (!ok || ec))
			unlink(of->tmp);
		/* in reverse, so a table's directories go before those an earlier table made above them */
		if ((!ok || ec) && of->path)
			irs_cli_unmake_parents(of->path, of->made);
		else
			free(of->made);
		of->made = NULL;
	}
	return ec;
}

static void free_outputs(diff_out *d)
{
	for (uint32_t t = 0; d->files && t < irs_collection_table_count(d->c); t++) {
		free(d->files[t].path);
		free(d->files[t].tmp);
	}
	free(d->files);
}

static void print_summary(const diff_args *a, const diff_out *d, const irs_diff_stats *st, double secs)
{
	FILE *o = strcmp(a->out, "-") == 0 ? stderr : stdout;
	fprintf(o, "diff %s from %s to %s: %llu upserts, %llu erases; %llu keys compared (%s), %.3f s\n", a->dir,
		a->from, a->to, (unsigned long long)st->upserts, (unsigned long long)st->erases,
		(unsigned long long)st->keys,
		st->whole_tables ? "whole tables: a full backup lies in between" : "the keys the incrementals touched",
		secs);
	fprintf(o, "  time: %.3f s reading the incrementals for their keys, %.3f s restoring, %.3f s "
		   "comparing and writing (%.3f s of it formatting and writing JSONL); peak %.1f MiB allocated\n",
		(double)st->collect_ns / 1e9, (double)st->restore_ns / 1e9, (double)st->compare_ns / 1e9, d->write_s,
		(double)st->peak_bytes / (1 << 20));
	for (uint32_t t = 0; t < irs_collection_table_count(d->c); t++) {
		const out_file *of = &d->files[t];
		if (of->path)
			fprintf(o, "  table %s: %llu upserts, %llu erases: wrote %s\n", d->c->tables[t].name,
				(unsigned long long)of->upserts, (unsigned long long)of->erases, of->path);
	}
}

/* Checks --from, --to and --table against the collection; usage errors exit 2. */
static int check_args(const irs_cli_command *cmd, diff_args *a, const irs_collection *c, int *table)
{
	if (!a->from)
		return irs_cli_usage_error(cmd, "--from NAME is required");
	if (!a->out)
		return irs_cli_usage_error(cmd, "--out PATH is required (a .jsonl file, DIR/ or '-')");
	int f = irs_collection_find_backup(c, a->from);
	if (f < 0)
		return irs_cli_usage_error(cmd, "--from %s: no backup of that name in %s", a->from, a->dir);
	uint32_t nb = irs_collection_backup_count(c);
	int t = a->to ? irs_collection_find_backup(c, a->to) : (int)nb - 1;
	if (t < 0)
		return irs_cli_usage_error(cmd, "--to %s: no backup of that name in %s", a->to, a->dir);
	irs_backup_info bi;
	irs_collection_backup(c, (uint32_t)t, &bi);
	a->to = bi.name;
	if (f > t)
		return irs_cli_usage_error(cmd, "--from %s (backup #%d) comes after --to %s (backup #%d)", a->from,
					   f + 1, a->to, t + 1);
	*table = -1;
	if (a->table && (*table = irs_cli_find_table(cmd, c, a->table)) < 0)
		return IRS_CLI_EXIT_USAGE;
	return 0;
}

static int run_diff(const irs_cli_command *cmd, int argc, char **argv)
{
	diff_args a = {.check = true};
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &a};
	int ec = irs_cli_parse_args(cmd, argc, argv, &args);
	if (ec != IRS_CLI_ARGS_OK)
		return ec;
	a.dir = args.dir;
	irs_collection *c;
	if ((ec = irs_cli_open(a.dir, 0, &c)) != 0)
		return ec;
	int table = -1;
	diff_out d = {.c = c};
	irs__textbuf_init(&d.line, NULL);
	if ((ec = check_args(cmd, &a, c, &table)) == 0) {
		d.files = calloc(irs_collection_table_count(c), sizeof *d.files);
		ec = d.files ? open_outputs(cmd, &a, &d, table) : irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	}
	if (ec) {
		if (d.files)
			close_outputs(&d, false);
		free_outputs(&d);
		irs__textbuf_free(&d.line);
		irs_collection_close(c);
		return ec;
	}
	irs_diff_options o;
	irs_diff_options_init(&o, IRS_DIFF_OPTIONS_VERSION);
	o.shards = (uint32_t)a.shards;
	const char *tables[1] = {a.table};
	if (a.table) {
		o.tables = tables;
		o.table_count = 1;
	}
	o.cancel = (const volatile int *)&irs_cli_cancelled;
	o.memory_limit = a.limit;
	o.check_expected = a.check;
	irs_diff_stats st;
	irs_error err;
	double t0 = irs_cli_now_s();
	int rc = irs_collection_diff(c, a.from, a.to, &o, NULL, on_change, &d, &st, &err);
	double secs = irs_cli_now_s() - t0;
	if (rc == IRS_EIO && d.io_errno)
		ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: writing the diff: %s", d.io_path, strerror(d.io_errno));
	else if (rc == IRS_ENOMEM && !err.code)
		ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory writing the diff");
	else if (rc)
		ec = irs_cli_fail(&err);
	int cec = close_outputs(&d, rc == 0);
	if (!ec)
		ec = cec;
	if (!ec && !a.quiet)
		print_summary(&a, &d, &st, secs);
	free_outputs(&d);
	irs__textbuf_free(&d.line);
	irs_collection_close(c);
	return ec;
}

const irs_cli_command irs_cli_cmd_diff = {
	"diff",
	"the net changes between two backups, as JSONL that add --incremental reads",
	"usage: increstore diff DIR --from A [--to B] [--table T] --out F.jsonl|DIR/|-\n"
	"                           [--shards N] [--memory-limit BYTES] [--quiet]\n"
	"                           [--no-check-expected]\n"
	"\n"
	"Writes the net changes that take the state at backup A to the state at backup B\n"
	"(default: the last), in the changes JSONL that `add --incremental` reads:\n"
	"  {\"op\": \"upsert\", \"row\": {...every column...}}  a row new or different at B\n"
	"  {\"op\": \"erase\", \"key\": {...key columns...}}    a row present at A, gone at B\n"
	"and nothing for a row equal at A and B (also one changed and changed back). Added\n"
	"as one incremental on top of the state at A, they give exactly the state at B.\n"
	"Lines are in primary key order; values round-trip exactly (uint64 to 2^64-1,\n"
	"doubles bitwise, bytes as {\"base64\": ...} when not UTF-8, timestamps).\n"
	"\n"
	"How: when A and B share their base full backup, the incrementals after A up to B\n"
	"are read for the keys they touch, and one restore up to B keeps only those keys,\n"
	"copying their rows at A on the way: memory grows with the keys touched, not with\n"
	"the tables. When a full backup lies after A up to B (or A is before B's base), every\n"
	"key may have changed and the whole states at A and B are restored and compared.\n"
	"\n"
	"  --from A            the starting backup (required); A = B gives no changes\n"
	"  --to B              the target backup (default: the last); B before A is a usage\n"
	"                      error\n"
	"  --table T           only table T\n"
	"  --out PATH          F.jsonl   one table's changes (with several tables, --table\n"
	"                                is needed)\n"
	"                      DIR/      DIR/<table>.jsonl for every table (empty when it\n"
	"                                has no changes): add them with\n"
	"                                add NEW --incremental T1=DIR/T1.jsonl T2=...\n"
	"                      -         standard output (one table)\n"
	"                      Files appear only when the whole diff succeeded.\n"
	"  --shards N          shard threads of the restores, 1..256 (default: online CPUs)\n"
	"  --memory-limit B    fail cleanly (exit 4) rather than let a restore, or the diff's\n"
	"                      own key set, allocate more than B bytes; B may have a\n"
	"                      unit: 64M, 1G, 512MiB (as restore --memory-limit)\n"
	"  --no-check-expected do not check the expected states of whole restores\n"
	"  -q, --quiet         no summary\n"
	"\n"
	"Squashing a chain (the backups after A up to B into one incremental):\n"
	"  increstore restore DIR --upto A --out SQUASHED\n"
	"  increstore diff DIR --from A --to B --out changes.jsonl\n"
	"  increstore add SQUASHED --incremental changes.jsonl --name B\n"
	"\n"
	"exit codes: 0 written, 2 usage, 3 invalid or corrupt collection, 4 I/O error or\n"
	"memory limit, 5 cancelled\n",
	run_diff,
	true, /* cancellable */
};
