/*
 * batch_decode.c: decoding and validating ChangeBatch payloads into change records.
 *
 * FORMAT (proto/collection.proto, message ChangeBatch), for a table of C columns and a
 * batch of N changes:
 *     ops       N bytes, 0 = UPSERT, 1 = ERASE
 *     changed   ceil(N*C/8) bytes; bit (r*C + c), LSB first: change r lists column c
 *     nulls     same layout: change r sets column c to NULL (only where changed)
 *     columns   C entries; column c holds the values of the changes that list it
 *               non-NULL, in change order: `fixed` (LE, width 1/4/8) for fixed-width
 *               types, `lengths` (LE u32 each) + `data` for utf8/bytes.
 * Key columns are listed, non-NULL, in every change, erases included. An erase lists
 * no other column. A full backup holds only upserts that list every column. Bitmap
 * bits past N*C are zero.
 *
 * ALGORITHM
 *   1. The protobuf wire format is read in place (batch_wire.c): every field is a
 *      pointer into the payload, nothing is copied or allocated, and unknown fields
 *      are skipped. So decoding a frame never holds more memory than the decoder's
 *      per-column arrays, whatever the payload claims.
 *   2. Whole-column passes check what can be checked per column: shapes, bool bytes
 *      and UTF-8 (an ASCII fast path covers the whole column's data at once). A bad
 *      value is only remembered by its index, so the error can still name its change.
 *   3. One pass over the changes checks the bitmaps row by row, encodes the key
 *      straight from the column bytes, and writes each record directly where its
 *      consumer wants it (irs_rec_out: for a restore, the run of the shard that owns
 *      the key), so a change is copied once.
 *   A batch of full rows without NULLs (most full backups) skips the per-change checks
 *   of step 3: the dense path proves the whole batch valid first, a pass per array, and
 *   then needs no cursor or check per value (dense_ok, dense_batch).
 * Everything that could make a later stage misbehave is checked here, so records are
 * trusted downstream.
 */
#include "batch.h"

#include "common/copy.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/keycodec.h"
#include "format.h"

#define NO_BAD UINT32_MAX /* first_bad: every value of the column is valid */

void irs__batch_decoder_init(irs_batch_decoder *d, irs_mem *mem)
{
	memset(d, 0, sizeof *d);
	d->mem = mem;
}

static void columns_free(irs_batch_decoder *d)
{
	irs__free(d->mem, d->col, sizeof(irs_col_slice) * d->cap);
	irs__free(d->mem, d->cursor, sizeof(uint32_t) * d->cap);
	irs__free(d->mem, d->offset, sizeof(uint32_t) * d->cap);
	irs__free(d->mem, d->first_bad, sizeof(uint32_t) * d->cap);
	d->col = NULL;
	d->cursor = d->offset = d->first_bad = NULL;
	d->cap = 0;
}

void irs__batch_decoder_free(irs_batch_decoder *d)
{
	columns_free(d);
	irs__free(d->mem, d->key, IRS_MAX_KEY_BYTES);
	irs__free(d->mem, d->rec, d->rec_cap);
	memset(d, 0, sizeof *d);
}

static int nomem(irs_batch_decoder *d, irs_error *err)
{
	return irs__seterr(err, d->mem->limit && irs__mem_over_limit(d->mem) ? IRS_ELIMIT : IRS_ENOMEM,
			   "out of memory decoding a batch");
}

/* Sizes the per-column arrays for ncols columns. */
static int decoder_fit(irs_batch_decoder *d, uint32_t ncols, irs_error *err)
{
	if (!d->key && !(d->key = irs__malloc(d->mem, IRS_MAX_KEY_BYTES)))
		return nomem(d, err);
	if (ncols <= d->cap)
		return 0;
	columns_free(d);
	d->col = irs__malloc(d->mem, sizeof(irs_col_slice) * ncols);
	d->cursor = irs__malloc(d->mem, sizeof(uint32_t) * ncols);
	d->offset = irs__malloc(d->mem, sizeof(uint32_t) * ncols);
	d->first_bad = irs__malloc(d->mem, sizeof(uint32_t) * ncols);
	d->cap = ncols;
	if (!d->col || !d->cursor || !d->offset || !d->first_bad) {
		columns_free(d);
		return nomem(d, err);
	}
	return 0;
}

int irs__batch_decoder_reserve(irs_batch_decoder *d, uint32_t ncols, irs_error *err)
{
	return decoder_fit(d, ncols, err);
}

