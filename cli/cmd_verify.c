/*
 * cmd_verify.c: `increstore verify DIR [--upto NAME] [--each] [--shards N]`: restores
 * the chain with the engine and, independently, into an in-memory SQLite database
 * through plain SQL (the oracle, sqlite_oracle.h), then compares the two row by row.
 *
 * WHAT IS SHARED AND WHAT IS NOT
 *   Both read the segments with the same reader and decoder (format/format.h,
 *   format/batch.h, common/record.h): decoding is validated by the format tests and by
 *   `inspect --verify-data`. Applying is NOT shared: the oracle applies the restore's
 *   semantics with SQL alone, one transaction per backup (sqlite_oracle.h).
 *
 * COMPARISON after backup b (every barrier with --each, else only the target): per
 * table, equal row counts, and for every engine row (irs_restore_scan, key order) the
 * SQLite row with that key equal in every column (irs_cli_value_equal): same
 * NULLness, integers equal, doubles bitwise, strings bytewise with their lengths.
 * When the counts differ and every engine row matched, the first SQLite row the
 * engine lacks is reported. The table's digest (irs_restore_digest, which the
 * comparison has just shown to be the digest of SQLite's rows too) is also checked
 * against the expected state that `gen` records in the manifest, when there is one
 * (so a wrong expectation is caught too, independently of the engine's own check,
 * which verify turns off).
 *
 * THREADS: irs_restore_run makes the calling thread the coordinator; the barrier
 * callback runs on it while every shard is idle, so the oracle and the comparisons
 * run on this one thread and the engine's tables do not move under them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/cli_support.h"
#include "sqlite_oracle.h"

enum { OPT_UPTO = 1, OPT_EACH, OPT_SHARDS, OPT_QUIET, OPT_TAMPER };

static const irs_cli_opt opts[] = {
	{"--upto", true, OPT_UPTO},
	{"--each", false, OPT_EACH},
	{"--shards", true, OPT_SHARDS},
	{"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},
	{"--tamper", true, OPT_TAMPER},
	{NULL, false, 0},
};

typedef struct verify_args {
	const char *upto, *tamper;
	uint64_t shards;
	bool each, quiet;
} verify_args;

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	verify_args *a = ctx;
	switch (id) {
	case OPT_UPTO: a->upto = p->arg; break;
	case OPT_EACH: a->each = true; break;
	case OPT_SHARDS:
		if (!irs_cli_parse_u64(p, p->arg, 1, IRS_MAX_SHARDS, &a->shards))
			return IRS_CLI_EXIT_USAGE;
		break;
	case OPT_QUIET: a->quiet = true; break;
	case OPT_TAMPER:
		if (strcmp(p->arg, "update") && strcmp(p->arg, "delete") && strcmp(p->arg, "insert"))
			return irs_cli_usage_error(p->cmd, "--tamper: '%s' is not update, delete or insert", p->arg);
		a->tamper = p->arg;
		break;
	}
	return 0;
}

typedef struct vctx {
	irs_oracle *o;
	irs_collection *c;
	uint32_t target;
	bool each, quiet;
	const char *tamper;       /* --tamper: update, delete or insert */
	uint32_t next;            /* next backup the oracle applies */
	double secs;              /* time the oracle spent applying */
	int failed;               /* an oracle or comparison error (in err) */
	irs_error err;
	bool differ;              /* a difference is in report */
	irs_textbuf report;       /* what to print on stdout */
	char where[512];          /* one-line summary of the difference */
	uint32_t compared;        /* last backup compared, or UINT32_MAX */
	uint64_t rows;            /* rows compared at the last comparison */
	/* the table being compared */
	uint32_t ti;
	irs_value *orow;          /* one per column */
} vctx;

/* Brings the oracle to "restored through backup b" (b >= v->next - 1). */
static int oracle_advance(vctx *v, uint32_t b, irs_error *err)
{
	while (v->next <= b) {
		double t0 = irs_cli_now_s();
		uint64_t before = irs_oracle_changes(v->o);
		int rc = irs_oracle_apply_backup(v->o, v->next, err);
		double dt = irs_cli_now_s() - t0;
		v->secs += dt;
		if (rc)
			return rc;
		if (!v->quiet)
			fprintf(stderr, "verify: SQLite applied backup %s: %" PRIu64 " changes in %.2f s\n",
				v->c->backups[v->next].pb->name, irs_oracle_changes(v->o) - before, dt);
		v->next++;
	}
	return 0;
}

