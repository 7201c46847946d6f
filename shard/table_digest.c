/*
 * table_digest.c: the content digest of a table partition (common/digest.h), read
 * straight from the row blobs and, when the engine asks for it, maintained per change.
 *
 * ALGORITHM: a row's digest is XXH3-64 of its canonical serialization, every column in
 * schema order. irs__row_digest_blob writes that serialization from the blob itself:
 * value columns from the NULL bitmap, the fixed area (already little-endian, as the
 * serialization wants) and the var area (inline or out of line); key columns from the
 * encoded key, turned back from big-endian order-preserving form, strings unescaped on
 * the fly. No irs_value is built and nothing is allocated, so it cannot fail.
 *
 * MAINTENANCE (irs__part_track_digest): the partition digest is a wrapping sum of row
 * digests, so an insert adds the new row's digest, an erase subtracts the old one and
 * an update does both. The cost is one or two row serializations per change, paid only
 * by restores that check an expected state or read a digest; others never track.
 *
 * INVARIANT (checked by irs__part_check): while tracking, p->digest equals the sum of
 * irs__row_digest() over the rows decoded to irs_value, the digest's definition.
 */
#include "shard/table_impl.h"

#include "common/copy.h"
#include "common/digest.h"
#include "common/keycodec.h"

/* Length of an encoded string key part at k (0x00 escaped as 0x00 0xFF, ended by
 * 0x00 0x00): the bytes it takes in the key and, in *len, the unescaped length. */
static size_t key_string_span(const uint8_t *k, uint32_t *len)
{
	size_t i = 0;
	uint32_t n = 0;
	for (;;) {
		const uint8_t *z = memchr(k + i, 0, IRS_MAX_KEY_BYTES);
		n += (uint32_t)(z - (k + i));
		i = (size_t)(z - k) + 2;
		if (z[1] == 0x00)
			break;
		n++; /* an escaped 0x00 */
	}
	*len = n;
	return i;
}

/* Writes the key part of fixed-width type ty at k as presence byte + LE value. */
static inline uint8_t *put_key_fixed(uint8_t *o, irs_type ty, const uint8_t *k)
{
	*o++ = 1;
	switch (ty) {
	case IRS_TYPE_BOOL: *o = k[0]; return o + 1;
	case IRS_TYPE_INT32: irs__store_le32(o, irs__load_be32(k) ^ 0x80000000u); return o + 4;
	case IRS_TYPE_UINT32: irs__store_le32(o, irs__load_be32(k)); return o + 4;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: irs__store_le64(o, irs__load_be64(k) ^ 0x8000000000000000u); return o + 8;
	case IRS_TYPE_UINT64: irs__store_le64(o, irs__load_be64(k)); return o + 8;
	default: { /* double, see digest_key_part */
		uint64_t v = irs__load_be64(k);
		irs__store_le64(o, (v & 0x8000000000000000u) ? v ^ 0x8000000000000000u : ~v);
		return o + 8;
	}
	}
}

/* Serializes the key part of type ty at k (a trusted, well-formed encoding). */
static void digest_key_part(irs_digest_stream *d, irs_type ty, const uint8_t *k)
{
	uint8_t tmp[9];
	if (irs__type_width(ty)) {
		irs__digest_put(d, tmp, (size_t)(put_key_fixed(tmp, ty, k) - tmp));
		return;
	}
	uint32_t len;
	key_string_span(k, &len);
	tmp[0] = 1;
	irs__store_le32(tmp + 1, len);
	irs__digest_put(d, tmp, 5);
	for (;;) {
		const uint8_t *z = memchr(k, 0, IRS_MAX_KEY_BYTES);
		irs__digest_put(d, k, (size_t)(z - k));
		if (z[1] == 0x00)
			return;
		irs__digest_put(d, z, 1); /* the escaped 0x00 itself */
		k = z + 2;
	}
}

#define KEY_OFF_STACK 64

/* Byte offset of key part `pos` in the encoded key k: constant when every key part is
 * fixed-width (p->key_off), else found by walking the parts before it. off[0..*known)
 * caches the offsets found so far for this row (at most KEY_OFF_STACK of them). */
static size_t key_part_offset(const irs_table_part *p, const uint8_t *k, uint32_t pos,
			      uint32_t *off, uint32_t *known)
{
	if (p->key_off)
		return p->key_off[pos];
	if (!*known) {
		off[0] = 0;
		*known = 1;
	}
	if (pos < *known)
		return off[pos];
	const irs_schema_table *t = p->t;
	uint32_t i = *known - 1;
	size_t o = off[i];
	while (i < pos) {
		uint8_t w = irs__type_width(t->cols[t->key_cols[i]].type);
		uint32_t len;
		o += w ? w : key_string_span(k + o, &len);
		if (++i < KEY_OFF_STACK) {
			off[i] = (uint32_t)o;
			*known = i + 1;
		}
	}
	return o;
}