/* True when no byte of s[0..n) has its high bit set: then it is valid UTF-8. */
static bool all_ascii(const uint8_t *s, size_t n)
{
	uint64_t acc = 0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		uint64_t a, b, c, e;
		memcpy(&a, s + i, 8);
		memcpy(&b, s + i + 8, 8);
		memcpy(&c, s + i + 16, 8);
		memcpy(&e, s + i + 24, 8);
		acc |= a | b | c | e;
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t a;
		memcpy(&a, s + i, 8);
		acc |= a;
	}
	uint8_t tail = 0;
	for (; i < n; i++)
		tail |= s[i];
	return !((acc & 0x8080808080808080u) | (tail & 0x80));
}

/* Index of the first bool byte above 1, or NO_BAD. */
static uint32_t first_bad_bool(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] > 1)
			return (uint32_t)i;
	return NO_BAD;
}

/* Index of the first value that is not valid UTF-8, or NO_BAD. Values whose lengths
 * run past the data stop the scan: the change loop reports those. */
static uint32_t first_bad_utf8_slow(const irs_col_slice *cs)
{
	size_t off = 0, n = cs->lengths_len / 4;
	for (size_t k = 0; k < n; k++) {
		uint32_t l = irs__load_le32(cs->lengths + 4 * k);
		if (l > cs->data_len - off)
			return NO_BAD;
		if (!irs__utf8_valid(cs->data + off, l))
			return (uint32_t)k;
		off += l;
	}
	return NO_BAD;
}

/*
 * The same, fast: when the column's whole data is valid UTF-8 and every value starts
 * on a character boundary (not on a continuation byte 10xxxxxx), each value is a run
 * of whole characters, hence valid. Only a column that fails this is scanned value by
 * value to find which one is bad.
 */
static uint32_t first_bad_utf8(const irs_col_slice *cs)
{
	if (all_ascii(cs->data, cs->data_len))
		return NO_BAD;
	if (!irs__utf8_valid(cs->data, cs->data_len))
		return first_bad_utf8_slow(cs);
	size_t off = 0, n = cs->lengths_len / 4;
	for (size_t k = 0; k < n; k++) {
		if (off < cs->data_len && (cs->data[off] & 0xC0) == 0x80)
			return first_bad_utf8_slow(cs);
		uint32_t l = irs__load_le32(cs->lengths + 4 * k);
		if (l > cs->data_len - off)
			return NO_BAD; /* the change loop reports it */
		off += l;
	}
	return NO_BAD;
}

/* Checks the shapes of the batch and of every column against the table. */
static int check_shapes(irs_batch_decoder *d, const irs_schema_table *t, const irs_batch_view *b,
			irs_error *err)
{
	const uint32_t C = t->ncols, N = b->count;
	if (N > IRS_MAX_BATCH_ROWS)
		return irs__seterr(err, IRS_ECORRUPT, "batch claims %u changes, more than the limit %u", N,
				   IRS_MAX_BATCH_ROWS);
	uint64_t bits = (uint64_t)N * C, bm_bytes = (bits + 7) / 8;
	if (b->ops_len != N)
		return irs__seterr(err, IRS_ECORRUPT, "batch of %u changes has %zu op codes", N, b->ops_len);
	if (b->changed_len != bm_bytes || b->nulls_len != bm_bytes)
		return irs__seterr(err, IRS_ECORRUPT,
				   "batch of %u changes x %u columns needs %llu-byte bitmaps, has %zu and %zu",
				   N, C, (unsigned long long)bm_bytes, b->changed_len, b->nulls_len);
	if (b->ncolumns != C)
		return irs__seterr(err, IRS_ECORRUPT, "batch has %u columns, table %s has %u", b->ncolumns,
				   t->name, C);
	if (bits % 8) {
		uint8_t pad = (uint8_t)(0xFFu << (bits % 8));
		if ((b->changed[bm_bytes - 1] | b->nulls[bm_bytes - 1]) & pad)
			return irs__seterr(err, IRS_ECORRUPT, "bitmap bits past %llu changes x columns are set",
					   (unsigned long long)bits);
	}
	for (uint32_t c = 0; c < C; c++) {
		const irs_col_slice *cs = &d->col[c];
		const irs_schema_column *col = &t->cols[c];
		d->cursor[c] = 0;
		d->offset[c] = 0;
		d->first_bad[c] = NO_BAD;
		if (col->width) {
			if (cs->lengths_len || cs->data_len || cs->fixed_len % col->width)
				return irs__seterr(err, IRS_ECORRUPT,
						   "column %s (%s): %zu value bytes is not a multiple of %u, or "
						   "variable-length data present",
						   col->name, irs_type_name(col->type), cs->fixed_len, col->width);
			if (col->type == IRS_TYPE_BOOL)
				d->first_bad[c] = first_bad_bool(cs->fixed, cs->fixed_len);
		} else {
			if (cs->fixed_len || cs->lengths_len % 4)
				return irs__seterr(err, IRS_ECORRUPT,
						   "column %s (%s): malformed length array (%zu bytes)", col->name,
						   irs_type_name(col->type), cs->lengths_len);
			if (col->type == IRS_TYPE_UTF8)
				d->first_bad[c] = first_bad_utf8(cs);
		}
	}
	return 0;
}