/* ------------------------------------------------------------------ comparing */

/* Appends {"k1": v1, ...} of row's key columns. */
static void key_json(irs_textbuf *b, const irs_schema_table *t, const irs_value *row)
{
	irs__textbuf_put(b, "{", 1);
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = t->key_cols[k];
		if (k)
			irs__textbuf_put(b, ", ", 2);
		irs__text_json_string(b, t->cols[c].name, strlen(t->cols[c].name));
		irs__textbuf_put(b, ": ", 2);
		irs__text_json_value(b, t->cols[c].type, &row[c]);
	}
	irs__textbuf_put(b, "}", 1);
}

/* Records the first difference: both rows (NULL = no such row) as JSON. */
static void report_diff(vctx *v, uint32_t b, const irs_value *eng, const irs_value *orc, const char *what)
{
	const irs_schema_table *t = &v->c->tables[v->ti];
	const char *bname = v->c->backups[b].pb->name;
	irs_textbuf *r = &v->report;
	irs_textbuf key;
	irs__textbuf_init(&key, NULL);
	key_json(&key, t, eng ? eng : orc);
	irs__textbuf_cstr(&key);
	char head[256];
	int n = snprintf(head, sizeof head, "verify: DIFFERENCE after backup %s in table %s at key ", bname,
			 t->name);
	irs__textbuf_put(r, head, (size_t)n < sizeof head ? (size_t)n : sizeof head - 1);
	irs__textbuf_put(r, key.data ? key.data : "", key.len);
	irs__textbuf_put(r, ": ", 2);
	irs__textbuf_put(r, what, strlen(what));
	irs__textbuf_put(r, "\n  engine: ", 11);
	if (eng)
		irs__text_jsonl_row(r, t, eng);
	else
		irs__textbuf_put(r, "(no row)\n", 9);
	irs__textbuf_put(r, "  sqlite: ", 10);
	if (orc)
		irs__text_jsonl_row(r, t, orc);
	else
		irs__textbuf_put(r, "(no row)\n", 9);
	snprintf(v->where, sizeof v->where, "the engine and SQLite differ after backup %s (table %s, key %.300s)",
		 bname, t->name, key.data ? key.data : "?");
	irs__textbuf_free(&key);
	v->differ = true;
}

typedef struct scan_ctx {
	vctx *v;
	uint32_t b;
	uint64_t n;
} scan_ctx;

/* One engine row: look up the SQLite row with its key and compare every column. */
static int compare_row(void *ctx, const irs_value *row)
{
	scan_ctx *sc = ctx;
	vctx *v = sc->v;
	const irs_schema_table *t = &v->c->tables[v->ti];
	uint32_t bad;
	int rc = irs_oracle_lookup(v->o, v->ti, row, v->orow, &bad, &v->err);
	if (rc == 0) {
		report_diff(v, sc->b, row, NULL, "the row is missing in SQLite");
		return 1;
	}
	if (rc < 0) {
		v->failed = rc;
		return 1;
	}
	for (uint32_t c = 0; c < t->ncols; c++) {
		bool ok = c != bad;
		if (!ok || !irs_cli_value_equal(t->cols[c].type, &row[c], &v->orow[c])) {
			char what[IRS_MAX_NAME + 64];
			snprintf(what, sizeof what, "column %s differs%s", t->cols[c].name,
				 ok ? "" : " (SQLite holds a value of another type)");
			report_diff(v, sc->b, row, v->orow, what);
			return 1;
		}
	}
	sc->n++;
	return 0;
}

typedef struct extra_ctx {
	vctx *v;
	irs_restore *r;
	uint32_t b;
	irs_value *eng;           /* the engine's row, one per column */
} extra_ctx;

