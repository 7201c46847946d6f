/*
 * cmd_check_partitions.c: `increstore check-partitions DIR [--upto NAME] STATS.json...`:
 * checks that the statistics of K partitioned restores (restore --partition I/K
 * --stats-json FILE) cover partitions 0..K-1 exactly once, of this collection and the
 * same target backup, and that for every restored table their row counts and digests
 * add up (digests mod 2^64) to the expected state the manifest records at that backup.
 *
 * Findings (exit 1) are printed one per line; the sums are compared only when the files
 * agree with each other and cover every partition once. A table whose backup records no
 * expected state (collections made by `add` or `import-ydb`) is a finding too, unless
 * --reference names the statistics of a whole restore to compare with instead.
 * Unreadable or malformed statistics files exit 3 naming the file.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_UPTO = 1, OPT_REFERENCE, OPT_QUIET };

static const irs_cli_opt opts[] = {
	{"--upto", true, OPT_UPTO},
	{"--reference", true, OPT_REFERENCE},
	{"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},
	{NULL, false, 0},
};

/* One table of a statistics file. */
typedef struct stat_table {
	const char *name;
	uint64_t rows, digest;
} stat_table;

/* What check-partitions reads from one restore's --stats-json. */
typedef struct stat_file {
	const char *path;
	json_object *root;          /* owns the strings below */
	const char *collection_id, *target, *status;
	uint32_t index, count;
	stat_table *tables;         /* the restored tables */
	size_t ntables;
} stat_file;

typedef struct check_args {
	const char *upto, *reference;
	bool quiet;
	const char **files;
	int nfiles;
} check_args;

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	check_args *a = ctx;
	switch (id) {
	case OPT_UPTO: a->upto = p->arg; break;
	case OPT_REFERENCE: a->reference = p->arg; break;
	case OPT_QUIET: a->quiet = true; break;
	case IRS_CLI_OPT_POSITIONAL: a->files[a->nfiles++] = p->arg; break;
	}
	return 0;
}

static int invalid(const char *path, const char *what)
{
	return irs_cli_errorf(IRS_CLI_EXIT_INPUT, "%s: not restore statistics: %s", path, what);
}

static const char *get_string(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* An unsigned JSON integer member; false when absent, not an integer or negative. */
static bool get_u64(json_object *o, const char *key, uint64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	int64_t s = json_object_get_int64(v);
	if (s < 0)
		return false;
	*out = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
	return true;
}

/* 16 hex digits, as restore writes digests. */
static bool parse_digest(const char *s, uint64_t *out)
{
	if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
		return false;
	*out = strtoull(s, NULL, 16);
	return true;
}

/* Finds table `name` among the file's "tables" entries. */
static json_object *find_table_entry(json_object *tables, const char *name)
{
	size_t n = json_object_array_length(tables);
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(tables, i);
		const char *tn = json_object_is_type(t, json_type_object) ? get_string(t, "name") : NULL;
		if (tn && strcmp(tn, name) == 0)
			return t;
	}
	return NULL;
}

