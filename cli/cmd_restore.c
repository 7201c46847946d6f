/*
 * cmd_restore.c: `increstore restore`: restores a collection into memory, prints a
 * summary, and optionally exports the tables and writes statistics as JSON.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_SHARDS = 1, OPT_UPTO, OPT_TABLE, OPT_OUT, OPT_STATS, OPT_QUIET, OPT_LIMIT, OPT_NOCHECK,
	OPT_CKPT, OPT_CKPT_EVERY, OPT_CKPT_SECONDS, OPT_CKPT_RESTART, OPT_PARTITION
};

static const irs_cli_opt opts[] = {
	{"--shards", true, OPT_SHARDS},      {"--upto", true, OPT_UPTO},
	{"--table", true, OPT_TABLE},        {"--out", true, OPT_OUT},
	{"--stats-json", true, OPT_STATS},   {"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},            {"--memory-limit", true, OPT_LIMIT},
	{"--no-check-expected", false, OPT_NOCHECK}, {"--checkpoint", true, OPT_CKPT},
	{"--checkpoint-every", true, OPT_CKPT_EVERY}, {"--checkpoint-seconds", true, OPT_CKPT_SECONDS},
	{"--partition", true, OPT_PARTITION},
	{"--checkpoint-restart", false, OPT_CKPT_RESTART},
	{NULL, false, 0},
};

typedef struct progress_state {
	bool tty;
	bool quiet;
	double t0;
	uint32_t last_done;
	int drew;
	uint32_t upto;      /* chain index of the restore's last backup */
} progress_state;

/*
 * The position (1..backups_total) of the backup a progress report names, whether it is
 * in progress or just done: the restore's backups end at `upto`, so it is counted from
 * there. (backups_done + 1 would lag by one at every barrier report.)
 */
static uint32_t progress_position(const progress_state *ps, const irs_progress *p)
{
	uint32_t from_end = ps->upto - p->backup_index;
	return from_end < p->backups_total ? p->backups_total - from_end : 1;
}