/* The general serializer: any key, any row size (streams rows past IRS_DIGEST_INLINE). */
static uint64_t row_digest_stream(const irs_table_part *p, const uint8_t *b)
{
	const irs_schema_table *t = p->t;
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	const uint8_t *key = b + ROW_HEAD;
	const uint8_t *nulls = key + kl;
	const uint8_t *fixed = nulls + p->B;
	const uint8_t *var = fixed + p->fixed_bytes;
	uint32_t off[KEY_OFF_STACK], known = 0;
	irs_digest_stream d;
	irs__digest_begin(&d);
	uint8_t tmp[5];
	for (uint32_t c = 0; c < t->ncols; c++) {
		const irs_schema_column *col = &t->cols[c];
		if (col->is_key) {
			digest_key_part(&d, col->type, key + key_part_offset(p, key, col->key_pos, off, &known));
			continue;
		}
		uint32_t vi = col->value_idx;
		const vcol *vc = &p->vcols[vi];
		bool is_null = irs__bit_get(nulls, vi);
		if (vc->width) {
			if (is_null) {
				tmp[0] = 0;
				irs__digest_put(&d, tmp, 1);
			} else {
				uint8_t v[9];
				v[0] = 1;
				memcpy(v + 1, fixed + vc->pos, vc->width);
				irs__digest_put(&d, v, 1u + vc->width);
			}
			continue;
		}
		/* var columns appear in value order, which is schema order among them */
		uint32_t w = ld32(var);
		var += 4;
		const uint8_t *s;
		uint32_t len;
		if (w & OOL) {
			const uint8_t *o = ref_ptr(p, w & ~OOL);
			len = ld32(o);
			s = o + 4;
		} else {
			len = w;
			s = var;
			var += w;
		}
		if (is_null) {
			tmp[0] = 0;
			irs__digest_put(&d, tmp, 1);
			continue;
		}
		tmp[0] = 1;
		irs__store_le32(tmp + 1, len);
		irs__digest_put(&d, tmp, 5);
		irs__digest_put(&d, s, len);
	}
	return irs__digest_end(&d);
}

/*
 * The fast serializer, for tables whose key parts are all fixed-width: it follows the
 * table's digest plan (p->dplan, one step per column in schema order, built once by
 * irs__digest_plan_init), writes the row's serialization into buf[0..IRS_DIGEST_INLINE)
 * with inline stores and hashes it in one call. The plan's fixed-width steps always
 * fit (irs__digest_plan_init checks it); a var column's length is checked as it comes.
 * Returns false, having hashed nothing, when the row does not fit.
 */
static bool row_digest_inline(const irs_table_part *p, const uint8_t *b, uint64_t *h)
{
	/* 8 bytes past the end: a WIDE step's copy may write 7 bytes beyond its value */
	uint8_t buf[IRS_DIGEST_INLINE + 8], *o = buf, *end = buf + IRS_DIGEST_INLINE;
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	const uint8_t *key = b + ROW_HEAD, *nulls = key + kl, *fixed = nulls + p->B;
	const uint8_t *var = fixed + p->fixed_bytes;
	/* most rows hold no NULL: then no column looks at its bit */
	uint8_t any_null = p->B ? nulls[0] : 0;
	for (uint32_t i = 1; i < p->B; i++)
		any_null |= nulls[i];
	const dstep *st = p->dplan, *stop = st + p->t->ncols;
	for (; st < stop; st++) {
		uint8_t kind = st->kind;
		if (kind == DSTEP_KEY) {
			o = put_key_fixed(o, (irs_type)st->type, key + st->off);
			continue;
		}
		/* a NULL fixed column is zero in the row: its bytes are written, not counted */
		bool present = !any_null || !irs__bit_get(nulls, st->vi);
		o[0] = present;
		if (kind == DSTEP_WIDE) {
			memcpy(o + 1, fixed + st->off, 8);
			o += present ? st->adv : 1;
			continue;
		}
		if (kind == DSTEP_FIXED4) {
			memcpy(o + 1, fixed + st->off, 4);
			o += present ? 5 : 1;
			continue;
		}
		if (kind == DSTEP_FIXED1) {
			o[1] = fixed[st->off];
			o += present ? 2 : 1;
			continue;
		}
		uint32_t w = ld32(var), len = w;
		const uint8_t *sv = var + 4;
		var += 4;
		if (w & OOL) {
			const uint8_t *ob = ref_ptr(p, w & ~OOL);
			len = ld32(ob);
			sv = ob + 4;
		} else {
			var += w;
		}
		o++; /* after its presence byte */
		if (!present)
			continue;
		if ((size_t)(end - o) < 4u + (size_t)len + p->dplan_rest[st - p->dplan])
			return false;
		irs__store_le32(o, len);
		irs__copy(o + 4, sv, len);
		o += 4u + len;
	}
	*h = XXH3_64bits(buf, (size_t)(o - buf));
	return true;
}

