/*
 * table_impl.h (private to shard/table*.c and shard/arena.c): the inside of a table
 * partition (table.h): its layout, invariants and the helpers its files share.
 *
 * FILES
 *   table.c        lifetime, bounds, hash index, reservation, apply (batched)
 *   table_row.c    rows: insert (by the fill plan when every value is given), update in
 *                  place / move / out of line, full-row replace, erase
 *   arena.c        the per-partition arena: chunks, refs, free lists
 *   table_read.c   point reads, row decoding, counters, iteration, digest
 *   table_sort.c   the sorted order of a partition (scans in key order)
 *   table_check.c  the debug validator of every invariant below
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
 *   - an update listing every value column, none NULL, builds the row as an insert
 *     would, in its own blob when it fits, else in a new one of the insert's size;
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
#ifndef IRS_SHARD_TABLE_IMPL_H
#define IRS_SHARD_TABLE_IMPL_H

#include <stdbool.h>
#include <string.h>

#include "shard/table.h"

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

/* One step of a partition's fill plan: how the values of a record that lists every
 * value column, none NULL, land in a fresh row. The record holds them in value order,
 * the row holds the fixed ones together and the var ones after them, so a run of
 * consecutive fixed-width columns is one copy (bytes > 0, to fixed + off) and a var
 * column is its u32 length and bytes, copied to the var area as they are (bytes 0). */
typedef struct fill_step {
	uint32_t off;
	uint32_t bytes;
} fill_step;

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
	fill_step *fill;       /* nfill steps (see fill_step) */
	uint32_t nfill;
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
	/* content digest (table_digest.c) */
	bool track_digest;         /* digest is maintained per change */
	uint64_t digest;           /* sum of the row digests, while tracking */
	uint32_t *key_off;         /* offset of each key part when all are fixed-width, else NULL */
	struct dstep *dplan;       /* the inline digest serializer's steps, or NULL */
	uint32_t *dplan_rest;      /* per step: the most the later steps write (var bytes aside) */
};

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

static inline uint8_t part_width(const void *ctx, uint32_t vi)
{
	return ((const irs_table_part *)ctx)->vcols[vi].width;
}

static inline bool row_key_eq(const uint8_t *b, const uint8_t *key, size_t key_len)
{
	size_t kl = (size_t)b[0] | (size_t)b[1] << 8;
	if (kl != key_len)
		return false;
	if (key_len == 8) { /* one 8-byte key part, the common key: no memcmp call */
		uint64_t x, y;
		memcpy(&x, b + ROW_HEAD, 8);
		memcpy(&y, key, 8);
		return x == y;
	}
	return memcmp(b + ROW_HEAD, key, key_len) == 0;
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

static inline size_t row_var_off(const irs_table_part *p, size_t key_len)
{
	return ROW_HEAD + key_len + p->B + p->fixed_bytes;
}

/*
 * An applied UPSERT uses up its part of the reservation: one row and its bound,
 * whatever it actually took. So a reservation settles itself once every record it
 * covered is applied, and apply never lets bump room fall below what is still
 * reserved (it takes at most the bound and gives back exactly the bound).
 */
/* Zeroes the padding of a blob of `units` units whose first `content` bytes are
 * written: the rest of its last unit. */
static inline void pad_zero(uint8_t *b, size_t content, uint32_t units)
{
	size_t end = (size_t)units * UNIT;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* one load and one store, not a memset call: keep the last unit's content bytes */
	size_t keep = content - (end - UNIT); /* 1..8 */
	uint64_t v;
	memcpy(&v, b + end - UNIT, 8);
	v &= ~(uint64_t)0 >> (64 - 8 * keep);
	memcpy(b + end - UNIT, &v, 8);
#else
	memset(b + content, 0, end - content);
#endif
}

static inline void resv_consume(irs_table_part *p, size_t bound)
{
	uint64_t u = bound / UNIT;
	if (p->resv_rows)
		p->resv_rows--;
	p->resv_units -= p->resv_units < u ? p->resv_units : u;
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

/* ---- arena.c */
/* irs_mem allocations counted in p->mem_bytes. */
void *irs__part_mem_alloc(irs_table_part *p, size_t n);
/* The same for the big ones (arena chunks, the index): irs__malloc_huge. */
void *irs__part_mem_alloc_huge(irs_table_part *p, size_t n);
void irs__part_mem_free(irs_table_part *p, void *q, size_t n);
void *irs__part_mem_realloc(irs_table_part *p, void *q, size_t old_n, size_t new_n);
/* A blob of `units` from the free lists, spare or bump region, without growing; 0 if none fits. */
uint32_t irs__blob_alloc(irs_table_part *p, uint32_t units);
/* As irs__blob_alloc, but grows the arena when it must (unreserved apply); 0 sets p->err. */
uint32_t irs__blob_alloc_unreserved(irs_table_part *p, uint32_t units);
void irs__blob_free(irs_table_part *p, uint32_t ref, uint32_t units);
int irs__arena_ensure_free_lists(irs_table_part *p);
/* Opens a chunk of at least min_units units as the new bump region. */
int irs__arena_grow(irs_table_part *p, uint64_t min_units);
/* Frees every chunk: the partition holds no rows afterwards. */
void irs__arena_free_all(irs_table_part *p);

/* ---- table.c */
/* Rebuilds the index with room for `rows` rows (from tags alone). */
int irs__index_grow(irs_table_part *p, uint64_t rows);
/* Empties slot `hole` by backward-shift deletion. */
void irs__index_remove(irs_table_part *p, size_t hole);

/* ---- table_digest.c */
/* One column of the inline digest serializer, in schema order: a key part, a fixed
 * value copied as 8 bytes whatever its width (WIDE: those 8 bytes never reach past the
 * row's var words; every 8-byte value), a 1- or 4-byte value near the row's end, or a
 * var value. */
enum { DSTEP_KEY, DSTEP_WIDE, DSTEP_FIXED1, DSTEP_FIXED4, DSTEP_VAR };
typedef struct dstep {
	uint8_t kind;   /* DSTEP_* */
	uint8_t type;   /* irs_type */
	uint8_t adv;    /* fixed values: 1 + width, the bytes the column serializes to */
	uint32_t off;   /* key: offset in the key; fixed: offset in the fixed area */
	uint32_t vi;    /* value index (not for keys) */
} dstep;
/* Builds p->dplan (after p->key_off and p->vcols). Errors: IRS_ENOMEM, IRS_ELIMIT. */
int irs__digest_plan_init(irs_table_part *p);
/* The digest of the row in blob b (common/digest.h), from the blob's bytes. */
uint64_t irs__row_digest_blob(const irs_table_part *p, const uint8_t *b);

/* ---- table_row.c */
size_t irs__row_scan(irs_table_part *p, const uint8_t *b, uint64_t *var_logical, bool free_ool);
uint64_t irs__row_fixed_logical(const irs_table_part *p, const uint8_t *b);
bool irs__row_insert(irs_table_part *p, size_t at, const irs_rec *rec);
bool irs__row_update(irs_table_part *p, size_t at, uint32_t ref, const irs_rec *rec);
void irs__row_erase(irs_table_part *p, size_t at, uint32_t ref);

#endif
