/*
 * table.c: one shard's partition of one table: a hash index over encoded keys whose
 * slots point at row blobs in a per-partition arena.
 *
 * LAYOUT
 *
 *   Hash index: a power-of-two array of 8-byte slots {u32 tag, u32 ref}, linear
 *   probing, at most 3/4 full, backward-shift deletion (no tombstones, so erases do
 *   not lengthen later probes). tag is the low 32 bits of the key hash and the home
 *   slot is hash & mask, so the index rehashes from tags alone (no row is touched)
 *   and a tag mismatch skips a slot without reading its row. The high hash bits pick
 *   the shard (irs__shard_of), so they carry no information here. ref == 0 is an
 *   empty slot. Sized from the manifest's row counts, so it rarely grows.
 *
 *   Refs: the arena hands out 8-byte units. A ref is a 31-bit unit number: ref >> 17
 *   indexes a page table of 1 MiB pages, ref & 0x1FFFF is the unit inside the page.
 *   A chunk of any size takes consecutive pages, so a blob is contiguous and ref + k
 *   is k units further into the same blob. Page 0 is never used, so ref 0 is free to
 *   mean "none". 2^31 units = 16 GiB per partition. 4-byte refs (not pointers) halve
 *   the index and the out-of-line value words.
 *
 *   Row blob, 8-byte aligned, 8-byte granular:
 *
 *       u16 key_len | u8 slack | key[key_len] | nulls[B] | fixed area | var area | pad
 *
 *     slack    spare units after the padding (0..3), kept when the row shrank so that
 *              it can grow back in place and so that no tiny free blocks are made
 *     nulls    bit vi set = value column vi is NULL (B = value_bitmap_bytes; bits past
 *              nvalues are 0)
 *     fixed    every fixed-width value column in value order, at a constant offset,
 *              little-endian as in a record; zero while NULL. Updates are in place.
 *     var      every utf8/bytes value column in value order: a u32 word, then
 *                word bit 31 clear: the value inline, word = its length
 *                word bit 31 set:   word & 0x7FFFFFFF is the ref of an out-of-line
 *                                   value blob {u32 length, bytes}
 *              A NULL var column has word 0 and nothing inline.
 *
 *   A blob's size is units(content) + slack; it is computed from the row, never
 *   stored. The key is stored once; key columns come back through irs__key_decode.
 *
 *   Overhead per row beyond the logical bytes (key + NULL bitmap + non-NULL values):
 *   3 header bytes, 4 bytes per var column, 0..7 bytes of padding (3.5 on average),
 *   the bytes of NULL fixed columns, and 8 / load (10.7..21) bytes of index slots.
 *   Measured on W1-like rows (63 logical bytes, one string): blobs 1.17x logical,
 *   with the index 1.37x.
 *
 *   Arena: chunks from irs__malloc (16 KiB doubling up to 8 MiB, or as big as a
 *   reservation needs; 2 MiB pages requested for big ones), carved by a bump pointer.
 *   Freed blocks go to exact-size free lists for 1..256 units (the free block's first
 *   u32 links the list) or, when larger, to one first-fit list of {u32 next, u32
 *   units} blocks. When a new chunk is opened, the larger of the old bump remainder
 *   and the previous spare region stays as a second bump region ("spare"); the other
 *   goes to the free lists. Allocation tries: the exact free list (or large first
 *   fit), the spare region, a large free block adopted as the new spare region, the
 *   bump region.
 *
 * FAILURE ATOMICITY: the stage phase must know how many bytes applying a record can
 * take without looking at the row (an earlier backup may not be applied yet). So an
 * update never needs more than the record itself describes:
 *   - an insert builds the row fully inline: its size is known from the record;
 *   - fixed columns change in place;
 *   - listed var values are rewritten in place (moving the unlisted ones) when the row
 *     still fits its blob; else the row is rebuilt inline in a new blob when that fits
 *     in the record's insert size (always, when the unlisted var columns hold nothing
 *     inline, e.g. tables with one string column); else every listed var value moves
 *     to its own out-of-line blob and keeps only its 4-byte word in the row.
 * The bound of a record is therefore max(its fresh inline row, the sum of its listed
 * values' out-of-line blobs) (bound_of), and irs__part_reserve() makes that much room
 * in the bump region, plus room in the index, before any record is applied. Applying
 * an UPSERT then takes at most its bound and uses up exactly its bound and one row of
 * the reservation, so the reservation settles itself as the backup is applied.
 *
 * INVARIANTS (irs__part_check verifies them)
 *   - every row is reachable from its home slot before any empty slot, and is the
 *     first slot on that path whose key equals its own (keys are unique);
 *   - count = non-empty slots; logical = sum of row logical sizes;
 *   - arena_units = live units (rows with their slack + out-of-line values) +
 *     free-list units + bump and spare remainders + lost units (lost only when an
 *     unreserved apply met out-of-memory before the free lists existed);
 *   - count + resv_rows <= max_load and bump remainder >= resv_units: reserve makes
 *     both true, and an apply takes from the bump region at most what it gives back
 *     from the reservation.
 *
 * OWNERSHIP AND THREADS: the partition owns its slots, chunks and side arrays, all
 * from its irs_mem. Only the owning shard thread writes it; reads happen while the
 * owner is quiescent (table.h). Nothing here is atomic or locks: the barrier that
 * makes the owner quiescent also publishes its writes.
 */