/* Reads a whole file and parses it as JSON; 0 or exit 3 (message printed). */
static int parse_file(const char *path, json_object **out)
{
	*out = NULL;
	FILE *fp = fopen(path, "re");
	if (!fp)
		return irs_cli_errorf(IRS_CLI_EXIT_INPUT, "%s: cannot read restore statistics: %s", path,
				      strerror(errno));
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (size_t n; buf && (n = fread(buf + len, 1, cap - len - 1, fp)) > 0;) {
		len += n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	bool read_error = ferror(fp);
	fclose(fp);
	if (!buf)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory reading %s", path);
	if (read_error) {
		free(buf);
		return irs_cli_errorf(IRS_CLI_EXIT_INPUT, "%s: cannot read restore statistics: read error", path);
	}
	buf[len] = '\0';
	enum json_tokener_error jerr;
	*out = json_tokener_parse_verbose(buf, &jerr);
	free(buf);
	if (!*out)
		return irs_cli_errorf(IRS_CLI_EXIT_INPUT, "%s: not restore statistics: invalid JSON (%s)", path,
				      json_tokener_error_desc(jerr));
	return 0;
}

/* Reads and validates one statistics file; 0 or exit 3 (message printed). */
static int load_stats(const char *path, stat_file *f)
{
	memset(f, 0, sizeof *f);
	f->path = path;
	int rc = parse_file(path, &f->root);
	if (rc)
		return rc;
	json_object *o = f->root, *part, *names, *tables;
	if (!json_object_is_type(o, json_type_object))
		return invalid(path, "not a JSON object");
	f->collection_id = get_string(o, "collection_id");
	f->target = get_string(o, "target");
	f->status = get_string(o, "status");
	if (!f->collection_id || !f->target || !f->status)
		return invalid(path, "no \"collection_id\", \"target\" or \"status\" string (written by an "
				     "increstore without partitions?)");
	uint64_t index, count;
	if (!json_object_object_get_ex(o, "partition", &part) || !get_u64(part, "index", &index) ||
	    !get_u64(part, "count", &count) || count < 1 || count > IRS_MAX_PARTITIONS || index >= count)
		return invalid(path, "no valid \"partition\": {\"index\": I, \"count\": K}");
	f->index = (uint32_t)index;
	f->count = (uint32_t)count;
	if (!json_object_object_get_ex(o, "restored_tables", &names) ||
	    !json_object_is_type(names, json_type_array) || !json_object_object_get_ex(o, "tables", &tables) ||
	    !json_object_is_type(tables, json_type_array))
		return invalid(path, "no \"restored_tables\" or \"tables\" array");
	f->ntables = json_object_array_length(names);
	f->tables = calloc(f->ntables ? f->ntables : 1, sizeof *f->tables);
	if (!f->tables)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	for (size_t i = 0; i < f->ntables; i++) {
		json_object *nv = json_object_array_get_idx(names, i);
		if (!json_object_is_type(nv, json_type_string))
			return invalid(path, "\"restored_tables\" holds something other than a table name");
		stat_table *st = &f->tables[i];
		st->name = json_object_get_string(nv);
		json_object *t = find_table_entry(tables, st->name);
		if (!t || !get_u64(t, "rows", &st->rows) || !parse_digest(get_string(t, "digest"), &st->digest)) {
			char why[IRS_MAX_NAME + 96];
			snprintf(why, sizeof why, "table %s has no \"rows\" count or 16-hex-digit \"digest\"", st->name);
			return invalid(path, why);
		}
	}
	return 0;
}

static void free_stats(stat_file *f)
{
	free(f->tables);
	if (f->root)
		json_object_put(f->root);
}

/* One finding: a line on stderr. */
static void finding(int *n, const char *fmt, ...) IRS_PRINTF(2, 3);
static void finding(int *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("increstore: check-partitions: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	(*n)++;
}

static bool same_tables(const stat_file *a, const stat_file *b)
{
	if (a->ntables != b->ntables)
		return false;
	for (size_t i = 0; i < a->ntables; i++)
		if (strcmp(a->tables[i].name, b->tables[i].name) != 0)
			return false;
	return true;
}

/* Each file against the collection, the target and the first file. */
static void check_files(const irs_collection *c, const char *dir, const char *target, stat_file *f,
			int nf, int *nfind)
{
	for (int i = 0; i < nf; i++) {
		if (strcmp(f[i].collection_id, irs_collection_id(c)) != 0)
			finding(nfind, "%s: statistics of collection %s, not of %s (collection %s)", f[i].path,
				f[i].collection_id, dir, irs_collection_id(c));
		if (strcmp(f[i].target, target) != 0)
			finding(nfind, "%s: a restore up to backup %s, not up to %s", f[i].path, f[i].target, target);
		if (strcmp(f[i].status, "ok") != 0)
			finding(nfind, "%s: partition %u/%u: the restore or its export failed (%s)", f[i].path,
				f[i].index, f[i].count, f[i].status);
		if (f[i].count != f[0].count)
			finding(nfind, "%s: partition %u/%u, but %s is partition %u/%u: every file must be of the "
				       "same K",
				f[i].path, f[i].index, f[i].count, f[0].path, f[0].index, f[0].count);
		else if (!same_tables(&f[i], &f[0]))
			finding(nfind, "%s: restored other tables than %s (--table differs)", f[i].path, f[0].path);
	}
}

/* Every partition 0..K-1 exactly once. */
static int check_coverage(stat_file *f, int nf, int *nfind)
{
	uint32_t k = f[0].count;
	int *seen = malloc(sizeof(int) * k);
	if (!seen)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	for (uint32_t i = 0; i < k; i++)
		seen[i] = -1;
	for (int i = 0; i < nf; i++) {
		uint32_t p = f[i].index;
		if (seen[p] >= 0)
			finding(nfind, "partition %u/%u appears twice: %s and %s", p, k, f[seen[p]].path, f[i].path);
		else
			seen[p] = i;
	}
	uint32_t missing = 0;
	for (uint32_t i = 0; i < k; i++)
		if (seen[i] < 0 && ++missing <= 10)
			finding(nfind, "partition %u/%u is missing", i, k);
	if (missing > 10)
		finding(nfind, "%u partitions of %u are missing in all", missing, k);
	free(seen);
	return 0;
}

/* The sums of every restored table against the manifest (or the reference). */
static void check_sums(const irs_collection *c, uint32_t target, const stat_file *f, int nf,
		       const stat_file *ref, bool quiet, int *nfind)
{
	irs_backup_info bi;
	irs_collection_backup(c, target, &bi);
	for (size_t ti = 0; ti < f[0].ntables; ti++) {
		const char *name = f[0].tables[ti].name;
		int t = irs_collection_find_table(c, name);
		if (t < 0) {
			finding(nfind, "table %s: not in the collection", name);
			continue;
		}
		uint64_t rows = 0, digest = 0;
		for (int i = 0; i < nf; i++) {
			rows += f[i].tables[ti].rows;
			digest += f[i].tables[ti].digest; /* wraps mod 2^64: digests add up */
		}
		irs_table_backup_info tbi;
		bool manifest = irs_collection_table_backup(c, target, (uint32_t)t, &tbi) == 0 && tbi.has_expected;
		const stat_table *rt = NULL;
		for (size_t k = 0; ref && k < ref->ntables; k++)
			if (strcmp(ref->tables[k].name, name) == 0)
				rt = &ref->tables[k];
		int before = *nfind;
		if (manifest && (rows != tbi.expected_rows || digest != tbi.expected_digest))
			finding(nfind,
				"table %s: the %u partitions add up to %llu rows with digest %016llx; the manifest "
				"expects %llu rows with digest %016llx at backup %s",
				name, f[0].count, (unsigned long long)rows, (unsigned long long)digest,
				(unsigned long long)tbi.expected_rows, (unsigned long long)tbi.expected_digest, bi.name);
		if (rt && (rows != rt->rows || digest != rt->digest))
			finding(nfind,
				"table %s: the %u partitions add up to %llu rows with digest %016llx; the whole "
				"restore %s has %llu rows with digest %016llx",
				name, f[0].count, (unsigned long long)rows, (unsigned long long)digest, ref->path,
				(unsigned long long)rt->rows, (unsigned long long)rt->digest);
		if (!manifest && !rt)
			finding(nfind,
				"table %s: the manifest records no expected state at backup %s (a collection made "
				"by add or import-ydb), so the partitions' sums (%llu rows, digest %016llx) cannot "
				"be checked; give a whole restore's --stats-json as --reference",
				name, bi.name, (unsigned long long)rows, (unsigned long long)digest);
		else if (!quiet && *nfind == before)
			printf("  table %s: %llu rows, digest %016llx: equal to %s\n", name, (unsigned long long)rows,
			       (unsigned long long)digest,
			       manifest && rt ? "the manifest's expected state and the whole restore's"
			       : manifest    ? "the manifest's expected state"
					     : "the whole restore's");
	}
}

/* Validates the arguments and loads the statistics files and the collection. */
static int run_check(const irs_cli_command *cmd, int argc, char **argv)
{
	check_args a = {0};
	a.files = calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));
	if (!a.files)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &a, .more_args = true};
	int ec = irs_cli_parse_args(cmd, argc, argv, &args);
	if (ec != IRS_CLI_ARGS_OK) {
		free(a.files);
		return ec;
	}
	if (a.nfiles == 0) {
		free(a.files);
		return irs_cli_usage_error(cmd, "no statistics files: give the --stats-json of every partition");
	}
	irs_collection *c;
	if ((ec = irs_cli_open(args.dir, 0, &c)) != 0) {
		free(a.files);
		return ec;
	}
	int target = a.upto ? irs_collection_find_backup(c, a.upto) : (int)irs_collection_backup_count(c) - 1;
	stat_file *f = calloc((size_t)a.nfiles, sizeof *f);
	stat_file ref = {0};
	if (target < 0)
		ec = a.upto ? irs_cli_usage_error(cmd, "--upto %s: no backup of that name in %s", a.upto, args.dir)
			    : irs_cli_errorf(IRS_CLI_EXIT_INPUT, "%s: the collection holds no backup yet", args.dir);
	else if (!f)
		ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	for (int i = 0; !ec && i < a.nfiles; i++)
		ec = load_stats(a.files[i], &f[i]);
	if (!ec && a.reference && (ec = load_stats(a.reference, &ref)) == 0 && ref.count != 1)
		ec = irs_cli_errorf(IRS_CLI_EXIT_INPUT, "%s: --reference must be a whole restore's statistics, not "
							"partition %u/%u", a.reference, ref.index, ref.count);
	if (!ec) {
		irs_backup_info bi;
		irs_collection_backup(c, (uint32_t)target, &bi);
		int nfind = 0;
		check_files(c, args.dir, bi.name, f, a.nfiles, &nfind);
		if (a.reference)
			check_files(c, args.dir, bi.name, &ref, 1, &nfind);
		if (!nfind)
			ec = check_coverage(f, a.nfiles, &nfind);
		if (!ec && !nfind && !a.quiet)
			printf("check-partitions: %s through %s: %u partition%s, each once\n", args.dir, bi.name,
			       f[0].count, f[0].count == 1 ? "" : "s");
		if (!ec && !nfind)
			check_sums(c, (uint32_t)target, f, a.nfiles, a.reference ? &ref : NULL, a.quiet, &nfind);
		if (!ec && !nfind && !a.quiet)
			printf("check-partitions: OK: the %u partition%s add%s up\n", f[0].count,
			       f[0].count == 1 ? "" : "s", f[0].count == 1 ? "s" : "");
		if (!ec && nfind)
			ec = IRS_CLI_EXIT_DIFF;
	}
	for (int i = 0; f && i < a.nfiles; i++)
		free_stats(&f[i]);
	free_stats(&ref);
	free(f);
	free(a.files);
	irs_collection_close(c);
	return ec;
}

