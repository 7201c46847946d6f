/*
 * gen_model.c: the expected-state model of `increstore gen` (gen_model.h): what every
 * table holds after every backup the generator writes, as a row count and a content
 * digest (common/digest.h), without keeping the rows.
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
 *                  unlisted columns with NULL (UPSERT of a missing key, docs/design.md section 1).
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
 * MEMORY: 4 bytes + 2 bits per id (ids = rows + inserts), allocated lazily (calloc of
 * the worst case; untouched pages cost nothing), plus the writer's 64 MiB budget.
 * 50 M rows need about 215 MB of state: the process stays near 300 MB.
 */
#include "gen_model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/cli_support.h"

#define LIFE 64u                  /* versions per life; multiples are barriers */
#define NONE UINT32_MAX

/* Length range of generated strings: [L - L/4, L + L/4], and an empty string 1/64 of
 * the time (so NULL versus "" is exercised). */
size_t irs_gen_str_max(uint64_t L)
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
		uint64_t r = irs_gen_splitmix(&s);
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
	return (double)m * irs_gen_pow2i((int)((h >> 2) & 63) - 40);
}

/* Value of value column vi written by event w of id (NULL with --null-fraction). */
static void gen_value(const irs_gen *g, irs_gen_table *T, uint32_t vi, uint32_t id, uint32_t w, irs_value *v)
{
	uint64_t h = irs_gen_mix64(((uint64_t)id << 32 | w) ^ T->col_salt[vi]);
	if (g->null_thr && (h >> 11) < g->null_thr) {
		v->state = IRS_VALUE_NULL;
		return;
	}
	uint64_t h2 = irs_gen_mix64(h + 0x9e3779b97f4a7c15u);
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
static void gen_key(irs_gen_table *T, uint32_t id)
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
		uint64_t h = irs_gen_mix64((uint64_t)id ^ T->key_salt ^ ((uint64_t)col << 40));
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
static int colset(const irs_gen *g, irs_gen_table *T, uint32_t id, uint32_t w)
{
	if (w == 0 || T->nv == 0)
		return -1;
	uint64_t e = irs_gen_mix64(((uint64_t)id << 32 | w) ^ T->kind_salt);
	if ((e >> 11) >= g->part_thr)
		return -1;
	uint32_t k = (uint32_t)g->o.partial_cols, n = T->nv;
	if (k >= n)
		return -1;
	uint64_t s = e;
	if (k == 1) {
		T->sel[0] = (uint32_t)(irs_gen_splitmix(&s) % n);
		return 1;
	}
	/* Floyd's sampling of k distinct columns out of n. */
	uint32_t got = 0;
	for (uint32_t j = n - k; j < n; j++) {
		uint32_t x = (uint32_t)(irs_gen_splitmix(&s) % (j + 1));
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
static void build_row(const irs_gen *g, irs_gen_table *T, uint32_t id, uint32_t V)
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

uint64_t irs_gen_row_digest(const irs_gen_table *T)
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

static inline bool qualifies(const irs_gen_table *T, uint64_t id, int cls)
{
	if (bit_get(T->touched, id))
		return false;
	return bit_get(T->live, id) == (cls == CLS_LIVE);
}

/* Word w of the bitmap of ids of class cls that are untouched and below next_id. */
static inline uint64_t class_word(const irs_gen_table *T, uint64_t w, int cls)
{
	uint64_t x = (cls == CLS_LIVE ? T->live[w] : ~T->live[w]) & ~T->touched[w];
	uint64_t n = T->next_id;
	if (w == (n - 1) >> 6 && (n & 63))
		x &= (UINT64_C(1) << (n & 63)) - 1;
	return x;
}

/* The first id at or after `from` (wrapping) of class cls; the caller knows one exists. */
static uint64_t probe(const irs_gen_table *T, uint64_t from, int cls)
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

/* Picks an untouched id of class cls (some exists), marks it touched. */
static uint32_t pick(const irs_gen *g, irs_gen_table *T, int cls)
{
	uint64_t n = T->next_id, id = 0;
	if (g->o.keys == IRS_GEN_KEYS_SEQUENTIAL) {
		uint64_t *cur = cls == CLS_LIVE ? &T->seq_cursor : &T->seq_cursor_dead;
		id = probe(T, *cur % n, cls);
		*cur = id + 1 < n ? id + 1 : 0;
	} else {
		bool found = false;
		for (int i = 0; i < 8 && !found; i++) {
			if (g->o.keys == IRS_GEN_KEYS_ZIPF && cls == CLS_LIVE)
				id = irs_gen_zipf_next(&T->zipf, &T->rng, g->o.theta, n);
			else
				id = irs_gen_rng_below(&T->rng, n);
			found = qualifies(T, id, cls);
		}
		if (!found)
			id = probe(T, id, cls);
	}
	bit_set(T->touched, id);
	return (uint32_t)id;
}

/* ------------------------------------------------------------------ setup */

static int key_capacity_ok(irs_type t, uint64_t ids)
{
	switch (t) {
	case IRS_TYPE_BOOL: return 0;
	case IRS_TYPE_INT32: return ids <= UINT64_C(2147483648);
	default: return 1; /* every other carrier holds any u32 id */
	}
}

void irs_gen_table_free(irs_gen_table *T)
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

int irs_gen_table_init(irs_gen *g, uint32_t ti, const irs_table_def *def)
{
	irs_gen_table *T = &g->t[ti];
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
	uint64_t ts = irs_gen_mix64(g->o.seed ^ irs_gen_mix64(UINT64_C(0x7461626c65) + ti)); /* "table" */
	T->kind_salt = irs_gen_mix64(ts + 1);
	T->key_salt = irs_gen_mix64(ts + 2);
	for (uint32_t vi = 0; vi < T->nv; vi++)
		T->col_salt[vi] = irs_gen_mix64(ts + 3 + vi);
	return 0;
}

/* ------------------------------------------------------------------ the operations */

/* Change values: key columns and the listed value columns from T->row, others ABSENT. */
static void chg_from_row(irs_gen_table *T, int k, bool all)
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

void irs_gen_first_full(irs_gen_table *T)
{
	T->next_id = T->rows0;
	T->live_count = T->rows0;
	for (uint64_t id = 0; id < T->rows0; id++)
		bit_set(T->live, id);
}

const irs_value *irs_gen_live_row(const irs_gen *g, irs_gen_table *T, uint64_t id)
{
	if (!bit_get(T->live, id))
		return NULL;
	build_row(g, T, (uint32_t)id, T->ver[id]);
	return T->row;
}

void irs_gen_backup_begin(const irs_gen *g, irs_gen_table *T, uint64_t seed)
{
	irs_gen_rng_seed(&T->rng, seed);
	memset(T->touched, 0, (T->next_id / 64 + 1) * 8);
	T->live_avail = T->live_count;
	T->dead_avail = T->dead_count;
	if (g->o.keys == IRS_GEN_KEYS_ZIPF)
		irs_gen_zipf_prepare(&T->zipf, T->next_id, g->o.theta);
}

const irs_value *irs_gen_update(const irs_gen *g, irs_gen_table *T)
{
	uint32_t id = pick(g, T, CLS_LIVE);
	T->live_avail--;
	uint32_t V = T->ver[id];
	build_row(g, T, id, V);
	uint64_t before = irs_gen_row_digest(T);
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
	T->digest = T->digest - before + irs_gen_row_digest(T);
	T->ver[id] = w;
	chg_from_row(T, k, k < 0 || barrier);
	return T->chg;
}

const irs_value *irs_gen_insert_fresh(const irs_gen *g, irs_gen_table *T)
{
	uint32_t id = (uint32_t)T->next_id++;
	T->ver[id] = 0;
	bit_set(T->live, id);
	bit_set(T->touched, id);
	T->live_count++;
	build_row(g, T, id, 0);
	T->digest += irs_gen_row_digest(T);
	return T->row;
}

const irs_value *irs_gen_reinsert(const irs_gen *g, irs_gen_table *T)
{
	uint32_t id = pick(g, T, CLS_DEAD);
	T->dead_avail--;
	T->dead_count--;
	uint32_t w = (T->ver[id] | (LIFE - 1)) + 1;
	T->ver[id] = w;
	bit_set(T->live, id);
	T->live_count++;
	build_row(g, T, id, w);
	T->digest += irs_gen_row_digest(T);
	int k = colset(g, T, id, w);
	chg_from_row(T, k, k < 0); /* unlisted columns: NULL by the missing-key rule */
	return T->chg;
}

const irs_value *irs_gen_erase(const irs_gen *g, irs_gen_table *T, bool noop)
{
	uint32_t id;
	if (noop) {
		id = pick(g, T, CLS_DEAD);
		T->dead_avail--;
		gen_key(T, id);
	} else {
		id = pick(g, T, CLS_LIVE);
		T->live_avail--;
		build_row(g, T, id, T->ver[id]);
		T->digest -= irs_gen_row_digest(T);
		bit_clear(T->live, id);
		T->live_count--;
		T->dead_count++;
	}
	return T->row;
}