#include "table.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "common/digest.h"
#include "common/keycodec.h"

#define UNIT 8u
#define PAGE_SHIFT 17u
#define PAGE_UNITS (1u << PAGE_SHIFT)
#define PAGE_BYTES ((size_t)PAGE_UNITS * UNIT)
#define MAX_PAGES (1u << 14)          /* refs stay below 2^31 */
#define NCLASS 256u                   /* exact free lists for 1..NCLASS units */
#define OOL 0x80000000u               /* var word: out-of-line ref */
#define ROW_HEAD 3u                   /* u16 key length, u8 slack units */
#define MAX_SLACK 3u                  /* spare units a row keeps when it shrinks */
#define CHUNK_MIN ((size_t)16 << 10)
#define CHUNK_MAX ((size_t)8 << 20)
#define MAX_SLOTS ((size_t)1 << 31)

typedef struct irs_slot {
	uint32_t tag; /* low 32 bits of the key hash */
	uint32_t ref; /* row blob; 0 = empty */
} irs_slot;

typedef struct arena_chunk {
	uint8_t *base;
	size_t bytes;
} arena_chunk;

/* Per value column facts, precomputed from the schema. */
typedef struct vcol {
	uint32_t pos;  /* fixed: offset in the fixed area; var: index among var columns */
	uint8_t width; /* fixed width, 0 for utf8/bytes */
	uint8_t type;  /* irs_type */
} vcol;

/* Per var column scratch of one update (owner thread only). */
typedef struct var_work {
	const uint8_t *src; /* the new value's bytes in the record */
	uint32_t len;       /* the new value's length */
	uint32_t old_off;   /* offset of the column's word in the blob, before */
	uint32_t old_size;  /* 4 + inline bytes, before */
	uint32_t new_off;
	uint32_t new_size;
	uint32_t old_word;
	uint32_t ool_ref;   /* the new out-of-line blob, or 0 */
	uint8_t listed;
	uint8_t is_null;
} var_work;

struct irs_table_part {
	irs_mem *mem;
	const irs_schema_table *t;
	/* row layout */
	uint32_t nvalues;
	uint32_t B;            /* NULL bitmap bytes */
	uint32_t fixed_bytes;  /* bytes of the fixed area */
	uint32_t nvar;         /* var columns */
	vcol *vcols;           /* nvalues entries */
	uint32_t *var_vi;      /* nvar entries: value index of each var column */
	var_work *work;        /* nvar entries */
	/* hash index */
	irs_slot *slots;
	size_t cap;            /* 0 or a power of two */
	size_t mask;
	size_t max_load;       /* cap * 3/4 */
	uint64_t count;
	uint64_t logical;
	size_t max_key_len;
	/* reservation, not yet consumed */
	uint64_t resv_rows;
	uint64_t resv_units;
	/* arena */
	uint8_t **pages;       /* page table; pages[0] unused */
	uint32_t npages, pages_cap;
	arena_chunk *chunks;
	uint32_t nchunks, chunks_cap;
	uint32_t bump, bump_end;   /* main bump region [bump, bump_end), refs */
	uint32_t spare, spare_end; /* secondary bump region */
	uint32_t *free_heads;      /* NCLASS + 1 list heads by units; NULL until reserve */
	uint32_t large_free;       /* first-fit list of blocks > NCLASS units */
	uint64_t arena_units;      /* units in all chunks */
	uint64_t live_units;       /* units in row and value blobs */
	uint64_t free_units;       /* units on free lists */
	uint64_t lost_units;       /* see INVARIANTS */
	size_t next_chunk;         /* bytes of the next chunk */
	uint64_t mem_bytes;        /* bytes allocated through mem */
	int err;                   /* sticky error of an unreserved apply */
};

/* ------------------------------------------------------------------ small helpers */

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline uint32_t units_of(size_t bytes)
{
	return (uint32_t)((bytes + UNIT - 1) / UNIT);
}

static inline uint8_t *ref_ptr(const irs_table_part *p, uint32_t ref)
{
	return p->pages[ref >> PAGE_SHIFT] + (size_t)(ref & (PAGE_UNITS - 1)) * UNIT;
}

static inline int mem_error(irs_mem *m)
{
	return irs__mem_over_limit(m) ? IRS_ELIMIT : IRS_ENOMEM;
}

/*
 * Asks for transparent huge pages on a big allocation (its 2 MiB-aligned interior).
 * Rows and slots are reached at random: with 4 KiB pages nearly every access also
 * misses the TLB, and first touch faults 512 times more often. Measured here: about
 * 1.7x faster apply. Only a hint; a no-op where THP is off or unsupported.
 */
static void hugepage_hint(void *q, size_t n)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	if (n < 2 * huge)
		return;
	uintptr_t a = ((uintptr_t)q + huge - 1) & ~(huge - 1);
	uintptr_t e = ((uintptr_t)q + n) & ~(huge - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)q;
	(void)n;
#endif
}

static void *part_alloc(irs_table_part *p, size_t n)
{
	void *q = irs__malloc(p->mem, n);
	if (q)
		p->mem_bytes += n;
	return q;
}

