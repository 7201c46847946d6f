/*
 * cmd_gen.c: `increstore gen DIR --rows N --incrementals K --changes M [...]`: writes a
 * synthetic backup collection (one full backup, a chain of incrementals, optionally
 * more fulls) through the public writer API, deterministically for a seed, with
 * bounded memory, and records in every backup the expected state of every table (row
 * count and content digest, common/digest.h) so that `restore` can check itself at
 * every barrier.
 *
 * THE MODEL (how the expected digest is maintained without keeping the rows)
 * ---------------------------------------------------------------------------
 * Every table has a dense id space: ids 0..rows-1 are the rows of the first full
 * backup; every fresh insert takes the next id. A row's primary key is a pure,
 * injective function of its id (below), so the generator never stores a key.
 *
 * Per id the generator keeps a u32 version V (4 bytes) and two bits: live (the row
 * exists) and touched (the id already has a change in the backup being written, so
 * that every backup holds distinct keys). Version numbers are the row's write events;
 * a write event w of id i is described completely by (table seed, i, w):
 *
 *   colset(i, w)   the value columns event w writes: w == 0 writes every column;
 *                  otherwise a hash of (i, w) decides "partial" with probability
 *                  --partial, and a partial event writes --partial-columns columns
 *                  chosen by that hash; a non-partial event writes every column.
 *   value(i, c, w) the value event w writes into column c: NULL with probability
 *                  --null-fraction, else a value of c's type drawn from a hash of
 *                  (i, c, w) (utf8/bytes of about --value-bytes bytes).
 *
 * Versions are grouped in "lives" of 64: a version that is a multiple of 64 is a
 * BARRIER: the row was (re)created there and columns not in colset(i, w) are NULL.
 * So the current content of a row with version V is, per value column c, value(i, c,
 * w) for the largest w in [V & ~63, V] with c in colset(i, w), or NULL when there is
 * none: a walk back over at most 64 hashes that usually stops after one or two
 * (a non-partial event resolves every column at once).
 *
 * The operations and what they do to the state:
 *   fresh insert   id = next id, V = 0, live. The change lists every column.
 *   update         V = V + 1 of a live id; the change lists colset(i, V). When V + 1
 *                  is a multiple of 64 (the 64th write of one life) the event is a
 *                  barrier: the change lists EVERY column, those outside colset as
 *                  explicit NULLs, which gives exactly the barrier's content.
 *   re-insert      (--reinserts) of an erased id: V = next multiple of 64, live;
 *                  the change lists colset(i, V) only, so the engine must fill the
 *                  unlisted columns with NULL (UPSERT of a missing key, DESIGN 1).
 *   erase          of a live id: live = 0, V kept (a re-insert starts a new life).
 *   no-op erase    (--noop-erases) of an erased id: nothing changes.
 * Each backup touches an id at most once, so V grows by at most 64 per backup.
 *
 * The table digest (wrapping sum of row digests) is kept incrementally: for every
 * change the generator rebuilds the row before it (from V) and after it (V'), hashes
 * both with common/digest.h and applies "minus old, plus new". A later full backup
 * re-hashes every live row it writes and checks the sum against the running digest.
 * The rows count is the number of live ids.
 *
 * KEYS from an id: the first key column (in key order) that can hold every id is the
 * "carrier": uint64/int64 = id, timestamp = 2020-01-01 + id ms, uint32/int32 = id,
 * double = id, utf8 = "k" + 10 decimal digits, bytes = the id as 4 big-endian bytes.
 * Every other key column holds a hash of (id, column). The carrier makes keys
 * distinct; all-bool keys cannot be generated.
 *
 * CHOOSING KEYS: --keys uniform draws ids uniformly from [0, next id); zipf draws a
 * Zipf(theta) rank (Gray et al.'s method, as YCSB) and scrambles it with a
 * multiplicative permutation of [0, next id), so hot rows are spread over the key
 * space; sequential walks a cursor through the id space (each incremental changes a
 * contiguous run of ids). A drawn id that does not qualify (erased, or already touched
 * in this backup) is redrawn up to 8 times, then the next qualifying id is taken by a
 * bitmap scan. An update or erase with no live untouched id left becomes an insert.
 *
 * DETERMINISM: all choices come from xoshiro256** streams seeded per (seed, table,
 * backup) and from splitmix64-style hashes; backups are named full-000, inc-001, ...
 * Segment files are byte-identical for the same flags and seed (no libm: zipf uses
 * our own pow, so this holds across machines too); the MANIFEST is not, as it records
 * creation times, a random collection id and random data directory names.
 *
 * MEMORY: 4 bytes + 2 bits per id (ids = rows + inserts), allocated lazily (calloc of
 * the worst case; untouched pages cost nothing), plus the writer's 64 MiB budget.
 * 50 M rows need about 215 MB of state: the process stays near 300 MB.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h> /* isfinite only: the CLI does not link libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/digest.h"
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

enum { KEYS_UNIFORM, KEYS_SEQUENTIAL, KEYS_ZIPF };

typedef struct gen_opts {
	uint64_t rows, incs, changes, seed;
	double mix[3];            /* updates, inserts, erases: normalised to sum 1 */
	bool mix_set[3];
	double partial, nulls, reinserts, noop_erases, theta;
	uint64_t partial_cols;
	int keys;
	uint64_t value_bytes;
	bool value_bytes_set;
	uint64_t columns;
	bool columns_set;
	const char *types;
	const char *schema;
	uint64_t tables;
	bool tables_set;
	uint64_t fulls, empty_every;
	uint64_t batch_rows, writer_memory;
	bool quiet;
} gen_opts;

/* The value column types of the default schema, cycled when --columns asks for more. */
static const irs_type default_types[] = {
	IRS_TYPE_INT64, IRS_TYPE_DOUBLE, IRS_TYPE_UTF8, IRS_TYPE_UINT32, IRS_TYPE_BOOL,
	IRS_TYPE_TIMESTAMP, IRS_TYPE_INT32, IRS_TYPE_BYTES, IRS_TYPE_UINT64,
};
#define DEFAULT_VALUE_COLUMNS 6u
#define TARGET_ROW_BYTES 70u      /* logical bytes of a default row (DESIGN W1) */
#define LIFE 64u                  /* versions per life; multiples are barriers */
#define NONE UINT32_MAX

/* ------------------------------------------------------------------ randomness */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	x ^= x >> 31;
	return x;
}