/* A bar on a terminal, one plain line per backup done otherwise, nothing with --quiet. */
static void on_progress(void *ctx, const irs_progress *p)
{
	progress_state *ps = ctx;
	if (ps->quiet)
		return;
	double el = irs_cli_now_s() - ps->t0;
	double mbs = el > 0 ? (double)p->bytes_done / el / 1e6 : 0;
	if (ps->tty) {
		double frac = p->bytes_total ? (double)p->bytes_done / (double)p->bytes_total : 1.0;
		if (frac > 1)
			frac = 1;
		double eta = frac > 0.01 ? el / frac - el : 0;
		char bar[21];
		int fill = (int)(frac * 20);
		for (int i = 0; i < 20; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[20] = '\0';
		fprintf(stderr, "\r[%s] backup %u/%u %.40s  %llu changes  %.1f MB/s  ETA %.0fs   ", bar,
			progress_position(ps, p), p->backups_total, p->backup_name,
			(unsigned long long)p->changes_done, mbs, eta);
		ps->drew = 1;
	} else if (p->backups_done != ps->last_done && progress_position(ps, p) == p->backups_done) {
		/* only a backup just done, the one the report both names and counts: while
		 * a resumed restore loads its checkpoint, reports name the checkpoint's
		 * backup but do not count it yet */
		fprintf(stderr, "restored backup %u/%u %s: %llu changes so far, %.1f MB/s\n",
			progress_position(ps, p), p->backups_total, p->backup_name,
			(unsigned long long)p->changes_done, mbs);
	}
	ps->last_done = p->backups_done;
}

/* The extension of the table files of --out DIR/: ".csv" when DIR's name ends in
 * .csv/, else ".jsonl". */
static const char *table_file_ext(const char *out)
{
	return irs_cli_has_ext(out, ".csv/") ? ".csv" : ".jsonl";
}

/*
 * --out DIR/: DIR/<table>.jsonl (or .csv when DIR's name ends in .csv/) for each table,
 * a table named by a path (DirA/TableA, as YDB names them) going to
 * DIR/DirA/TableA.jsonl; all or nothing: every table goes to DIR/<file>.part-PID first,
 * and only when all are written are they renamed into place. On a failure or a signal
 * the parts are removed, the files already in DIR stay as they were, and DIR (and the
 * subdirectories) go when this made them and they are empty.
 */
static int export_table_files(const irs_collection *c, irs_restore *r, const char *out, int table)
{
	const char *ext = table_file_ext(out);
	irs_export_format f = strcmp(ext, ".csv") == 0 ? IRS_EXPORT_CSV : IRS_EXPORT_JSONL;
	uint32_t nt = irs_collection_table_count(c);
	int ec = 0;
	bool made = mkdir(out, 0755) == 0;
	if (!made && errno != EEXIST)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot create directory: %s", out, strerror(errno));
	struct {
		char final[4000], part[4096];
		char *made; /* the shallowest directory made for it, or NULL */
	} *paths = calloc(nt, sizeof *paths);
	if (!paths)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: out of memory", out);
	uint32_t done = 0;
	for (uint32_t t = 0; t < nt && !ec; t++, done++) {
		if (table >= 0 && (uint32_t)table != t)
			continue;
		irs_table_def d;
		irs_collection_table(c, t, &d);
		snprintf(paths[t].final, sizeof paths[t].final, "%s%s%s", out, d.name, ext);
		snprintf(paths[t].part, sizeof paths[t].part, "%s.part-%ld", paths[t].final, (long)getpid());
		if ((ec = irs_cli_make_parents(paths[t].final, &paths[t].made)) != 0)
			break;
		irs_error err;
		if (irs_restore_export(r, f, t, paths[t].part, &err)) {
			/* name the file the user asked for, not the part */
			char *at = strstr(err.message, paths[t].part);
			if (at)
				memmove(at + strlen(paths[t].final), at + strlen(paths[t].part),
					strlen(at + strlen(paths[t].part)) + 1);
			ec = irs_cli_fail(&err);
		}
	}
	/* a rename that fails half way would leave some tables replaced: what can be seen
	 * to fail is refused before the first */
	for (uint32_t t = 0; t < done && !ec; t++) {
		struct stat st;
		if (paths[t].part[0] && stat(paths[t].final, &st) == 0 && S_ISDIR(st.st_mode))
			ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: is a directory", paths[t].final);
	}
	for (uint32_t t = 0; t < done; t++) {
		if (!paths[t].part[0])
			continue;
		if (ec)
			unlink(paths[t].part);
		else if (rename(paths[t].part, paths[t].final) != 0)
			ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: rename failed: %s", paths[t].final, strerror(errno));
	}
	/* in reverse, so a table's directories go before those an earlier table made above them */
	for (uint32_t t = nt; t-- > 0;)
		if (ec)
			irs_cli_unmake_parents(paths[t].final, paths[t].made);
		else
			free(paths[t].made);
	if (ec && made)
		rmdir(out);
	free(paths);
	return ec;
}

typedef enum out_kind { OUT_SQLITE, OUT_TEXT, OUT_TABLE_DIR, OUT_COLLECTION } out_kind;

/* What --out PATH asks for, by its name (docs/cli.md). */
static out_kind out_kind_of(const char *out)
{
	size_t n = strlen(out);
	if (irs_cli_has_ext(out, ".sqlite") || irs_cli_has_ext(out, ".db"))
		return OUT_SQLITE;
	if (n > 0 && out[n - 1] == '/')
		return OUT_TABLE_DIR;
	if (irs_cli_has_ext(out, ".jsonl") || irs_cli_has_ext(out, ".csv"))
		return OUT_TEXT;
	return OUT_COLLECTION;
}

/*
 * Before the restore, what would make its export (or its statistics file: kind
 * OUT_TEXT) fail for certain: a collection that already exists, a file where a
 * directory is wanted or the other way round, a missing parent directory. A long
 * restore is not run only to be refused at the end, and statistics that cannot be
 * written do not fail the command after its export replaced a file. (The writers
 * check again: this is a courtesy, not the guard.)
 */
static int check_out_target(const char *out, out_kind kind)
{
	size_t n = strlen(out);
	char *path = strdup(out);
	if (!path)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	while (kind == OUT_TABLE_DIR && n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	struct stat st;
	int ec = 0;
	if (stat(path, &st) == 0) {
		if (kind == OUT_COLLECTION)
			ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s already exists", out);
		else if (kind == OUT_TABLE_DIR && !S_ISDIR(st.st_mode))
			ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: not a directory", out);
		else if (kind != OUT_TABLE_DIR && S_ISDIR(st.st_mode))
			ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: is a directory", out);
	} else {
		char *slash = strrchr(path, '/');
		const char *parent = slash == path ? "/" : slash ? path : ".";
		if (slash && slash != path)
			*slash = '\0';
		if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
			ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot create: %s is not a directory", out,
					    parent);
	}
	free(path);
	return ec;
}

/* What --out and the schema alone refuse, before anything is restored: '-', one file
 * for several tables, a DIR/ whose table files would clash. */
static int check_out_usage(const irs_cli_command *cmd, const irs_collection *c, const char *out, int table)
{
	if (strcmp(out, "-") == 0)
		return irs_cli_usage_error(cmd, "--out -: no export goes to standard output; name a file "
					   "(rows.jsonl, rows.csv, all.sqlite) or a directory");
	uint32_t nt = irs_collection_table_count(c);
	switch (out_kind_of(out)) {
	case OUT_TEXT:
		if (table < 0 && nt > 1)
			return irs_cli_usage_error(cmd,
						   "--out %s: the collection has %u tables; name one with --table, "
						   "or give a directory ending in '/' for one file per table",
						   out, nt);
		return 0;
	case OUT_TABLE_DIR:
		return irs_cli_check_table_paths(cmd, c, table, table_file_ext(out));
	default:
		return 0;
	}
}

/* Whether paths a and b name the same file: the same last component in the same
 * directory (compared by realpath when both directories exist, else as written). */
static bool same_file(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	const char *na = sa ? sa + 1 : a, *nb = sb ? sb + 1 : b;
	if (strcmp(na, nb) != 0)
		return false;
	char da[4096], db[4096], ra[PATH_MAX], rb[PATH_MAX];
	snprintf(da, sizeof da, "%.*s", sa ? (int)(sa - a) + 1 : 1, sa ? a : ".");
	snprintf(db, sizeof db, "%.*s", sb ? (int)(sb - b) + 1 : 1, sb ? b : ".");
	if (realpath(da, ra) && realpath(db, rb))
		return strcmp(ra, rb) == 0;
	return strcmp(da, db) == 0;
}

/* --stats-json FILE that an export to --out would write too (the target itself, or a
 * table's file in a DIR/): the two would overwrite each other. */
static int check_stats_target(const irs_cli_command *cmd, const irs_collection *c, const char *out,
			      int table, const char *stats)
{
	bool clash = false;
	if (out_kind_of(out) != OUT_TABLE_DIR) {
		clash = same_file(stats, out);
	} else {
		const char *ext = table_file_ext(out);
		for (uint32_t t = 0; !clash && t < irs_collection_table_count(c); t++) {
			irs_table_def d;
			irs_collection_table(c, t, &d);
			char path[4200];
			snprintf(path, sizeof path, "%s%s%s", out, d.name, ext);
			clash = (table < 0 || (uint32_t)table == t) && same_file(stats, path);
		}
	}
	return clash ? irs_cli_usage_error(cmd, "--stats-json %s: the export to %s writes that file; name "
					   "another", stats, out)
		     : 0;
}

/* Writes the export(s) --out asks for (check_out_usage passed). */
static int do_export(const irs_collection *c, irs_restore *r, const char *out, int table)
{
	irs_error err;
	switch (out_kind_of(out)) {
	case OUT_SQLITE:
		return irs_restore_export(r, IRS_EXPORT_SQLITE, 0, out, &err) ? irs_cli_fail(&err) : 0;
	case OUT_TEXT: {
		irs_export_format f = irs_cli_has_ext(out, ".csv") ? IRS_EXPORT_CSV : IRS_EXPORT_JSONL;
		return irs_restore_export(r, f, table < 0 ? 0 : (uint32_t)table, out, &err) ? irs_cli_fail(&err)
											   : 0;
	}
	case OUT_TABLE_DIR:
		return export_table_files(c, r, out, table);
	case OUT_COLLECTION:
	default:
		return irs_restore_export(r, IRS_EXPORT_COLLECTION, 0, out, &err) ? irs_cli_fail(&err) : 0;
	}
}

/* What check-partitions needs from a restore's statistics: the collection, the target
 * backup, the partition and the tables restored (each with rows and digest, above). */
static void stats_add_partition(json_object *o, const irs_collection *c, const char *upto, const char *table,
				uint32_t part_index, uint32_t part_count)
{
	json_object_object_add(o, "collection_id", json_object_new_string(irs_collection_id(c)));
	irs_backup_info bi;
	int target = upto ? irs_collection_find_backup(c, upto) : (int)irs_collection_backup_count(c) - 1;
	json_object_object_add(o, "target",
			       target >= 0 && irs_collection_backup(c, (uint32_t)target, &bi) == 0
				       ? json_object_new_string(bi.name)
				       : NULL);
	json_object *part = json_object_new_object();
	json_object_object_add(part, "index", json_object_new_int64(part_count ? part_index : 0));
	json_object_object_add(part, "count", json_object_new_int64(part_count ? part_count : 1));
	json_object_object_add(o, "partition", part);
	json_object *names = json_object_new_array();
	for (uint32_t t = 0; t < irs_collection_table_count(c); t++) {
		irs_table_def d;
		irs_collection_table(c, t, &d);
		if (!table || strcmp(table, d.name) == 0)
			json_object_array_add(names, json_object_new_string(d.name));
	}
	json_object_object_add(o, "restored_tables", names);
}

static uint64_t peak_rss_bytes(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_maxrss * 1024u;
}

/* Whether the statistics st[0..ns) start with the load of the checkpoint the restore
 * resumed from: irs_restore_stats lists it first, with the checkpoint's rows as
 * inserts. It is no backup of the chain: the statistics call it a "checkpoint" and
 * count none of its rows as changes, and the summary does the same. */
static bool starts_with_checkpoint(const irs_restore *r, const irs_backup_stats *st, uint32_t ns)
{
	int64_t from = irs_restore_resumed_from(r);
	return ns && from >= 0 && st[0].backup_index == (uint64_t)from;
}

/* The failure to write statistics to path. */
static int stats_error(const char *path, int e)
{
	return irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot write statistics: %s", path, strerror(e));
}

/* Whether statistics for path go through a temporary renamed into place: a regular
 * file, or a new one (not "-", a FIFO or a device such as /dev/full, which are
 * written directly). */
static bool stats_staged(const char *path)
{
	struct stat st;
	return strcmp(path, "-") != 0 && (stat(path, &st) != 0 || S_ISREG(st.st_mode));
}

/* Writes text and a newline to path ("-": stdout) whole or not at all. With `staged`
 * (stats_staged(path), asked once by the caller) it goes to path.tmp-PID, whose name
 * is left in tmp, and is renamed into place unless keep_tmp (then commit_staged() does
 * it), so a full disk leaves no empty or partial file and an existing one as it was.
 * Other files (a FIFO, /dev/stdout) are written in place. */
static int write_text_file(const char *path, const char *text, bool staged, bool keep_tmp, char *tmp,
			   size_t cap)
{
	if (strcmp(path, "-") == 0)
		return printf("%s\n", text) < 0 ? irs_cli_errorf(IRS_CLI_EXIT_IO, "cannot write to standard output")
						: 0;
	snprintf(tmp, cap, "%s.tmp-%ld", path, (long)getpid());
	const char *to = staged ? tmp : path;
	FILE *f = fopen(to, "we");
	int e = 0;
	if (!f || fprintf(f, "%s\n", text) < 0 || fflush(f) != 0)
		e = errno ? errno : EIO;
	if (f && fclose(f) != 0 && !e)
		e = errno;
	if (!e && staged && !keep_tmp && rename(tmp, path) != 0)
		e = errno;
	if (e && staged && f)
		unlink(tmp);
	return e ? stats_error(path, e) : 0;
}

/* Renames statistics written with keep_tmp into place. */
static int commit_staged(const char *tmp, const char *path)
{
	if (rename(tmp, path) == 0)
		return 0;
	int e = errno;
	unlink(tmp);
	return stats_error(path, e);
}

/* The statistics' status after a restore that succeeded and an export that ended with
 * exit code ec: "ok", or the error's name by its class (docs/format.md). */
static const char *export_status(int ec)
{
	switch (ec) {
	case IRS_CLI_EXIT_OK: return "ok";
	case IRS_CLI_EXIT_USAGE: return irs_err_name(IRS_EINVAL);
	case IRS_CLI_EXIT_CANCELED: return irs_err_name(IRS_ECANCELED);
	default: return irs_err_name(IRS_EIO);
	}
}

typedef struct restore_args {
	const char *dir, *upto, *table_name, *out, *stats, *ckpt;
	const char *ckpt_sub;  /* the last --checkpoint-* option given, which needs --checkpoint */
	uint64_t shards, limit, ckpt_every, ckpt_seconds;
	bool quiet, check, ckpt_restart;
	uint32_t part_index, part_count;  /* --partition I/K; count 0 = not given */
} restore_args;

/* Writes the statistics of the restore to a->stats (write_text_file: staged, keep_tmp,
 * tmp). */
static int write_stats(const restore_args *a, const irs_collection *c, const irs_restore *r,
		       const uint64_t *digests, double secs, const char *status, bool staged, bool keep_tmp,
		       char *tmp, size_t cap)
{
	json_object *o = json_object_new_object();
	uint32_t ns;
	const irs_backup_stats *st = irs_restore_stats(r, &ns);
	bool resumed = starts_with_checkpoint(r, st, ns);
	uint32_t shards = irs_restore_shard_count(r);
	json_object *backups = json_object_new_array();
	uint64_t tot[5] = {0};
	for (uint32_t i = 0; i < ns; i++) {
		const irs_backup_stats *s = &st[i];
		irs_backup_info bi;
		irs_collection_backup(c, s->backup_index, &bi);
		json_object *b = json_object_new_object();
		json_object_object_add(b, "index", json_object_new_int64(s->backup_index));
		json_object_object_add(b, "name", json_object_new_string(bi.name));
		bool load = i == 0 && resumed;
		json_object_object_add(b, "kind", json_object_new_string(load ? "checkpoint" : irs_cli_kind_name(bi.kind)));
		json_object_object_add(b, "wall_s", json_object_new_double((double)s->wall_ns / 1e9));
		json_object_object_add(b, "inserted", json_object_new_uint64(s->inserted));
		json_object_object_add(b, "updated", json_object_new_uint64(s->updated));
		json_object_object_add(b, "erased", json_object_new_uint64(s->erased));
		json_object_object_add(b, "noop_erases", json_object_new_uint64(s->noop_erases));
		json_object_object_add(b, "bytes", json_object_new_uint64(s->bytes));
		json_object *per = json_object_new_array();
		for (uint32_t k = 0; k < shards; k++)
			json_object_array_add(per, json_object_new_uint64(s->shard_applied[k]));
		json_object_object_add(b, "shard_applied", per);
		double mean = shards ? (double)s->sum_shard_applied / shards : 0;
		json_object_object_add(b, "skew", json_object_new_double(mean > 0 ? (double)s->max_shard_applied / mean : 1.0));
		json_object_object_add(b, "max_shard_barrier_wait_s", json_object_new_double((double)s->max_shard_wait_ns / 1e9));
		json_object_object_add(b, "barrier_turnaround_us", json_object_new_double((double)s->barrier_turnaround_ns / 1e3));
		json_object_array_add(backups, b);
		if (load)
			continue;
		tot[0] += s->inserted;
		tot[1] += s->updated;
		tot[2] += s->erased;
		tot[3] += s->noop_erases;
		tot[4] += s->bytes;
	}
	json_object_object_add(o, "status", json_object_new_string(status));
	int64_t th = irs_restore_through(r);
	irs_backup_info bi;
	json_object_object_add(o, "through",
			       th >= 0 && irs_collection_backup(c, (uint32_t)th, &bi) == 0
				       ? json_object_new_string(bi.name)
				       : NULL);
	int64_t from = irs_restore_resumed_from(r);
	json_object_object_add(o, "resumed_from",
			       from >= 0 && irs_collection_backup(c, (uint32_t)from, &bi) == 0
				       ? json_object_new_string(bi.name)
				       : NULL);
	json_object_object_add(o, "shards", json_object_new_int64(shards));
	json_object_object_add(o, "wall_s", json_object_new_double(secs));
	json_object *tt = json_object_new_object();
	json_object_object_add(tt, "inserted", json_object_new_uint64(tot[0]));
	json_object_object_add(tt, "updated", json_object_new_uint64(tot[1]));
	json_object_object_add(tt, "erased", json_object_new_uint64(tot[2]));
	json_object_object_add(tt, "noop_erases", json_object_new_uint64(tot[3]));
	json_object_object_add(tt, "changes", json_object_new_uint64(tot[0] + tot[1] + tot[2] + tot[3]));
	json_object_object_add(tt, "bytes", json_object_new_uint64(tot[4]));
	json_object_object_add(o, "totals", tt);
	json_object *tables = json_object_new_array();
	for (uint32_t t = 0; t < irs_collection_table_count(c); t++) {
		irs_table_def d;
		irs_collection_table(c, t, &d);
		json_object *jt = json_object_new_object();
		char hex[17];
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digests[t]);
		json_object_object_add(jt, "name", json_object_new_string(d.name));
		json_object_object_add(jt, "rows", json_object_new_uint64(irs_restore_row_count(r, t)));
		json_object_object_add(jt, "logical_bytes", json_object_new_uint64(irs_restore_logical_bytes(r, t)));
		json_object_object_add(jt, "digest", json_object_new_string(hex));
		json_object_array_add(tables, jt);
	}
	json_object_object_add(o, "tables", tables);
	stats_add_partition(o, c, a->upto, a->table_name, a->part_index, a->part_count);
	json_object_object_add(o, "backups", backups);
	json_object_object_add(o, "peak_rss_bytes", json_object_new_uint64(peak_rss_bytes()));
	json_object_object_add(o, "peak_allocated_bytes", json_object_new_uint64(irs_restore_peak_bytes(r)));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int ec = write_text_file(a->stats, text, staged, keep_tmp, tmp, cap);
	json_object_put(o);
	return ec;
}

