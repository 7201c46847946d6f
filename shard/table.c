/*
 * table.c: one shard's partition of one table: a hash index over encoded keys whose
 * slots point at row blobs in a per-partition arena. This file holds its lifetime,
 * the record bounds, the index, the reservation and the (batched) apply.
 * The layout and invariants are described in table_impl.h.
 */
#include "shard/table_impl.h"

static uint8_t schema_width(const void *ctx, uint32_t vi)
{
	const irs_schema_table *t = ctx;
	return irs__type_width(t->cols[t->value_cols[vi]].type);
}


/* ------------------------------------------------------------------ bounds */

/* Bytes of a fresh inline row, and of the out-of-line blobs of the listed values. */
static size_t bound_of(size_t head, const irs_rec *rec, const irs_schema_table *t, const void *ctx,
		       width_fn width_of)
{
	if (rec->op != IRS_REC_UPSERT)
		return 0;
	size_t ins = head + rec->key_len;
	size_t ool = 0;
	rec_walk w;
	walk_init(&w, t, rec);
	uint32_t vi;
	bool is_null;
	const uint8_t *val;
	while (walk_next_(&w, &vi, &is_null, &val, ctx, width_of)) {
		if (is_null || width_of(ctx, vi))
			continue;
		size_t len = irs__load_le32(val);
		ins += len;
		ool += (size_t)units_of(4 + len) * UNIT;
	}
	ins = (size_t)units_of(ins) * UNIT;
	return ins > ool ? ins : ool;
}

size_t irs__rec_row_bound(const irs_schema_table *t, const irs_rec *rec)
{
	if (rec->op != IRS_REC_UPSERT)
		return 0;
	size_t head = ROW_HEAD + t->value_bitmap_bytes;
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		uint8_t wd = irs__type_width(t->cols[t->value_cols[vi]].type);
		head += wd ? wd : 4u;
	}
	return bound_of(head, rec, t, t, schema_width);
}

/*
 * The value bytes before value column `v` in rec's values: the widths of the listed
 * non-NULL columns before it, all fixed-width (for a table with one var column).
 */
static size_t fixed_before(const irs_table_part *p, const irs_rec *rec, uint32_t v)
{
	const uint8_t *ch = irs__rec_changed(rec), *nu = irs__rec_nulls(rec, p->t);
	size_t off = 0;
	for (uint32_t vi = 0; vi < v; vi++)
		if (irs__bit_get(ch, vi) && !irs__bit_get(nu, vi))
			off += p->vcols[vi].width;
	return off;
}

size_t irs__part_rec_bound(const irs_table_part *p, const irs_rec *rec)
{
	size_t head = ROW_HEAD + p->B + p->fixed_bytes + 4u * (size_t)p->nvar;
	if (p->nvar > 1)
		return bound_of(head, rec, p->t, p, part_width);
	/* no or one var column: its value, if listed, sits after the fixed values before it */
	if (rec->op != IRS_REC_UPSERT)
		return 0;
	size_t ins = head + rec->key_len, ool = 0;
	if (p->nvar) {
		uint32_t v = p->var_vi[0];
		if (irs__bit_get(irs__rec_changed(rec), v) && !irs__bit_get(irs__rec_nulls(rec, p->t), v)) {
			size_t len = irs__load_le32(irs__rec_values(rec, p->t) + fixed_before(p, rec, v));
			ins += len;
			ool = (size_t)units_of(4 + len) * UNIT;
		}
	}
	ins = (size_t)units_of(ins) * UNIT;
	return ins > ool ? ins : ool;
}


/* ------------------------------------------------------------------ hash index */

static size_t cap_for(uint64_t rows)
{
	size_t cap = 16;
	while (cap - cap / 4 < rows) {
		if (cap >= MAX_SLOTS)
			return 0;
		cap *= 2;
	}
	return cap;
}

