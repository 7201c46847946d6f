/*
 * record.c: building change records (record.h) from irs_values, and collapsing two
 * changes to one key into one, by the rules of docs/design.md section 1:
 *
 *     UPSERT{a} then UPSERT{b}  = UPSERT{a, b}   (b's value wins for a column in both)
 *     anything  then ERASE      = ERASE
 *     ERASE     then UPSERT{a}  = UPSERT with every column listed, unlisted ones NULL
 *
 * The last rule keeps the collapsed change exact whatever the row held before: the
 * erase cleared every column, so the columns the upsert did not list must be NULL.
 */
#include "record.h"

#include <stdio.h>

#include "common/keycodec.h"

/* Bytes the value of column type t takes in a record. */
static size_t value_bytes(irs_type t, const irs_value *v)
{
	uint8_t w = irs__type_width(t);
	return w ? w : 4u + v->v.s.len;
}

static uint8_t *put_value(uint8_t *p, irs_type t, const irs_value *v)
{
	switch (t) {
	case IRS_TYPE_BOOL: *p = (uint8_t)(v->v.b != 0); return p + 1;
	case IRS_TYPE_INT32: irs__store_le32(p, (uint32_t)(int32_t)v->v.i64); return p + 4;
	case IRS_TYPE_UINT32: irs__store_le32(p, (uint32_t)v->v.u64); return p + 4;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: irs__store_le64(p, (uint64_t)v->v.i64); return p + 8;
	case IRS_TYPE_UINT64: irs__store_le64(p, v->v.u64); return p + 8;
	case IRS_TYPE_DOUBLE: {
		uint64_t bits;
		memcpy(&bits, &v->v.d, 8);
		irs__store_le64(p, bits);
		return p + 8;
	}
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		irs__store_le32(p, (uint32_t)v->v.s.len);
		if (v->v.s.len)
			memcpy(p + 4, v->v.s.ptr, v->v.s.len);
		return p + 4 + v->v.s.len;
	}
	return p;
}

size_t irs__rec_build(const irs_schema_table *t, int op, bool full, const irs_value *row,
		      uint64_t tag, uint8_t *out, size_t cap)
{
	uint32_t B = t->value_bitmap_bytes;
	if (cap < IRS_REC_HEADER + 2u * B)
		return 0;
	irs_rec *r = (irs_rec *)out;
	size_t klen = irs__key_encode(t, row, r->data, cap - IRS_REC_HEADER - 2u * B);
	if (!klen)
		return 0;
	uint8_t *changed = r->data + klen;
	uint8_t *nulls = changed + B;
	memset(changed, 0, 2u * B);
	uint8_t *p = nulls + B;
	size_t size = (size_t)(p - out);
	if (op == IRS_REC_UPSERT) {
		for (uint32_t vi = 0; vi < t->nvalues; vi++) {
			const irs_schema_column *c = &t->cols[t->value_cols[vi]];
			const irs_value *v = &row[t->value_cols[vi]];
			if (v->state == IRS_VALUE_ABSENT && !full)
				continue;
			irs__bit_set(changed, vi);
			if (v->state != IRS_VALUE_SET) {
				irs__bit_set(nulls, vi);
				continue;
			}
			size_t vb = value_bytes(c->type, v);
			if (cap - size < vb)
				return 0;
			p = put_value(p, c->type, v);
			size += vb;
		}
	}
	r->size = (uint32_t)size;
	r->op = (uint8_t)op;
	r->flags = 0;
	r->key_len = (uint16_t)klen;
	r->hash = irs__key_hash(r->data, klen);
	r->tag = tag;
	return size;
}

size_t irs__rec_collapse(const irs_schema_table *t, const irs_rec *older, const irs_rec *newer,
			 uint8_t *out, size_t cap)
{
	if (newer->op == IRS_REC_ERASE || older->op == IRS_REC_ERASE) {
		/* Rule 2 (copy the erase) or rule 3 (the upsert, unlisted columns set NULL). */
		if (cap < newer->size)
			return 0;
		memcpy(out, newer, newer->size);
		irs_rec *r = (irs_rec *)out;
		if (newer->op == IRS_REC_UPSERT) {
			uint8_t *changed = r->data + r->key_len;
			uint8_t *nulls = changed + t->value_bitmap_bytes;
			for (uint32_t vi = 0; vi < t->nvalues; vi++) {
				if (!irs__bit_get(changed, vi)) {
					irs__bit_set(changed, vi);
					irs__bit_set(nulls, vi);
				}
			}
		}
		return r->size;
	}
	/* Rule 1: merge column by column, newer wins. */
	uint32_t B = t->value_bitmap_bytes;
	size_t head = IRS_REC_HEADER + older->key_len + 2u * B;
	if (cap < head)
		return 0;
	memcpy(out, newer, IRS_REC_HEADER + newer->key_len);
	irs_rec *r = (irs_rec *)out;
	uint8_t *changed = r->data + r->key_len;
	uint8_t *nulls = changed + B;
	memset(changed, 0, 2u * B);
	const uint8_t *oc = irs__rec_changed(older), *on = irs__rec_nulls(older, t);
	const uint8_t *nc = irs__rec_changed(newer), *nn = irs__rec_nulls(newer, t);
	const uint8_t *ov = irs__rec_values(older, t), *nv = irs__rec_values(newer, t);
	uint8_t *p = out + head;
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		irs_type ty = t->cols[t->value_cols[vi]].type;
		bool o_has = irs__bit_get(oc, vi), n_has = irs__bit_get(nc, vi);
		const uint8_t *src = NULL;
		size_t sz = 0;
		bool is_null = false;
		if (o_has && !irs__bit_get(on, vi)) {
			sz = irs__value_size_at(ty, ov);
			if (!n_has)
				src = ov;
			ov += sz;
		} else if (o_has && !n_has) {
			is_null = true;
		}
		if (n_has) {
			if (irs__bit_get(nn, vi)) {
				is_null = true;
				src = NULL;
			} else {
				sz = irs__value_size_at(ty, nv);
				src = nv;
				nv += sz;
			}
		}
		if (!o_has && !n_has)
			continue;
		irs__bit_set(changed, vi);
		if (is_null && !src) {
			irs__bit_set(nulls, vi);
			continue;
		}
		if ((size_t)(p - out) + sz > cap)
			return 0;
		memcpy(p, src, sz);
		p += sz;
	}
	r->size = (uint32_t)(p - out);
	return r->size;
}