/* --partition I/K: two decimal numbers, 0 <= I < K <= 4096. */
static bool parse_partition(const irs_cli_parser *p, restore_args *a)
{
	const char *v = p->arg, *slash = strchr(v, '/');
	char *end;
	unsigned long i = 0, k = 0;
	bool ok = slash && slash > v && v[0] >= '0' && v[0] <= '9' && slash[1] >= '0' && slash[1] <= '9';
	if (ok) {
		errno = 0;
		i = strtoul(v, &end, 10);
		ok = end == slash && errno == 0;
		k = ok ? strtoul(slash + 1, &end, 10) : 0;
		ok = ok && *end == '\0' && errno == 0 && k >= 1 && k <= IRS_MAX_PARTITIONS && i < k;
	}
	if (!ok) {
		irs_cli_usage_error(p->cmd, "%s %s: expected I/K with 0 <= I < K <= %u (e.g. 0/4)", p->opt, v,
				    IRS_MAX_PARTITIONS);
		return false;
	}
	a->part_index = (uint32_t)i;
	a->part_count = (uint32_t)k;
	return true;
}

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	restore_args *a = ctx;
	bool ok = true;
	switch (id) {
	case OPT_SHARDS: ok = irs_cli_parse_u64(p, p->arg, 1, IRS_MAX_SHARDS, &a->shards); break;
	case OPT_UPTO: a->upto = p->arg; break;
	case OPT_TABLE: a->table_name = p->arg; break;
	case OPT_OUT: a->out = p->arg; break;
	case OPT_STATS: a->stats = p->arg; break;
	case OPT_QUIET: a->quiet = true; break;
	case OPT_LIMIT: ok = irs_cli_parse_size(p, p->arg, 1, UINT64_MAX, &a->limit); break;
	case OPT_NOCHECK: a->check = false; break;
	case OPT_CKPT: a->ckpt = p->arg; break;
	case OPT_CKPT_EVERY: ok = irs_cli_parse_u64(p, p->arg, 1, UINT32_MAX, &a->ckpt_every); break;
	case OPT_CKPT_SECONDS: ok = irs_cli_parse_u64(p, p->arg, 0, UINT32_MAX, &a->ckpt_seconds); break;
	case OPT_PARTITION: ok = parse_partition(p, a); break;
	case OPT_CKPT_RESTART: a->ckpt_restart = true; break;
	}
	if (id == OPT_CKPT_EVERY || id == OPT_CKPT_SECONDS || id == OPT_CKPT_RESTART)
		a->ckpt_sub = p->opt;
	return ok ? 0 : IRS_CLI_EXIT_USAGE;
}

