/*
 * batch.c: decoding and encoding ChangeBatch payloads.
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
 * no other column. A full backup holds only upserts that list every column.
 *
 * DECODING is one pass over the rows with a cursor per column; everything that could
 * make a later stage misbehave is checked here (counts, bitmaps, op codes, value
 * lengths, UTF-8, bool bytes), so records are trusted downstream. protobuf-c's unpack
 * runs on a bump arena (one reset per frame instead of a malloc per field).
 */
#include "batch.h"

#include <stdalign.h>

#include "common/error.h"
#include "format.h"
#include "common/keycodec.h"

/* ---- bump arena for protobuf-c */

struct irs_arena_chunk {
	struct irs_arena_chunk *next;
	size_t size;   /* bytes of data[] */
	size_t used;
	alignas(16) uint8_t data[];
};

static void *arena_alloc(void *ctx, size_t size)
{
	irs_batch_decoder *d = ctx;
	size = (size + 15) & ~(size_t)15;
	struct irs_arena_chunk *c = d->arena;
	if (!c || c->size - c->used < size) {
		size_t cs = size > (256u << 10) ? size : (256u << 10);
		struct irs_arena_chunk *n = irs__malloc(d->mem, sizeof *n + cs);
		if (!n) {
			d->alloc_failed = true;
			return NULL;
		}
		n->size = cs;
		n->used = 0;
		n->next = c;
		d->arena = c = n;
	}
	void *p = c->data + c->used;
	c->used += size;
	return p;
}

static void arena_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p; /* released all at once by arena_reset */
}

/* Keeps the newest chunk (usually large enough for the next frame), frees the rest. */
static void arena_reset(irs_batch_decoder *d)
{
	struct irs_arena_chunk *c = d->arena;
	if (!c)
		return;
	struct irs_arena_chunk *n = c->next;
	c->next = NULL;
	c->used = 0;
	while (n) {
		struct irs_arena_chunk *next = n->next;
		irs__free(d->mem, n, sizeof *n + n->size);
		n = next;
	}
}

void irs__batch_decoder_init(irs_batch_decoder *d, irs_mem *mem)
{
	memset(d, 0, sizeof *d);
	d->mem = mem;
}

void irs__batch_decoder_free(irs_batch_decoder *d)
{
	arena_reset(d);
	if (d->arena)
		irs__free(d->mem, d->arena, sizeof *d->arena + d->arena->size);
	d->arena = NULL;
	irs__free(d->mem, d->row, sizeof(irs_value) * d->row_cap);
	irs__free(d->mem, d->cursor, sizeof(uint32_t) * d->row_cap);
	irs__free(d->mem, d->offset, sizeof(uint32_t) * d->row_cap);
	irs__free(d->mem, d->rec, d->rec_cap);
	memset(d, 0, sizeof *d);
}

static int decoder_fit(irs_batch_decoder *d, uint32_t ncols, size_t rec_need, irs_error *err)
{
	if (ncols > d->row_cap) {
		irs_value *row = irs__malloc(d->mem, sizeof(irs_value) * ncols);
		uint32_t *cur = irs__malloc(d->mem, sizeof(uint32_t) * ncols);
		uint32_t *off = irs__malloc(d->mem, sizeof(uint32_t) * ncols);
		if (!row || !cur || !off) {
			irs__free(d->mem, row, sizeof(irs_value) * ncols);
			irs__free(d->mem, cur, sizeof(uint32_t) * ncols);
			irs__free(d->mem, off, sizeof(uint32_t) * ncols);
			return irs__seterr(err, IRS_ENOMEM, "out of memory decoding a batch");
		}
		irs__free(d->mem, d->row, sizeof(irs_value) * d->row_cap);
		irs__free(d->mem, d->cursor, sizeof(uint32_t) * d->row_cap);
		irs__free(d->mem, d->offset, sizeof(uint32_t) * d->row_cap);
		d->row = row;
		d->cursor = cur;
		d->offset = off;
		d->row_cap = ncols;
	}
	if (rec_need > d->rec_cap) {
		size_t cap = rec_need < 4096 ? 4096 : rec_need;
		uint8_t *r = irs__malloc(d->mem, cap);
		if (!r)
			return irs__seterr(err, IRS_ENOMEM, "out of memory decoding a batch");
		irs__free(d->mem, d->rec, d->rec_cap);
		d->rec = r;
		d->rec_cap = cap;
	}
	return 0;
}

