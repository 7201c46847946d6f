/*
 * table_check.c: the debug validator of a table partition (tests call it after every
 * backup): it checks every invariant listed in table_impl.h.
 * The layout and invariants are described in table_impl.h.
 */
#include "shard/table_impl.h"

#include <stdio.h>

#include "common/keycodec.h"

/* ------------------------------------------------------------------ validation */

#define CHECK(cond, ...)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			if (why && why_cap)                                              \
				snprintf(why, why_cap, __VA_ARGS__);                     \
			rc = IRS_ECORRUPT;                                               \
			goto out;                                                        \
		}                                                                        \
	} while (0)

/* True when [ref, ref + units) lies inside one chunk. */
static bool ref_valid(const irs_table_part *p, uint32_t ref, uint64_t units)
{
	if (!ref || (ref >> PAGE_SHIFT) >= p->npages || !p->pages[ref >> PAGE_SHIFT])
		return false;
	const uint8_t *q = ref_ptr(p, ref);
	for (uint32_t i = 0; i < p->nchunks; i++) {
		const arena_chunk *c = &p->chunks[i];
		if (q >= c->base && q < c->base + c->bytes)
			return units * UNIT <= (size_t)(c->base + c->bytes - q);
	}
	return false;
}

int irs__part_check(const irs_table_part *p, char *why, size_t why_cap)
{
	const irs_schema_table *t = p->t;
	int rc = 0;
	size_t vbytes = (t->ncols ? t->ncols : 1) * sizeof(irs_value);
	size_t kbytes = p->max_key_len ? p->max_key_len : 1;
	irs_value *vals = irs__malloc(p->mem, vbytes);
	uint8_t *scratch = irs__malloc(p->mem, kbytes);
	if (why && why_cap)
		why[0] = 0;
	if (!vals || !scratch) {
		rc = mem_error(p->mem);
		goto out;
	}
	CHECK(p->cap == 0 || (p->cap & (p->cap - 1)) == 0, "capacity %zu", p->cap);
	CHECK(p->count + p->resv_rows <= p->max_load || (p->cap == 0 && p->count == 0),
	      "count %llu + reserved %llu over max load %zu", (unsigned long long)p->count,
	      (unsigned long long)p->resv_rows, p->max_load);
	CHECK(p->resv_units <= (uint64_t)(p->bump_end - p->bump),
	      "reserved %llu units, bump has %u", (unsigned long long)p->resv_units,
	      p->bump_end - p->bump);
	uint64_t rows = 0, logical = 0, live = 0;
	for (size_t i = 0; i < p->cap; i++) {
		irs_slot s = p->slots[i];
		if (!s.ref)
			continue;
		rows++;
		CHECK(ref_valid(p, s.ref, 1), "slot %zu: bad ref %u", i, s.ref);
		const uint8_t *b = ref_ptr(p, s.ref);
		size_t kl;
		const uint8_t *key = irs__row_key(b, &kl);
		CHECK(kl <= p->max_key_len, "slot %zu: key length %zu > max %zu", i, kl,
		      p->max_key_len);
		CHECK(ref_valid(p, s.ref, units_of(row_var_off(p, kl))), "slot %zu: row overruns", i);
		uint64_t h = irs__key_hash(key, kl);
		CHECK((uint32_t)h == s.tag, "slot %zu: tag %08x != hash %016llx", i, s.tag,
		      (unsigned long long)h);
		size_t at;
		CHECK(index_find(p, key, kl, h, &at) == s.ref && at == i,
		      "slot %zu: row not found from its home slot", i);
		CHECK(irs__key_decode(t, key, kl, vals, scratch) == 0, "slot %zu: key does not decode",
		      i);
		const uint8_t *nulls = b + ROW_HEAD + kl;
		for (uint32_t vi = p->nvalues; vi < p->B * 8u; vi++)
			CHECK(!irs__bit_get(nulls, vi), "slot %zu: stray NULL bit %u", i, vi);
		/* Walk the var area with bounds checks before trusting row_scan. */
		size_t off = row_var_off(p, kl);
		for (uint32_t j = 0; j < p->nvar; j++) {
			CHECK(ref_valid(p, s.ref, units_of(off + 4)), "slot %zu: var %u overruns", i, j);
			uint32_t w = ld32(b + off);
			bool is_null = irs__bit_get(nulls, p->var_vi[j]);
			off += 4;
			if (w & OOL) {
				uint32_t r = w & ~OOL;
				CHECK(!is_null, "slot %zu: NULL var %u has a value", i, j);
				CHECK(ref_valid(p, r, 1), "slot %zu: var %u bad ref %u", i, j, r);
				uint32_t len = ld32(ref_ptr(p, r));
				CHECK(ref_valid(p, r, units_of(4u + len)),
				      "slot %zu: var %u value overruns", i, j);
				live += units_of(4u + len);
			} else {
				CHECK(!is_null || w == 0, "slot %zu: NULL var %u has length %u", i, j, w);
				off += w;
			}
		}
		CHECK(b[2] <= MAX_SLACK, "slot %zu: slack %u", i, b[2]);
		CHECK(ref_valid(p, s.ref, units_of(off) + b[2]), "slot %zu: row overruns its chunk", i);
		uint64_t lg = irs__row_fixed_logical(p, b);
		size_t content = irs__row_scan((irs_table_part *)p, b, &lg, false);
		CHECK(content == off, "slot %zu: content size", i);
		logical += lg;
		live += units_of(content) + b[2];
	}
	CHECK(rows == p->count, "count %llu but %llu rows", (unsigned long long)p->count,
	      (unsigned long long)rows);
	CHECK(logical == p->logical, "logical bytes %llu but rows add up to %llu",
	      (unsigned long long)p->logical, (unsigned long long)logical);
	CHECK(live == p->live_units, "live units %llu but rows use %llu",
	      (unsigned long long)p->live_units, (unsigned long long)live);
	/* Free lists: in range, counted, no cycles (bounded by the arena size). */
	uint64_t free_units = 0, steps = 0;
	if (p->free_heads) {
		for (uint32_t u = 1; u <= NCLASS; u++) {
			for (uint32_t r = p->free_heads[u]; r; r = ld32(ref_ptr(p, r))) {
				CHECK(ref_valid(p, r, u), "free list %u: bad ref %u", u, r);
				CHECK(++steps <= p->arena_units, "free list %u: cycle", u);
				free_units += u;
			}
		}
	}
	for (uint32_t r = p->large_free; r; r = ld32(ref_ptr(p, r))) {
		CHECK(ref_valid(p, r, 1), "large free list: bad ref %u", r);
		uint32_t u = ld32(ref_ptr(p, r) + 4);
		CHECK(u > NCLASS && ref_valid(p, r, u), "large free list: bad block %u", r);
		CHECK(++steps <= p->arena_units, "large free list: cycle");
		free_units += u;
	}
	CHECK(free_units == p->free_units, "free units %llu but lists hold %llu",
	      (unsigned long long)p->free_units, (unsigned long long)free_units);
	uint64_t unused = (uint64_t)(p->bump_end - p->bump) + (p->spare_end - p->spare);
	CHECK(live + free_units + unused + p->lost_units == p->arena_units,
	      "arena %llu units != live %llu + free %llu + unused %llu + lost %llu",
	      (unsigned long long)p->arena_units, (unsigned long long)live,
	      (unsigned long long)free_units, (unsigned long long)unused,
	      (unsigned long long)p->lost_units);
	uint64_t by_definition = 0;
	if ((rc = irs__part_digest_by_definition(p, &by_definition)) != 0)
		goto out;
	CHECK(irs__part_digest(p) == by_definition, "digest %016llx (%s) but the rows add up to %016llx",
	      (unsigned long long)irs__part_digest(p), p->track_digest ? "tracked" : "scanned",
	      (unsigned long long)by_definition);
out:
	irs__free(p->mem, vals, vbytes);
	irs__free(p->mem, scratch, kbytes);
	return rc;
}