/* "restored DIR through NAME: ..." and a line per restored table, to `out`. */
static void print_summary(FILE *out, const restore_args *a, const irs_collection *c, const irs_restore *r,
			  const uint64_t *digests, int table, double secs, bool wrote)
{
	int64_t th = irs_restore_through(r);
	irs_backup_info last, base;
	irs_collection_backup(c, (uint32_t)th, &last);
	irs_collection_backup(c, last.base_index, &base);
	uint32_t ns;
	const irs_backup_stats *st = irs_restore_stats(r, &ns);
	uint64_t changes = 0, bytes = 0;
	bool resumed = starts_with_checkpoint(r, st, ns);
	for (uint32_t i = resumed; i < ns; i++) {
		changes += st[i].inserted + st[i].updated + st[i].erased + st[i].noop_erases;
		bytes += st[i].bytes;
	}
	char what[400];
	if (resumed) {
		irs_backup_info from;
		irs_collection_backup(c, st[0].backup_index, &from);
		snprintf(what, sizeof what, "the checkpoint through %s + %u incremental%s", from.name, ns - 1,
			 ns == 2 ? "" : "s");
	} else {
		snprintf(what, sizeof what, "%u backup%s (full %s + %u incremental%s)", ns, ns == 1 ? "" : "s",
			 base.name, ns - 1, ns == 2 ? "" : "s");
	}
	fprintf(out, "restored %s through %s: %s, %llu changes, %u shards, %.3f s, %.1f M changes/s, %.1f MB/s\n",
		a->dir, last.name, what, (unsigned long long)changes, irs_restore_shard_count(r), secs,
		secs > 0 ? (double)changes / secs / 1e6 : 0, secs > 0 ? (double)bytes / secs / 1e6 : 0);
	if (a->part_count)
		fprintf(out, "  partition %u/%u: only the keys of hash partition %u of %u\n", a->part_index,
		       a->part_count, a->part_index, a->part_count);
	for (uint32_t t = 0; t < irs_collection_table_count(c); t++) {
		if (table >= 0 && (uint32_t)t != (uint32_t)table)
			continue;
		irs_table_def d;
		irs_collection_table(c, t, &d);
		char lb[32];
		fprintf(out, "  table %s: %llu rows, %s, digest %016llx\n", d.name,
		       (unsigned long long)irs_restore_row_count(r, t),
		       irs_cli_format_bytes(irs_restore_logical_bytes(r, t), lb),
		       (unsigned long long)digests[t]);
	}
	if (wrote)
		fprintf(out, "  wrote %s\n", a->out);
}