static void part_free(irs_table_part *p, void *q, size_t n)
{
	if (q) {
		irs__free(p->mem, q, n);
		p->mem_bytes -= n;
	}
}

static void *part_realloc(irs_table_part *p, void *q, size_t old_n, size_t new_n)
{
	void *r = irs__realloc(p->mem, q, old_n, new_n);
	if (r)
		p->mem_bytes += new_n - old_n; /* wraps correctly when shrinking */
	return r;
}

/* Iterates the listed columns of an UPSERT record in value order. */
typedef struct rec_walk {
	const uint8_t *changed, *nulls, *val;
	uint32_t vi, nvalues;
} rec_walk;

static inline void walk_init(rec_walk *w, const irs_schema_table *t, const irs_rec *rec)
{
	w->changed = irs__rec_changed(rec);
	w->nulls = irs__rec_nulls(rec, t);
	w->val = irs__rec_values(rec, t);
	w->vi = 0;
	w->nvalues = t->nvalues;
}

typedef uint8_t (*width_fn)(const void *ctx, uint32_t vi);

/*
 * Next listed column: its value index, whether it is listed as NULL, and (when not)
 * its stored value. `width_of` gives the width of a value column (0 = var) so the
 * walk can step over values. Skips whole zero bytes of the changed bitmap.
 */
static inline bool walk_next_(rec_walk *w, uint32_t *vi, bool *is_null, const uint8_t **val,
			      const void *ctx, width_fn width_of)
{
	while (w->vi < w->nvalues) {
		uint32_t i = w->vi;
		if ((i & 7) == 0 && w->changed[i >> 3] == 0) {
			w->vi += 8;
			continue;
		}
		w->vi++;
		if (!irs__bit_get(w->changed, i))
			continue;
		*vi = i;
		*is_null = irs__bit_get(w->nulls, i);
		*val = w->val;
		if (!*is_null) {
			uint8_t wd = width_of(ctx, i);
			w->val += wd ? wd : 4u + irs__load_le32(w->val);
		}
		return true;
	}
	return false;
}

static uint8_t part_width(const void *ctx, uint32_t vi)
{
	return ((const irs_table_part *)ctx)->vcols[vi].width;
}

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

size_t irs__part_rec_bound(const irs_table_part *p, const irs_rec *rec)
{
	size_t head = ROW_HEAD + p->B + p->fixed_bytes + 4u * (size_t)p->nvar;
	return bound_of(head, rec, p->t, p, part_width);
}

/* ------------------------------------------------------------------ arena */

/* Puts units at ref on a free list (not live memory: no live_units change). */
static void arena_release(irs_table_part *p, uint32_t ref, uint32_t units)
{
	if (!units)
		return;
	uint8_t *b = ref_ptr(p, ref);
	if (units <= NCLASS) {
		if (!p->free_heads) {
			p->lost_units += units;
			return;
		}
		st32(b, p->free_heads[units]);
		p->free_heads[units] = ref;
	} else {
		st32(b, p->large_free);
		st32(b + 4, units);
		p->large_free = ref;
	}
	p->free_units += units;
}

/* Takes units from the large list (first fit, split), or 0. */
static uint32_t large_take(irs_table_part *p, uint32_t units)
{
	uint32_t prev = 0, ref = p->large_free;
	while (ref) {
		uint8_t *b = ref_ptr(p, ref);
		uint32_t next = ld32(b), have = ld32(b + 4);
		if (have >= units) {
			if (prev)
				st32(ref_ptr(p, prev), next);
			else
				p->large_free = next;
			p->free_units -= have;
			arena_release(p, ref + units, have - units);
			return ref;
		}
		prev = ref;
		ref = next;
	}
	return 0;
}

/*
 * Allocates a blob of `units` without growing anything: 0 when nothing fits, which a
 * reservation rules out (the bump region alone holds every reserved byte; the other
 * sources only spare it). Order: the exact free list (or first fit among large free
 * blocks), the spare region, a large free block adopted as the new spare region
 * (so big freed blocks serve small blobs too), the bump region.
 */
static uint32_t blob_alloc(irs_table_part *p, uint32_t units)
{
	uint32_t ref = 0;
	if (units <= NCLASS) {
		if (p->free_heads && (ref = p->free_heads[units]) != 0) {
			uint32_t next = ld32(ref_ptr(p, ref));
			p->free_heads[units] = next;
			p->free_units -= units;
			/* The next pop of this size would miss on `next`: start it now. */
			if (next)
				__builtin_prefetch(ref_ptr(p, next), 1, 3);
		}
	} else if (p->large_free) {
		ref = large_take(p, units);
	}
	if (!ref && p->spare_end - p->spare < units && units <= NCLASS && p->large_free) {
		/* The old spare remainder is < units <= NCLASS: it fits a class list. */
		uint32_t big = p->large_free;
		uint8_t *b = ref_ptr(p, big);
		uint32_t have = ld32(b + 4);
		p->large_free = ld32(b);
		p->free_units -= have;
		arena_release(p, p->spare, p->spare_end - p->spare);
		p->spare = big;
		p->spare_end = big + have;
	}
	if (!ref && p->spare_end - p->spare >= units) {
		ref = p->spare;
		p->spare += units;
	}
	if (!ref && p->bump_end - p->bump >= units) {
		ref = p->bump;
		p->bump += units;
	}
	if (ref)
		p->live_units += units;
	return ref;
}

