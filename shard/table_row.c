/*
 * table_row.c: the rows of a table partition: build one from an UPSERT, update the
 * listed columns (in place, by a move, or out of line), erase one.
 * The layout and invariants are described in table_impl.h.
 */
#include "shard/table_impl.h"

#include "common/copy.h"

/* ------------------------------------------------------------------ rows */

/*
 * Walks a row's var area: returns the content size (bytes before padding) and adds
 * the row's var logical bytes to *var_logical. With free_ool, frees its out-of-line
 * values (erase).
 */
size_t irs__row_scan(irs_table_part *p, const uint8_t *b, uint64_t *var_logical, bool free_ool)
{
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	const uint8_t *nulls = b + ROW_HEAD + kl;
	size_t off = row_var_off(p, kl);
	uint64_t lg = 0;
	for (uint32_t j = 0; j < p->nvar; j++) {
		uint32_t w = ld32(b + off);
		off += 4;
		if (w & OOL) {
			uint32_t r = w & ~OOL;
			uint32_t len = ld32(ref_ptr(p, r));
			lg += len;
			if (free_ool)
				irs__blob_free(p, r, units_of(4u + len));
		} else {
			off += w;
			if (!irs__bit_get(nulls, p->var_vi[j]))
				lg += w;
		}
	}
	if (var_logical)
		*var_logical += lg;
	return off;
}

/* Logical bytes of the key, bitmap and non-NULL fixed columns of a row. */
uint64_t irs__row_fixed_logical(const irs_table_part *p, const uint8_t *b)
{
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	const uint8_t *nulls = b + ROW_HEAD + kl;
	uint64_t lg = kl + p->B;
	for (uint32_t vi = 0; vi < p->nvalues; vi++)
		if (p->vcols[vi].width && !irs__bit_get(nulls, vi))
			lg += p->vcols[vi].width;
	return lg;
}

/* Copies a var value of a record (its u32 length, then the bytes) into a row's var area
 * as it is, which is the row's form too; advances both. Returns the value's length. */
static inline uint32_t put_var(uint8_t **var, const uint8_t **val)
{
	uint32_t len = irs__load_le32(*val);
	irs__copy(*var, *val, 4u + len);
	*var += 4u + len;
	*val += 4u + len;
	return len;
}

/*
 * Writes the values of a record that lists every value column (a full-backup row, or
 * an upsert listing them all): its NULL bitmap is the row's, and its values come in
 * value order, so one pass copies them. Returns the logical bytes of the values.
 */
static uint64_t fill_all_listed(const irs_table_part *p, const irs_rec *rec, uint8_t *nulls,
				uint8_t *fixed, uint8_t *var)
{
	const uint8_t *rn = irs__rec_nulls(rec, p->t), *val = irs__rec_values(rec, p->t);
	irs__copy(nulls, rn, p->B);
	uint64_t logical = 0;
	for (uint32_t vi = 0; vi < p->nvalues; vi++) {
		const vcol *c = &p->vcols[vi];
		bool is_null = irs__bit_get(rn, vi);
		if (c->width) {
			if (is_null) {
				memset(fixed + c->pos, 0, c->width);
				continue;
			}
			irs__copy(fixed + c->pos, val, c->width);
			val += c->width;
			logical += c->width;
			continue;
		}
		if (is_null) {
			st32(var, 0);
			var += 4;
			continue;
		}
		logical += put_var(&var, &val);
	}
	return logical;
}

/* Writes the values of a record that lists every value column, none of them NULL, by
 * the partition's fill plan (fill_step): a copy per run of fixed-width columns and one
 * per var column. Returns the logical bytes of the values. */
static uint64_t fill_dense(const irs_table_part *p, const irs_rec *rec, uint8_t *nulls,
			   uint8_t *fixed, uint8_t *var)
{
	const uint8_t *val = irs__rec_values(rec, p->t);
	irs__copy(nulls, irs__rec_nulls(rec, p->t), p->B); /* all zero */
	uint64_t logical = p->fixed_bytes;
	for (const fill_step *st = p->fill, *end = st + p->nfill; st < end; st++) {
		if (st->bytes) {
			irs__copy(fixed + st->off, val, st->bytes);
			val += st->bytes;
			continue;
		}
		logical += put_var(&var, &val);
	}
	return logical;
}

