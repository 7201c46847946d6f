/*
 * cmd_gen.c: `increstore gen DIR --rows N --incrementals K --changes M [...]`: writes a
 * synthetic backup collection (one full backup, a chain of incrementals, optionally
 * more fulls) through the public writer API, deterministically for a seed, with
 * bounded memory, and records in every backup the expected state of every table (row
 * count and content digest, common/digest.h) so that `restore` can check itself at
 * every barrier.
 *
 * This file holds the command: its flags, the default schema, and the loop that
 * writes the backups. The model that knows what every table holds is gen_model.c
 * (with how it keeps the digest without the rows); its randomness is gen_random.c.
 *
 * DETERMINISM: all choices come from xoshiro256** streams seeded per (seed, table,
 * backup) and from splitmix64-style hashes; backups are named full-000, inc-001, ...
 * Segment files are byte-identical for the same flags and seed (no libm: zipf uses
 * our own pow, so this holds across machines too); the MANIFEST is not, as it records
 * creation times, a random collection id and random data directory names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h> /* isfinite only: the CLI does not link libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "engine/cli_support.h"
#include "gen_model.h"
#include "schema_json.h"

/* ------------------------------------------------------------------ options */

enum {
	OPT_ROWS = 1, OPT_INCS, OPT_CHANGES, OPT_SEED, OPT_UPDATES, OPT_INSERTS, OPT_ERASES,
	OPT_PARTIAL, OPT_PARTIAL_COLS, OPT_KEYS, OPT_THETA, OPT_VALUE_BYTES, OPT_COLUMNS,
	OPT_TYPES, OPT_SCHEMA, OPT_TABLES, OPT_FULLS, OPT_EMPTY_EVERY, OPT_NULLS, OPT_REINSERTS,
	OPT_NOOP_ERASES, OPT_BATCH_ROWS, OPT_WRITER_MEMORY, OPT_QUIET
};