static inline uint64_t splitmix_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15u;
	return mix64(*s);
}

typedef struct xoshiro {
	uint64_t s[4];
} xoshiro;

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t xo_next(xoshiro *x)
{
	uint64_t *s = x->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static void xo_seed(xoshiro *x, uint64_t seed)
{
	uint64_t sm = seed;
	for (int i = 0; i < 4; i++)
		x->s[i] = splitmix_next(&sm);
}

/* Uniform in [0, n), n > 0 (the modulo bias is far below anything measurable here). */
static inline uint64_t xo_below(xoshiro *x, uint64_t n)
{
	return xo_next(x) % n;
}

/* Uniform in [0, 1) with 53 bits. */
static inline double xo_double(xoshiro *x)
{
	return (double)(xo_next(x) >> 11) * 0x1.0p-53;
}

/* A probability as a 53-bit threshold: event iff (hash >> 11) < thr. */
static uint64_t thr53(double p)
{
	if (p <= 0)
		return 0;
	if (p >= 1)
		return (uint64_t)1 << 53;
	return (uint64_t)(p * 0x1.0p53);
}

/*
 * Portable math. The CLI does not link libm, and libm's pow() may differ by an ulp
 * between builds, which would break "same seed, same bytes" for zipf. These are plain
 * IEEE double arithmetic (no FMA contraction in ISO C mode), accurate to a few ulps,
 * which is all Zipf sampling needs.
 */
static double bits_double(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof d);
	return d;
}

/* 2^e for -1022 <= e <= 1023, exactly. */
static double pow2i(int e)
{
	return bits_double((uint64_t)(e + 1023) << 52);
}

static const double LN2 = 0.693147180559945309417232121458176568;

/* Natural log of a finite x > 0 (normal numbers only, which is all we use). */
static double gen_log(double x)
{
	uint64_t b;
	memcpy(&b, &x, sizeof b);
	int e = (int)((b >> 52) & 0x7ff) - 1023;
	double m = bits_double((b & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52)); /* [1, 2) */
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	/* ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172 */
	double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k < 60; k += 2) {
		double add = term / k;
		sum += add;
		if (add < 1e-18 && add > -1e-18)
			break;
		term *= s2;
	}
	return (double)e * LN2 + 2.0 * sum;
}

/* e^y; 0 below the double range, which is where Zipf's tail ends anyway. */
static double gen_exp(double y)
{
	if (y < -700)
		return 0;
	if (y > 700)
		y = 700;
	double kd = y / LN2;
	int k = (int)(kd < 0 ? kd - 0.5 : kd + 0.5);
	double r = y - (double)k * LN2, term = 1, sum = 1;
	for (int i = 1; i < 30; i++) {
		term *= r / i;
		sum += term;
		if (term < 1e-18 && term > -1e-18)
			break;
	}
	if (k < -1022)
		return sum * pow2i(-1022) * pow2i(k + 1022 < -1022 ? -1022 : k + 1022);
	return sum * pow2i(k);
}

/* x^y for x >= 0. */
static double gen_pow(double x, double y)
{
	if (x <= 0)
		return 0;
	return gen_exp(y * gen_log(x));
}

/* ------------------------------------------------------------------ per-table state */

typedef struct gen_table {
	const irs_table_def *def;
	uint32_t ncols, nv;       /* columns; value columns */
	uint32_t *vcols;          /* column index of each value column */
	int *vidx;                /* per column: value index, or -1 for key columns */
	uint32_t carrier;         /* key column that carries the id */
	uint64_t rows0;           /* rows of the first full backup */
	uint64_t cap;             /* ids that can ever exist */
	/* state */
	uint32_t *ver;            /* per id: version (write events) */
	uint64_t *live, *touched; /* bitmaps over ids */
	uint64_t next_id;         /* ids [0, next_id) were created at some point */
	uint64_t live_count, dead_count;
	uint64_t live_avail, dead_avail; /* untouched in the current backup */
	uint64_t digest;
	uint64_t seq_cursor, seq_cursor_dead;
	/* hashing salts */
	uint64_t kind_salt, key_salt;
	uint64_t *col_salt;       /* per value column */
	/* zipf over [0, next_id) */
	uint64_t zeta_n;
	double zetan, zeta2, alpha, eta;
	uint64_t zmul;            /* scramble multiplier, coprime to next_id */
	/* scratch */
	irs_value *row, *chg;     /* one per column */
	uint8_t **buf;            /* per column: string storage */
	uint32_t *stamp;          /* per value column: resolved version */
	uint32_t *sel;            /* columns of one partial event */
	uint8_t *mark;            /* per value column: chosen (subset sampling) */
	xoshiro rng;
	/* totals */
	uint64_t changes_written;
} gen_table;

typedef struct gen {
	gen_opts o;
	uint32_t ntables;
	gen_table *t;
	irs_table_def *defs;      /* the default schema (when not --schema) */
	irs_column_def *def_cols; /* its columns, shared by every table */
	char *def_names;          /* its column names, 32 bytes each */
	char *def_tnames;         /* its table names, 16 bytes each */
	irs_cli_schema schema;
	uint64_t part_thr, null_thr, reins_thr, noop_thr;
	size_t str_cap;           /* bytes of each value string buffer */
} gen;

/* Length range of generated strings: [L - L/4, L + L/4], and an empty string 1/64 of
 * the time (so NULL versus "" is exercised). */
static size_t str_max(uint64_t L)
{
	return (size_t)(L + L / 4 + 1);
}

static size_t key_str_max(void)
{
	return 16;
}