/* Writes the values of a record that lists some value columns: every column NULL,
 * then the listed ones. Returns the logical bytes of the values. */
static uint64_t fill_listed(const irs_table_part *p, const irs_rec *rec, uint8_t *nulls,
			    uint8_t *fixed, uint8_t *var)
{
	if (p->B) {
		memset(nulls, 0xFF, p->B);
		if (p->nvalues & 7)
			nulls[p->B - 1] = (uint8_t)((1u << (p->nvalues & 7)) - 1);
	}
	memset(fixed, 0, p->fixed_bytes);
	uint64_t logical = 0;
	rec_walk w;
	uint32_t vi;
	bool is_null;
	const uint8_t *val;
	walk_init(&w, p->t, rec);
	uint32_t next_var = 0; /* var columns before it are written */
	while (walk_next_(&w, &vi, &is_null, &val, p, part_width)) {
		const vcol *c = &p->vcols[vi];
		if (c->width) {
			if (!is_null) {
				irs__copy(fixed + c->pos, val, c->width);
				nulls[vi >> 3] &= (uint8_t)~(1u << (vi & 7));
				logical += c->width;
			}
			continue;
		}
		for (; next_var < c->pos; next_var++) {
			st32(var, 0);
			var += 4;
		}
		next_var++;
		if (is_null) {
			st32(var, 0);
			var += 4;
			continue;
		}
		uint32_t len = irs__load_le32(val);
		st32(var, len);
		irs__copy(var + 4, val + 4, len);
		var += 4u + len;
		nulls[vi >> 3] &= (uint8_t)~(1u << (vi & 7));
		logical += len;
	}
	for (; next_var < p->nvar; next_var++) {
		st32(var, 0);
		var += 4;
	}
	return logical;
}

/* True when rec sets some value column NULL. */
static inline bool any_null(const irs_table_part *p, const irs_rec *rec)
{
	const uint8_t *nu = irs__rec_nulls(rec, p->t);
	for (uint32_t i = 0; i < p->B; i++)
		if (nu[i])
			return true;
	return false;
}

/* True when rec lists every value column. */
static inline bool lists_all(const irs_table_part *p, const irs_rec *rec)
{
	const uint8_t *ch = irs__rec_changed(rec);
	for (uint32_t i = 0; i < p->nvalues / 8; i++)
		if (ch[i] != 0xFF)
			return false;
	return !(p->nvalues & 7) || ch[p->nvalues / 8] == (uint8_t)((1u << (p->nvalues & 7)) - 1);
}

/* The size of the fresh row for rec (content bytes, before padding) and the other half
 * of its bound (the out-of-line blobs of its listed var values, bound_of). */
static size_t insert_size(const irs_table_part *p, const irs_rec *rec, bool dense, size_t *ool)
{
	size_t content = row_var_off(p, rec->key_len) + 4u * (size_t)p->nvar;
	*ool = 0;
	if (!p->nvar)
		return content;
	if (dense && p->nvar == 1) {
		/* every value present: the row holds exactly the record's value bytes */
		size_t values = rec->size - IRS_REC_HEADER - rec->key_len - 2u * p->B;
		*ool = (size_t)units_of(values - p->fixed_bytes) * UNIT;
		return row_var_off(p, rec->key_len) - p->fixed_bytes + values;
	}
	rec_walk w;
	uint32_t vi;
	bool is_null;
	const uint8_t *val;
	walk_init(&w, p->t, rec);
	while (walk_next_(&w, &vi, &is_null, &val, p, part_width)) {
		if (!is_null && !p->vcols[vi].width) {
			uint32_t len = irs__load_le32(val);
			content += len;
			*ool += (size_t)units_of(4u + len) * UNIT;
		}
	}
	return content;
}