/* Takes column c's next value for change r: *src and *vlen point into the payload. */
static inline int take_value(irs_batch_decoder *d, const irs_schema_column *col, uint32_t c,
			     uint32_t r, const uint8_t **src, uint32_t *vlen, irs_error *err)
{
	const irs_col_slice *cs = &d->col[c];
	uint32_t k = d->cursor[c]++;
	if (k == d->first_bad[c]) {
		if (col->type == IRS_TYPE_BOOL)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s: bool byte %u", r,
					   col->name, cs->fixed[k]);
		return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s: invalid UTF-8", r, col->name);
	}
	if (col->width) {
		if ((uint64_t)(k + 1) * col->width > cs->fixed_len)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s has only %zu values", r,
					   col->name, cs->fixed_len / col->width);
		*src = cs->fixed + (size_t)k * col->width;
		*vlen = col->width;
		return 0;
	}
	if ((uint64_t)(k + 1) * 4 > cs->lengths_len)
		return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s has only %zu values", r,
				   col->name, cs->lengths_len / 4);
	uint32_t l = irs__load_le32(cs->lengths + (size_t)k * 4);
	if (l > IRS_MAX_VALUE_BYTES || l > cs->data_len - d->offset[c])
		return irs__seterr(err, IRS_ECORRUPT,
				   "change %u: column %s: value length %u runs past the column data", r,
				   col->name, l);
	*src = cs->data + d->offset[c];
	d->offset[c] += l;
	*vlen = l;
	return 0;
}

/* The record bytes of var column c's next value (4 + its length), peeked at without
 * taking it; take_value checks the length against the data. */
static inline size_t var_value_bytes(const irs_batch_decoder *d, uint32_t c)
{
	const irs_col_slice *cs = &d->col[c];
	size_t k = d->cursor[c];
	uint32_t l = (k + 1) * 4 <= cs->lengths_len ? irs__load_le32(cs->lengths + 4 * k) : 0;
	return 4u + (l <= IRS_MAX_VALUE_BYTES ? l : 0);
}

/* take_value, and for the first FAST_COLS columns keeps the value where the row digest
 * finds it again. */
static inline int take_and_keep(irs_batch_decoder *d, const irs_schema_column *col, uint32_t c,
				uint32_t r, const uint8_t **src, uint32_t *vlen, irs_error *err)
{
	int rc = take_value(d, col, c, r, src, vlen, err);
	if (!rc && c < FAST_COLS) {
		d->vsrc[c] = *src;
		d->vlen[c] = *vlen;
	}
	return rc;
}

/* Takes key column k's value for change r and encodes it at d->key + *n. */
static inline int encode_key_part(irs_batch_decoder *d, const irs_schema_table *t, uint32_t k,
				  uint32_t r, size_t *n, irs_error *err)
{
	uint32_t c = t->key_cols[k];
	const irs_schema_column *col = &t->cols[c];
	const uint8_t *src = NULL;
	uint32_t vlen = 0;
	int rc = take_and_keep(d, col, c, r, &src, &vlen, err);
	if (rc)
		return rc;
	size_t w = irs__key_encode_part(col->type, src, vlen, d->key + *n, IRS_MAX_KEY_BYTES - *n);
	if (!w)
		return irs__seterr(err, IRS_ECORRUPT, "change %u: encoded key longer than %u bytes", r,
				   IRS_MAX_KEY_BYTES);
	*n += w;
	return 0;
}

/* Encodes change r's key into d->key; *klen gets its length. */
static int decode_key(irs_batch_decoder *d, const irs_schema_table *t, const irs_batch_view *b,
		      uint32_t r, size_t *klen, irs_error *err)
{
	uint64_t base = (uint64_t)r * t->ncols;
	size_t n = 0;
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = t->key_cols[k];
		const irs_schema_column *col = &t->cols[c];
		bool ch = irs__bit_get(b->changed, base + c), nu = irs__bit_get(b->nulls, base + c);
		if (!ch || nu)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: key column %s is %s", r, col->name,
					   nu ? "NULL" : "missing");
		int rc = encode_key_part(d, t, k, r, &n, err);
		if (rc)
			return rc;
	}
	*klen = n;
	return 0;
}