static void blob_free(irs_table_part *p, uint32_t ref, uint32_t units)
{
	p->live_units -= units;
	arena_release(p, ref, units);
}

static int ensure_free_heads(irs_table_part *p)
{
	if (p->free_heads)
		return 0;
	size_t n = (NCLASS + 1) * sizeof(uint32_t);
	p->free_heads = part_alloc(p, n);
	if (!p->free_heads)
		return mem_error(p->mem);
	memset(p->free_heads, 0, n);
	return 0;
}

/*
 * Opens a new chunk of at least min_units units as the bump region. The old bump
 * remainder becomes the spare region if it is the larger of the two remainders;
 * the smaller one goes to the free lists. On error nothing changes but the capacity
 * of the side arrays.
 */
static int arena_grow(irs_table_part *p, uint64_t min_units)
{
	size_t bytes = p->next_chunk;
	if (min_units > (uint64_t)MAX_PAGES * PAGE_UNITS)
		return IRS_ENOMEM;
	if (bytes < min_units * UNIT)
		bytes = (size_t)min_units * UNIT;
	size_t units = bytes / UNIT;
	uint32_t npg = (uint32_t)((units + PAGE_UNITS - 1) >> PAGE_SHIFT);
	uint32_t first = p->npages ? p->npages : 1;
	if ((uint64_t)first + npg > MAX_PAGES)
		return IRS_ENOMEM;
	if (first + npg > p->pages_cap) {
		uint32_t nc = p->pages_cap ? p->pages_cap : 8;
		while (nc < first + npg)
			nc *= 2;
		uint8_t **np = part_realloc(p, p->pages, p->pages_cap * sizeof *np, nc * sizeof *np);
		if (!np)
			return mem_error(p->mem);
		memset(np + p->pages_cap, 0, (nc - p->pages_cap) * sizeof *np);
		p->pages = np;
		p->pages_cap = nc;
	}
	if (p->nchunks == p->chunks_cap) {
		uint32_t nc = p->chunks_cap ? p->chunks_cap * 2 : 8;
		arena_chunk *nch = part_realloc(p, p->chunks, p->chunks_cap * sizeof *nch,
						nc * sizeof *nch);
		if (!nch)
			return mem_error(p->mem);
		p->chunks = nch;
		p->chunks_cap = nc;
	}
	uint8_t *base = part_alloc(p, bytes);
	if (!base)
		return mem_error(p->mem);
	hugepage_hint(base, bytes);
	p->chunks[p->nchunks++] = (arena_chunk){base, bytes};
	for (uint32_t i = 0; i < npg; i++)
		p->pages[first + i] = base + (size_t)i * PAGE_BYTES;
	p->npages = first + npg;
	p->arena_units += units;

	uint32_t old_room = p->bump_end - p->bump, spare_room = p->spare_end - p->spare;
	if (old_room > spare_room) {
		arena_release(p, p->spare, spare_room);
		p->spare = p->bump;
		p->spare_end = p->bump_end;
	} else {
		arena_release(p, p->bump, old_room);
	}
	p->bump = first << PAGE_SHIFT;
	p->bump_end = p->bump + (uint32_t)units;
	if (bytes >= p->next_chunk)
		p->next_chunk = p->next_chunk * 2 <= CHUNK_MAX ? p->next_chunk * 2 : CHUNK_MAX;
	return 0;
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
static int index_grow(irs_table_part *p, uint64_t rows)
{
	size_t cap = cap_for(rows);
	if (!cap)
		return IRS_ENOMEM;
	if (cap <= p->cap)
		return 0;
	irs_slot *ns = part_alloc(p, cap * sizeof *ns);
	if (!ns)
		return mem_error(p->mem);
	hugepage_hint(ns, cap * sizeof *ns);
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
	part_free(p, p->slots, p->cap * sizeof *p->slots);
	p->slots = ns;
	p->cap = cap;
	p->mask = mask;
	p->max_load = cap - cap / 4;
	return 0;
}

static inline bool row_key_eq(const uint8_t *b, const uint8_t *key, size_t key_len)
{
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	return kl == key_len && memcmp(b + ROW_HEAD, key, key_len) == 0;
}

/*
 * Finds the slot of key: returns its row ref and sets *at to its slot, or returns 0
 * and sets *at to the empty slot where it would be inserted.
 */
static inline uint32_t index_find(const irs_table_part *p, const uint8_t *key, size_t key_len,
				  uint64_t hash, size_t *at)
{
	*at = 0;
	if (!p->cap)
		return 0;
	uint32_t tag = (uint32_t)hash;
	size_t i = hash & p->mask;
	for (;;) {
		irs_slot s = p->slots[i];
		if (!s.ref)
			break;
		if (s.tag == tag && row_key_eq(ref_ptr(p, s.ref), key, key_len)) {
			*at = i;
			return s.ref;
		}
		i = (i + 1) & p->mask;
	}
	*at = i;
	return 0;
}

/* Backward-shift deletion: pull later entries of the probe run into the hole. */
static void index_remove(irs_table_part *p, size_t hole)
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
		p->vcols = part_alloc(p, p->nvalues * sizeof *p->vcols);
		if (!p->vcols)
			goto nomem;
	}
	if (p->nvar) {
		p->var_vi = part_alloc(p, p->nvar * sizeof *p->var_vi);
		p->work = part_alloc(p, p->nvar * sizeof *p->work);
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
	if (expected_rows && (rc = index_grow(p, expected_rows)) != 0)
		goto fail;
	*out = p;
	return 0;
nomem:
	rc = mem_error(mem);
fail:
	irs__part_destroy(p);
	return rc;
}