/* Builds a fresh row for an UPSERT of a missing key; false if it could not allocate. */
bool irs__row_insert(irs_table_part *p, size_t at, const irs_rec *rec)
{
	size_t kl = rec->key_len;
	/* The index must have room first: growing it moves the slot we were given. */
	if (p->count + 1 > p->max_load) {
		int rc = irs__index_grow(p, p->count + p->resv_rows + 1);
		if (rc) {
			p->err = rc;
			return false;
		}
		index_find(p, irs__rec_key(rec), kl, rec->hash, &at);
	}
	size_t ool;
	bool all = lists_all(p, rec), dense = all && !any_null(p, rec);
	size_t content = insert_size(p, rec, dense, &ool);
	uint32_t units = units_of(content);
	uint32_t ref = irs__blob_alloc(p, units);
	if (!ref && !(ref = irs__blob_alloc_unreserved(p, units)))
		return false;
	uint8_t *b = ref_ptr(p, ref);
	b[0] = (uint8_t)kl;
	b[1] = (uint8_t)(kl >> 8);
	b[2] = 0; /* slack */
	irs__copy(b + ROW_HEAD, irs__rec_key(rec), kl);
	uint8_t *nulls = b + ROW_HEAD + kl;
	uint8_t *fixed = nulls + p->B;
	uint8_t *var = fixed + p->fixed_bytes;
	uint64_t logical = kl + p->B;
	logical += dense ? fill_dense(p, rec, nulls, fixed, var)
		   : all ? fill_all_listed(p, rec, nulls, fixed, var)
			 : fill_listed(p, rec, nulls, fixed, var);
	pad_zero(b, content, units);
	p->slots[at] = (irs_slot){(uint32_t)rec->hash, ref};
	if (p->track_digest)
		p->digest += (rec->flags & IRS_REC_ROW_DIGEST) ? rec->tag : irs__row_digest_blob(p, b);
	p->count++;
	resv_consume(p, (size_t)units * UNIT > ool ? (size_t)units * UNIT : ool);
	p->logical += logical;
	if (kl > p->max_key_len)
		p->max_key_len = kl;
	return true;
}

/* row_update_var, step 1: where each var column of row b is now and how big it will be
 * with the listed values inline. Returns the new content size; *old_units is the
 * blob's size now. */
static size_t var_plan(irs_table_part *p, const uint8_t *b, size_t voff, uint32_t *old_units)
{
	var_work *wk = p->work;
	size_t off = voff;
	for (uint32_t j = 0; j < p->nvar; j++) {
		uint32_t w = ld32(b + off);
		wk[j].old_word = w;
		wk[j].old_off = (uint32_t)off;
		wk[j].old_size = (w & OOL) ? 4u : 4u + w;
		off += wk[j].old_size;
	}
	*old_units = units_of(off) + b[2];
	size_t content = voff;
	for (uint32_t j = 0; j < p->nvar; j++) {
		wk[j].ool_ref = 0;
		if (!wk[j].listed)
			wk[j].new_size = wk[j].old_size;
		else
			wk[j].new_size = wk[j].is_null ? 4u : 4u + wk[j].len;
		content += wk[j].new_size;
	}
	return content;
}

/* row_update_var, step 2: gives every listed non-NULL value its own blob (OUT OF LINE),
 * leaving 4 bytes per column in the row. Returns the new content size, or 0 when an
 * allocation failed (only without a reservation; nothing is left allocated). */
static size_t var_out_of_line(irs_table_part *p, size_t voff)
{
	var_work *wk = p->work;
	size_t content = voff;
	for (uint32_t j = 0; j < p->nvar; j++) {
		if (wk[j].listed) {
			wk[j].new_size = 4;
			if (!wk[j].is_null) {
				uint32_t u = units_of(4u + wk[j].len);
				uint32_t r = irs__blob_alloc(p, u);
				if (!r && !(r = irs__blob_alloc_unreserved(p, u))) {
					for (uint32_t k = 0; k < j; k++)
						if (wk[k].ool_ref)
							irs__blob_free(p, wk[k].ool_ref, units_of(4u + wk[k].len));
					return 0;
				}
				wk[j].ool_ref = r;
			}
		}
		content += wk[j].new_size;
	}
	return content;
}