/* Checks change r's value columns against its op and the backup kind, and returns the
 * bytes its listed non-NULL values take in a record (without consuming them). */
static int value_bytes(irs_batch_decoder *d, const irs_schema_table *t, const irs_batch_view *b,
		       uint32_t r, uint8_t op, bool full, size_t *bytes, irs_error *err)
{
	uint64_t base = (uint64_t)r * t->ncols;
	size_t sz = 0;
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		uint32_t c = t->value_cols[vi];
		const irs_schema_column *col = &t->cols[c];
		bool ch = irs__bit_get(b->changed, base + c), nu = irs__bit_get(b->nulls, base + c);
		if (nu && !ch)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s is NULL but not listed", r,
					   col->name);
		if (op == IRS_REC_ERASE && ch)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: an erase lists column %s", r,
					   col->name);
		if (full && !ch)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: a full-backup row does not list column %s",
					   r, col->name);
		if (!ch || nu)
			continue;
		if (col->width) {
			sz += col->width;
			continue;
		}
		sz += var_value_bytes(d, c);
	}
	*bytes = sz;
	return 0;
}

/* Takes column c's next value for change r and appends it to a record's values at *vp
 * (utf8/bytes: u32 length, then the bytes). */
static inline int put_value(irs_batch_decoder *d, const irs_schema_table *t, uint32_t c, uint32_t r,
			    uint8_t **vp, irs_error *err)
{
	const irs_schema_column *col = &t->cols[c];
	const uint8_t *src = NULL;
	uint32_t vlen = 0;
	int rc = take_and_keep(d, col, c, r, &src, &vlen, err);
	if (rc)
		return rc;
	if (!col->width) {
		irs__store_le32(*vp, vlen);
		*vp += 4;
	}
	irs__copy(*vp, src, vlen);
	*vp += vlen;
	return 0;
}

/* Asks `out` for room for a record of the key in d->key (klen bytes, hash *hash, which
 * this computes) and vbytes of values behind the two B-byte bitmaps, and writes the key
 * there. NULL when out has no room, with *rc its error. */
static inline irs_rec *rec_begin(irs_batch_decoder *d, const irs_rec_out *out, size_t klen, uint32_t B,
				 size_t vbytes, uint64_t *hash, int *rc, irs_error *err)
{
	*hash = irs__key_hash(d->key, klen);
	irs_rec *rec = (irs_rec *)out->room(out->ctx, *hash, d->key, klen,
					    IRS_REC_HEADER + klen + 2u * B + vbytes, err);
	if (!rec) {
		*rc = err && err->code ? err->code : IRS_ENOMEM;
		return NULL;
	}
	irs__copy(rec->data, d->key, klen);
	return rec;
}

/* Completes a record whose key and values are written and hands it to `out`. */
static inline int rec_done(irs_rec *rec, const uint8_t *end, uint8_t op, uint8_t flags, size_t klen,
			   uint64_t hash, uint64_t tag, const irs_rec_out *out, irs_error *err)
{
	rec->size = (uint32_t)(end - (const uint8_t *)rec);
	rec->op = op;
	rec->flags = flags;
	rec->key_len = (uint16_t)klen;
	rec->hash = hash;
	rec->tag = tag;
	return out->done(out->ctx, rec, err);
}

/* Writes change r's bitmaps and values after the key of rec; returns the record size. */
static int write_values(irs_batch_decoder *d, const irs_schema_table *t, const irs_batch_view *b,
			uint32_t r, irs_rec *rec, size_t klen, irs_error *err)
{
	uint64_t base = (uint64_t)r * t->ncols;
	const uint32_t B = t->value_bitmap_bytes;
	uint8_t *changed_bm = rec->data + klen, *nulls_bm = changed_bm + B;
	memset(changed_bm, 0, 2u * B);
	uint8_t *vp = nulls_bm + B;
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		uint32_t c = t->value_cols[vi];
		if (!irs__bit_get(b->changed, base + c))
			continue;
		irs__bit_set(changed_bm, vi);
		if (irs__bit_get(b->nulls, base + c)) {
			irs__bit_set(nulls_bm, vi);
			continue;
		}
		int rc = put_value(d, t, c, r, &vp, err);
		if (rc)
			return rc;
	}
	rec->size = (uint32_t)(vp - (uint8_t *)rec);
	return 0;
}