static void arena_free_all(irs_table_part *p)
{
	for (uint32_t i = 0; i < p->nchunks; i++)
		part_free(p, p->chunks[i].base, p->chunks[i].bytes);
	part_free(p, p->chunks, p->chunks_cap * sizeof *p->chunks);
	part_free(p, p->pages, p->pages_cap * sizeof *p->pages);
	p->chunks = NULL;
	p->pages = NULL;
	p->nchunks = p->chunks_cap = p->npages = p->pages_cap = 0;
	p->bump = p->bump_end = p->spare = p->spare_end = 0;
	p->large_free = 0;
	if (p->free_heads)
		memset(p->free_heads, 0, (NCLASS + 1) * sizeof(uint32_t));
	p->arena_units = p->live_units = p->free_units = p->lost_units = 0;
	p->next_chunk = CHUNK_MIN;
}

void irs__part_destroy(irs_table_part *p)
{
	if (!p)
		return;
	arena_free_all(p);
	part_free(p, p->free_heads, (NCLASS + 1) * sizeof(uint32_t));
	part_free(p, p->slots, p->cap * sizeof *p->slots);
	part_free(p, p->vcols, p->nvalues * sizeof *p->vcols);
	part_free(p, p->var_vi, p->nvar * sizeof *p->var_vi);
	part_free(p, p->work, p->nvar * sizeof *p->work);
	irs__free(p->mem, p, sizeof *p);
}

void irs__part_clear(irs_table_part *p)
{
	arena_free_all(p);
	if (p->slots)
		memset(p->slots, 0, p->cap * sizeof *p->slots);
	p->count = 0;
	p->logical = 0;
	p->max_key_len = 0;
	p->resv_rows = p->resv_units = 0;
	p->err = 0;
}

/* ------------------------------------------------------------------ reservation */