static const irs_cli_opt opts[] = {
	{"--rows", true, OPT_ROWS},
	{"--incrementals", true, OPT_INCS},
	{"--changes", true, OPT_CHANGES},
	{"--seed", true, OPT_SEED},
	{"--updates", true, OPT_UPDATES},
	{"--inserts", true, OPT_INSERTS},
	{"--erases", true, OPT_ERASES},
	{"--partial", true, OPT_PARTIAL},
	{"--partial-columns", true, OPT_PARTIAL_COLS},
	{"--keys", true, OPT_KEYS},
	{"--zipf-theta", true, OPT_THETA},
	{"--value-bytes", true, OPT_VALUE_BYTES},
	{"--columns", true, OPT_COLUMNS},
	{"--types", true, OPT_TYPES},
	{"--schema", true, OPT_SCHEMA},
	{"--tables", true, OPT_TABLES},
	{"--fulls", true, OPT_FULLS},
	{"--empty-every", true, OPT_EMPTY_EVERY},
	{"--null-fraction", true, OPT_NULLS},
	{"--reinserts", true, OPT_REINSERTS},
	{"--noop-erases", true, OPT_NOOP_ERASES},
	{"--batch-rows", true, OPT_BATCH_ROWS},
	{"--writer-memory", true, OPT_WRITER_MEMORY},
	{"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},
	{NULL, false, 0},
};

/* The value column types of the default schema, cycled when --columns asks for more. */
static const irs_type default_types[] = {
	IRS_TYPE_INT64, IRS_TYPE_DOUBLE, IRS_TYPE_UTF8, IRS_TYPE_UINT32, IRS_TYPE_BOOL,
	IRS_TYPE_TIMESTAMP, IRS_TYPE_INT32, IRS_TYPE_BYTES, IRS_TYPE_UINT64,
};
#define DEFAULT_VALUE_COLUMNS 6u
#define TARGET_ROW_BYTES 70u      /* logical bytes of a default row (W1, docs/design.md section 6) */

/* The state of one `gen` run: the model, the schema it generates, the writer. */
typedef struct gen_run {
	irs_gen g;
	/* the default schema (when not --schema): one column array shared by every table */
	irs_table_def *defs;
	irs_column_def *def_cols;
	char *def_names;          /* its column names, 32 bytes each */
	char *def_tnames;         /* its table names, 16 bytes each */
	irs_cli_schema schema;    /* --schema */
	/* writing */
	irs_collection *c;
	irs_backup_writer *w;
	irs_error err;
	uint64_t tag;
	double t0;
	uint64_t total_bytes, total_records;
	uint64_t full_rows, inc_changes;
	uint32_t backup_index, backups_total;
	int name_width;
	const char *dir;
	char backup[64];          /* the backup being written, for messages */
} gen_run;

/* Prints a library failure of the backup being written, naming the collection and
 * the backup; returns its exit code. */
static int gen_fail(gen_run *R)
{
	irs__errprefix(&R->err, "gen %s: backup %s", R->dir, R->backup);
	return irs_cli_fail(&R->err);
}

/* Parses a fraction in [lo, hi]. */
static bool parse_frac(const irs_cli_parser *p, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo || v > hi) {
		irs_cli_usage_error(p->cmd, "%s: '%s' is not a number in [%g, %g]", p->opt, s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

/* The options being parsed, and whether the three required flags were given. */
typedef struct gen_args {
	irs_gen_opts *o;
	bool have_rows, have_incs, have_changes;
} gen_args;

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	gen_args *a = ctx;
	irs_gen_opts *o = a->o;
	const char *v = p->arg;
	bool ok = true;
	switch (id) {
	case OPT_ROWS: ok = irs_cli_parse_u64(p, v, 0, UINT32_MAX * UINT64_C(4096), &o->rows); a->have_rows = true; break;
	case OPT_INCS: ok = irs_cli_parse_u64(p, v, 0, 1000000, &o->incs); a->have_incs = true; break;
	case OPT_CHANGES: ok = irs_cli_parse_u64(p, v, 0, UINT32_MAX * UINT64_C(4096), &o->changes); a->have_changes = true; break;
	case OPT_SEED: ok = irs_cli_parse_u64(p, v, 0, UINT64_MAX, &o->seed); break;
	case OPT_UPDATES:
	case OPT_INSERTS:
	case OPT_ERASES:
		ok = parse_frac(p, v, 0, 1, &o->mix[id - OPT_UPDATES]);
		o->mix_set[id - OPT_UPDATES] = true;
		break;
	case OPT_PARTIAL: ok = parse_frac(p, v, 0, 1, &o->partial); break;
	case OPT_PARTIAL_COLS: ok = irs_cli_parse_u64(p, v, 1, IRS_MAX_COLUMNS, &o->partial_cols); break;
	case OPT_KEYS:
		if (strcmp(v, "uniform") == 0)
			o->keys = IRS_GEN_KEYS_UNIFORM;
		else if (strcmp(v, "sequential") == 0)
			o->keys = IRS_GEN_KEYS_SEQUENTIAL;
		else if (strcmp(v, "zipf") == 0)
			o->keys = IRS_GEN_KEYS_ZIPF;
		else
			return irs_cli_usage_error(p->cmd, "--keys: '%s' is not uniform, sequential or zipf", v);
		break;
	case OPT_THETA: ok = parse_frac(p, v, 0.01, 0.9999, &o->theta); break;
	case OPT_VALUE_BYTES: ok = irs_cli_parse_u64(p, v, 0, 1u << 20, &o->value_bytes); o->value_bytes_set = true; break;
	case OPT_COLUMNS: ok = irs_cli_parse_u64(p, v, 0, IRS_MAX_COLUMNS - 1, &o->columns); o->columns_set = true; break;
	case OPT_TYPES: o->types = v; break;
	case OPT_SCHEMA: o->schema = v; break;
	case OPT_TABLES: ok = irs_cli_parse_u64(p, v, 1, 1024, &o->tables); o->tables_set = true; break;
	case OPT_FULLS: ok = irs_cli_parse_u64(p, v, 1, 1000000, &o->fulls); break;
	case OPT_EMPTY_EVERY: ok = irs_cli_parse_u64(p, v, 1, UINT64_MAX, &o->empty_every); break;
	case OPT_NULLS: ok = parse_frac(p, v, 0, 1, &o->nulls); break;
	case OPT_REINSERTS: ok = parse_frac(p, v, 0, 1, &o->reinserts); break;
	case OPT_NOOP_ERASES: ok = parse_frac(p, v, 0, 1, &o->noop_erases); break;
	case OPT_BATCH_ROWS: ok = irs_cli_parse_u64(p, v, 1, 1u << 20, &o->batch_rows); break;
	case OPT_WRITER_MEMORY: ok = irs_cli_parse_size(p, v, 1u << 16, SIZE_MAX, &o->writer_memory); break;
	case OPT_QUIET: o->quiet = true; break;
	}
	return ok ? 0 : IRS_CLI_EXIT_USAGE;
}

/* The mix: flags not given share what the given ones leave, in their default ratio.
 * Returns 0 or the exit code of a usage error. */
static int normalise_mix(const irs_cli_command *cmd, irs_gen_opts *o)
{
	double given = 0, rest = 0;
	int ngiven = 0;
	static const double defaults[3] = {0.60, 0.25, 0.15};
	for (int i = 0; i < 3; i++) {
		if (o->mix_set[i]) {
			given += o->mix[i];
			ngiven++;
		} else {
			rest += defaults[i];
		}
	}
	if (given > 1.0 + 1e-9 || (ngiven == 3 && (given - 1.0 > 1e-6 || 1.0 - given > 1e-6)))
		return irs_cli_usage_error(cmd, "--updates, --inserts and --erases must add up to 1 (they add up to %g)", given);
	for (int i = 0; i < 3; i++)
		if (!o->mix_set[i])
			o->mix[i] = rest > 0 ? (1.0 - given) * defaults[i] / rest : 0;
	if (o->changes && o->mix[0] + o->mix[1] + o->mix[2] <= 0)
		return irs_cli_usage_error(cmd, "--updates, --inserts and --erases are all 0");
	return 0;
}

/* Parses and checks the flags into o; *dir receives DIR. Returns IRS_CLI_ARGS_OK or
 * the exit code. */
static int parse_gen_args(const irs_cli_command *cmd, int argc, char **argv, irs_gen_opts *o,
			  const char **dir)
{
	*o = (irs_gen_opts){.seed = 1, .mix = {0.60, 0.25, 0.15}, .partial = 0.5, .partial_cols = 1,
			    .keys = IRS_GEN_KEYS_UNIFORM, .theta = 0.99, .tables = 1, .fulls = 1,
			    .writer_memory = 64u << 20};
	gen_args ga = {.o = o};
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &ga};
	int rc = irs_cli_parse_args(cmd, argc, argv, &args);
	if (rc != IRS_CLI_ARGS_OK)
		return rc;
	*dir = args.dir;
	if (!ga.have_rows || !ga.have_incs || !ga.have_changes)
		return irs_cli_usage_error(cmd, "missing %s", !ga.have_rows ? "--rows N" : !ga.have_incs ? "--incrementals K" : "--changes M");
	if (o->schema && (o->types || o->columns_set))
		return irs_cli_usage_error(cmd, "--schema cannot be combined with --types or --columns");
	if (o->fulls > (o->incs > 0 ? o->incs : 1))
		return irs_cli_usage_error(cmd, "--fulls %" PRIu64 ": at most one full backup per incremental (%" PRIu64 ")",
					   o->fulls, o->incs);
	rc = normalise_mix(cmd, o);
	return rc ? rc : IRS_CLI_ARGS_OK;
}

/* ------------------------------------------------------------------ the schema */

/* The default schema: one table (or --tables N: t1..tN) with a uint64 key "id" and
 * value columns of --types (or the default mix), named c<i>_<type>. */
static int build_default_schema(gen_run *R, const irs_cli_command *cmd)
{
	irs_type types[IRS_MAX_COLUMNS];
	uint32_t ntypes = 0;
	if (R->g.o.types) {
		const char *s = R->g.o.types;
		while (*s) {
			const char *e = strchr(s, ',');
			size_t len = e ? (size_t)(e - s) : strlen(s);
			char name[32];
			if (len == 0 || len >= sizeof name || ntypes == IRS_MAX_COLUMNS - 1)
				return irs_cli_usage_error(cmd, "--types: bad list '%s'", R->g.o.types);
			memcpy(name, s, len);
			name[len] = '\0';
			if (irs_type_parse(name, &types[ntypes]) != 0)
				return irs_cli_usage_error(cmd, "--types: unknown type '%s'", name);
			ntypes++;
			s += len;
			if (*s == ',')
				s++;
		}
		if (!ntypes)
			return irs_cli_usage_error(cmd, "--types: empty list");
	} else {
		ntypes = sizeof default_types / sizeof default_types[0];
		memcpy(types, default_types, sizeof default_types);
	}
	uint32_t nv = R->g.o.columns_set ? (uint32_t)R->g.o.columns
				       : R->g.o.types ? ntypes : DEFAULT_VALUE_COLUMNS;
	R->defs = calloc(R->g.ntables, sizeof *R->defs);
	if (!R->defs)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory");
	/* One column array and key shared by every table; names live in one block. */
	irs_column_def *cols = R->def_cols = calloc(nv + 1, sizeof *cols);
	char *names = R->def_names = calloc(nv + 1, 32);
	char *tnames = R->def_tnames = calloc(R->g.ntables, 16);
	static const uint32_t key0 = 0;
	if (!cols || !names || !tnames)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory");
	cols[0].name = "id";
	cols[0].type = IRS_TYPE_UINT64;
	for (uint32_t i = 0; i < nv; i++) {
		irs_type ty = types[i % ntypes];
		snprintf(names + 32 * (i + 1), 32, "c%" PRIu32 "_%s", i + 1, irs_type_name(ty));
		cols[i + 1].name = names + 32 * (i + 1);
		cols[i + 1].type = ty;
	}
	for (uint32_t t = 0; t < R->g.ntables; t++) {
		if (R->g.ntables == 1)
			snprintf(tnames, 16, "t");
		else
			snprintf(tnames + 16 * t, 16, "t%" PRIu32, t + 1);
		R->defs[t].name = tnames + 16 * t;
		R->defs[t].columns = cols;
		R->defs[t].column_count = nv + 1;
		R->defs[t].primary_key = &key0;
		R->defs[t].primary_key_count = 1;
	}
	return 0;
}

static void free_default_schema(gen_run *R)
{
	free(R->defs);
	free(R->def_cols);
	free(R->def_names);
	free(R->def_tnames);
}

/* Default --value-bytes: strings sized so that a row is about 70 logical bytes, as
 * irs_restore_logical_bytes counts them (encoded key + value bytes + one NULL bit per
 * value column; a string counts its bytes). */
static uint64_t default_value_bytes(const gen_run *R)
{
	const irs_table_def *d = R->defs ? &R->defs[0] : &R->schema.tables[0];
	uint64_t fixed = 0, nstr = 0;
	for (uint32_t c = 0; c < d->column_count; c++) {
		irs_type ty = d->columns[c].type;
		if (ty == IRS_TYPE_UTF8 || ty == IRS_TYPE_BYTES)
			nstr++;
		else
			fixed += ty == IRS_TYPE_BOOL ? 1 : ty == IRS_TYPE_INT32 || ty == IRS_TYPE_UINT32 ? 4 : 8;
	}
	fixed += (d->column_count - d->primary_key_count + 7) / 8;
	if (!nstr)
		return 16;
	return fixed + 8 * nstr < TARGET_ROW_BYTES ? (TARGET_ROW_BYTES - fixed) / nstr : 8;
}

/* ------------------------------------------------------------------ writing */

/* A failed writer call: cancelled (the signal flag seen in a spill of buffered
 * changes or in the commit; said as between backups, as the writer's message would
 * name the backup twice), or another error. */
static int writer_failed(gen_run *R, int rc)
{
	if (rc == IRS_ECANCELED)
		return irs_cli_errorf(IRS_CLI_EXIT_CANCELED, "gen: cancelled");
	return gen_fail(R);
}

static int emit_upsert(gen_run *R, uint32_t ti, const irs_value *vals)
{
	int rc = irs_backup_writer_upsert(R->w, ti, vals, ++R->tag, &R->err);
	return rc ? writer_failed(R, rc) : 0;
}

static int emit_erase(gen_run *R, uint32_t ti, const irs_value *key)
{
	int rc = irs_backup_writer_erase(R->w, ti, key, ++R->tag, &R->err);
	return rc ? writer_failed(R, rc) : 0;
}

static int check_cancel(void)
{
	if (__atomic_load_n(&irs_cli_cancelled, __ATOMIC_RELAXED))
		return irs_cli_errorf(IRS_CLI_EXIT_CANCELED, "gen: cancelled");
	return 0;
}

/* One change of table ti: op 0 update, 1 insert, 2 erase, as drawn; u decides a
 * re-insert or a no-op erase. An update or erase with no live untouched id left
 * becomes an insert. */
static int gen_change(gen_run *R, uint32_t ti, int op, uint64_t u)
{
	const irs_gen *g = &R->g;
	irs_gen_table *T = &R->g.t[ti];
	if (op == 2 && g->noop_thr && u < g->noop_thr && T->dead_avail)
		return emit_erase(R, ti, irs_gen_erase(g, T, true));
	if (op == 0 && T->live_avail)
		return emit_upsert(R, ti, irs_gen_update(g, T));
	if (op == 2 && T->live_avail)
		return emit_erase(R, ti, irs_gen_erase(g, T, false));
	if (op == 1 && g->reins_thr && u < g->reins_thr && T->dead_avail)
		return emit_upsert(R, ti, irs_gen_reinsert(g, T));
	return emit_upsert(R, ti, irs_gen_insert_fresh(g, T));
}

/* The m changes of table ti in one incremental. */
static int gen_incremental_table(gen_run *R, uint32_t ti, uint64_t m, uint64_t bseed)
{
	const irs_gen *g = &R->g;
	irs_gen_table *T = &R->g.t[ti];
	irs_gen_backup_begin(g, T, bseed);
	uint64_t left[3];
	left[0] = (uint64_t)((double)m * g->o.mix[0] + 0.5);
	left[1] = (uint64_t)((double)m * g->o.mix[1] + 0.5);
	if (left[0] > m)
		left[0] = m;
	if (left[1] > m - left[0])
		left[1] = m - left[0];
	left[2] = m - left[0] - left[1];
	for (uint64_t i = 0; i < m; i++) {
		if ((i & 4095) == 0) {
			int rc = check_cancel();
			if (rc)
				return rc;
		}
		uint64_t rem = left[0] + left[1] + left[2];
		uint64_t r = irs_gen_rng_below(&T->rng, rem);
		int op = r < left[0] ? 0 : r < left[0] + left[1] ? 1 : 2;
		left[op]--;
		uint64_t u = irs_gen_rng_next(&T->rng) >> 11; /* decides re-insert / no-op erase */
		int rc = gen_change(R, ti, op, u);
		if (rc)
			return rc;
	}
	T->changes_written += m;
	return 0;
}

/* Writes the current state of table ti as rows of a full backup and checks the
 * running digest against a fresh sum. */
static int gen_full_table(gen_run *R, uint32_t ti, bool initial)
{
	const irs_gen *g = &R->g;
	irs_gen_table *T = &R->g.t[ti];
	if (initial)
		irs_gen_first_full(T);
	uint64_t sum = 0, n = 0;
	for (uint64_t id = 0; id < T->next_id; id++) {
		if ((id & 4095) == 0) {
			int rc = check_cancel();
			if (rc)
				return rc;
		}
		const irs_value *row = irs_gen_live_row(g, T, id);
		if (!row)
			continue;
		sum += irs_gen_row_digest(T);
		n++;
		int rc = emit_upsert(R, ti, row);
		if (rc)
			return rc;
	}
	if (initial)
		T->digest = sum;
	else if (sum != T->digest || n != T->live_count)
		return irs_cli_errorf(IRS_CLI_EXIT_IO,
				      "gen: internal error: table %s: running state %" PRIu64
				      " rows digest %016" PRIx64 ", rewritten %" PRIu64 " rows digest %016" PRIx64,
				      T->def->name, T->live_count, T->digest, n, sum);
	return 0;
}

/* Writes one backup: a full (the current state; the first one creates it) or an
 * incremental (empty: no changes). */
static int gen_backup(gen_run *R, irs_backup_kind kind, bool initial, bool empty)
{
	const irs_gen *g = &R->g;
	char name[64];
	snprintf(name, sizeof name, "%s-%0*" PRIu32, kind == IRS_BACKUP_FULL ? "full" : "inc",
		 R->name_width, R->backup_index);
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.memory_budget = (size_t)g->o.writer_memory;
	wo.batch_rows = (uint32_t)g->o.batch_rows;
	wo.collapse_duplicates = 0; /* the generator never repeats a key: say so if it did */
	wo.cancel = &irs_cli_cancelled;
	double tb = irs_cli_now_s();
	snprintf(R->backup, sizeof R->backup, "%s", name);
	int rc = irs_backup_writer_begin(R->c, kind, name, &wo, &R->w, &R->err);
	if (rc)
		return gen_fail(R);
	R->tag = 0;
	for (uint32_t ti = 0; ti < g->ntables && !rc; ti++) {
		if (kind == IRS_BACKUP_FULL) {
			rc = gen_full_table(R, ti, initial);
		} else if (!empty) {
			uint64_t m = g->o.changes / g->ntables + (ti < g->o.changes % g->ntables);
			uint64_t bseed = irs_gen_mix64(g->o.seed ^ irs_gen_mix64(((uint64_t)ti << 32) + R->backup_index));
			rc = gen_incremental_table(R, ti, m, bseed);
		}
	}
	for (uint32_t ti = 0; ti < g->ntables && !rc; ti++) {
		const irs_gen_table *T = &g->t[ti];
		if (irs_backup_writer_set_expected(R->w, ti, T->live_count, T->digest, &R->err))
			rc = gen_fail(R);
	}
	if (rc) {
		irs_backup_writer_abort(R->w);
		R->w = NULL;
		return rc;
	}
	rc = irs_backup_writer_commit(R->w, &R->err);
	R->w = NULL;
	if (rc)
		return writer_failed(R, rc);
	irs_backup_info bi;
	irs_collection_backup(R->c, R->backup_index, &bi);
	R->total_bytes += bi.bytes;
	R->total_records += bi.records;
	if (kind == IRS_BACKUP_FULL)
		R->full_rows += bi.records;
	else
		R->inc_changes += bi.records;
	if (!g->o.quiet) {
		char b[32];
		double el = irs_cli_now_s() - R->t0, dt = irs_cli_now_s() - tb;
		fprintf(stderr, "gen: backup %" PRIu32 "/%" PRIu32 " %s: %" PRIu64 " %s, %s, %.2f s; total %.1f MB/s\n",
			R->backup_index + 1, R->backups_total, name, bi.records,
			kind == IRS_BACKUP_FULL ? "rows" : "changes", irs_cli_format_bytes(bi.bytes, b), dt,
			el > 0 ? (double)R->total_bytes / el / 1e6 : 0.0);
	}
	R->backup_index++;
	return 0;
}

/* ------------------------------------------------------------------ the command */

/* Loads --schema or builds the default schema, then sets up the model of every
 * table. Returns 0 or the exit code. */
static int setup_tables(gen_run *R, const irs_cli_command *cmd)
{
	irs_gen *g = &R->g;
	irs_gen_opts *o = &g->o;
	irs_error err = {0};
	if (o->schema) {
		if (irs_schema_json_load(o->schema, &R->schema, &err))
			return irs_cli_fail(&err);
		if (o->tables_set && o->tables != R->schema.count)
			return irs_cli_usage_error(cmd, "--tables %" PRIu64 " but %s defines %" PRIu32 " tables",
						   o->tables, o->schema, R->schema.count);
		g->ntables = R->schema.count;
	} else {
		g->ntables = (uint32_t)o->tables;
		int rc = build_default_schema(R, cmd);
		if (rc)
			return rc;
	}
	if (!o->value_bytes_set)
		o->value_bytes = default_value_bytes(R);
	g->str_cap = irs_gen_str_max(o->value_bytes);
	g->t = calloc(g->ntables, sizeof *g->t);
	if (!g->t)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory");
	const irs_table_def *defs = R->defs ? R->defs : R->schema.tables;
	for (uint32_t ti = 0; ti < g->ntables; ti++) {
		int rc = irs_gen_table_init(g, ti, &defs[ti]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Creates DIR and writes the backups into it. Returns 0 or the exit code. */
static int write_backups(gen_run *R);

/*
 * A failed gen leaves nothing behind: the collection it was writing (DIR itself when
 * gen made it, else what it put in the empty DIR it was given) and the parents it
 * made. A cancelled one keeps the backups already committed, as documented (when it
 * committed none, it leaves nothing either).
 */
static void gen_discard(gen_run *R, const char *dir, bool existed, char *made)
{
	irs_collection_close(R->c);
	R->c = NULL;
	if (!existed) {
		irs__remove_tree_at(AT_FDCWD, dir);
		irs_cli_unmake_parents(dir, made);
		return;
	}
	free(made);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			irs__remove_tree_at(fd, e->d_name);
	closedir(d);
}

static int write_chain(gen_run *R, const char *dir)
{
	const irs_table_def *defs = R->defs ? R->defs : R->schema.tables;
	R->dir = dir;
	struct stat st;
	bool existed = stat(dir, &st) == 0;
	char *made;
	int rc = irs_cli_make_parents(dir, &made);
	if (rc)
		return rc;
	if (irs_collection_create(dir, defs, R->g.ntables, &R->err)) {
		irs_cli_unmake_parents(dir, made);
		return irs_cli_fail(&R->err);
	}
	if (irs_collection_open(dir, NULL, 0, &R->c, &R->err))
		rc = irs_cli_fail(&R->err);
	if (!rc)
		rc = write_backups(R);
	/* a cancelled gen keeps what it committed; with nothing committed it is a failure */
	if (rc && (rc != IRS_CLI_EXIT_CANCELED || !R->c || irs_collection_backup_count(R->c) == 0))
		gen_discard(R, dir, existed, made);
	else
		free(made);
	return rc;
}

/* The first full backup, then the incrementals with the other full backups spread
 * evenly among them. */
static int write_backups(gen_run *R)
{
	const irs_gen_opts *o = &R->g.o;
	int rc;
	R->t0 = irs_cli_now_s();
	R->backups_total = (uint32_t)(o->incs + o->fulls);
	R->name_width = 3;
	for (uint64_t x = R->backups_total ? R->backups_total - 1 : 0; x >= 1000; x /= 10)
		R->name_width++;
	rc = gen_backup(R, IRS_BACKUP_FULL, true, false);
	uint64_t next_full = 1;
	for (uint64_t j = 0; j < o->incs && !rc; j++) {
		if (next_full < o->fulls && j == next_full * o->incs / o->fulls) {
			rc = gen_backup(R, IRS_BACKUP_FULL, false, false);
			next_full++;
			if (rc)
				break;
		}
		bool empty = o->empty_every && (j + 1) % o->empty_every == 0;
		rc = gen_backup(R, IRS_BACKUP_INCREMENTAL, false, empty);
	}
	return rc;
}

/* "generated DIR: ..." and, unless --quiet, a line per table. */
static void print_summary(const gen_run *R, const char *dir, double secs)
{
	const irs_gen *g = &R->g;
	char b[32];
	uint64_t rows_now = 0;
	for (uint32_t ti = 0; ti < g->ntables; ti++)
		rows_now += g->t[ti].live_count;
	printf("generated %s: %" PRIu32 " table%s, %" PRIu32 " backups (%" PRIu64 " full + %" PRIu64
	       " incremental), %" PRIu64 " rows in fulls + %" PRIu64 " changes, %" PRIu64
	       " rows at the end; %s in %.2f s: %.1f MB/s, %.2f M rows/s\n",
	       dir, g->ntables, g->ntables == 1 ? "" : "s", R->backup_index, g->o.fulls, g->o.incs,
	       R->full_rows, R->inc_changes, rows_now, irs_cli_format_bytes(R->total_bytes, b), secs,
	       secs > 0 ? (double)R->total_bytes / secs / 1e6 : 0.0,
	       secs > 0 ? (double)R->total_records / secs / 1e6 : 0.0);
	if (!g->o.quiet)
		for (uint32_t ti = 0; ti < g->ntables; ti++)
			printf("  table %s: %" PRIu64 " rows, digest %016" PRIx64 "\n", g->t[ti].def->name,
			       g->t[ti].live_count, g->t[ti].digest);
}

static int run_gen(const irs_cli_command *cmd, int argc, char **argv)
{
	gen_run *R = calloc(1, sizeof *R);
	if (!R)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory");
	irs_gen *g = &R->g;
	const char *dir = NULL;
	int rc = parse_gen_args(cmd, argc, argv, &g->o, &dir);
	if (rc == IRS_CLI_ARGS_OK) {
		g->part_thr = irs_gen_threshold(g->o.partial);
		g->null_thr = irs_gen_threshold(g->o.nulls);
		g->reins_thr = irs_gen_threshold(g->o.reinserts);
		g->noop_thr = irs_gen_threshold(g->o.noop_erases);
		rc = setup_tables(R, cmd);
		if (!rc)
			rc = write_chain(R, dir);
		if (!rc)
			print_summary(R, dir, irs_cli_now_s() - R->t0);
	}
	irs_collection_close(R->c);
	if (g->t)
		for (uint32_t ti = 0; ti < g->ntables; ti++)
			irs_gen_table_free(&g->t[ti]);
	free(g->t);
	free_default_schema(R);
	irs_schema_json_free(&R->schema);
	free(R);
	return rc;
}

const irs_cli_command irs_cli_cmd_gen = {
	"gen",
	"generate a synthetic collection (full + incrementals) with expected states",
	"usage: increstore gen DIR --rows N --incrementals K --changes M [--seed S] [options]\n"
	"\n"
	"Creates the collection DIR (which must not exist or be empty) and writes a full\n"
	"backup of N rows followed by K incremental backups of M changes each, through the\n"
	"library's writer. Every backup records, for every table, the expected row count\n"
	"and content digest after it, which `restore` checks at every barrier (exit 3 on a\n"
	"difference). Backups are named by chain position: full-000, inc-001, inc-002, ...\n"
	"\n"
	"The same flags and seed give byte-identical segment files (the MANIFEST differs:\n"
	"it records creation times, a random collection id and random directory names).\n"
	"W1 (docs/design.md section 6) is `gen DIR --rows 5000000 --incrementals 10 --changes 500000`.\n"
	"\n"
	"size and shape:\n"
	"  --rows N               rows of the first full backup (all tables together)\n"
	"  --incrementals K       incremental backups\n"
	"  --changes M            changes per incremental (all tables together)\n"
	"  --seed S               seed of every random choice (default 1)\n"
	"  --tables N             N tables t1..tN with the same columns (default 1: table t);\n"
	"                         rows and changes are split evenly across tables\n"
	"  --fulls N              N full backups in all (default 1): a new full backup, holding\n"
	"                         the then-current state, every K/N incrementals\n"
	"  --empty-every N        every Nth incremental is empty (no changes)\n"
	"\n"
	"change mix (of each incremental; flags not given share the rest in their default\n"
	"ratio; all three given must add up to 1):\n"
	"  --updates F            updates of existing rows (default 0.60)\n"
	"  --inserts F            inserts of new keys (default 0.25)\n"
	"  --erases F             erases of existing rows (default 0.15)\n"
	"  --partial F            share of updates that list only some columns (default 0.5);\n"
	"                         the others rewrite every value column\n"
	"  --partial-columns N    value columns a partial update lists (default 1)\n"
	"  --reinserts F          share of inserts that re-insert an erased key listing only\n"
	"                         some columns (the rest must become NULL) (default 0)\n"
	"  --noop-erases F        share of erases of keys that do not exist (erased\n"
	"                         earlier; the engine must ignore them) (default 0)\n"
	"  --null-fraction F      share of written values that are NULL (default 0)\n"
	"\n"
	"keys:\n"
	"  --keys uniform|sequential|zipf\n"
	"                         which existing rows the changes hit (default uniform):\n"
	"                         sequential = contiguous runs of keys; zipf = skewed, with\n"
	"                         the hot keys scattered over the key space\n"
	"  --zipf-theta T         skew of zipf, 0.01 <= T <= 0.9999 (default 0.99)\n"
	"\n"
	"schema (default: key `id` uint64 and 6 value columns int64, double, utf8, uint32,\n"
	"bool, timestamp, named c1_int64, c2_double, ...; rows of about 70 bytes):\n"
	"  --columns N            N value columns (types cycle through --types, or the default\n"
	"                         mix int64, double, utf8, uint32, bool, timestamp, int32,\n"
	"                         bytes, uint64)\n"
	"  --types LIST           comma list of value column types, e.g. int64,utf8,bytes\n"
	"  --schema FILE          the tables of a schema JSON as `create` takes (composite and\n"
	"                         string keys work: the first key column that can hold every\n"
	"                         key numbers the rows, the others are derived from it)\n"
	"  --value-bytes N        typical size of utf8/bytes values (lengths vary by +-25%,\n"
	"                         1 in 64 is empty; default: rows of about 70 bytes)\n"
	"\n"
	"writing:\n"
	"  --batch-rows N         changes per frame (default 4096)\n"
	"  --writer-memory B      writer buffer before it spills sorted runs (default 64 MiB;\n"
	"                         units as --memory-limit of restore: 64M, 1GiB, ...)\n"
	"  -q, --quiet            no per-backup lines on stderr and no per-table lines\n"
	"\n"
	"Memory: about 4.25 bytes per key ever created plus the writer buffer, so 50 M rows\n"
	"fit in about 300 MB. Prints a summary: backups, rows, bytes, MB/s, rows/s.\n"
	"SIGINT/SIGTERM stop after the current change (exit 5); the backups already\n"
	"committed stay, the one being written is discarded (with none committed, DIR is\n"
	"left as it was before).\n"
	"\n"
	"exit codes: 0 written, 2 usage, 3 invalid --schema, 4 I/O error, out of memory or\n"
	"DIR not empty, 5 cancelled\n",
	run_gen,
	true, /* cancellable */
};