/* Takes column c's next value for change r: bounds-checked against the column's
 * arrays, bool bytes and UTF-8 validated. *src and *vlen point into the payload. */
static int take_value(irs_batch_decoder *d, const Increstore__ColumnValues *cv,
		      const irs_schema_column *col, uint32_t c, uint32_t r, const uint8_t **src,
		      size_t *vlen, irs_error *err)
{
	uint32_t k = d->cursor[c]++;
	if (col->width) {
		if ((uint64_t)(k + 1) * col->width > cv->fixed.len)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s has only %zu values", r,
					   col->name, cv->fixed.len / col->width);
		*src = cv->fixed.data + (size_t)k * col->width;
		*vlen = col->width;
		if (col->type == IRS_TYPE_BOOL && **src > 1)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s: bool byte %u", r,
					   col->name, **src);
		return 0;
	}
	if ((uint64_t)(k + 1) * 4 > cv->lengths.len)
		return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s has only %zu values", r,
				   col->name, cv->lengths.len / 4);
	uint32_t l = irs__load_le32(cv->lengths.data + (size_t)k * 4);
	if (l > IRS_MAX_VALUE_BYTES || l > cv->data.len - d->offset[c])
		return irs__seterr(err, IRS_ECORRUPT,
				   "change %u: column %s: value length %u runs past the column data", r,
				   col->name, l);
	/* protobuf-c leaves an empty bytes field NULL */
	*src = cv->data.data ? cv->data.data + d->offset[c] : (const uint8_t *)"";
	d->offset[c] += l;
	*vlen = l;
	if (col->type == IRS_TYPE_UTF8 && !irs__utf8_valid(*src, l))
		return irs__seterr(err, IRS_ECORRUPT, "change %u: column %s: invalid UTF-8", r, col->name);
	return 0;
}