/* row_update_var, step 2: picks IN PLACE, MOVE or OUT OF LINE and allocates what it
 * needs. Returns the blob the row will be in (b, or a new one whose ref goes to *nref),
 * or NULL when an allocation failed; *content becomes the new content size. */
static uint8_t *var_place(irs_table_part *p, uint32_t ref, uint8_t *b, size_t voff, size_t ins,
			  uint32_t old_units, size_t *content, uint32_t *nref)
{
	*nref = ref;
	if (*content <= (size_t)old_units * UNIT)
		return b; /* IN PLACE */
	if (units_of(*content) <= units_of(ins)) {
		uint32_t u = units_of(*content);
		uint32_t r = irs__blob_alloc(p, u);
		if (!r && !(r = irs__blob_alloc_unreserved(p, u)))
			return NULL;
		*nref = r;
		return ref_ptr(p, r); /* MOVE */
	}
	size_t c = var_out_of_line(p, voff);
	if (!c)
		return NULL;
	*content = c;
	return b;
}

/* row_update_var, step 3 (cannot fail): the old values of listed columns leave the
 * accounts and their NULL bits change, the unlisted values move to their new places
 * (in b, or copied to nb after a MOVE) and the listed values are written. */
static void var_commit(irs_table_part *p, uint8_t *b, uint8_t *nb, size_t kl, size_t voff)
{
	var_work *wk = p->work;
	uint32_t nvar = p->nvar;
	uint8_t *nulls = b + ROW_HEAD + kl;
	size_t off = voff;
	for (uint32_t j = 0; j < nvar; j++) {
		wk[j].new_off = (uint32_t)off;
		off += wk[j].new_size;
		if (!wk[j].listed)
			continue;
		uint32_t vi = p->var_vi[j], w = wk[j].old_word;
		if (w & OOL) {
			uint32_t r = w & ~OOL;
			uint32_t len = ld32(ref_ptr(p, r));
			p->logical -= len;
			irs__blob_free(p, r, units_of(4u + len));
		} else if (!irs__bit_get(nulls, vi)) {
			p->logical -= w;
		}
		if (wk[j].is_null) {
			irs__bit_set(nulls, vi);
		} else {
			nulls[vi >> 3] &= (uint8_t)~(1u << (vi & 7));
			p->logical += wk[j].len;
		}
	}
	if (nb != b) {
		/* MOVE: key, NULL bits and fixed area as they are, var area rebuilt. */
		memcpy(nb, b, voff);
		for (uint32_t j = 0; j < nvar; j++)
			if (!wk[j].listed)
				memcpy(nb + wk[j].new_off, b + wk[j].old_off, wk[j].old_size);
	} else {
		/*
		 * IN PLACE / OUT OF LINE: move the unlisted values, those moving left front
		 * to back, then those moving right back to front. A left mover's new end is
		 * below its old end, hence below every later column's old start; a right
		 * mover's new start is above its old start, hence above every earlier
		 * column's old end: nothing unmoved is overwritten. Listed columns' old
		 * bytes are dead and are written last.
		 */
		for (uint32_t j = 0; j < nvar; j++)
			if (!wk[j].listed && wk[j].new_off < wk[j].old_off)
				memmove(b + wk[j].new_off, b + wk[j].old_off, wk[j].old_size);
		for (uint32_t j = nvar; j-- > 0;)
			if (!wk[j].listed && wk[j].new_off > wk[j].old_off)
				memmove(b + wk[j].new_off, b + wk[j].old_off, wk[j].old_size);
	}
	for (uint32_t j = 0; j < nvar; j++) {
		if (!wk[j].listed)
			continue;
		uint8_t *d = nb + wk[j].new_off;
		if (wk[j].is_null) {
			st32(d, 0);
		} else if (wk[j].ool_ref) {
			uint8_t *o = ref_ptr(p, wk[j].ool_ref);
			uint32_t u = units_of(4u + wk[j].len);
			st32(o, wk[j].len);
			irs__copy(o + 4, wk[j].src, wk[j].len);
			pad_zero(o, 4u + wk[j].len, u);
			st32(d, OOL | wk[j].ool_ref);
		} else {
			st32(d, wk[j].len);
			irs__copy(d + 4, wk[j].src, wk[j].len);
		}
	}
}

