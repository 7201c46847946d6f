/*
 * table_read.c: reading a table partition while its owner is quiescent: point gets
 * (and the slot prefetch of batched gets), row decoding, counters and statistics,
 * unordered iteration. Nothing here writes the partition, so any number of threads
 * may read it at once.
 * The layout and invariants are described in table_impl.h.
 */
#include "shard/table_impl.h"

#include "common/keycodec.h"

/* ------------------------------------------------------------------ reads */

const uint8_t *irs__part_get(const irs_table_part *p, const uint8_t *key, size_t key_len,
			     uint64_t hash)
{
	size_t at;
	uint32_t ref = index_find(p, key, key_len, hash, &at);
	return ref ? ref_ptr(p, ref) : NULL;
}

void irs__part_prefetch_slot(const irs_table_part *p, uint64_t hash)
{
	if (p->cap)
		__builtin_prefetch(&p->slots[hash & p->mask]);
}

static void fixed_read(irs_type ty, const uint8_t *s, irs_value *v)
{
	switch (ty) {
	case IRS_TYPE_BOOL: v->v.b = s[0] != 0; break;
	case IRS_TYPE_INT32: v->v.i64 = (int32_t)irs__load_le32(s); break;
	case IRS_TYPE_UINT32: v->v.u64 = irs__load_le32(s); break;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: v->v.i64 = (int64_t)irs__load_le64(s); break;
	case IRS_TYPE_UINT64: v->v.u64 = irs__load_le64(s); break;
	case IRS_TYPE_DOUBLE: {
		uint64_t bits = irs__load_le64(s);
		memcpy(&v->v.d, &bits, sizeof bits);
		break;
	}
	default: break;
	}
}

int irs__part_row_values(const irs_table_part *p, const uint8_t *row, irs_value *out,
			 uint8_t *scratch)
{
	size_t kl;
	const uint8_t *key = irs__row_key(row, &kl);
	int rc = irs__key_decode(p->t, key, kl, out, scratch);
	if (rc)
		return rc;
	irs__part_row_value_cols(p, row, out);
	return 0;
}

void irs__part_row_value_cols(const irs_table_part *p, const uint8_t *row, irs_value *out)
{
	const irs_schema_table *t = p->t;
	size_t kl;
	const uint8_t *nulls = irs__row_key(row, &kl) + kl;
	const uint8_t *fixed = nulls + p->B;
	const uint8_t *var = fixed + p->fixed_bytes;
	for (uint32_t vi = 0; vi < p->nvalues; vi++) {
		const vcol *c = &p->vcols[vi];
		irs_value *v = &out[t->value_cols[vi]];
		bool is_null = irs__bit_get(nulls, vi);
		if (c->width) {
			if (is_null) {
				v->state = IRS_VALUE_NULL;
			} else {
				v->state = IRS_VALUE_SET;
				fixed_read((irs_type)c->type, fixed + c->pos, v);
			}
			continue;
		}
		uint32_t w = ld32(var);
		var += 4;
		if (w & OOL) {
			const uint8_t *o = ref_ptr(p, w & ~OOL);
			v->v.s.len = ld32(o);
			v->v.s.ptr = o + 4;
		} else {
			v->v.s.len = w;
			v->v.s.ptr = var;
			var += w;
		}
		v->state = is_null ? IRS_VALUE_NULL : IRS_VALUE_SET;
	}
}

uint64_t irs__part_count(const irs_table_part *p)
{
	return p->count;
}

uint64_t irs__part_logical_bytes(const irs_table_part *p)
{
	return p->logical;
}

size_t irs__part_max_key_len(const irs_table_part *p)
{
	return p->max_key_len;
}

uint64_t irs__part_memory_bytes(const irs_table_part *p)
{
	return p->mem_bytes;
}

void irs__part_stats(const irs_table_part *p, irs_part_stats *out)
{
	out->rows = p->count;
	out->logical_bytes = p->logical;
	out->index_bytes = p->cap * sizeof *p->slots;
	out->arena_bytes = p->arena_units * UNIT;
	out->live_bytes = p->live_units * UNIT;
	out->free_bytes = p->free_units * UNIT;
	out->unused_bytes = ((uint64_t)(p->bump_end - p->bump) + (p->spare_end - p->spare)) * UNIT;
	out->other_bytes = p->mem_bytes - out->index_bytes - out->arena_bytes;
	out->reserved_rows = p->resv_rows;
	out->reserved_bytes = p->resv_units * UNIT;
}

const uint8_t *irs__part_next(const irs_table_part *p, size_t *pos)
{
	for (size_t i = *pos; i < p->cap; i++) {
		prefetch_ahead(p, i); /* rows lie at random: load each group's together */
		if (p->slots[i].ref) {
			*pos = i + 1;
			return ref_ptr(p, p->slots[i].ref);
		}
	}
	*pos = p->cap;
	return NULL;
}