int irs__part_reserve(irs_table_part *p, uint64_t nrecs, uint64_t bytes)
{
	if (!nrecs && !bytes)
		return 0;
	if (nrecs > MAX_SLOTS || bytes > (uint64_t)MAX_PAGES * PAGE_BYTES)
		return IRS_ENOMEM;
	int rc = ensure_free_heads(p);
	if (rc)
		return rc;
	uint64_t rows = p->count + p->resv_rows + nrecs;
	if (rows > p->max_load && (rc = index_grow(p, rows)) != 0)
		return rc;
	uint64_t units = p->resv_units + (bytes + UNIT - 1) / UNIT;
	if (units > (uint64_t)(p->bump_end - p->bump) && (rc = arena_grow(p, units)) != 0)
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

/*
 * An applied UPSERT uses up its part of the reservation: one row and its bound,
 * whatever it actually took. So a reservation settles itself once every record it
 * covered is applied, and apply never lets bump room fall below what is still
 * reserved (it takes at most the bound and gives back exactly the bound).
 */
static inline void resv_consume(irs_table_part *p, size_t bound)
{
	uint64_t u = bound / UNIT;
	if (p->resv_rows)
		p->resv_rows--;
	p->resv_units -= p->resv_units < u ? p->resv_units : u;
}

/* Unreserved apply: a blob allocation that grows the arena when it must. */
static uint32_t blob_alloc_unreserved(irs_table_part *p, uint32_t units)
{
	uint32_t ref = blob_alloc(p, units);
	if (ref)
		return ref;
	int rc = ensure_free_heads(p);
	if (!rc) /* keep what is still reserved backed by the new bump region */
		rc = arena_grow(p, p->resv_units + units);
	if (rc) {
		p->err = rc;
		return 0;
	}
	return blob_alloc(p, units);
}

/* ------------------------------------------------------------------ rows */

static inline size_t row_var_off(const irs_table_part *p, size_t key_len)
{
	return ROW_HEAD + key_len + p->B + p->fixed_bytes;
}

/*
 * Walks a row's var area: returns the content size (bytes before padding) and adds
 * the row's var logical bytes to *var_logical. With free_ool, frees its out-of-line
 * values (erase).
 */
static size_t row_scan(irs_table_part *p, const uint8_t *b, uint64_t *var_logical, bool free_ool)
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
				blob_free(p, r, units_of(4u + len));
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
static uint64_t row_fixed_logical(const irs_table_part *p, const uint8_t *b)
{
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	const uint8_t *nulls = b + ROW_HEAD + kl;
	uint64_t lg = kl + p->B;
	for (uint32_t vi = 0; vi < p->nvalues; vi++)
		if (p->vcols[vi].width && !irs__bit_get(nulls, vi))
			lg += p->vcols[vi].width;
	return lg;
}

/* Builds a fresh row for an UPSERT of a missing key; false if it could not allocate. */
static bool row_insert(irs_table_part *p, size_t at, const irs_rec *rec)
{
	const irs_schema_table *t = p->t;
	size_t kl = rec->key_len;
	/* The index must have room first: growing it moves the slot we were given. */
	if (p->count + 1 > p->max_load) {
		int rc = index_grow(p, p->count + p->resv_rows + 1);
		if (rc) {
			p->err = rc;
			return false;
		}
		index_find(p, irs__rec_key(rec), kl, rec->hash, &at);
	}
	size_t content = row_var_off(p, kl) + 4u * (size_t)p->nvar;
	size_t ool = 0; /* the other half of the record's bound (bound_of) */
	rec_walk w;
	uint32_t vi;
	bool is_null;
	const uint8_t *val;
	if (p->nvar) {
		walk_init(&w, t, rec);
		while (walk_next_(&w, &vi, &is_null, &val, p, part_width)) {
			if (!is_null && !p->vcols[vi].width) {
				uint32_t len = irs__load_le32(val);
				content += len;
				ool += (size_t)units_of(4u + len) * UNIT;
			}
		}
	}
	uint32_t units = units_of(content);
	uint32_t ref = blob_alloc(p, units);
	if (!ref && !(ref = blob_alloc_unreserved(p, units)))
		return false;
	uint8_t *b = ref_ptr(p, ref);
	b[0] = (uint8_t)kl;
	b[1] = (uint8_t)(kl >> 8);
	b[2] = 0; /* slack */
	memcpy(b + ROW_HEAD, irs__rec_key(rec), kl);
	uint8_t *nulls = b + ROW_HEAD + kl;
	uint8_t *fixed = nulls + p->B;
	uint8_t *var = fixed + p->fixed_bytes;
	/* Everything NULL, then the listed values. */
	if (p->B) {
		memset(nulls, 0xFF, p->B);
		if (p->nvalues & 7)
			nulls[p->B - 1] = (uint8_t)((1u << (p->nvalues & 7)) - 1);
	}
	memset(fixed, 0, p->fixed_bytes);
	uint64_t logical = kl + p->B;
	walk_init(&w, t, rec);
	uint32_t next_var = 0; /* var columns before it are written */
	while (walk_next_(&w, &vi, &is_null, &val, p, part_width)) {
		const vcol *c = &p->vcols[vi];
		if (c->width) {
			if (!is_null) {
				memcpy(fixed + c->pos, val, c->width);
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
		memcpy(var + 4, val + 4, len);
		var += 4u + len;
		nulls[vi >> 3] &= (uint8_t)~(1u << (vi & 7));
		logical += len;
	}
	for (; next_var < p->nvar; next_var++) {
		st32(var, 0);
		var += 4;
	}
	memset(var, 0, (size_t)units * UNIT - content); /* padding */
	p->slots[at] = (irs_slot){(uint32_t)rec->hash, ref};
	p->count++;
	resv_consume(p, (size_t)units * UNIT > ool ? (size_t)units * UNIT : ool);
	p->logical += logical;
	if (kl > p->max_key_len)
		p->max_key_len = kl;
	return true;
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
	var_work *wk = p->work;
	uint32_t nvar = p->nvar;

	size_t off = voff;
	for (uint32_t j = 0; j < nvar; j++) {
		uint32_t w = ld32(b + off);
		wk[j].old_word = w;
		wk[j].old_off = (uint32_t)off;
		wk[j].old_size = (w & OOL) ? 4u : 4u + w;
		off += wk[j].old_size;
	}
	uint32_t old_units = units_of(off) + b[2];

	size_t content = voff;
	for (uint32_t j = 0; j < nvar; j++) {
		wk[j].ool_ref = 0;
		if (!wk[j].listed)
			wk[j].new_size = wk[j].old_size;
		else
			wk[j].new_size = wk[j].is_null ? 4u : 4u + wk[j].len;
		content += wk[j].new_size;
	}
	uint32_t nref = ref;
	uint8_t *nb = b;
	if (content > (size_t)old_units * UNIT) {
		if (units_of(content) <= units_of(ins)) {
			uint32_t u = units_of(content);
			nref = blob_alloc(p, u);
			if (!nref && !(nref = blob_alloc_unreserved(p, u)))
				return 0;
			nb = ref_ptr(p, nref);
		} else {
			content = voff;
			for (uint32_t j = 0; j < nvar; j++) {
				if (wk[j].listed) {
					wk[j].new_size = 4;
					if (!wk[j].is_null) {
						uint32_t u = units_of(4u + wk[j].len);
						uint32_t r = blob_alloc(p, u);
						if (!r && !(r = blob_alloc_unreserved(p, u))) {
							for (uint32_t k = 0; k < j; k++)
								if (wk[k].ool_ref)
									blob_free(p, wk[k].ool_ref,
										  units_of(4u + wk[k].len));
							return 0;
						}
						wk[j].ool_ref = r;
					}
				}
				content += wk[j].new_size;
			}
		}
	}

	/* Committed from here on. Old values of listed columns leave the accounts. */
	uint8_t *nulls = b + ROW_HEAD + kl;
	off = voff;
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
			blob_free(p, r, units_of(4u + len));
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
			memcpy(o + 4, wk[j].src, wk[j].len);
			memset(o + 4 + wk[j].len, 0, (size_t)u * UNIT - 4 - wk[j].len);
			st32(d, OOL | wk[j].ool_ref);
		} else {
			st32(d, wk[j].len);
			memcpy(d + 4, wk[j].src, wk[j].len);
		}
	}
	uint32_t new_units = units_of(content);
	memset(nb + content, 0, (size_t)new_units * UNIT - content);
	if (nb != b) {
		nb[2] = 0;
		blob_free(p, ref, old_units);
		p->slots[at].ref = nref;
	} else if (old_units - new_units <= MAX_SLACK) {
		b[2] = (uint8_t)(old_units - new_units);
	} else {
		b[2] = 0;
		blob_free(p, ref + new_units, old_units - new_units);
	}
	return nref;
}

/* UPSERT of an existing row (in slot at): listed columns change, others stay. */
static bool row_update(irs_table_part *p, size_t at, uint32_t ref, const irs_rec *rec)
{
	const irs_schema_table *t = p->t;
	uint8_t *b = ref_ptr(p, ref);
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	rec_walk w;
	uint32_t vi;
	bool is_null;
	const uint8_t *val;
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
			memcpy(fixed + c->pos, val, c->width);
			if (was_null) {
				p->logical += c->width;
				nulls[vi >> 3] &= (uint8_t)~(1u << (vi & 7));
			}
		}
	}
	return true;
}