int irs__digest_plan_init(irs_table_part *p)
{
	const irs_schema_table *t = p->t;
	if (!p->key_off)
		return 0; /* a var key part: the streaming serializer */
	p->dplan = irs__part_mem_alloc(p, t->ncols * sizeof *p->dplan);
	p->dplan_rest = irs__part_mem_alloc(p, t->ncols * sizeof *p->dplan_rest);
	if (!p->dplan || !p->dplan_rest)
		return irs__mem_over_limit(p->mem) ? IRS_ELIMIT : IRS_ENOMEM;
	for (uint32_t c = 0; c < t->ncols; c++) {
		const irs_schema_column *col = &t->cols[c];
		dstep *st = &p->dplan[c];
		st->type = (uint8_t)col->type;
		if (col->is_key) {
			st->kind = DSTEP_KEY;
			st->off = p->key_off[col->key_pos];
		} else {
			st->kind = col->width == 1 ? DSTEP_FIXED1 : col->width == 4 ? DSTEP_FIXED4
				   : col->width ? DSTEP_WIDE : DSTEP_VAR;
			st->vi = col->value_idx;
			st->off = col->width ? p->vcols[col->value_idx].pos : 0;
			st->adv = (uint8_t)(1u + col->width);
			/* every row has the fixed area and a word per var column after it (an
			 * 8-byte value is always WIDE: its 8 bytes are in the fixed area) */
			if (col->width && st->off + 8u <= p->fixed_bytes + 4u * p->nvar)
				st->kind = DSTEP_WIDE;
		}
	}
	/* dplan_rest[c]: the most the steps after c can write, but for var values' bytes */
	uint32_t rest = 0;
	for (uint32_t c = t->ncols; c-- > 0;) {
		p->dplan_rest[c] = rest;
		rest += 1u + (p->dplan[c].kind == DSTEP_VAR ? 4u : t->cols[c].width);
	}
	if (rest > IRS_DIGEST_INLINE) {
		/* even the fixed parts do not fit: always stream */
		irs__part_mem_free(p, p->dplan, t->ncols * sizeof *p->dplan);
		irs__part_mem_free(p, p->dplan_rest, t->ncols * sizeof *p->dplan_rest);
		p->dplan = NULL;
		p->dplan_rest = NULL;
	}
	return 0;
}

uint64_t irs__row_digest_blob(const irs_table_part *p, const uint8_t *b)
{
	uint64_t h;
	if (p->dplan && row_digest_inline(p, b, &h))
		return h;
	return row_digest_stream(p, b);
}

/* The sum of the row digests, read from the blobs. */
static uint64_t digest_scan(const irs_table_part *p)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < p->cap; i++) {
		prefetch_ahead(p, i);
		if (p->slots[i].ref)
			sum = irs__digest_add(sum, irs__row_digest_blob(p, ref_ptr(p, p->slots[i].ref)));
	}
	return sum;
}

void irs__part_track_digest(irs_table_part *p)
{
	if (p->track_digest)
		return;
	p->digest = p->count ? digest_scan(p) : 0;
	p->track_digest = true;
}

uint64_t irs__part_digest(const irs_table_part *p)
{
	return p->track_digest ? p->digest : digest_scan(p);
}

bool irs__part_digest_scans(const irs_table_part *p)
{
	return !p->track_digest && p->count;
}

/* The digest by its definition: every row decoded to irs_value, then irs__row_digest. */
int irs__part_digest_by_definition(const irs_table_part *p, uint64_t *digest)
{
	const irs_schema_table *t = p->t;
	size_t vbytes = t->ncols * sizeof(irs_value), kbytes = p->max_key_len + 1;
	irs_value *vals = irs__malloc(p->mem, vbytes);
	uint8_t *scratch = irs__malloc(p->mem, kbytes);
	int rc = 0;
	uint64_t sum = 0;
	if (!vals || !scratch) {
		rc = irs__mem_over_limit(p->mem) ? IRS_ELIMIT : IRS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->cap; i++) {
		if (!p->slots[i].ref)
			continue;
		if ((rc = irs__part_row_values(p, ref_ptr(p, p->slots[i].ref), vals, scratch)) != 0)
			goto out;
		sum = irs__digest_add(sum, irs__row_digest(t, vals));
	}
	*digest = sum;
out:
	irs__free(p->mem, vals, vbytes);
	irs__free(p->mem, scratch, kbytes);
	return rc;
}