/* One SQLite row: report it when the engine does not have its key. */
static int check_extra(void *ctx, const irs_value *orc)
{
	extra_ctx *x = ctx;
	irs_error e;
	if (irs_restore_get(x->r, x->v->ti, orc, x->eng, &e) == 0)
		return 0;
	/* ENOTFOUND, or a key the engine cannot hold */
	report_diff(x->v, x->b, NULL, orc, "the row is missing in the engine");
	return 1;
}

/* Counts differ but every engine row matched: find a SQLite row the engine lacks. */
static int find_extra(vctx *v, irs_restore *r, uint32_t b)
{
	const irs_schema_table *t = &v->c->tables[v->ti];
	extra_ctx x = {.v = v, .r = r, .b = b, .eng = calloc(t->ncols + 1, sizeof *x.eng)};
	if (!x.eng) {
		v->failed = irs__seterr(&v->err, IRS_ENOMEM, "verify: out of memory");
		return 1;
	}
	int rc = irs_oracle_scan(v->o, v->ti, check_extra, &x, &v->err);
	free(x.eng);
	if (rc < 0) {
		v->failed = rc;
		return 1;
	}
	return rc;
}

/* Records a difference that report_diff does not describe: one summary line. */
static void report_line(vctx *v)
{
	irs__textbuf_put(&v->report, "verify: DIFFERENCE: ", 20);
	irs__textbuf_put(&v->report, v->where, strlen(v->where));
	irs__textbuf_put(&v->report, "\n", 1);
	v->differ = true;
}

/* Compares table ti after backup b; adds its rows to *rows. 0 = identical; 1 =
 * difference or failure. */
static int compare_table(vctx *v, irs_restore *r, uint32_t b, uint32_t ti, uint64_t *rows)
{
	const irs_schema_table *t = &v->c->tables[ti];
	const char *bname = v->c->backups[b].pb->name;
	v->ti = ti;
	uint64_t n_eng = irs_restore_row_count(r, ti), n_orc = 0;
	int rc = irs_oracle_count(v->o, ti, &n_orc, &v->err);
	if (rc) {
		v->failed = rc;
		return 1;
	}
	scan_ctx sc = {.v = v, .b = b};
	irs_error e = {0};
	rc = irs_restore_scan(r, ti, compare_row, &sc, &e);
	if (v->differ || v->failed)
		return 1;
	if (rc) {
		v->failed = rc;
		v->err = e;
		return 1;
	}
	if (n_eng != n_orc || sc.n != n_eng) {
		if (find_extra(v, r, b))
			return 1;
		snprintf(v->where, sizeof v->where,
			 "the engine and SQLite differ after backup %s: table %s has %" PRIu64
			 " rows in the engine (%" PRIu64 " scanned) and %" PRIu64 " in SQLite",
			 bname, t->name, n_eng, sc.n, n_orc);
		report_line(v);
		return 1;
	}
	irs_table_backup_info tbi;
	if (irs_collection_table_backup(v->c, b, ti, &tbi) == 0 && tbi.has_expected) {
		uint64_t digest = irs_restore_digest(r, ti);
		if (tbi.expected_rows != n_eng || tbi.expected_digest != digest) {
			snprintf(v->where, sizeof v->where,
				 "after backup %s table %s: the engine and SQLite agree on %" PRIu64
				 " rows with digest %016" PRIx64 ", but the manifest expects %" PRIu64
				 " rows with digest %016" PRIx64,
				 bname, t->name, n_eng, digest, tbi.expected_rows, tbi.expected_digest);
			report_line(v);
			return 1;
		}
	}
	*rows += n_eng;
	return 0;
}

/* Compares every table after backup b. 0 = identical; 1 = difference or failure. */
static int compare_all(vctx *v, irs_restore *r, uint32_t b)
{
	uint64_t rows = 0;
	for (uint32_t ti = 0; ti < v->c->ntables; ti++)
		if (compare_table(v, r, b, ti, &rows))
			return 1;
	v->compared = b;
	v->rows = rows;
	return 0;
}

/* "verify: OK: N tables, R rows identical through backup NAME", or with --each for
 * backup b: "verify: backup NAME: OK: N tables, R rows identical". */