int irs__batch_decode(irs_batch_decoder *d, const irs_schema_table *t, const uint8_t *payload,
		      size_t len, bool full, uint64_t tag_base, irs_rec_sink sink, void *ctx,
		      uint32_t *count, irs_error *err)
{
	*count = 0;
	arena_reset(d);
	d->alloc_failed = false;
	ProtobufCAllocator pa = {arena_alloc, arena_free, d};
	Increstore__ChangeBatch *b = increstore__change_batch__unpack(&pa, len, payload);
	if (!b) {
		if (d->alloc_failed)
			return irs__seterr(err, d->mem->limit && irs__mem_over_limit(d->mem) ? IRS_ELIMIT : IRS_ENOMEM,
					   "out of memory decoding a batch");
		return irs__seterr(err, IRS_ECORRUPT, "payload is not a valid ChangeBatch message");
	}
	const uint32_t C = t->ncols, N = b->count;
	const uint32_t B = t->value_bitmap_bytes;
	if (N > IRS_MAX_BATCH_ROWS)
		return irs__seterr(err, IRS_ECORRUPT, "batch claims %u changes, more than the limit %u", N,
				   IRS_MAX_BATCH_ROWS);
	uint64_t bm_bytes = ((uint64_t)N * C + 7) / 8;
	if (b->ops.len != N)
		return irs__seterr(err, IRS_ECORRUPT, "batch of %u changes has %zu op codes", N, b->ops.len);
	if (b->changed.len != bm_bytes || b->nulls.len != bm_bytes)
		return irs__seterr(err, IRS_ECORRUPT,
				   "batch of %u changes x %u columns needs %llu-byte bitmaps, has %zu and %zu",
				   N, C, (unsigned long long)bm_bytes, b->changed.len, b->nulls.len);
	if (b->n_columns != C)
		return irs__seterr(err, IRS_ECORRUPT, "batch has %zu columns, table %s has %u", b->n_columns,
				   t->name, C);
	/* A record is at most: header, key, bitmaps, and every value of this payload. */
	int rc = decoder_fit(d, C, IRS_REC_HEADER + IRS_MAX_KEY_BYTES + 2u * B + len + 4u * C + 8, err);
	if (rc)
		return rc;
	for (uint32_t c = 0; c < C; c++) {
		const Increstore__ColumnValues *cv = b->columns[c];
		const irs_schema_column *col = &t->cols[c];
		d->cursor[c] = 0;
		d->offset[c] = 0;
		if (col->width) {
			if (cv->lengths.len || cv->data.len || cv->fixed.len % col->width)
				return irs__seterr(err, IRS_ECORRUPT,
						   "column %s (%s): %zu value bytes is not a multiple of %u, or "
						   "variable-length data present",
						   col->name, irs_type_name(col->type), cv->fixed.len, col->width);
		} else if (cv->fixed.len || cv->lengths.len % 4) {
			return irs__seterr(err, IRS_ECORRUPT,
					   "column %s (%s): malformed length array (%zu bytes)", col->name,
					   irs_type_name(col->type), cv->lengths.len);
		}
	}
	irs_value *row = d->row;
	for (uint32_t r = 0; r < N; r++) {
		uint8_t op = b->ops.data[r];
		if (op > IRS_REC_ERASE)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: unknown op code %u", r, op);
		if (full && op != IRS_REC_UPSERT)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: an erase inside a full backup", r);
		irs_rec *rec = (irs_rec *)d->rec;
		uint64_t base = (uint64_t)r * C;
		/* The key first (key columns hold a value in every change), so the value
		 * columns can then be written straight to their place after it. */
		for (uint32_t k = 0; k < t->nkey; k++) {
			uint32_t c = t->key_cols[k];
			const irs_schema_column *col = &t->cols[c];
			bool ch = irs__bit_get(b->changed.data, base + c), nu = irs__bit_get(b->nulls.data, base + c);
			if (!ch || nu)
				return irs__seterr(err, IRS_ECORRUPT, "change %u: key column %s is %s", r,
						   col->name, nu ? "NULL" : "missing");
			const uint8_t *src;
			size_t vlen;
			rc = take_value(d, b->columns[c], col, c, r, &src, &vlen, err);
			if (rc)
				return rc;
			irs_value *v = &row[c];
			v->state = IRS_VALUE_SET;
			if (col->width) {
				irs__value_read(col->type, src, v);
			} else {
				v->v.s.ptr = src;
				v->v.s.len = vlen;
			}
		}
		size_t klen = irs__key_encode(t, row, rec->data, IRS_MAX_KEY_BYTES);
		if (!klen)
			return irs__seterr(err, IRS_ECORRUPT, "change %u: encoded key longer than %u bytes", r,
					   IRS_MAX_KEY_BYTES);
		uint8_t *changed_bm = rec->data + klen, *nulls_bm = changed_bm + B;
		memset(changed_bm, 0, 2u * B);
		uint8_t *vp = nulls_bm + B;
		for (uint32_t vi = 0; vi < t->nvalues; vi++) {
			uint32_t c = t->value_cols[vi];
			const irs_schema_column *col = &t->cols[c];
			bool ch = irs__bit_get(b->changed.data, base + c), nu = irs__bit_get(b->nulls.data, base + c);
			if (nu && !ch)
				return irs__seterr(err, IRS_ECORRUPT,
						   "change %u: column %s is NULL but not listed", r, col->name);
			if (op == IRS_REC_ERASE && ch)
				return irs__seterr(err, IRS_ECORRUPT, "change %u: an erase lists column %s", r,
						   col->name);
			if (full && !ch)
				return irs__seterr(err, IRS_ECORRUPT,
						   "change %u: a full-backup row does not list column %s", r,
						   col->name);
			if (!ch)
				continue;
			irs__bit_set(changed_bm, vi);
			if (nu) {
				irs__bit_set(nulls_bm, vi);
				continue;
			}
			const uint8_t *src;
			size_t vlen;
			rc = take_value(d, b->columns[c], col, c, r, &src, &vlen, err);
			if (rc)
				return rc;
			if (!col->width) {
				irs__store_le32(vp, (uint32_t)vlen);
				vp += 4;
			}
			memcpy(vp, src, vlen);
			vp += vlen;
		}
		rec->size = (uint32_t)(vp - (uint8_t *)rec);
		rec->op = op;
		rec->flags = 0;
		rec->key_len = (uint16_t)klen;
		rec->hash = irs__key_hash(rec->data, klen);
		rec->tag = tag_base + r;
		rc = sink(ctx, rec, err);
		if (rc)
			return rc;
	}
	for (uint32_t c = 0; c < C; c++) {
		const Increstore__ColumnValues *cv = b->columns[c];
		const irs_schema_column *col = &t->cols[c];
		size_t have = col->width ? cv->fixed.len / col->width : cv->lengths.len / 4;
		if (d->cursor[c] != have || (!col->width && d->offset[c] != cv->data.len))
			return irs__seterr(err, IRS_ECORRUPT,
					   "column %s holds %zu values (%zu data bytes), the bitmaps use %u (%u)",
					   col->name, have, cv->data.len, d->cursor[c], d->offset[c]);
	}
	*count = N;
	return 0;
}

/* ---- encoding */