/*
 * Rewrites the var area of row b (ref, in slot `at`) for the listed var columns in
 * p->work (see the top comment), in the first way that fits:
 *
 *   IN PLACE   the row with every listed value inline fits its blob: rewrite it,
 *              moving the unlisted values, and free the tail if it shrank;
 *   MOVE       it fits the record's own bound `ins` (true whenever the unlisted var
 *              columns hold nothing inline, e.g. a table with one var column): build
 *              it inline in a new blob and free the old one;
 *   OUT OF LINE otherwise every listed value gets its own blob; the row keeps 4 bytes
 *              per column, so it never grows.
 *
 * Allocates first, so on failure (only without a reservation) nothing has changed and
 * 0 is returned. Returns the row's ref afterwards (new after a MOVE).
 */
static uint32_t row_update_var(irs_table_part *p, size_t at, uint32_t ref, uint8_t *b, size_t ins)
{
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	size_t voff = row_var_off(p, kl);
	uint32_t old_units, nref;
	size_t content = var_plan(p, b, voff, &old_units);
	uint8_t *nb = var_place(p, ref, b, voff, ins, old_units, &content, &nref);
	if (!nb)
		return 0;
	var_commit(p, b, nb, kl, voff);
	uint32_t new_units = units_of(content);
	pad_zero(nb, content, new_units);
	if (nb != b) {
		nb[2] = 0;
		irs__blob_free(p, ref, old_units);
		p->slots[at].ref = nref;
	} else if (old_units - new_units <= MAX_SLACK) {
		b[2] = (uint8_t)(old_units - new_units);
	} else {
		b[2] = 0;
		irs__blob_free(p, ref + new_units, old_units - new_units);
	}
	return nref;
}

/*
 * An UPSERT listing every value column, none NULL, of the existing row b (ref, in slot
 * at): the row is rebuilt as an insert would build it, in its own blob when it fits
 * (the units it no longer needs become slack, or go back when more than MAX_SLACK),
 * else in a new blob. The new blob is allocated before anything changes, so a failed
 * allocation (only without a reservation) leaves the row as it was. Its bound is the
 * general update's: the fresh inline row, or the listed values out of line.
 */
static bool row_replace(irs_table_part *p, size_t at, uint32_t ref, uint8_t *b, const irs_rec *rec,
			uint64_t old_digest)
{
	size_t kl = rec->key_len, ool;
	size_t content = insert_size(p, rec, true, &ool);
	uint32_t units = units_of(content);
	uint64_t old_logical = irs__row_fixed_logical(p, b);
	uint32_t old_units = units_of(irs__row_scan(p, b, &old_logical, false)) + b[2];
	uint32_t nref = ref;
	uint8_t *nb = b;
	if (units > old_units) {
		if (!(nref = irs__blob_alloc(p, units)) && !(nref = irs__blob_alloc_unreserved(p, units)))
			return false;
		nb = ref_ptr(p, nref);
	}
	irs__row_scan(p, b, NULL, true); /* frees the out-of-line values */
	if (nb != b) {
		nb[0] = b[0];
		nb[1] = b[1];
		irs__copy(nb + ROW_HEAD, b + ROW_HEAD, kl);
		irs__blob_free(p, ref, old_units);
		p->slots[at].ref = nref;
		old_units = units;
	}
	uint8_t *nulls = nb + ROW_HEAD + kl, *fixed = nulls + p->B;
	p->logical += kl + p->B + fill_dense(p, rec, nulls, fixed, fixed + p->fixed_bytes);
	pad_zero(nb, content, units);
	p->logical -= old_logical;
	if (old_units - units <= MAX_SLACK) {
		nb[2] = (uint8_t)(old_units - units);
	} else {
		nb[2] = 0;
		irs__blob_free(p, nref + units, old_units - units);
	}
	resv_consume(p, (size_t)units * UNIT > ool ? (size_t)units * UNIT : ool);
	if (p->track_digest)
		p->digest += ((rec->flags & IRS_REC_ROW_DIGEST) ? rec->tag : irs__row_digest_blob(p, nb)) - old_digest;
	return true;
}