static void print_ok_line(vctx *v, bool final, uint32_t b)
{
	uint32_t nt = v->c->ntables;
	const char *name = v->c->backups[b].pb->name;
	if (final)
		printf("verify: OK: %" PRIu32 " table%s, %" PRIu64 " rows identical through backup %s\n", nt,
		       nt == 1 ? "" : "s", v->rows, name);
	else
		printf("verify: backup %s: OK: %" PRIu32 " table%s, %" PRIu64 " rows identical\n", name, nt,
		       nt == 1 ? "" : "s", v->rows);
}

/* --tamper (testing verify itself): changes the SQLite copy of the first table with a
 * row before the final comparison, so that verify must find a difference. */
static int tamper(vctx *v)
{
	int changed = 0;
	uint32_t t = 0;
	int rc = irs_oracle_tamper(v->o, &v->tamper, &t, &changed, &v->err);
	if (!rc && !v->quiet)
		fprintf(stderr, "verify: --tamper %s: changed %d SQLite row(s) of table %s\n", v->tamper,
			changed, v->c->tables[t].name);
	return rc;
}

/* Barrier callback: the engine has applied backup b; bring SQLite there and compare. */
static int on_barrier(void *ctx, irs_restore *r, uint32_t b)
{
	vctx *v = ctx;
	int rc = oracle_advance(v, b, &v->err);
	if (rc) {
		v->failed = rc;
		return 1;
	}
	if (!v->each && b != v->target)
		return 0;
	if (v->tamper && b == v->target && (v->failed = tamper(v)))
		return 1;
	if (compare_all(v, r, b))
		return 1;
	if (v->each) {
		print_ok_line(v, false, b);
		fflush(stdout);
	}
	return 0;
}

/* Restores with the engine, comparing at its barriers; returns the exit code. */
static int verify_run(vctx *v, uint64_t shards)
{
	irs_collection *c = v->c;
	uint32_t target = v->target;
	irs_restore_options ro;
	irs_restore_options_init(&ro, IRS_RESTORE_OPTIONS_VERSION);
	ro.shards = (uint32_t)shards;
	ro.upto = c->backups[target].pb->name;
	ro.barrier = on_barrier;
	ro.barrier_ctx = v;
	ro.cancel = (const volatile int *)&irs_cli_cancelled;
	ro.check_expected = 0; /* compared here, against SQLite's rows */
	irs_restore *r = NULL;
	irs_error err = {0};
	double t0 = irs_cli_now_s();
	int rc = irs_restore_run(c, &ro, NULL, &r, &err);
	double total = irs_cli_now_s() - t0;
	if (!rc && !v->differ && !v->failed && v->compared != target) {
		/* The engine did not stop at a barrier for the target: compare now. */
		int arc = oracle_advance(v, target, &v->err);
		if (arc)
			v->failed = arc;
		else
			compare_all(v, r, target);
	}
	int ec = 0;
	if (v->differ) {
		if (v->report.len)
			fwrite(v->report.data, 1, v->report.len, stdout);
		fflush(stdout);
		ec = irs_cli_errorf(IRS_CLI_EXIT_DIFF, "verify: %s", v->where);
	} else if (v->failed) {
		ec = irs_cli_fail(&v->err);
	} else if (rc) {
		ec = irs_cli_fail(&err);
	} else {
		print_ok_line(v, true, target);
		if (!v->quiet)
			fprintf(stderr, "verify: %.2f s in all: SQLite applied %" PRIu64 " changes in %.2f s; the "
					"engine and the comparisons took the rest\n",
				total, irs_oracle_changes(v->o), v->secs);
	}
	irs_restore_free(r);
	return ec;
}