static const char alpha63[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

/* Fills buf with len bytes: for utf8 printable ASCII with an occasional 2-byte "é";
 * for bytes any byte value (0x00 included, usually invalid UTF-8). */
static void fill_string(uint8_t *buf, size_t len, uint64_t h, bool utf8)
{
	uint64_t s = h;
	size_t i = 0;
	while (i < len) {
		uint64_t r = splitmix_next(&s);
		for (int j = 0; j < 8 && i < len; j++, r >>= 8) {
			uint8_t b = (uint8_t)r;
			if (!utf8) {
				buf[i++] = b;
				continue;
			}
			b &= 63;
			if (b == 63) {
				if (i + 1 < len) {
					buf[i++] = 0xC3;
					buf[i++] = 0xA9;
				} else {
					buf[i++] = 'x';
				}
			} else {
				buf[i++] = (uint8_t)alpha63[b];
			}
		}
	}
}

static int64_t as_i64(uint64_t u)
{
	int64_t v;
	memcpy(&v, &u, sizeof v);
	return v;
}

/* A double with no NaN, no infinity and no -0.0 (SQLite, used by verify, folds -0.0
 * into 0 and NaN into NULL), exact, of widely varying magnitude. */
static double gen_double(uint64_t h)
{
	int64_t m = (int64_t)((h >> 12) & ((UINT64_C(1) << 52) - 1)) - (INT64_C(1) << 51);
	return (double)m * pow2i((int)((h >> 2) & 63) - 40);
}

/* Value of value column vi written by event w of id (NULL with --null-fraction). */
static void gen_value(const gen *g, gen_table *T, uint32_t vi, uint32_t id, uint32_t w, irs_value *v)
{
	uint64_t h = mix64(((uint64_t)id << 32 | w) ^ T->col_salt[vi]);
	if (g->null_thr && (h >> 11) < g->null_thr) {
		v->state = IRS_VALUE_NULL;
		return;
	}
	uint64_t h2 = mix64(h + 0x9e3779b97f4a7c15u);
	uint32_t col = T->vcols[vi];
	v->state = IRS_VALUE_SET;
	switch (T->def->columns[col].type) {
	case IRS_TYPE_BOOL: v->v.b = (int)(h2 & 1); break;
	case IRS_TYPE_INT32: v->v.i64 = (int64_t)(h2 & 0xffffffffu) - INT64_C(2147483648); break;
	case IRS_TYPE_INT64: v->v.i64 = as_i64(h2) >> (h & 63); break;
	case IRS_TYPE_UINT32: v->v.u64 = (h2 & 0xffffffffu) >> (h & 31); break;
	case IRS_TYPE_UINT64: v->v.u64 = h2 >> (h & 63); break;
	case IRS_TYPE_DOUBLE: v->v.d = gen_double(h2); break;
	case IRS_TYPE_TIMESTAMP:
		/* 2017-07-14 .. about 2027: plausible times in microseconds */
		v->v.i64 = INT64_C(1500000000000000) + (int64_t)(h2 % UINT64_C(315360000000000));
		break;
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES: {
		uint64_t L = g->o.value_bytes;
		size_t len = 0;
		if (L && (h2 & 63) != 0)
			len = (size_t)(L - L / 4 + (h2 >> 8) % (L / 2 + 1));
		fill_string(T->buf[col], len, h2, T->def->columns[col].type == IRS_TYPE_UTF8);
		v->v.s.ptr = T->buf[col];
		v->v.s.len = len;
		break;
	}
	}
}

/* The key columns of id into T->row. */
static void gen_key(gen_table *T, uint32_t id)
{
	for (uint32_t k = 0; k < T->def->primary_key_count; k++) {
		uint32_t col = T->def->primary_key[k];
		irs_value *v = &T->row[col];
		irs_type ty = T->def->columns[col].type;
		v->state = IRS_VALUE_SET;
		if (col == T->carrier) {
			switch (ty) {
			case IRS_TYPE_UINT64:
			case IRS_TYPE_UINT32: v->v.u64 = id; break;
			case IRS_TYPE_INT64:
			case IRS_TYPE_INT32: v->v.i64 = id; break;
			case IRS_TYPE_TIMESTAMP: v->v.i64 = INT64_C(1577836800000000) + (int64_t)id * 1000; break;
			case IRS_TYPE_DOUBLE: v->v.d = (double)id; break;
			case IRS_TYPE_UTF8:
				v->v.s.len = (size_t)snprintf((char *)T->buf[col], key_str_max(), "k%010" PRIu32, id);
				v->v.s.ptr = T->buf[col];
				break;
			case IRS_TYPE_BYTES:
				irs__store_le32(T->buf[col], __builtin_bswap32(id));
				v->v.s.ptr = T->buf[col];
				v->v.s.len = 4;
				break;
			case IRS_TYPE_BOOL: break; /* never a carrier */
			}
			continue;
		}
		uint64_t h = mix64((uint64_t)id ^ T->key_salt ^ ((uint64_t)col << 40));
		switch (ty) {
		case IRS_TYPE_BOOL: v->v.b = (int)(h & 1); break;
		case IRS_TYPE_INT32: v->v.i64 = (int64_t)(h & 0xffffffffu) - INT64_C(2147483648); break;
		case IRS_TYPE_INT64: v->v.i64 = as_i64(h); break;
		case IRS_TYPE_UINT32: v->v.u64 = h & 0xffffffffu; break;
		case IRS_TYPE_UINT64: v->v.u64 = h; break;
		case IRS_TYPE_DOUBLE: v->v.d = gen_double(h); break;
		case IRS_TYPE_TIMESTAMP:
			v->v.i64 = INT64_C(1500000000000000) + (int64_t)(h % UINT64_C(315360000000000));
			break;
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES: {
			size_t len = 1 + (size_t)((h >> 56) % 12);
			fill_string(T->buf[col], len, h, ty == IRS_TYPE_UTF8);
			v->v.s.ptr = T->buf[col];
			v->v.s.len = len;
			break;
		}
		}
	}
}

/*
 * The value columns event w of id writes: returns -1 for "every column", else the
 * number k of columns, listed in T->sel.
 */
static int colset(const gen *g, gen_table *T, uint32_t id, uint32_t w)
{
	if (w == 0 || T->nv == 0)
		return -1;
	uint64_t e = mix64(((uint64_t)id << 32 | w) ^ T->kind_salt);
	if ((e >> 11) >= g->part_thr)
		return -1;
	uint32_t k = (uint32_t)g->o.partial_cols, n = T->nv;
	if (k >= n)
		return -1;
	uint64_t s = e;
	if (k == 1) {
		T->sel[0] = (uint32_t)(splitmix_next(&s) % n);
		return 1;
	}
	/* Floyd's sampling of k distinct columns out of n. */
	uint32_t got = 0;
	for (uint32_t j = n - k; j < n; j++) {
		uint32_t x = (uint32_t)(splitmix_next(&s) % (j + 1));
		if (T->mark[x])
			x = j;
		T->mark[x] = 1;
		T->sel[got++] = x;
	}
	for (uint32_t i = 0; i < got; i++)
		T->mark[T->sel[i]] = 0;
	return (int)got;
}

/* T->row := the content of id at version V (key columns included). */
static void build_row(const gen *g, gen_table *T, uint32_t id, uint32_t V)
{
	gen_key(T, id);
	uint32_t nv = T->nv;
	if (!nv)
		return;
	for (uint32_t vi = 0; vi < nv; vi++)
		T->stamp[vi] = NONE;
	uint32_t left = nv, base = V & ~(LIFE - 1);
	for (uint32_t w = V;; w--) {
		int k = colset(g, T, id, w);
		if (k < 0) {
			for (uint32_t vi = 0; vi < nv; vi++)
				if (T->stamp[vi] == NONE)
					T->stamp[vi] = w;
			break;
		}
		for (int j = 0; j < k; j++)
			if (T->stamp[T->sel[j]] == NONE) {
				T->stamp[T->sel[j]] = w;
				left--;
			}
		if (!left || w == base)
			break;
	}
	for (uint32_t vi = 0; vi < nv; vi++) {
		if (T->stamp[vi] == NONE)
			T->row[T->vcols[vi]].state = IRS_VALUE_NULL;
		else
			gen_value(g, T, vi, id, T->stamp[vi], &T->row[T->vcols[vi]]);
	}
}

static uint64_t row_digest(const gen_table *T)
{
	irs_digest_stream d;
	irs__digest_begin(&d);
	for (uint32_t c = 0; c < T->ncols; c++)
		irs__digest_value(&d, T->def->columns[c].type, &T->row[c]);
	return irs__digest_end(&d);
}

static inline bool bit_get(const uint64_t *bm, uint64_t i)
{
	return (bm[i >> 6] >> (i & 63)) & 1;
}
static inline void bit_set(uint64_t *bm, uint64_t i)
{
	bm[i >> 6] |= UINT64_C(1) << (i & 63);
}
static inline void bit_clear(uint64_t *bm, uint64_t i)
{
	bm[i >> 6] &= ~(UINT64_C(1) << (i & 63));
}

/* ------------------------------------------------------------------ choosing ids */

enum { CLS_LIVE = 0, CLS_DEAD = 1 };

static inline bool qualifies(const gen_table *T, uint64_t id, int cls)
{
	if (bit_get(T->touched, id))
		return false;
	return bit_get(T->live, id) == (cls == CLS_LIVE);
}

/* Word w of the bitmap of ids of class cls that are untouched and below next_id. */
static inline uint64_t class_word(const gen_table *T, uint64_t w, int cls)
{
	uint64_t x = (cls == CLS_LIVE ? T->live[w] : ~T->live[w]) & ~T->touched[w];
	uint64_t n = T->next_id;
	if (w == (n - 1) >> 6 && (n & 63))
		x &= (UINT64_C(1) << (n & 63)) - 1;
	return x;
}

/* The first id at or after `from` (wrapping) of class cls; the caller knows one exists. */
static uint64_t probe(const gen_table *T, uint64_t from, int cls)
{
	uint64_t n = T->next_id, nw = (n + 63) / 64;
	uint64_t w = from >> 6;
	uint64_t x = class_word(T, w, cls) & (~UINT64_C(0) << (from & 63));
	for (uint64_t step = 0; step <= nw; step++) {
		if (x)
			return w * 64 + (uint64_t)__builtin_ctzll(x);
		if (++w == nw)
			w = 0;
		x = class_word(T, w, cls);
	}
	return UINT64_MAX; /* unreachable while the counters are right */
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Extends zeta(n, theta) to n = next_id and refreshes the derived constants. */
static void zipf_prepare(const gen *g, gen_table *T)
{
	uint64_t n = T->next_id;
	double th = g->o.theta;
	while (T->zeta_n < n) {
		T->zeta_n++;
		T->zetan += gen_pow((double)T->zeta_n, -th);
	}
	T->alpha = 1.0 / (1.0 - th);
	T->zeta2 = 1.0 + gen_pow(0.5, th);
	if (n >= 2)
		T->eta = (1.0 - gen_pow(2.0 / (double)n, 1.0 - th)) / (1.0 - T->zeta2 / T->zetan);
	uint64_t m = UINT64_C(2654435761) % (n ? n : 1);
	while (n > 1 && (m == 0 || gcd64(m, n) != 1))
		m++;
	T->zmul = m ? m : 1;
}

static uint64_t zipf_rank(const gen *g, gen_table *T)
{
	uint64_t n = T->next_id;
	if (n < 2)
		return 0;
	double u = xo_double(&T->rng), uz = u * T->zetan;
	if (uz < 1.0)
		return 0;
	if (uz < 1.0 + gen_pow(0.5, g->o.theta))
		return 1;
	uint64_t r = (uint64_t)((double)n * gen_pow(T->eta * u - T->eta + 1.0, T->alpha));
	return r < n ? r : n - 1;
}

/* Picks an untouched id of class cls (some exists), marks it touched. */
static uint32_t pick(const gen *g, gen_table *T, int cls)
{
	uint64_t n = T->next_id, id = 0;
	if (g->o.keys == KEYS_SEQUENTIAL) {
		uint64_t *cur = cls == CLS_LIVE ? &T->seq_cursor : &T->seq_cursor_dead;
		id = probe(T, *cur % n, cls);
		*cur = id + 1 < n ? id + 1 : 0;
	} else {
		bool found = false;
		for (int i = 0; i < 8 && !found; i++) {
			if (g->o.keys == KEYS_ZIPF && cls == CLS_LIVE)
				id = zipf_rank(g, T) * T->zmul % n;
			else
				id = xo_below(&T->rng, n);
			found = qualifies(T, id, cls);
		}
		if (!found)
			id = probe(T, id, cls);
	}
	bit_set(T->touched, id);
	return (uint32_t)id;
}

/* ------------------------------------------------------------------ the generator */

static int key_capacity_ok(irs_type t, uint64_t ids)
{
	switch (t) {
	case IRS_TYPE_BOOL: return 0;
	case IRS_TYPE_INT32: return ids <= UINT64_C(2147483648);
	default: return 1; /* every other carrier holds any u32 id */
	}
}

static void table_free(gen_table *T)
{
	free(T->vcols);
	free(T->vidx);
	free(T->ver);
	free(T->live);
	free(T->touched);
	free(T->col_salt);
	free(T->row);
	free(T->chg);
	if (T->buf)
		for (uint32_t c = 0; c < T->ncols; c++)
			free(T->buf[c]);
	free(T->buf);
	free(T->stamp);
	free(T->sel);
	free(T->mark);
}

/* Sets up table ti: schema facts, salts, state arrays sized for the worst case. */
static int table_init(gen *g, uint32_t ti, const irs_table_def *def)
{
	gen_table *T = &g->t[ti];
	T->def = def;
	T->ncols = def->column_count;
	T->nv = def->column_count - def->primary_key_count;
	uint64_t nt = g->ntables;
	T->rows0 = g->o.rows / nt + (ti < g->o.rows % nt);
	uint64_t per_inc = g->o.changes / nt + (ti < g->o.changes % nt);
	/* Every change of every incremental could be a fresh insert (an update or erase
	 * with no row left becomes one): that bounds the ids a table can need. */
	if (T->rows0 > UINT32_MAX || (per_inc && g->o.incs > (UINT32_MAX - T->rows0) / per_inc))
		return irs_cli_errorf(IRS_CLI_EXIT_USAGE,
				      "gen: table %s could need more than %" PRIu32 " keys (rows + "
				      "incrementals x changes per table); use fewer, or more --tables",
				      def->name, UINT32_MAX);
	T->cap = T->rows0 + g->o.incs * per_inc;
	T->carrier = UINT32_MAX;
	for (uint32_t k = 0; k < def->primary_key_count; k++) {
		uint32_t col = def->primary_key[k];
		if (key_capacity_ok(def->columns[col].type, T->cap)) {
			T->carrier = col;
			break;
		}
	}
	if (T->carrier == UINT32_MAX)
		return irs_cli_errorf(IRS_CLI_EXIT_USAGE,
				      "gen: table %s: no primary key column can hold %" PRIu64
				      " distinct keys (bool keys cannot; int32 holds 2^31)",
				      def->name, T->cap);
	uint64_t words = T->cap / 64 + 1;
	T->vcols = calloc(T->nv + 1, sizeof *T->vcols);
	T->vidx = calloc(T->ncols, sizeof *T->vidx);
	T->ver = calloc(T->cap + 1, sizeof *T->ver);
	T->live = calloc(words, 8);
	T->touched = calloc(words, 8);
	T->col_salt = calloc(T->nv + 1, 8);
	T->row = calloc(T->ncols, sizeof *T->row);
	T->chg = calloc(T->ncols, sizeof *T->chg);
	T->buf = calloc(T->ncols, sizeof *T->buf);
	T->stamp = calloc(T->nv + 1, sizeof *T->stamp);
	T->sel = calloc(T->nv + 1, sizeof *T->sel);
	T->mark = calloc(T->nv + 1, 1);
	if (!T->vcols || !T->vidx || !T->ver || !T->live || !T->touched || !T->col_salt || !T->row ||
	    !T->chg || !T->buf || !T->stamp || !T->sel || !T->mark)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory for table %s", def->name);
	uint32_t nvi = 0;
	for (uint32_t c = 0; c < T->ncols; c++) {
		bool is_key = false;
		for (uint32_t k = 0; k < def->primary_key_count; k++)
			is_key |= def->primary_key[k] == c;
		T->vidx[c] = is_key ? -1 : (int)nvi;
		if (!is_key)
			T->vcols[nvi++] = c;
		irs_type ty = def->columns[c].type;
		if (ty == IRS_TYPE_UTF8 || ty == IRS_TYPE_BYTES) {
			size_t cap = is_key ? key_str_max() : g->str_cap;
			T->buf[c] = malloc(cap ? cap : 1);
			if (!T->buf[c])
				return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory for table %s", def->name);
		}
	}
	uint64_t ts = mix64(g->o.seed ^ mix64(UINT64_C(0x7461626c65) + ti)); /* "table" */
	T->kind_salt = mix64(ts + 1);
	T->key_salt = mix64(ts + 2);
	for (uint32_t vi = 0; vi < T->nv; vi++)
		T->col_salt[vi] = mix64(ts + 3 + vi);
	return 0;
}

typedef struct gen_run {
	gen *g;
	irs_collection *c;
	irs_backup_writer *w;
	irs_error err;
	uint64_t tag;
	double t0;
	uint64_t total_bytes, total_records;
	uint64_t full_rows, inc_changes;
	uint32_t backup_index, backups_total;
	int name_width;
} gen_run;

/* Change values: key columns and the listed value columns from T->row, others ABSENT. */
static void chg_from_row(gen_table *T, int k, bool all)
{
	for (uint32_t c = 0; c < T->ncols; c++) {
		if (all || T->vidx[c] < 0)
			T->chg[c] = T->row[c];
		else
			T->chg[c].state = IRS_VALUE_ABSENT;
	}
	if (!all)
		for (int j = 0; j < k; j++)
			T->chg[T->vcols[T->sel[j]]] = T->row[T->vcols[T->sel[j]]];
}

static int emit_upsert(gen_run *R, uint32_t ti, const irs_value *vals)
{
	int rc = irs_backup_writer_upsert(R->w, ti, vals, ++R->tag, &R->err);
	return rc ? irs_cli_fail(&R->err) : 0;
}

static int op_update(gen_run *R, uint32_t ti)
{
	gen *g = R->g;
	gen_table *T = &g->t[ti];
	uint32_t id = pick(g, T, CLS_LIVE);
	T->live_avail--;
	uint32_t V = T->ver[id];
	build_row(g, T, id, V);
	uint64_t before = row_digest(T);
	uint32_t w = V + 1;
	int k = colset(g, T, id, w);
	bool barrier = (w & (LIFE - 1)) == 0;
	if (k < 0) {
		for (uint32_t vi = 0; vi < T->nv; vi++)
			gen_value(g, T, vi, id, w, &T->row[T->vcols[vi]]);
	} else {
		if (barrier)
			for (uint32_t vi = 0; vi < T->nv; vi++)
				T->row[T->vcols[vi]].state = IRS_VALUE_NULL;
		for (int j = 0; j < k; j++)
			gen_value(g, T, T->sel[j], id, w, &T->row[T->vcols[T->sel[j]]]);
	}
	T->digest = T->digest - before + row_digest(T);
	T->ver[id] = w;
	chg_from_row(T, k, k < 0 || barrier);
	return emit_upsert(R, ti, T->chg);
}

static int op_insert_fresh(gen_run *R, uint32_t ti)
{
	gen *g = R->g;
	gen_table *T = &g->t[ti];
	uint32_t id = (uint32_t)T->next_id++;
	T->ver[id] = 0;
	bit_set(T->live, id);
	bit_set(T->touched, id);
	T->live_count++;
	build_row(g, T, id, 0);
	T->digest += row_digest(T);
	return emit_upsert(R, ti, T->row);
}

static int op_reinsert(gen_run *R, uint32_t ti)
{
	gen *g = R->g;
	gen_table *T = &g->t[ti];
	uint32_t id = pick(g, T, CLS_DEAD);
	T->dead_avail--;
	T->dead_count--;
	uint32_t w = (T->ver[id] | (LIFE - 1)) + 1;
	T->ver[id] = w;
	bit_set(T->live, id);
	T->live_count++;
	build_row(g, T, id, w);
	T->digest += row_digest(T);
	int k = colset(g, T, id, w);
	chg_from_row(T, k, k < 0); /* unlisted columns: NULL by the missing-key rule */
	return emit_upsert(R, ti, T->chg);
}

static int op_erase(gen_run *R, uint32_t ti, bool noop)
{
	gen *g = R->g;
	gen_table *T = &g->t[ti];
	uint32_t id;
	if (noop) {
		id = pick(g, T, CLS_DEAD);
		T->dead_avail--;
		gen_key(T, id);
	} else {
		id = pick(g, T, CLS_LIVE);
		T->live_avail--;
		build_row(g, T, id, T->ver[id]);
		T->digest -= row_digest(T);
		bit_clear(T->live, id);
		T->live_count--;
		T->dead_count++;
	}
	int rc = irs_backup_writer_erase(R->w, ti, T->row, ++R->tag, &R->err);
	return rc ? irs_cli_fail(&R->err) : 0;
}

static int check_cancel(void)
{
	if (__atomic_load_n(&irs_cli_cancelled, __ATOMIC_RELAXED))
		return irs_cli_errorf(IRS_CLI_EXIT_CANCELED, "gen: cancelled");
	return 0;
}

/* The changes of table ti in one incremental. */
static int gen_incremental_table(gen_run *R, uint32_t ti, uint64_t m, uint64_t bseed)
{
	gen *g = R->g;
	gen_table *T = &g->t[ti];
	xo_seed(&T->rng, bseed);
	memset(T->touched, 0, (T->next_id / 64 + 1) * 8);
	T->live_avail = T->live_count;
	T->dead_avail = T->dead_count;
	if (g->o.keys == KEYS_ZIPF)
		zipf_prepare(g, T);
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
		uint64_t r = xo_below(&T->rng, rem);
		int op = r < left[0] ? 0 : r < left[0] + left[1] ? 1 : 2;
		left[op]--;
		uint64_t u = xo_next(&T->rng) >> 11; /* decides re-insert / no-op erase */
		int rc;
		if (op == 2 && g->noop_thr && u < g->noop_thr && T->dead_avail)
			rc = op_erase(R, ti, true);
		else if (op == 0 && T->live_avail)
			rc = op_update(R, ti);
		else if (op == 2 && T->live_avail)
			rc = op_erase(R, ti, false);
		else if (op == 1 && g->reins_thr && u < g->reins_thr && T->dead_avail)
			rc = op_reinsert(R, ti);
		else
			rc = op_insert_fresh(R, ti);
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
	gen *g = R->g;
	gen_table *T = &g->t[ti];
	if (initial) {
		T->next_id = T->rows0;
		T->live_count = T->rows0;
		for (uint64_t id = 0; id < T->rows0; id++)
			bit_set(T->live, id);
	}
	uint64_t sum = 0, n = 0;
	for (uint64_t id = 0; id < T->next_id; id++) {
		if ((id & 4095) == 0) {
			int rc = check_cancel();
			if (rc)
				return rc;
		}
		if (!bit_get(T->live, id))
			continue;
		build_row(g, T, (uint32_t)id, T->ver[id]);
		sum += row_digest(T);
		n++;
		int rc = emit_upsert(R, ti, T->row);
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
	gen *g = R->g;
	char name[64];
	snprintf(name, sizeof name, "%s-%0*" PRIu32, kind == IRS_BACKUP_FULL ? "full" : "inc",
		 R->name_width, R->backup_index);
	irs_writer_options wo;
	irs_writer_options_init(&wo, IRS_WRITER_OPTIONS_VERSION);
	wo.memory_budget = (size_t)g->o.writer_memory;
	wo.batch_rows = (uint32_t)g->o.batch_rows;
	wo.collapse_duplicates = 0; /* the generator never repeats a key: say so if it did */
	double tb = irs_cli_now_s();
	int rc = irs_backup_writer_begin(R->c, kind, name, &wo, &R->w, &R->err);
	if (rc)
		return irs_cli_fail(&R->err);
	R->tag = 0;
	for (uint32_t ti = 0; ti < g->ntables && !rc; ti++) {
		if (kind == IRS_BACKUP_FULL) {
			rc = gen_full_table(R, ti, initial);
		} else if (!empty) {
			uint64_t m = g->o.changes / g->ntables + (ti < g->o.changes % g->ntables);
			uint64_t bseed = mix64(g->o.seed ^ mix64(((uint64_t)ti << 32) + R->backup_index));
			rc = gen_incremental_table(R, ti, m, bseed);
		}
	}
	for (uint32_t ti = 0; ti < g->ntables && !rc; ti++) {
		gen_table *T = &g->t[ti];
		if (irs_backup_writer_set_expected(R->w, ti, T->live_count, T->digest, &R->err))
			rc = irs_cli_fail(&R->err);
	}
	if (rc) {
		irs_backup_writer_abort(R->w);
		R->w = NULL;
		return rc;
	}
	rc = irs_backup_writer_commit(R->w, &R->err);
	R->w = NULL;
	if (rc)
		return irs_cli_fail(&R->err);
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

/* ------------------------------------------------------------------ setup */

/* Parses a fraction in [0, 1]. */
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

/* The default schema: one table (or --tables N: t1..tN) with a uint64 key "id" and
 * value columns of --types (or the default mix), named c<i>_<type>. */
static int build_default_schema(gen *g, const irs_cli_command *cmd)
{
	irs_type types[IRS_MAX_COLUMNS];
	uint32_t ntypes = 0;
	if (g->o.types) {
		const char *s = g->o.types;
		while (*s) {
			const char *e = strchr(s, ',');
			size_t len = e ? (size_t)(e - s) : strlen(s);
			char name[32];
			if (len == 0 || len >= sizeof name || ntypes == IRS_MAX_COLUMNS - 1)
				return irs_cli_usage_error(cmd, "--types: bad list '%s'", g->o.types);
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
	uint32_t nv = g->o.columns_set ? (uint32_t)g->o.columns
				       : g->o.types ? ntypes : DEFAULT_VALUE_COLUMNS;
	g->defs = calloc(g->ntables, sizeof *g->defs);
	if (!g->defs)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory");
	/* One column array and key shared by every table; names live in one block. */
	irs_column_def *cols = g->def_cols = calloc(nv + 1, sizeof *cols);
	char *names = g->def_names = calloc(nv + 1, 32);
	char *tnames = g->def_tnames = calloc(g->ntables, 16);
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
	for (uint32_t t = 0; t < g->ntables; t++) {
		if (g->ntables == 1)
			snprintf(tnames, 16, "t");
		else
			snprintf(tnames + 16 * t, 16, "t%" PRIu32, t + 1);
		g->defs[t].name = tnames + 16 * t;
		g->defs[t].columns = cols;
		g->defs[t].column_count = nv + 1;
		g->defs[t].primary_key = &key0;
		g->defs[t].primary_key_count = 1;
	}
	return 0;
}

static void free_default_schema(gen *g)
{
	free(g->defs);
	free(g->def_cols);
	free(g->def_names);
	free(g->def_tnames);
}

/* Creates the parent directories of dir (the library creates dir itself). */
static int make_parents(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory");
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	int rc = 0;
	for (char *s = p + 1; *s && !rc; s++) {
		if (*s != '/' || s[-1] == '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			rc = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot create directory: %s", p, strerror(errno));
		*s = '/';
	}
	free(p);
	return rc;
}

/* Default --value-bytes: strings sized so that a row is about 70 logical bytes, as
 * irs_restore_logical_bytes counts them (encoded key + value bytes + one NULL bit per
 * value column; a string counts its bytes). */
static uint64_t default_value_bytes(const gen *g)
{
	const irs_table_def *d = g->defs ? &g->defs[0] : &g->schema.tables[0];
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

static int run_gen(const irs_cli_command *cmd, int argc, char **argv)
{
	irs_cli_parser p;
	irs_cli_parser_init(&p, cmd, argc, argv);
	gen g;
	memset(&g, 0, sizeof g);
	gen_opts *o = &g.o;
	o->seed = 1;
	o->mix[0] = 0.60;
	o->mix[1] = 0.25;
	o->mix[2] = 0.15;
	o->partial = 0.5;
	o->partial_cols = 1;
	o->keys = KEYS_UNIFORM;
	o->theta = 0.99;
	o->tables = 1;
	o->fulls = 1;
	o->writer_memory = 64u << 20;
	const char *dir = NULL;
	bool have_rows = false, have_incs = false, have_changes = false;
	int opt;
	while ((opt = irs_cli_getopt(&p, opts)) != IRS_CLI_OPT_END) {
		bool ok = true;
		switch (opt) {
		case IRS_CLI_OPT_HELP: return IRS_CLI_EXIT_OK;
		case IRS_CLI_OPT_ERROR: return IRS_CLI_EXIT_USAGE;
		case IRS_CLI_OPT_POSITIONAL:
			if (dir)
				return irs_cli_usage_error(cmd, "unexpected argument '%s'", p.arg);
			dir = p.arg;
			break;
		case OPT_ROWS: ok = irs_cli_parse_u64(&p, p.arg, 0, UINT32_MAX * UINT64_C(4096), &o->rows); have_rows = true; break;
		case OPT_INCS: ok = irs_cli_parse_u64(&p, p.arg, 0, 1000000, &o->incs); have_incs = true; break;
		case OPT_CHANGES: ok = irs_cli_parse_u64(&p, p.arg, 0, UINT32_MAX * UINT64_C(4096), &o->changes); have_changes = true; break;
		case OPT_SEED: ok = irs_cli_parse_u64(&p, p.arg, 0, UINT64_MAX, &o->seed); break;
		case OPT_UPDATES:
		case OPT_INSERTS:
		case OPT_ERASES: {
			int i = opt - OPT_UPDATES;
			ok = parse_frac(&p, p.arg, 0, 1, &o->mix[i]);
			o->mix_set[i] = true;
			break;
		}
		case OPT_PARTIAL: ok = parse_frac(&p, p.arg, 0, 1, &o->partial); break;
		case OPT_PARTIAL_COLS: ok = irs_cli_parse_u64(&p, p.arg, 1, IRS_MAX_COLUMNS, &o->partial_cols); break;
		case OPT_KEYS:
			if (strcmp(p.arg, "uniform") == 0)
				o->keys = KEYS_UNIFORM;
			else if (strcmp(p.arg, "sequential") == 0)
				o->keys = KEYS_SEQUENTIAL;
			else if (strcmp(p.arg, "zipf") == 0)
				o->keys = KEYS_ZIPF;
			else
				return irs_cli_usage_error(cmd, "--keys: '%s' is not uniform, sequential or zipf", p.arg);
			break;
		case OPT_THETA:
			ok = parse_frac(&p, p.arg, 0.01, 0.9999, &o->theta);
			break;
		case OPT_VALUE_BYTES: ok = irs_cli_parse_u64(&p, p.arg, 0, 1u << 20, &o->value_bytes); o->value_bytes_set = true; break;
		case OPT_COLUMNS: ok = irs_cli_parse_u64(&p, p.arg, 0, IRS_MAX_COLUMNS - 1, &o->columns); o->columns_set = true; break;
		case OPT_TYPES: o->types = p.arg; break;
		case OPT_SCHEMA: o->schema = p.arg; break;
		case OPT_TABLES: ok = irs_cli_parse_u64(&p, p.arg, 1, 1024, &o->tables); o->tables_set = true; break;
		case OPT_FULLS: ok = irs_cli_parse_u64(&p, p.arg, 1, 1000000, &o->fulls); break;
		case OPT_EMPTY_EVERY: ok = irs_cli_parse_u64(&p, p.arg, 1, UINT64_MAX, &o->empty_every); break;
		case OPT_NULLS: ok = parse_frac(&p, p.arg, 0, 1, &o->nulls); break;
		case OPT_REINSERTS: ok = parse_frac(&p, p.arg, 0, 1, &o->reinserts); break;
		case OPT_NOOP_ERASES: ok = parse_frac(&p, p.arg, 0, 1, &o->noop_erases); break;
		case OPT_BATCH_ROWS: ok = irs_cli_parse_u64(&p, p.arg, 1, 1u << 20, &o->batch_rows); break;
		case OPT_WRITER_MEMORY: ok = irs_cli_parse_u64(&p, p.arg, 1u << 16, SIZE_MAX, &o->writer_memory); break;
		case OPT_QUIET: o->quiet = true; break;
		}
		if (!ok)
			return IRS_CLI_EXIT_USAGE;
	}
	if (!dir)
		return irs_cli_usage_error(cmd, "missing the collection directory");
	if (!have_rows || !have_incs || !have_changes)
		return irs_cli_usage_error(cmd, "missing %s", !have_rows ? "--rows N" : !have_incs ? "--incrementals K" : "--changes M");
	if (o->schema && (o->types || o->columns_set))
		return irs_cli_usage_error(cmd, "--schema cannot be combined with --types or --columns");
	if (o->fulls > (o->incs > 0 ? o->incs : 1))
		return irs_cli_usage_error(cmd, "--fulls %" PRIu64 ": at most one full backup per incremental (%" PRIu64 ")",
					   o->fulls, o->incs);
	/* The mix: flags not given share what the given ones leave, in their default ratio. */
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
	}
	g.part_thr = thr53(o->partial);
	g.null_thr = thr53(o->nulls);
	g.reins_thr = thr53(o->reinserts);
	g.noop_thr = thr53(o->noop_erases);

	irs_error err = {0};
	int rc = 0;
	irs_collection *c = NULL;
	if (o->schema) {
		if (irs_schema_json_load(o->schema, &g.schema, &err))
			return irs_cli_fail(&err);
		if (o->tables_set && o->tables != g.schema.count) {
			irs_schema_json_free(&g.schema);
			return irs_cli_usage_error(cmd, "--tables %" PRIu64 " but %s defines %" PRIu32 " tables",
						   o->tables, o->schema, g.schema.count);
		}
		g.ntables = g.schema.count;
	} else {
		g.ntables = (uint32_t)o->tables;
		rc = build_default_schema(&g, cmd);
		if (rc)
			return rc;
	}
	const irs_table_def *defs = g.defs ? g.defs : g.schema.tables;
	if (!o->value_bytes_set)
		o->value_bytes = default_value_bytes(&g);
	g.str_cap = str_max(o->value_bytes);
	g.t = calloc(g.ntables, sizeof *g.t);
	if (!g.t) {
		rc = irs_cli_errorf(IRS_CLI_EXIT_IO, "gen: out of memory");
		goto out;
	}
	for (uint32_t ti = 0; ti < g.ntables && !rc; ti++)
		rc = table_init(&g, ti, &defs[ti]);
	if (rc)
		goto out;

	rc = make_parents(dir);
	if (rc)
		goto out;
	if (irs_collection_create(dir, defs, g.ntables, &err) ||
	    irs_collection_open(dir, NULL, 0, &c, &err)) {
		rc = irs_cli_fail(&err);
		goto out;
	}
	irs_cli_cancel_install();
	gen_run R;
	memset(&R, 0, sizeof R);
	R.g = &g;
	R.c = c;
	R.t0 = irs_cli_now_s();
	R.backups_total = (uint32_t)(o->incs + o->fulls);
	R.name_width = 3;
	for (uint64_t x = R.backups_total ? R.backups_total - 1 : 0; x >= 1000; x /= 10)
		R.name_width++;
	rc = gen_backup(&R, IRS_BACKUP_FULL, true, false);
	uint64_t next_full = 1;
	for (uint64_t j = 0; j < o->incs && !rc; j++) {
		if (next_full < o->fulls && j == next_full * o->incs / o->fulls) {
			rc = gen_backup(&R, IRS_BACKUP_FULL, false, false);
			next_full++;
			if (rc)
				break;
		}
		bool empty = o->empty_every && (j + 1) % o->empty_every == 0;
		rc = gen_backup(&R, IRS_BACKUP_INCREMENTAL, false, empty);
	}
	if (rc)
		goto out;
	double secs = irs_cli_now_s() - R.t0;
	{
		char b[32];
		uint64_t rows_now = 0;
		for (uint32_t ti = 0; ti < g.ntables; ti++)
			rows_now += g.t[ti].live_count;
		printf("generated %s: %" PRIu32 " table%s, %" PRIu32 " backups (%" PRIu64 " full + %" PRIu64
		       " incremental), %" PRIu64 " rows in fulls + %" PRIu64 " changes, %" PRIu64
		       " rows at the end; %s in %.2f s: %.1f MB/s, %.2f M rows/s\n",
		       dir, g.ntables, g.ntables == 1 ? "" : "s", R.backup_index, o->fulls, o->incs, R.full_rows,
		       R.inc_changes, rows_now, irs_cli_format_bytes(R.total_bytes, b), secs,
		       secs > 0 ? (double)R.total_bytes / secs / 1e6 : 0.0,
		       secs > 0 ? (double)R.total_records / secs / 1e6 : 0.0);
		if (!o->quiet)
			for (uint32_t ti = 0; ti < g.ntables; ti++)
				printf("  table %s: %" PRIu64 " rows, digest %016" PRIx64 "\n", g.t[ti].def->name,
				       g.t[ti].live_count, g.t[ti].digest);
	}
out:
	irs_collection_close(c);
	if (g.t)
		for (uint32_t ti = 0; ti < g.ntables; ti++)
			table_free(&g.t[ti]);
	free(g.t);
	free_default_schema(&g);
	irs_schema_json_free(&g.schema);
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
	"W1 of DESIGN.md is `gen DIR --rows 5000000 --incrementals 10 --changes 500000`.\n"
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
	"  --zipf-theta T         skew of zipf, 0 < T < 1 (default 0.99)\n"
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
	"  --writer-memory B      writer buffer before it spills sorted runs (default 64 MiB)\n"
	"  -q, --quiet            no per-backup lines on stderr and no per-table lines\n"
	"\n"
	"Memory: about 4.25 bytes per key ever created plus the writer buffer, so 50 M rows\n"
	"fit in about 300 MB. Prints a summary: backups, rows, bytes, MB/s, rows/s.\n"
	"SIGINT/SIGTERM stop after the current change (exit 5); the backups already\n"
	"committed stay, the one being written is discarded.\n",
	run_gen,
};