static void row_erase(irs_table_part *p, size_t at, uint32_t ref)
{
	const uint8_t *b = ref_ptr(p, ref);
	uint64_t lg = row_fixed_logical(p, b);
	size_t content = row_scan(p, b, &lg, true);
	blob_free(p, ref, units_of(content) + b[2]);
	p->logical -= lg;
	p->count--;
	index_remove(p, at);
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
		row_erase(p, at, ref);
		counts->erased++;
		return;
	}
	if (rec->op != IRS_REC_UPSERT)
		return;
	if (ref) {
		if (row_update(p, at, ref, rec))
			counts->updated++;
	} else if (row_insert(p, at, rec)) {
		counts->inserted++;
	}
}

/*
 * BATCHES: a change costs two dependent cache misses (slot, then row), 200-330 ns each
 * here, while about 16 independent misses overlap. So batches go in groups of GROUP
 * records: the next group's slots are prefetched, then this group's candidate rows
 * are read by a tight loop of independent loads (the CPU overlaps them), then the
 * group is applied with everything in cache. Real loads rather than a software
 * prefetch of the rows: on the development VM, row prefetches issued a few records
 * ahead were measured to arrive too rarely to matter, while this loop made applying
 * updates ~3x faster (146 vs 473 ns each). Slot prefetches do work there.
 */
#define GROUP 16

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
				acc += *ref_ptr(p, s.ref);
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
			if (row_insert(p, at, rec))
				counts->inserted++;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ reads */

const uint8_t *irs__part_get(const irs_table_part *p, const uint8_t *key, size_t key_len,
			     uint64_t hash)
{
	size_t at;
	uint32_t ref = index_find(p, key, key_len, hash, &at);
	return ref ? ref_ptr(p, ref) : NULL;
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
	const irs_schema_table *t = p->t;
	size_t kl;
	const uint8_t *key = irs__row_key(row, &kl);
	int rc = irs__key_decode(t, key, kl, out, scratch);
	if (rc)
		return rc;
	const uint8_t *nulls = key + kl;
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
	return 0;
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
		if (p->slots[i].ref) {
			*pos = i + 1;
			return ref_ptr(p, p->slots[i].ref);
		}
	}
	*pos = p->cap;
	return NULL;
}

/*
 * Scans visit slots in order and rows at random: at the start of every GROUP slots,
 * touch their rows with independent loads (see BATCHES) before using them.
 */
static inline void prefetch_ahead(const irs_table_part *p, size_t i)
{
	if (i % GROUP)
		return;
	unsigned acc = 0;
	size_t end = i + GROUP < p->cap ? i + GROUP : p->cap;
	for (size_t k = i; k < end; k++)
		if (p->slots[k].ref)
			acc += *ref_ptr(p, p->slots[k].ref);
	__asm__ volatile("" : : "r"(acc));
}

/* ------------------------------------------------------------------ sorting */

/*
 * Sorting entries carry the first 8 key bytes big-endian (zero padded): comparing
 * them orders keys correctly whenever they differ (a zero pad is below any real
 * byte or marks a proper prefix), so most comparisons touch no row.
 */
typedef struct sort_ent {
	uint64_t pre;
	const uint8_t *row;
} sort_ent;

static inline uint64_t key_prefix(const uint8_t *row)
{
	size_t kl;
	const uint8_t *k = irs__row_key(row, &kl);
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (i < kl ? k[i] : 0);
	return v;
}

static inline bool ent_less(const sort_ent *a, const sort_ent *b)
{
	if (a->pre != b->pre)
		return a->pre < b->pre;
	size_t al, bl;
	const uint8_t *ak = irs__row_key(a->row, &al), *bk = irs__row_key(b->row, &bl);
	return irs__key_cmp(ak, al, bk, bl) < 0;
}