static int run_verify(const irs_cli_command *cmd, int argc, char **argv)
{
	verify_args a = {0};
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &a};
	int ec = irs_cli_parse_args(cmd, argc, argv, &args);
	if (ec != IRS_CLI_ARGS_OK)
		return ec;
	const char *dir = args.dir;
	irs_collection *c;
	if ((ec = irs_cli_open(dir, 0, &c)) != 0)
		return ec;
	uint32_t nb = irs_collection_backup_count(c);
	int target = a.upto ? irs_collection_find_backup(c, a.upto) : (int)nb - 1;
	if (a.upto && target < 0) {
		irs_collection_close(c);
		return irs_cli_usage_error(cmd, "--upto %s: no backup of that name in %s", a.upto, dir);
	}
	if (target < 0) {
		irs_collection_close(c);
		return irs_cli_errorf(IRS_CLI_EXIT_INPUT, "%s: the collection has no backups to verify", dir);
	}
	vctx *v = calloc(1, sizeof *v);
	if (!v) {
		irs_collection_close(c);
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "verify: out of memory");
	}
	v->c = c;
	v->target = (uint32_t)target;
	v->each = a.each;
	v->quiet = a.quiet;
	v->tamper = a.tamper;
	v->compared = UINT32_MAX;
	v->next = c->backups[target].base;
	irs__textbuf_init(&v->report, NULL);
	if (irs_oracle_open(c, "verify", &irs_cli_cancelled, &v->o, &v->err))
		ec = irs_cli_fail(&v->err);
	else if (!(v->orow = calloc(c->max_ncols + 1, sizeof *v->orow)))
		ec = irs_cli_errorf(IRS_CLI_EXIT_IO, "verify: out of memory");
	else
		ec = verify_run(v, a.shards);
	irs_oracle_close(v->o);
	irs__textbuf_free(&v->report);
	free(v->orow);
	free(v);
	irs_collection_close(c);
	return ec;
}

const irs_cli_command irs_cli_cmd_verify = {
	"verify",
	"restore with the engine and with SQLite, and compare them row by row",
	"usage: increstore verify DIR [--upto NAME] [--each] [--shards N] [--quiet]\n"
	"                             [--tamper update|delete|insert]\n"
	"\n"
	"Restores the chain of DIR up to backup NAME (default: the last) twice: with the\n"
	"engine, and independently into an in-memory SQLite database through plain SQL (one\n"
	"transaction per backup; UPSERT = INSERT ... ON CONFLICT DO UPDATE of the listed\n"
	"columns, ERASE = DELETE). Only decoding is shared. Then, for every table, checks\n"
	"equal row counts and that every engine row has an identical SQLite row: same\n"
	"NULLs, integers exactly (uint64 up to 2^64-1), doubles bitwise, strings bytewise\n"
	"(NULL and \"\" differ). Where the manifest records an expected state (collections\n"
	"made by `gen`), the compared rows' digest must match it too.\n"
	"\n"
	"  --upto NAME   verify the state after backup NAME\n"
	"  --each        compare after every backup, not only the last (the SQLite copy is\n"
	"                advanced in step at each barrier of the engine's restore)\n"
	"  --shards N    engine shard threads, 1.." IRS_CLI_STR(IRS_MAX_SHARDS) " (default: online CPUs)\n"
	"  -q, --quiet   no progress lines on stderr\n"
	"  --tamper update|delete|insert\n"
	"                testing verify itself: before the final comparison, change the\n"
	"                middle row of the first table that has rows in the SQLite copy\n"
	"                (flip a value between NULL and 0/\"\", delete it, or add a copy\n"
	"                under a new key); verify must then report the difference and\n"
	"                exit 1. With every table empty there is nothing to change: exit 2\n"
	"\n"
	"Output: with --each one line per backup, then\n"
	"    verify: OK: N tables, R rows identical through backup NAME\n"
	"On a difference it prints the first differing table and key with both rows as\n"
	"JSON, and exits 1. Corrupt input exits 3, as `restore` does.\n"
	"\n"
	"Cost: SQLite applies changes about 100x slower than the engine, and memory holds\n"
	"both copies of the tables (SQLite's is 2-3x the engine's logical size): W1 (5 M\n"
	"rows + 10 x 500 K changes) takes about 3 minutes and 1.2 GB on 2 cores. Meant for\n"
	"testing, not for production restores.\n"
	"\n"
	"exit codes: 0 identical, 1 a difference, 2 usage, 3 invalid or corrupt collection,\n"
	"4 I/O error or out of memory, 5 cancelled\n",
	run_verify,
	true, /* cancellable */
};