int irs__rec_decode(const irs_schema_table *t, const irs_rec *r, irs_value *row, uint8_t *scratch)
{
	int rc = irs__key_decode(t, irs__rec_key(r), r->key_len, row, scratch);
	if (rc)
		return rc;
	const uint8_t *changed = irs__rec_changed(r), *nulls = irs__rec_nulls(r, t);
	const uint8_t *p = irs__rec_values(r, t);
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		irs_value *v = &row[t->value_cols[vi]];
		irs_type ty = t->cols[t->value_cols[vi]].type;
		if (!irs__bit_get(changed, vi)) {
			v->state = IRS_VALUE_ABSENT;
			continue;
		}
		if (irs__bit_get(nulls, vi)) {
			v->state = IRS_VALUE_NULL;
			continue;
		}
		v->state = IRS_VALUE_SET;
		p = irs__value_read(ty, p, v);
	}
	return 0;
}

const uint8_t *irs__value_read(irs_type ty, const uint8_t *p, irs_value *v)
{
	switch (ty) {
	case IRS_TYPE_BOOL: v->v.b = p[0]; return p + 1;
	case IRS_TYPE_INT32: v->v.i64 = (int32_t)irs__load_le32(p); return p + 4;
	case IRS_TYPE_UINT32: v->v.u64 = irs__load_le32(p); return p + 4;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: v->v.i64 = (int64_t)irs__load_le64(p); return p + 8;
	case IRS_TYPE_UINT64: v->v.u64 = irs__load_le64(p); return p + 8;
	case IRS_TYPE_DOUBLE: {
		uint64_t bits = irs__load_le64(p);
		memcpy(&v->v.d, &bits, 8);
		return p + 8;
	}
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		v->v.s.len = irs__load_le32(p);
		v->v.s.ptr = p + 4;
		return p + 4 + v->v.s.len;
	}
	return p;
}

void irs__rec_key_format(const irs_schema_table *t, const uint8_t *key, size_t key_len, char *out,
			 size_t cap)
{
	irs_value row[IRS_MAX_COLUMNS > 64 ? 64 : IRS_MAX_COLUMNS];
	uint8_t scratch[512];
	size_t n = 0;
	out[0] = '\0';
	if (t->ncols > 64 || key_len > sizeof scratch ||
	    irs__key_decode(t, key, key_len, row, scratch) != 0) {
		snprintf(out, cap, "(%zu-byte key)", key_len);
		return;
	}
#define PUT(...)                                                                           \
	do {                                                                               \
		if (n < cap)                                                               \
			n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);              \
	} while (0)
	if (t->nkey > 1)
		PUT("(");
	for (uint32_t k = 0; k < t->nkey; k++) {
		const irs_schema_column *c = &t->cols[t->key_cols[k]];
		const irs_value *v = &row[t->key_cols[k]];
		PUT("%s%s=", k ? ", " : "", c->name);
		switch (c->type) {
		case IRS_TYPE_BOOL: PUT("%s", v->v.b ? "true" : "false"); break;
		case IRS_TYPE_INT32:
		case IRS_TYPE_INT64:
		case IRS_TYPE_TIMESTAMP: PUT("%lld", (long long)v->v.i64); break;
		case IRS_TYPE_UINT32:
		case IRS_TYPE_UINT64: PUT("%llu", (unsigned long long)v->v.u64); break;
		case IRS_TYPE_DOUBLE: PUT("%.17g", v->v.d); break;
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES: {
			PUT("\"");
			const uint8_t *s = v->v.s.ptr;
			for (size_t i = 0; i < v->v.s.len && i < 64; i++)
				PUT(s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? "%c" : "\\x%02x", s[i]);
			PUT("%s\"", v->v.s.len > 64 ? "..." : "");
			break;
		}
		}
	}
	if (t->nkey > 1)
		PUT(")");
#undef PUT
}