int irs__batch_encoder_init(irs_batch_encoder *e, irs_mem *mem, const irs_schema_table *t)
{
	memset(e, 0, sizeof *e);
	e->mem = mem;
	e->t = t;
	size_t nb = sizeof(irs_buf) * t->ncols;
	e->fixed = irs__malloc(mem, nb);
	e->lengths = irs__malloc(mem, nb);
	e->data = irs__malloc(mem, nb);
	e->row = irs__malloc(mem, sizeof(irs_value) * t->ncols);
	e->scratch = irs__malloc(mem, IRS_MAX_KEY_BYTES);
	irs__buf_init(&e->ops, mem);
	irs__buf_init(&e->changed, mem);
	irs__buf_init(&e->nulls, mem);
	irs__buf_init(&e->out, mem);
	if (!e->fixed || !e->lengths || !e->data || !e->row || !e->scratch) {
		irs__free(mem, e->fixed, nb);
		irs__free(mem, e->lengths, nb);
		irs__free(mem, e->data, nb);
		irs__free(mem, e->row, sizeof(irs_value) * t->ncols);
		irs__free(mem, e->scratch, IRS_MAX_KEY_BYTES);
		memset(e, 0, sizeof *e);
		return IRS_ENOMEM;
	}
	for (uint32_t c = 0; c < t->ncols; c++) {
		irs__buf_init(&e->fixed[c], mem);
		irs__buf_init(&e->lengths[c], mem);
		irs__buf_init(&e->data[c], mem);
	}
	return 0;
}

void irs__batch_encoder_free(irs_batch_encoder *e)
{
	if (!e->t)
		return;
	const irs_schema_table *t = e->t;
	for (uint32_t c = 0; c < t->ncols; c++) {
		irs__buf_free(&e->fixed[c]);
		irs__buf_free(&e->lengths[c]);
		irs__buf_free(&e->data[c]);
	}
	size_t nb = sizeof(irs_buf) * t->ncols;
	irs__free(e->mem, e->fixed, nb);
	irs__free(e->mem, e->lengths, nb);
	irs__free(e->mem, e->data, nb);
	irs__free(e->mem, e->row, sizeof(irs_value) * t->ncols);
	irs__free(e->mem, e->scratch, IRS_MAX_KEY_BYTES);
	irs__buf_free(&e->ops);
	irs__buf_free(&e->changed);
	irs__buf_free(&e->nulls);
	irs__buf_free(&e->out);
	memset(e, 0, sizeof *e);
}

/* Appends a value as stored in a record (fixed bytes, or u32 length + bytes). */
static bool put_stored(irs_batch_encoder *e, uint32_t c, const uint8_t *p, size_t sz)
{
	if (e->t->cols[c].width)
		return irs__buf_append(&e->fixed[c], p, sz);
	return irs__buf_append(&e->lengths[c], p, 4) && irs__buf_append(&e->data[c], p + 4, sz - 4);
}

int irs__batch_encoder_add(irs_batch_encoder *e, const irs_rec *r, irs_error *err)
{
	const irs_schema_table *t = e->t;
	const uint32_t C = t->ncols;
	uint64_t bit0 = (uint64_t)e->count * C;
	size_t need = (size_t)((bit0 + C + 7) / 8);
	if (!irs__buf_reserve(&e->changed, need - e->changed.len) ||
	    !irs__buf_reserve(&e->nulls, need - e->nulls.len) || !irs__buf_reserve(&e->ops, 1))
		return irs__seterr(err, IRS_ENOMEM, "out of memory encoding a batch");
	memset(e->changed.p + e->changed.len, 0, need - e->changed.len);
	memset(e->nulls.p + e->nulls.len, 0, need - e->nulls.len);
	e->changed.len = e->nulls.len = need;
	e->ops.p[e->ops.len++] = r->op;

	int rc = irs__key_decode(t, irs__rec_key(r), r->key_len, e->row, e->scratch);
	if (rc)
		return irs__seterr(err, IRS_ECORRUPT, "malformed key in a change record");
	uint8_t tmp[8 + 4];
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = t->key_cols[k];
		irs__bit_set(e->changed.p, bit0 + c);
		const irs_value *v = &e->row[c];
		bool ok;
		switch (t->cols[c].type) {
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES:
			irs__store_le32(tmp, (uint32_t)v->v.s.len);
			ok = irs__buf_append(&e->lengths[c], tmp, 4) &&
			     irs__buf_append(&e->data[c], v->v.s.ptr, v->v.s.len);
			break;
		case IRS_TYPE_BOOL:
			tmp[0] = (uint8_t)v->v.b;
			ok = irs__buf_append(&e->fixed[c], tmp, 1);
			break;
		case IRS_TYPE_INT32:
		case IRS_TYPE_UINT32:
			irs__store_le32(tmp, (uint32_t)v->v.u64);
			ok = irs__buf_append(&e->fixed[c], tmp, 4);
			break;
		default:
			irs__store_le64(tmp, v->v.u64);
			ok = irs__buf_append(&e->fixed[c], tmp, 8);
			break;
		}
		if (!ok)
			return irs__seterr(err, IRS_ENOMEM, "out of memory encoding a batch");
	}
	const uint8_t *changed = irs__rec_changed(r), *nulls = irs__rec_nulls(r, t);
	const uint8_t *vp = irs__rec_values(r, t);
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		if (!irs__bit_get(changed, vi))
			continue;
		uint32_t c = t->value_cols[vi];
		irs__bit_set(e->changed.p, bit0 + c);
		if (irs__bit_get(nulls, vi)) {
			irs__bit_set(e->nulls.p, bit0 + c);
			continue;
		}
		size_t sz = irs__value_size_at(t->cols[c].type, vp);
		if (!put_stored(e, c, vp, sz))
			return irs__seterr(err, IRS_ENOMEM, "out of memory encoding a batch");
		vp += sz;
	}
	e->count++;
	e->bytes += r->size;
	return 0;
}