static inline void ent_swap(sort_ent *a, sort_ent *b)
{
	sort_ent x = *a;
	*a = *b;
	*b = x;
}

static void insertion_sort(sort_ent *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		sort_ent x = a[i];
		size_t j = i;
		while (j > 0 && ent_less(&x, &a[j - 1])) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

static void sift_down(sort_ent *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && ent_less(&a[c], &a[c + 1]))
			c++;
		if (!ent_less(&a[i], &a[c]))
			return;
		ent_swap(&a[i], &a[c]);
		i = c;
	}
}

static void heap_sort(sort_ent *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t end = n; end-- > 1;) {
		ent_swap(&a[0], &a[end]);
		sift_down(a, 0, end);
	}
}

/* Introsort: quicksort (median of three, Hoare) with a heapsort depth limit. */
static void intro_sort(sort_ent *a, size_t n, int depth)
{
	while (n > 16) {
		if (depth-- <= 0) {
			heap_sort(a, n);
			return;
		}
		size_t mid = (n - 1) / 2;
		if (ent_less(&a[mid], &a[0]))
			ent_swap(&a[mid], &a[0]);
		if (ent_less(&a[n - 1], &a[mid]))
			ent_swap(&a[n - 1], &a[mid]);
		if (ent_less(&a[mid], &a[0]))
			ent_swap(&a[mid], &a[0]);
		sort_ent piv = a[mid];
		/* Hoare partition around the lower-median element: ends with 0 <= j < n-1. */
		size_t i = 0, j = n - 1;
		for (;;) {
			while (ent_less(&a[i], &piv))
				i++;
			while (ent_less(&piv, &a[j]))
				j--;
			if (i >= j)
				break;
			ent_swap(&a[i], &a[j]);
			i++;
			j--;
		}
		size_t left = j + 1;
		/* Recurse into the smaller side, loop on the larger: O(log n) stack. */
		if (left < n - left) {
			intro_sort(a, left, depth);
			a += left;
			n -= left;
		} else {
			intro_sort(a + left, n - left, depth);
			n = left;
		}
	}
	insertion_sort(a, n);
}

int irs__part_sorted(const irs_table_part *p, const uint8_t ***rows_out, size_t *n)
{
	*rows_out = NULL;
	*n = 0;
	size_t cnt = (size_t)p->count;
	if (!cnt)
		return 0;
	sort_ent *e = irs__malloc(p->mem, cnt * sizeof *e);
	if (!e)
		return mem_error(p->mem);
	size_t k = 0;
	for (size_t i = 0; i < p->cap && k < cnt; i++) {
		prefetch_ahead(p, i);
		if (!p->slots[i].ref)
			continue;
		const uint8_t *row = ref_ptr(p, p->slots[i].ref);
		e[k].pre = key_prefix(row);
		e[k].row = row;
		k++;
	}
	int depth = 0;
	for (size_t m = k; m; m >>= 1)
		depth += 2;
	intro_sort(e, k, depth);
	/* Compact to a pointer array in place: pointer i lands at or before entry i. */
	unsigned char *raw = (unsigned char *)e;
	for (size_t i = 0; i < k; i++) {
		const uint8_t *row = e[i].row;
		memcpy(raw + i * sizeof row, &row, sizeof row);
	}
	*rows_out = (const uint8_t **)(void *)raw;
	*n = k;
	return 0;
}

void irs__part_sorted_free(const irs_table_part *p, const uint8_t **rows, size_t n)
{
	if (rows)
		irs__free(p->mem, (void *)rows, n * sizeof(sort_ent));
}

/* ------------------------------------------------------------------ digest */

#define STACK_COLS 32
#define STACK_KEY 512

int irs__part_digest(const irs_table_part *p, uint64_t *digest)
{
	const irs_schema_table *t = p->t;
	irs_value vstack[STACK_COLS];
	uint8_t kstack[STACK_KEY];
	irs_value *vals = vstack;
	uint8_t *scratch = kstack;
	size_t vbytes = t->ncols * sizeof *vals, kbytes = p->max_key_len;
	int rc = 0;
	*digest = 0;
	if (t->ncols > STACK_COLS && !(vals = irs__malloc(p->mem, vbytes)))
		return mem_error(p->mem);
	if (kbytes > STACK_KEY && !(scratch = irs__malloc(p->mem, kbytes))) {
		rc = mem_error(p->mem);
		goto out;
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < p->cap; i++) {
		prefetch_ahead(p, i);
		if (!p->slots[i].ref)
			continue;
		const uint8_t *row = ref_ptr(p, p->slots[i].ref);
		if ((rc = irs__part_row_values(p, row, vals, scratch)) != 0)
			goto out;
		sum = irs__digest_add(sum, irs__row_digest(t, vals));
	}
	*digest = sum;
out:
	if (vals != vstack)
		irs__free(p->mem, vals, vbytes);
	if (scratch != kstack)
		irs__free(p->mem, scratch, kbytes);
	return rc;
}

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
		uint64_t lg = row_fixed_logical(p, b);
		size_t content = row_scan((irs_table_part *)p, b, &lg, false);
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
out:
	irs__free(p->mem, vals, vbytes);
	irs__free(p->mem, scratch, kbytes);
	return rc;
}