/* Rebuilds the index with room for `rows` rows (from tags alone). */
int irs__index_grow(irs_table_part *p, uint64_t rows)
{
	size_t cap = cap_for(rows);
	if (!cap)
		return IRS_ENOMEM;
	if (cap <= p->cap)
		return 0;
	irs_slot *ns = irs__part_mem_alloc_huge(p, cap * sizeof *ns);
	if (!ns)
		return mem_error(p->mem);
	memset(ns, 0, cap * sizeof *ns);
	size_t mask = cap - 1;
	for (size_t i = 0; i < p->cap; i++) {
		irs_slot s = p->slots[i];
		if (!s.ref)
			continue;
		size_t j = s.tag & mask;
		while (ns[j].ref)
			j = (j + 1) & mask;
		ns[j] = s;
	}
	irs__part_mem_free(p, p->slots, p->cap * sizeof *p->slots);
	p->slots = ns;
	p->cap = cap;
	p->mask = mask;
	p->max_load = cap - cap / 4;
	return 0;
}

/* Backward-shift deletion: pull later entries of the probe run into the hole. */
void irs__index_remove(irs_table_part *p, size_t hole)
{
	size_t mask = p->mask;
	size_t j = hole;
	for (;;) {
		j = (j + 1) & mask;
		irs_slot s = p->slots[j];
		if (!s.ref)
			break;
		size_t home = s.tag & mask;
		/* s may fill the hole if the hole lies on its path home..j. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			p->slots[hole] = s;
			hole = j;
		}
	}
	p->slots[hole] = (irs_slot){0, 0};
}


/* ------------------------------------------------------------------ lifetime */

/* The constant offset of every key part, when all are fixed-width (digests read them). */
static int key_offsets_init(irs_table_part *p)
{
	const irs_schema_table *t = p->t;
	for (uint32_t i = 0; i < t->nkey; i++)
		if (!irs__type_width(t->cols[t->key_cols[i]].type))
			return 0;
	p->key_off = irs__part_mem_alloc(p, t->nkey * sizeof *p->key_off);
	if (!p->key_off)
		return mem_error(p->mem);
	uint32_t off = 0;
	for (uint32_t i = 0; i < t->nkey; i++) {
		p->key_off[i] = off;
		off += irs__type_width(t->cols[t->key_cols[i]].type);
	}
	return 0;
}

/* The fill plan (fill_step), after p->vcols: consecutive fixed-width columns merge. */
static int fill_plan_init(irs_table_part *p)
{
	if (!p->nvalues)
		return 0;
	p->fill = irs__part_mem_alloc(p, p->nvalues * sizeof *p->fill);
	if (!p->fill)
		return mem_error(p->mem);
	for (uint32_t vi = 0; vi < p->nvalues; vi++) {
		const vcol *c = &p->vcols[vi];
		fill_step *last = p->nfill ? &p->fill[p->nfill - 1] : NULL;
		if (c->width && last && last->bytes) /* fixed columns' places are consecutive */
			last->bytes += c->width;
		else
			p->fill[p->nfill++] = (fill_step){c->width ? c->pos : 0, c->width};
	}
	return 0;
}

int irs__part_create(irs_mem *mem, const irs_schema_table *t, uint64_t expected_rows,
		     irs_table_part **out)
{
	*out = NULL;
	irs_table_part *p = irs__calloc(mem, sizeof *p);
	if (!p)
		return mem_error(mem);
	p->mem = mem;
	p->t = t;
	p->mem_bytes = sizeof *p;
	p->nvalues = t->nvalues;
	p->B = t->value_bitmap_bytes;
	p->next_chunk = CHUNK_MIN;
	for (uint32_t vi = 0; vi < t->nvalues; vi++)
		if (!irs__type_width(t->cols[t->value_cols[vi]].type))
			p->nvar++;
	int rc = IRS_OK;
	if (p->nvalues) {
		p->vcols = irs__part_mem_alloc(p, p->nvalues * sizeof *p->vcols);
		if (!p->vcols)
			goto nomem;
	}
	if (p->nvar) {
		p->var_vi = irs__part_mem_alloc(p, p->nvar * sizeof *p->var_vi);
		p->work = irs__part_mem_alloc(p, p->nvar * sizeof *p->work);
		if (!p->var_vi || !p->work)
			goto nomem;
		memset(p->work, 0, p->nvar * sizeof *p->work);
	}
	uint32_t j = 0;
	for (uint32_t vi = 0; vi < t->nvalues; vi++) {
		irs_type ty = t->cols[t->value_cols[vi]].type;
		uint8_t wd = irs__type_width(ty);
		p->vcols[vi].width = wd;
		p->vcols[vi].type = (uint8_t)ty;
		if (wd) {
			p->vcols[vi].pos = p->fixed_bytes;
			p->fixed_bytes += wd;
		} else {
			p->vcols[vi].pos = j;
			p->var_vi[j++] = vi;
		}
	}
	if ((rc = fill_plan_init(p)) != 0 || (rc = key_offsets_init(p)) != 0 ||
	    (rc = irs__digest_plan_init(p)) != 0)
		goto fail;
	if (expected_rows && (rc = irs__index_grow(p, expected_rows)) != 0)
		goto fail;
	*out = p;
	return 0;
nomem:
	rc = mem_error(mem);
fail:
	irs__part_destroy(p);
	return rc;
}

void irs__part_destroy(irs_table_part *p)
{
	if (!p)
		return;
	irs__arena_free_all(p);
	irs__part_mem_free(p, p->free_heads, (NCLASS + 1) * sizeof(uint32_t));
	irs__part_mem_free(p, p->slots, p->cap * sizeof *p->slots);
	irs__part_mem_free(p, p->vcols, p->nvalues * sizeof *p->vcols);
	irs__part_mem_free(p, p->var_vi, p->nvar * sizeof *p->var_vi);
	irs__part_mem_free(p, p->work, p->nvar * sizeof *p->work);
	irs__part_mem_free(p, p->fill, p->nvalues * sizeof *p->fill);
	irs__part_mem_free(p, p->key_off, p->t->nkey * sizeof *p->key_off);
	irs__part_mem_free(p, p->dplan, p->t->ncols * sizeof *p->dplan);
	irs__part_mem_free(p, p->dplan_rest, p->t->ncols * sizeof *p->dplan_rest);
	irs__free(p->mem, p, sizeof *p);
}

void irs__part_clear(irs_table_part *p)
{
	irs__arena_free_all(p);
	if (p->slots)
		memset(p->slots, 0, p->cap * sizeof *p->slots);
	p->count = 0;
	p->logical = 0;
	p->max_key_len = 0;
	p->resv_rows = p->resv_units = 0;
	p->err = 0;
	p->digest = 0;
}


/* ------------------------------------------------------------------ reservation */

int irs__part_reserve(irs_table_part *p, uint64_t nrecs, uint64_t bytes)
{
	if (!nrecs && !bytes)
		return 0;
	if (nrecs > MAX_SLOTS || bytes > (uint64_t)MAX_PAGES * PAGE_BYTES)
		return IRS_ENOMEM;
	int rc = irs__arena_ensure_free_lists(p);
	if (rc)
		return rc;
	uint64_t rows = p->count + p->resv_rows + nrecs;
	if (rows > p->max_load && (rc = irs__index_grow(p, rows)) != 0)
		return rc;
	uint64_t units = p->resv_units + (bytes + UNIT - 1) / UNIT;
	if (units > (uint64_t)(p->bump_end - p->bump) && (rc = irs__arena_grow(p, units)) != 0)
		return rc;
	p->resv_rows += nrecs;
	p->resv_units = units;
	return 0;
}

void irs__part_unreserve(irs_table_part *p)
{
	p->resv_rows = 0;
	p->resv_units = 0;
}

int irs__part_error(const irs_table_part *p)
{
	return p->err;
}



/* ------------------------------------------------------------------ apply */

void irs__part_apply(irs_table_part *p, const irs_rec *rec, irs_apply_counts *counts)
{
	size_t at;
	uint32_t ref = index_find(p, irs__rec_key(rec), rec->key_len, rec->hash, &at);
	if (rec->op == IRS_REC_ERASE) {
		if (!ref) {
			counts->noop_erases++;
			return;
		}
		irs__row_erase(p, at, ref);
		counts->erased++;
		return;
	}
	if (rec->op != IRS_REC_UPSERT)
		return;
	if (ref) {
		if (irs__row_update(p, at, ref, rec))
			counts->updated++;
	} else if (irs__row_insert(p, at, rec)) {
		counts->inserted++;
	}
}



static inline void prefetch_slot(const irs_table_part *p, const irs_rec *rec)
{
	__builtin_prefetch(&p->slots[rec->hash & p->mask], 1, 3);
}

/* Loads the first byte of the row each record (probably) finds, for the cache. */
static inline void touch_rows(const irs_table_part *p, const irs_rec *const *recs, size_t m)
{
	unsigned acc = 0;
	for (size_t k = 0; k < m; k++) {
		size_t i = recs[k]->hash & p->mask;
		uint32_t tag = (uint32_t)recs[k]->hash;
		for (int probe = 0; probe < 4; probe++) {
			irs_slot s = p->slots[i];
			if (!s.ref)
				break;
			if (s.tag == tag) {
				const uint8_t *row = ref_ptr(p, s.ref);
				acc += *row;
				/* a row of W1's shape spans two lines; digests read all of it */
				__builtin_prefetch(row + 64, 1, 3);
				break;
			}
			i = (i + 1) & p->mask;
		}
	}
	__asm__ volatile("" : : "r"(acc)); /* keep the loads */
}

/* Prefetches the slots of the group after recs[0..m) and touches this group's rows. */
static inline void group_start(const irs_table_part *p, const irs_rec *const *recs, size_t m,
			       size_t left_after)
{
	size_t next = left_after < GROUP ? left_after : GROUP;
	for (size_t k = 0; k < next; k++)
		prefetch_slot(p, recs[m + k]);
	touch_rows(p, recs, m);
}

void irs__part_apply_batch(irs_table_part *p, const irs_rec *const *recs, size_t n,
			   irs_apply_counts *counts)
{
	for (size_t k = 0; k < n && k < GROUP && p->cap; k++)
		prefetch_slot(p, recs[k]);
	for (size_t g = 0; g < n; g += GROUP) {
		size_t m = n - g < GROUP ? n - g : GROUP;
		/* p->cap is re-read: an unreserved apply may have grown the index. */
		if (p->cap)
			group_start(p, recs + g, m, n - g - m);
		for (size_t k = 0; k < m; k++)
			irs__part_apply(p, recs[g + k], counts);
	}
}

int irs__part_insert_batch(irs_table_part *p, const irs_rec *const *recs, size_t n,
			   irs_apply_counts *counts, size_t *dup)
{
	for (size_t k = 0; k < n && k < GROUP && p->cap; k++)
		prefetch_slot(p, recs[k]);
	for (size_t g = 0; g < n; g += GROUP) {
		size_t m = n - g < GROUP ? n - g : GROUP;
		if (p->cap)
			group_start(p, recs + g, m, n - g - m);
		for (size_t k = 0; k < m; k++) {
			const irs_rec *rec = recs[g + k];
			if (rec->op != IRS_REC_UPSERT) {
				irs__part_apply(p, rec, counts);
				continue;
			}
			size_t at;
			if (index_find(p, irs__rec_key(rec), rec->key_len, rec->hash, &at)) {
				*dup = g + k;
				return IRS_EDUPKEY;
			}
			if (!irs__row_insert(p, at, rec)) {
				*dup = g + k;
				return p->err;
			}
			counts->inserted++;
		}
	}
	return 0;
}