int irs__batch_encoder_finish(irs_batch_encoder *e, const uint8_t **payload, size_t *len,
			      irs_error *err)
{
	const irs_schema_table *t = e->t;
	Increstore__ChangeBatch b = INCRESTORE__CHANGE_BATCH__INIT;
	Increstore__ColumnValues cvs[IRS_MAX_COLUMNS > 64 ? 64 : IRS_MAX_COLUMNS];
	Increstore__ColumnValues **ptrs;
	Increstore__ColumnValues *cv = cvs;
	size_t nptr = sizeof(*ptrs) * t->ncols;
	ptrs = irs__malloc(e->mem, nptr);
	if (t->ncols > 64)
		cv = irs__malloc(e->mem, sizeof(*cv) * t->ncols);
	if (!ptrs || !cv) {
		irs__free(e->mem, ptrs, nptr);
		if (cv != cvs)
			irs__free(e->mem, cv, sizeof(*cv) * t->ncols);
		return irs__seterr(err, IRS_ENOMEM, "out of memory encoding a batch");
	}
	for (uint32_t c = 0; c < t->ncols; c++) {
		Increstore__ColumnValues init = INCRESTORE__COLUMN_VALUES__INIT;
		cv[c] = init;
		cv[c].fixed.data = e->fixed[c].p;
		cv[c].fixed.len = e->fixed[c].len;
		cv[c].lengths.data = e->lengths[c].p;
		cv[c].lengths.len = e->lengths[c].len;
		cv[c].data.data = e->data[c].p;
		cv[c].data.len = e->data[c].len;
		ptrs[c] = &cv[c];
	}
	b.count = e->count;
	b.ops.data = e->ops.p;
	b.ops.len = e->ops.len;
	b.changed.data = e->changed.p;
	b.changed.len = e->changed.len;
	b.nulls.data = e->nulls.p;
	b.nulls.len = e->nulls.len;
	b.n_columns = t->ncols;
	b.columns = ptrs;
	size_t n = increstore__change_batch__get_packed_size(&b);
	int rc = 0;
	e->out.len = 0;
	if (n > IRS_MAX_FRAME)
		rc = irs__seterr(err, IRS_EINPUT, "a batch of %u changes packs to %zu bytes, over the %u limit",
				 e->count, n, IRS_MAX_FRAME);
	else if (!irs__buf_reserve(&e->out, n))
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory encoding a batch");
	else
		e->out.len = increstore__change_batch__pack(&b, e->out.p);
	irs__free(e->mem, ptrs, nptr);
	if (cv != cvs)
		irs__free(e->mem, cv, sizeof(*cv) * t->ncols);
	if (rc)
		return rc;
	*payload = e->out.p;
	*len = e->out.len;
	e->count = 0;
	e->bytes = 0;
	e->ops.len = e->changed.len = e->nulls.len = 0;
	for (uint32_t c = 0; c < t->ncols; c++)
		e->fixed[c].len = e->lengths[c].len = e->data[c].len = 0;
	return 0;
}