/* UPSERT of an existing row (in slot at): listed columns change, others stay. */
bool irs__row_update(irs_table_part *p, size_t at, uint32_t ref, const irs_rec *rec)
{
	const irs_schema_table *t = p->t;
	uint8_t *b = ref_ptr(p, ref);
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	rec_walk w;
	uint32_t vi;
	bool is_null;
	const uint8_t *val;
	/* the digest moves by (new row - old row), once the update is sure to happen */
	uint64_t old_digest = p->track_digest ? irs__row_digest_blob(p, b) : 0;
	if (lists_all(p, rec) && !any_null(p, rec))
		return row_replace(p, at, ref, b, rec, old_digest);
	/* The record's bound (bound_of), computed on the way. */
	size_t ins = row_var_off(p, kl) + 4u * (size_t)p->nvar, ool = 0;
	bool any = false;
	if (p->nvar) {
		for (uint32_t j = 0; j < p->nvar; j++)
			p->work[j].listed = 0;
		walk_init(&w, t, rec);
		while (walk_next_(&w, &vi, &is_null, &val, p, part_width)) {
			const vcol *c = &p->vcols[vi];
			if (c->width)
				continue;
			var_work *wk = &p->work[c->pos];
			wk->listed = 1;
			wk->is_null = is_null;
			wk->len = is_null ? 0 : irs__load_le32(val);
			wk->src = is_null ? NULL : val + 4;
			ins += wk->len;
			if (!is_null)
				ool += (size_t)units_of(4u + wk->len) * UNIT;
			any = true;
		}
	}
	ins = (size_t)units_of(ins) * UNIT;
	if (any) {
		if (!(ref = row_update_var(p, at, ref, b, ins)))
			return false;
		b = ref_ptr(p, ref);
	}
	resv_consume(p, ins > ool ? ins : ool);
	uint8_t *nulls = b + ROW_HEAD + kl;
	uint8_t *fixed = nulls + p->B;
	walk_init(&w, t, rec);
	while (walk_next_(&w, &vi, &is_null, &val, p, part_width)) {
		const vcol *c = &p->vcols[vi];
		if (!c->width)
			continue;
		bool was_null = irs__bit_get(nulls, vi);
		if (is_null) {
			if (!was_null) {
				p->logical -= c->width;
				irs__bit_set(nulls, vi);
				memset(fixed + c->pos, 0, c->width);
			}
		} else {
			irs__copy(fixed + c->pos, val, c->width);
			if (was_null) {
				p->logical += c->width;
				nulls[vi >> 3] &= (uint8_t)~(1u << (vi & 7));
			}
		}
	}
	if (p->track_digest) /* a record listing every column is the new row: its digest came with it */
		p->digest += ((rec->flags & IRS_REC_ROW_DIGEST) ? rec->tag : irs__row_digest_blob(p, b)) - old_digest;
	return true;
}

void irs__row_erase(irs_table_part *p, size_t at, uint32_t ref)
{
	const uint8_t *b = ref_ptr(p, ref);
	if (p->track_digest)
		p->digest -= irs__row_digest_blob(p, b);
	uint64_t lg = irs__row_fixed_logical(p, b);
	size_t content = irs__row_scan(p, b, &lg, true);
	irs__blob_free(p, ref, units_of(content) + b[2]);
	p->logical -= lg;
	p->count--;
	irs__index_remove(p, at);
}