/* The end of the batch: every column's values were used exactly. */
static int check_consumed(irs_batch_decoder *d, const irs_schema_table *t, irs_error *err)
{
	for (uint32_t c = 0; c < t->ncols; c++) {
		const irs_col_slice *cs = &d->col[c];
		const irs_schema_column *col = &t->cols[c];
		size_t have = col->width ? cs->fixed_len / col->width : cs->lengths_len / 4;
		if (d->cursor[c] != have || (!col->width && d->offset[c] != cs->data_len))
			return irs__seterr(err, IRS_ECORRUPT,
					   "column %s holds %zu values (%zu data bytes), the bitmaps use %u (%u)",
					   col->name, have, cs->data_len, d->cursor[c], d->offset[c]);
	}
	return 0;
}

/* ---- the fast path: tables of at most FAST_COLS columns */

/*
 * A table of at most FAST_COLS columns (batch.h) has every change's bits of a bitmap in one
 * 64-bit word (an unaligned little-endian load, shifted), so a change is checked with
 * a few mask operations instead of two bit tests per column, and its listed columns
 * are visited by their set bits. A change that fails a check goes to the general path
 * (decode_key, value_bytes, write_values), which finds and names the problem.
 */
/* Masks of a table for the fast path. */
typedef struct fast_masks {
	uint64_t key, value;    /* bits of the key and of the value columns */
	bool keys_first;        /* the key columns are 0..nkey-1: value index = column - nkey */
} fast_masks;

static bool fast_masks_of(const irs_schema_table *t, fast_masks *m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (t->ncols > FAST_COLS)
		return false;
#else
	return false; /* row_bits reads the bitmaps as little-endian words */
#endif
	m->key = m->value = 0;
	m->keys_first = true;
	for (uint32_t k = 0; k < t->nkey; k++) {
		m->key |= (uint64_t)1 << t->key_cols[k];
		m->keys_first &= t->key_cols[k] == k;
	}
	m->value = (((uint64_t)1 << t->ncols) - 1) & ~m->key;
	return true;
}

/* Bits [bit, bit + n) of a bitmap of len bytes, n <= FAST_COLS. */
static inline uint64_t row_bits(const uint8_t *bm, size_t len, uint64_t bit, uint32_t n)
{
	size_t byte = (size_t)(bit >> 3);
	uint64_t w = 0;
	if (byte + 8 <= len) {
		memcpy(&w, bm + byte, 8);
	} else {
		for (size_t i = byte; i < len; i++)
			w |= (uint64_t)bm[i] << (8 * (i - byte));
	}
	return (w >> (bit & 7)) & (((uint64_t)1 << n) - 1);
}

/*
 * The content digest (common/digest.h) of the row a change that lists every column
 * makes, serialized straight from the batch's column bytes: per column c its value at
 * src[c] (stored little-endian there, as the digest wants), len[c] bytes of it when a
 * string, its width w[c] (0 for a string), NULL when bit c of nulls is set. Returns
 * false when the row serializes to more than IRS_DIGEST_INLINE bytes.
 */
static inline bool row_digest(uint32_t C, const uint8_t *const *src, const uint32_t *len,
			      const uint8_t *w, uint64_t nulls, uint64_t *digest)
{
	_Static_assert(9 * FAST_COLS <= IRS_DIGEST_INLINE, "every column's widest fixed form fits");
	uint8_t buf[IRS_DIGEST_INLINE];
	/* Every column takes at most 9 bytes but for a var value's bytes, which must fit
	 * in what the 9 bytes of each column leave: only var values are checked. */
	size_t o = 0, room = sizeof buf - 9u * C;
	for (uint32_t c = 0; c < C; c++) {
		if (nulls >> c & 1) {
			buf[o++] = 0;
			continue;
		}
		buf[o] = 1;
		if (w[c] == 8) {
			memcpy(buf + o + 1, src[c], 8);
			o += 9;
		} else if (w[c] == 4) {
			memcpy(buf + o + 1, src[c], 4);
			o += 5;
		} else if (w[c] == 1) {
			buf[o + 1] = src[c][0];
			o += 2;
		} else {
			if (len[c] > room)
				return false;
			room -= len[c];
			irs__store_le32(buf + o + 1, len[c]);
			irs__copy(buf + o + 5, src[c], len[c]);
			o += 5u + len[c];
		}
	}
	*digest = XXH3_64bits(buf, o);
	return true;
}

/* Writes one change's record (the checks passed): key, bitmaps by value index, the
 * values of its listed non-NULL columns. Returns 0 or an error of room/take_value. */