static bool stats_to_stdout(const restore_args *a)
{
	return a->stats && strcmp(a->stats, "-") == 0;
}

/* --checkpoint-restart: this collection's checkpoints in DIR are discarded first. */
static int checkpoint_restart(const restore_args *a, const irs_collection *c)
{
	irs_error err;
	return irs__checkpoint_discard(a->ckpt, c, &err) ? irs_cli_fail(&err) : 0;
}

/* A damaged checkpoint's message says how to start over; the CLI has a flag for it. */
static void checkpoint_hint(const restore_args *a, irs_error *err)
{
	if (a->ckpt && strstr(err->message, "; to start over, remove ")) {
		size_t n = strlen(err->message);
		snprintf(err->message + n, sizeof err->message - n, " or rerun with --checkpoint-restart");
	}
}

static int run_restore(const irs_cli_command *cmd, int argc, char **argv)
{
	restore_args a = {.ckpt_every = 1, .ckpt_seconds = 30, .check = true};
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &a};
	int ec = irs_cli_parse_args(cmd, argc, argv, &args);
	if (ec != IRS_CLI_ARGS_OK)
		return ec;
	a.dir = args.dir;
	if (a.ckpt_sub && !a.ckpt)
		return irs_cli_usage_error(cmd, "%s needs --checkpoint DIR", a.ckpt_sub);
	irs_collection *c;
	if ((ec = irs_cli_open(a.dir, 0, &c)) != 0)
		return ec;
	int table = -1;
	if (a.table_name && (table = irs_cli_find_table(cmd, c, a.table_name)) < 0) {
		irs_collection_close(c);
		return IRS_CLI_EXIT_USAGE;
	}
	if (a.upto && irs_collection_find_backup(c, a.upto) < 0) {
		irs_collection_close(c);
		return irs_cli_usage_error(cmd, "--upto %s: no backup of that name in %s", a.upto, a.dir);
	}
	if ((a.out && ((ec = check_out_usage(cmd, c, a.out, table)) != 0 ||
		       (ec = check_out_target(a.out, out_kind_of(a.out))) != 0)) ||
	    (a.stats && strcmp(a.stats, "-") != 0 &&
	     ((a.out && (ec = check_stats_target(cmd, c, a.out, table, a.stats)) != 0) ||
	      (ec = check_out_target(a.stats, OUT_TEXT)) != 0))) {
		irs_collection_close(c);
		return ec;
	}
	if (a.ckpt_restart && (ec = checkpoint_restart(&a, c)) != 0) {
		irs_collection_close(c);
		return ec;
	}
	progress_state ps = {.tty = isatty(2) == 1, .quiet = a.quiet, .t0 = irs_cli_now_s(), .last_done = 0,
			     .upto = a.upto ? (uint32_t)irs_collection_find_backup(c, a.upto)
					    : irs_collection_backup_count(c) - 1};
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = (uint32_t)a.shards;
	ro.upto = a.upto;
	const char *tables[1] = {a.table_name};
	if (a.table_name) {
		ro.tables = tables;
		ro.table_count = 1;
	}
	ro.progress = on_progress;
	ro.progress_ctx = &ps;
	ro.cancel = (const volatile int *)&irs_cli_cancelled;
	ro.memory_limit = a.limit;
	ro.check_expected = a.check;
	ro.checkpoint_dir = a.ckpt;
	ro.checkpoint_every = (uint32_t)a.ckpt_every;
	ro.checkpoint_seconds = (uint32_t)a.ckpt_seconds;
	ro.partition = a.part_index;
	ro.partition_count = a.part_count;
	irs_restore *r = NULL;
	irs_error err;
	double t0 = irs_cli_now_s();
	int rc = irs_restore_run(c, &ro, NULL, &r, &err);
	double secs = irs_cli_now_s() - t0;
	if (ps.drew)
		fputc('\n', stderr);
	if (r && irs_restore_resumed_from(r) >= 0 && !a.quiet) {
		irs_backup_info ri;
		irs_collection_backup(c, (uint32_t)irs_restore_resumed_from(r), &ri);
		fprintf(stderr, "resumed from checkpoint %s: backups through %s were already restored\n",
			a.ckpt, ri.name);
	}
	ec = 0;
	if (rc) {
		checkpoint_hint(&a, &err);
		ec = irs_cli_fail(&err);
	}
	/* Each digest once: without the expected-state checks nothing kept them up to date,
	 * so each is a scan of the table. */
	uint32_t nt = irs_collection_table_count(c);
	bool want = r && (a.stats || (!rc && !a.quiet));
	uint64_t *digests = want ? calloc(nt + 1, sizeof *digests) : NULL;
	for (uint32_t t = 0; digests && t < nt; t++)
		digests[t] = irs_restore_digest(r, t);
	if (want && !digests) {
		int oom = irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
		ec = ec ? ec : oom;
	}
	/* Statistics that say "ok" promise the --out files too. Written after the export,
	 * they could fail (a disk that fills) with the export in place; so a statistics
	 * file that can be is written first under a temporary name, "ok" and the peak RSS
	 * of the restore in it, and renamed once the export is in place. Should it fail,
	 * nothing is exported. A failed export rewrites it with the export's status. */
	char tmp[4200];
	bool staged = a.stats && stats_staged(a.stats);
	bool stage_first = !rc && !ec && a.out && digests && staged;
	int stage_ec = 0;
	if (stage_first)
		ec = stage_ec = write_stats(&a, c, r, digests, secs, "ok", true, true, tmp, sizeof tmp);
	int export_ec = !rc && !ec && a.out ? do_export(c, r, a.out, table) : 0;
	if (!ec)
		ec = export_ec;
	if (stage_first && !stage_ec && !export_ec) {
		ec = commit_staged(tmp, a.stats);
	} else if (digests && a.stats && !stage_ec) {
		if (stage_first)
			unlink(tmp); /* the export failed: its status replaces "ok" */
		const char *status = rc ? irs_err_name(rc) : export_status(export_ec);
		int sec = write_stats(&a, c, r, digests, secs, status, staged, false, tmp, sizeof tmp);
		if (!ec)
			ec = sec;
	}
	/* with --stats-json -, stdout holds the JSON document only */
	if (digests && !rc && !a.quiet)
		print_summary(stats_to_stdout(&a) ? stderr : stdout, &a, c, r, digests, table, secs,
			      a.out && !ec);
	free(digests);
	irs_restore_free(r);
	irs_collection_close(c);
	return ec;
}

