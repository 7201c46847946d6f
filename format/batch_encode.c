/*
 * batch_encode.c: building ChangeBatch payloads (proto/collection.proto; the layout is
 * described in batch_decode.c) from change records, for the backup writer.
 *
 * Records are split column-wise into per-column buffers as they are added; finish packs
 * the columns and bitmaps with protobuf-c. The buffers are kept and reused from frame
 * to frame.
 */
#include "batch.h"

#include "common/error.h"
#include "common/keycodec.h"
#include "format.h"

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