static int fast_change(irs_batch_decoder *d, const irs_schema_table *t, const fast_masks *m,
		       uint32_t r, uint8_t op, uint64_t changed, uint64_t nulls, uint64_t tag,
		       const irs_rec_out *out, irs_error *err)
{
	size_t klen = 0;
	for (uint32_t k = 0; k < t->nkey; k++) {
		int rc = encode_key_part(d, t, k, r, &klen, err);
		if (rc)
			return rc;
	}
	/* the record's size: fixed widths, and 4 + length of each var value (peeked) */
	uint64_t vals = changed & ~nulls & m->value;
	size_t vbytes = 0;
	for (uint64_t bits = vals; bits; bits &= bits - 1) {
		uint32_t c = (uint32_t)__builtin_ctzll(bits);
		const irs_schema_column *col = &t->cols[c];
		if (col->width) {
			vbytes += col->width;
			continue;
		}
		vbytes += var_value_bytes(d, c);
	}
	const uint32_t B = t->value_bitmap_bytes;
	uint64_t hash;
	int rc;
	irs_rec *rec = rec_begin(d, out, klen, B, vbytes, &hash, &rc, err);
	if (!rec)
		return rc;
	uint8_t *changed_bm = rec->data + klen, *nulls_bm = changed_bm + B, *vp = nulls_bm + B;
	if (m->keys_first) {
		uint64_t ch = (changed & m->value) >> t->nkey, nu = (nulls & m->value) >> t->nkey;
		for (uint32_t i = 0; i < B; i++) {
			changed_bm[i] = (uint8_t)(ch >> (8 * i));
			nulls_bm[i] = (uint8_t)(nu >> (8 * i));
		}
	} else {
		memset(changed_bm, 0, 2u * B);
		for (uint64_t bits = changed & m->value; bits; bits &= bits - 1) {
			uint32_t c = (uint32_t)__builtin_ctzll(bits);
			irs__bit_set(changed_bm, t->cols[c].value_idx);
			if (nulls >> c & 1)
				irs__bit_set(nulls_bm, t->cols[c].value_idx);
		}
	}
	for (uint64_t bits = vals; bits; bits &= bits - 1)
		if ((rc = put_value(d, t, (uint32_t)__builtin_ctzll(bits), r, &vp, err)) != 0)
			return rc;
	uint64_t digest;
	/* the digest of the row this change inserts, if it inserts: the shard then need not
	 * serialize the row it builds (the tag is not used past decoding) */
	if (d->row_digests && (changed & m->value) == m->value &&
	    row_digest(t->ncols, d->vsrc, d->vlen, d->vwidth, nulls, &digest))
		return rec_done(rec, vp, op, IRS_REC_ROW_DIGEST, klen, hash, digest, out, err);
	return rec_done(rec, vp, op, 0, klen, hash, tag, out, err);
}

/* ---- the dense path: batches of full rows without NULLs, a column at a time */

/*
 * A batch whose every change is an UPSERT listing every column, none NULL (a full
 * backup of a table without NULLs, the common case), has value k of every column in
 * change k: the whole batch is proved valid once (dense_ok: op codes, bitmaps, value
 * counts, lengths, bool bytes and UTF-8, each a pass over one array), and the records
 * are then written with one pointer per column and no per-value checks or cursors.
 * It writes the same records as fast_change (the tests and fuzz_batch compare the
 * two); any batch it does not prove goes to the per-change paths, which name the
 * problem.
 */
static bool all_bytes(const uint8_t *s, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != v)
			return false;
	return true;
}

static bool dense_ok(const irs_batch_decoder *d, const irs_schema_table *t, const irs_batch_view *b)
{
	const uint32_t N = b->count;
	uint64_t bits = (uint64_t)N * t->ncols;
	size_t whole = (size_t)(bits / 8);
	/* the bitmaps first: a batch of partial rows fails on its first byte */
	if (d->generic_only || !N || t->ncols > FAST_COLS || !all_bytes(b->changed, whole, 0xFF) ||
	    !all_bytes(b->nulls, b->nulls_len, 0) || !all_bytes(b->ops, N, IRS_REC_UPSERT))
		return false;
	if (bits % 8 && b->changed[whole] != (uint8_t)((1u << (bits % 8)) - 1))
		return false;
	for (uint32_t c = 0; c < t->ncols; c++) {
		const irs_col_slice *cs = &d->col[c];
		uint32_t w = t->cols[c].width;
		if (d->first_bad[c] != NO_BAD)
			return false;
		if (w) {
			if (cs->fixed_len != (size_t)N * w)
				return false;
			continue;
		}
		if (cs->lengths_len != (size_t)N * 4)
			return false;
		uint64_t sum = 0;
		for (uint32_t k = 0; k < N; k++) {
			uint32_t l = irs__load_le32(cs->lengths + 4 * (size_t)k);
			if (l > IRS_MAX_VALUE_BYTES)
				return false;
			sum += l;
		}
		if (sum != cs->data_len)
			return false;
	}
	return true;
}

