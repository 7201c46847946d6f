/*
 * arena.c: the arena of one table partition: 8-byte units addressed by 31-bit refs
 * through a page table, carved from chunks by bump pointers, with exact-size free
 * lists for small blobs and a first-fit list for large ones.
 * The layout and invariants are described in table_impl.h.
 */
#include "shard/table_impl.h"

void *irs__part_mem_alloc(irs_table_part *p, size_t n)
{
	void *q = irs__malloc(p->mem, n);
	if (q)
		p->mem_bytes += n;
	return q;
}

void *irs__part_mem_alloc_huge(irs_table_part *p, size_t n)
{
	void *q = irs__malloc_huge(p->mem, n);
	if (q)
		p->mem_bytes += n;
	return q;
}

void irs__part_mem_free(irs_table_part *p, void *q, size_t n)
{
	if (q) {
		irs__free(p->mem, q, n);
		p->mem_bytes -= n;
	}
}

void *irs__part_mem_realloc(irs_table_part *p, void *q, size_t old_n, size_t new_n)
{
	void *r = irs__realloc(p->mem, q, old_n, new_n);
	if (r)
		p->mem_bytes += new_n - old_n; /* wraps correctly when shrinking */
	return r;
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
uint32_t irs__blob_alloc(irs_table_part *p, uint32_t units)
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

void irs__blob_free(irs_table_part *p, uint32_t ref, uint32_t units)
{
	p->live_units -= units;
	arena_release(p, ref, units);
}

int irs__arena_ensure_free_lists(irs_table_part *p)
{
	if (p->free_heads)
		return 0;
	size_t n = (NCLASS + 1) * sizeof(uint32_t);
	p->free_heads = irs__part_mem_alloc(p, n);
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
int irs__arena_grow(irs_table_part *p, uint64_t min_units)
{
	size_t bytes = p->next_chunk;
	if (min_units > (uint64_t)MAX_PAGES * PAGE_UNITS)
		return IRS_ENOMEM;
	if (bytes < min_units * UNIT)
		bytes = (size_t)min_units * UNIT;
	/* a big chunk in whole huge pages (irs__malloc_huge): the bump region keeps the rest */
	if (bytes > IRS_HUGE_PAGE && bytes % IRS_HUGE_PAGE)
		bytes += IRS_HUGE_PAGE - bytes % IRS_HUGE_PAGE;
	size_t units = bytes / UNIT;
	uint32_t npg = (uint32_t)((units + PAGE_UNITS - 1) >> PAGE_SHIFT);
	uint32_t first = p->npages ? p->npages : 1;
	if ((uint64_t)first + npg > MAX_PAGES)
		return IRS_ENOMEM;
	if (first + npg > p->pages_cap) {
		uint32_t nc = p->pages_cap ? p->pages_cap : 8;
		while (nc < first + npg)
			nc *= 2;
		uint8_t **np = irs__part_mem_realloc(p, p->pages, p->pages_cap * sizeof *np, nc * sizeof *np);
		if (!np)
			return mem_error(p->mem);
		memset(np + p->pages_cap, 0, (nc - p->pages_cap) * sizeof *np);
		p->pages = np;
		p->pages_cap = nc;
	}
	if (p->nchunks == p->chunks_cap) {
		uint32_t nc = p->chunks_cap ? p->chunks_cap * 2 : 8;
		arena_chunk *nch = irs__part_mem_realloc(p, p->chunks, p->chunks_cap * sizeof *nch,
						nc * sizeof *nch);
		if (!nch)
			return mem_error(p->mem);
		p->chunks = nch;
		p->chunks_cap = nc;
	}
	uint8_t *base = irs__part_mem_alloc_huge(p, bytes);
	if (!base)
		return mem_error(p->mem);
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


/* Unreserved apply: a blob allocation that grows the arena when it must. */
uint32_t irs__blob_alloc_unreserved(irs_table_part *p, uint32_t units)
{
	uint32_t ref = irs__blob_alloc(p, units);
	if (ref)
		return ref;
	int rc = irs__arena_ensure_free_lists(p);
	if (!rc) /* keep what is still reserved backed by the new bump region */
		rc = irs__arena_grow(p, p->resv_units + units);
	if (rc) {
		p->err = rc;
		return 0;
	}
	return irs__blob_alloc(p, units);
}

void irs__arena_free_all(irs_table_part *p)
{
	for (uint32_t i = 0; i < p->nchunks; i++)
		irs__part_mem_free(p, p->chunks[i].base, p->chunks[i].bytes);
	irs__part_mem_free(p, p->chunks, p->chunks_cap * sizeof *p->chunks);
	irs__part_mem_free(p, p->pages, p->pages_cap * sizeof *p->pages);
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