const irs_cli_command irs_cli_cmd_check_partitions = {
	"check-partitions",
	"check that partitioned restores cover every partition once and add up",
	"usage: increstore check-partitions DIR [--upto NAME] [--reference FILE] STATS.json...\n"
	"\n"
	"Reads the --stats-json files of partitioned restores of DIR (restore --partition I/K\n"
	"--stats-json FILE, one per partition) and checks that\n"
	"  * every file is of collection DIR, restored up to backup NAME (default: the\n"
	"    last), successfully, with the same K and the same tables;\n"
	"  * the files cover the partitions 0..K-1 exactly once;\n"
	"  * for every restored table, the files' row counts add up, and their digests add up\n"
	"    (mod 2^64), to the expected state the manifest records at backup NAME (collections\n"
	"    made by gen, and compacted ones written by restore --out, record one).\n"
	"\n"
	"  --upto NAME       the backup the restores went up to (default: the last)\n"
	"  --reference FILE  the --stats-json of a whole restore (no --partition) up to the\n"
	"                    same backup: the sums must equal its rows and digests too. A\n"
	"                    table without an expected state in the manifest (a collection\n"
	"                    made by add or import-ydb) can only be checked this way; without\n"
	"                    it such a table is reported and the check fails\n"
	"  -q, --quiet       print only the problems\n"
	"\n"
	"Prints one line per problem on stderr: a file of another collection, backup or K, a\n"
	"failed restore, a missing or duplicated partition, a table whose sums differ (with\n"
	"both row counts and digests) or that has nothing to be compared with.\n"
	"\n"
	"exit codes: 0 the partitions add up, 1 they do not (or cannot be checked), 2 usage,\n"
	"3 a statistics file is unreadable or not restore statistics (the message names it),\n"
	"or DIR is not a collection (no MANIFEST), 4 I/O error or no directory DIR\n",
	run_check,
	false, /* a signal ends it (docs/cli.md, "Signals") */
};