/* Where a column's values start (never NULL, even for a column without bytes, so
 * that pointer arithmetic on it stays defined). */
static inline const uint8_t *column_base(const irs_col_slice *cs, uint8_t w)
{
	static const uint8_t none[1];
	const uint8_t *p = w ? cs->fixed : cs->data;
	return p ? p : none;
}

/* Copies one value of width w (1, 4 or 8; 0 = a string of len bytes). */
static inline uint8_t *put_dense(uint8_t *o, const uint8_t *src, uint8_t w, uint32_t len)
{
	if (w == 8) {
		memcpy(o, src, 8);
		return o + 8;
	}
	if (w == 4) {
		memcpy(o, src, 4);
		return o + 4;
	}
	if (w == 1) {
		*o = *src;
		return o + 1;
	}
	irs__copy(o, src, len);
	return o + len;
}

/* Writes the records of a batch dense_ok proved. */
static int dense_batch(irs_batch_decoder *d, const irs_schema_table *t, uint32_t N, uint64_t tag_base,
		       const irs_rec_out *out, irs_error *err)
{
	const uint32_t C = t->ncols, V = t->nvalues, B = t->value_bitmap_bytes;
	/* per column: the current change's value, its length, its width (0: a string) */
	const uint8_t *src[FAST_COLS];
	uint32_t len[FAST_COLS], var_cols[FAST_COLS], vcols[FAST_COLS], nvar = 0;
	uint8_t w[FAST_COLS], vw[FAST_COLS];
	size_t fixed_bytes = 0;
	for (uint32_t c = 0; c < C; c++) {
		w[c] = t->cols[c].width;
		src[c] = column_base(&d->col[c], w[c]); /* change 0's value */
		len[c] = w[c];
		if (!w[c])
			var_cols[nvar++] = c;
		else if (!t->cols[c].is_key)
			fixed_bytes += w[c];
	}
	for (uint32_t vi = 0; vi < V; vi++) {
		vcols[vi] = t->value_cols[vi];
		vw[vi] = w[vcols[vi]];
	}
	uint8_t changed_bm[(FAST_COLS + 7) / 8] = {0}; /* every value column listed */
	for (uint32_t vi = 0; vi < V; vi++)
		irs__bit_set(changed_bm, vi);
	for (uint32_t r = 0; r < N; r++) {
		size_t vbytes = fixed_bytes;
		for (uint32_t j = 0; j < nvar; j++) {
			uint32_t c = var_cols[j];
			len[c] = irs__load_le32(d->col[c].lengths + 4 * (size_t)r);
			if (!t->cols[c].is_key)
				vbytes += 4u + len[c];
		}
		size_t klen = 0;
		for (uint32_t k = 0; k < t->nkey; k++) {
			uint32_t c = t->key_cols[k];
			size_t kw = irs__key_encode_part(t->cols[c].type, src[c], len[c], d->key + klen,
							 IRS_MAX_KEY_BYTES - klen);
			if (!kw)
				return irs__seterr(err, IRS_ECORRUPT, "change %u: encoded key longer than %u bytes", r,
						   IRS_MAX_KEY_BYTES);
			klen += kw;
		}
		uint64_t hash;
		int rc;
		irs_rec *rec = rec_begin(d, out, klen, B, vbytes, &hash, &rc, err);
		if (!rec)
			return rc;
		uint8_t *vp = rec->data + klen;
		for (uint32_t i = 0; i < B; i++) {
			vp[i] = changed_bm[i];
			vp[B + i] = 0;
		}
		vp += 2u * B;
		for (uint32_t vi = 0; vi < V; vi++) {
			uint32_t c = vcols[vi];
			if (!vw[vi]) {
				irs__store_le32(vp, len[c]);
				vp += 4;
			}
			vp = put_dense(vp, src[c], vw[vi], len[c]);
		}
		uint64_t digest;
		rc = d->row_digests && row_digest(C, src, len, w, 0, &digest)
			     ? rec_done(rec, vp, IRS_REC_UPSERT, IRS_REC_ROW_DIGEST, klen, hash, digest, out, err)
			     : rec_done(rec, vp, IRS_REC_UPSERT, 0, klen, hash, tag_base + r, out, err);
		if (rc)
			return rc;
		for (uint32_t c = 0; c < C; c++)
			src[c] += len[c];
	}
	return 0;
}

/* The general path for change r: every check column by column, naming the first
 * problem; then the record. */