const irs_cli_command irs_cli_cmd_restore = {
	"restore",
	"restore a collection into memory; print, export or check the tables",
	"usage: increstore restore DIR [--shards N] [--upto NAME] [--table T] [--out PATH]\n"
	"                              [--stats-json FILE] [--memory-limit BYTES] [--quiet]\n"
	"                              [--partition I/K] [--no-check-expected]\n"
	"                              [--checkpoint DIR [--checkpoint-every N]\n"
	"                               [--checkpoint-seconds T] [--checkpoint-restart]]\n"
	"\n"
	"Restores the chain of DIR up to backup NAME (default: the last): the last full backup\n"
	"at or before it, then every incremental after it, in order. Each backup is applied by\n"
	"all shards before the next one starts; a failure leaves the tables exactly as they\n"
	"were after the previous backup, and the error says which one that is.\n"
	"\n"
	"  --shards N          shard threads, 1.." IRS_CLI_STR(IRS_MAX_SHARDS) " (default: online CPUs)\n"
	"  --upto NAME         restore up to and including backup NAME\n"
	"  --table T           restore only table T (and export only it)\n"
	"  --out PATH          export the result; by PATH (extensions in any case):\n"
	"                        *.jsonl, *.csv   one table's rows in primary key order\n"
	"                                         (with several tables, --table is needed)\n"
	"                        *.sqlite, *.db   a SQLite database with every table restored,\n"
	"                                         typed, with its primary key\n"
	"                        DIR/             one DIR/<table>.jsonl per table\n"
	"                                         (DIR.csv/ gives .csv files); a table\n"
	"                                         named DirA/TableA goes to\n"
	"                                         DIR/DirA/TableA.jsonl\n"
	"                        anything else    a new collection holding one full backup\n"
	"                                         (the chain compacted into a new base);\n"
	"                                         not '-': no export goes to standard output\n"
	"  --stats-json FILE   per-backup wall time, changes by kind, per-shard counts, barrier\n"
	"                      waits, skew, totals and peak RSS as JSON ('-' = stdout, which\n"
	"                      then holds only the JSON: the summary goes to stderr); also\n"
	"                      the collection id, target backup, partition and each table's\n"
	"                      rows and digest, which check-partitions reads. With --out and\n"
	"                      a regular FILE they are written (as FILE.tmp-PID) before the\n"
	"                      export and renamed after it, so statistics that cannot be\n"
	"                      written leave no export; the peaks are then the restore's\n"
	"  --partition I/K     keep only the rows whose primary key is in hash partition I of\n"
	"                      K (0 <= I < K <= 4096): the whole chain is read and checked,\n"
	"                      1/K of the rows is kept. Partitions are disjoint, their union\n"
	"                      is the whole restore, their digests add up to the table's;\n"
	"                      every --out works per partition. Expected states are checked\n"
	"                      by check-partitions, not here; --checkpoint is refused (exit 2).\n"
	"                      The function is in docs/format.md (\"Partitions\")\n"
	"  --memory-limit B    fail cleanly (exit 4) rather than allocate more than B bytes;\n"
	"                      B may have a unit: 64M, 1G, 512MiB, 1.5GiB (powers of 1024),\n"
	"                      2GB (powers of 1000)\n"
	"  --checkpoint DIR    after a barrier, save the tables and the restore's position in\n"
	"                      DIR (atomically); a rerun with the same DIR resumes after the\n"
	"                      last saved backup. A checkpoint of another collection, --upto\n"
	"                      or --table is refused (exit 2); one that cannot be read exits 3.\n"
	"                      DIR is made when missing and must be writable; one restore\n"
	"                      at a time uses it (another one exits 4 at once). Only the\n"
	"                      checkpoints restores of this collection wrote there (listed\n"
	"                      in DIR/CHECKPOINTS) are ever removed\n"
	"  --checkpoint-every N     save at most every N backups (default 1)\n"
	"  --checkpoint-seconds T   ... and at most every T seconds (default 30)\n"
	"  --checkpoint-restart     discard this collection's checkpoints in DIR first and\n"
	"                           restore from the beginning\n"
	"  --no-check-expected do not compare with the expected states a generated\n"
	"                      collection records (faster for timing runs)\n"
	"  -q, --quiet         no progress and no summary\n"
	"\n"
	"Progress goes to stderr: a bar on a terminal, a line per backup otherwise (the\n"
	"changes and MB/s of the whole restore so far).\n"
	"SIGINT/SIGTERM stop at the next safe point (exit 5) with the tables at the last\n"
	"completed backup.\n"
	"\n"
	"exit codes: 0 restored (and exported), 2 usage, 3 invalid or corrupt collection or\n"
	"checkpoint, or an expected state that does not match, 4 I/O error, out of memory or\n"
	"--memory-limit, 5 cancelled\n",
	run_restore,
	true, /* cancellable */
};