static int slow_change(irs_batch_decoder *d, const irs_schema_table *t, const irs_batch_view *b,
		       uint32_t r, uint8_t op, bool full, uint64_t tag, const irs_rec_out *out,
		       irs_error *err)
{
	size_t klen = 0, vbytes = 0;
	int rc;
	if ((rc = decode_key(d, t, b, r, &klen, err)) != 0 ||
	    (rc = value_bytes(d, t, b, r, op, full, &vbytes, err)) != 0)
		return rc;
	uint64_t hash;
	irs_rec *rec = rec_begin(d, out, klen, t->value_bitmap_bytes, vbytes, &hash, &rc, err);
	if (!rec)
		return rc;
	if ((rc = write_values(d, t, b, r, rec, klen, err)) != 0)
		return rc;
	return rec_done(rec, (const uint8_t *)rec + rec->size, op, 0, klen, hash, tag, out, err);
}

int irs__batch_decode_to(irs_batch_decoder *d, const irs_schema_table *t, const uint8_t *payload,
			 size_t len, bool full, uint64_t tag_base, const irs_rec_out *out,
			 uint32_t *count, irs_error *err)
{
	*count = 0;
	int rc = decoder_fit(d, t->ncols, err);
	if (rc)
		return rc;
	irs_batch_view b;
	if ((rc = irs__batch_parse(payload, len, t->ncols, d->col, &b, err)) != 0 ||
	    (rc = check_shapes(d, t, &b, err)) != 0)
		return rc;
	if (dense_ok(d, t, &b)) {
		if ((rc = dense_batch(d, t, b.count, tag_base, out, err)) != 0)
			return rc;
		d->dense_batches++;
		*count = b.count;
		return 0;
	}
	fast_masks m = {0, 0, false};
	bool fast = fast_masks_of(t, &m);
	for (uint32_t c = 0; fast && c < t->ncols; c++)
		d->vwidth[c] = t->cols[c].width;
	const uint32_t C = t->ncols;
	for (uint32_t r = 0; r < b.count; r++) {
		uint8_t op = b.ops[r];
		if (op > IRS_REC_ERASE)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: unknown op code %u", r, op);
		if (full && op != IRS_REC_UPSERT)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: an erase inside a full backup", r);
		if (fast) {
			uint64_t bit = (uint64_t)r * C;
			uint64_t ch = row_bits(b.changed, b.changed_len, bit, C);
			uint64_t nu = row_bits(b.nulls, b.nulls_len, bit, C);
			bool ok = (ch & m.key) == m.key && !(nu & m.key) && !(nu & ~ch) &&
				  !(op == IRS_REC_ERASE && (ch & m.value)) && !(full && (ch & m.value) != m.value);
			if (ok) {
				if ((rc = fast_change(d, t, &m, r, op, ch, nu, tag_base + r, out, err)) != 0)
					return rc;
				continue;
			}
		}
		if ((rc = slow_change(d, t, &b, r, op, full, tag_base + r, out, err)) != 0)
			return rc;
	}
	if ((rc = check_consumed(d, t, err)) != 0)
		return rc;
	*count = b.count;
	return 0;
}

/* ---- the callback form: records built in the decoder's own buffer */

typedef struct sink_out {
	irs_batch_decoder *d;
	irs_rec_sink sink;
	void *ctx;
} sink_out;

static uint8_t *sink_room(void *ctx, uint64_t hash, const uint8_t *key, size_t key_len,
			  size_t bound, irs_error *err)
{
	(void)hash, (void)key, (void)key_len;
	irs_batch_decoder *d = ((sink_out *)ctx)->d;
	if (bound > d->rec_cap) {
		size_t cap = bound < 4096 ? 4096 : bound;
		uint8_t *r = irs__malloc(d->mem, cap);
		if (!r) {
			nomem(d, err);
			return NULL;
		}
		irs__free(d->mem, d->rec, d->rec_cap);
		d->rec = r;
		d->rec_cap = cap;
	}
	return d->rec;
}

static int sink_done(void *ctx, const irs_rec *rec, irs_error *err)
{
	sink_out *s = ctx;
	return s->sink(s->ctx, rec, err);
}

int irs__batch_decode(irs_batch_decoder *d, const irs_schema_table *t, const uint8_t *payload,
		      size_t len, bool full, uint64_t tag_base, irs_rec_sink sink, void *ctx,
		      uint32_t *count, irs_error *err)
{
	sink_out s = {d, sink, ctx};
	irs_rec_out out = {sink_room, sink_done, &s};
	return irs__batch_decode_to(d, t, payload, len, full, tag_base, &out, count, err);
}
