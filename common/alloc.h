/*
 * alloc.h (private): the library's allocation interface. Every allocation goes
 * through an irs_mem, which wraps the embedder's irs_allocator (or libc), counts the
 * bytes in use, remembers the peak, and enforces an optional limit.
 *
 * THREADS: one irs_mem is shared by the coordinator and every shard; the counters are
 * atomics (relaxed: they are accounting, not synchronisation). A NULL return means
 * out of memory or over the limit; irs__mem_over_limit() says which.
 */
#ifndef IRS_COMMON_ALLOC_H
#define IRS_COMMON_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"

typedef struct irs_mem {
	irs_allocator a;          /* never has NULL members (libc filled in) */
	_Atomic uint64_t used;    /* bytes currently allocated through this irs_mem */
	_Atomic uint64_t peak;    /* high-water mark of used */
	uint64_t limit;           /* 0 = unlimited */
	_Atomic int limit_hit;    /* set when an allocation was refused by the limit */
#ifdef IRS_FAULT_INJECTION
	_Atomic int64_t fail_after; /* tests: fail the Nth allocation from now (-1 = never) */
#endif
} irs_mem;

/* Initialises m from alloc (NULL = libc) with a limit (0 = none). */
void irs__mem_init(irs_mem *m, const irs_allocator *alloc, uint64_t limit);

void *irs__malloc(irs_mem *m, size_t size);
void *irs__calloc(irs_mem *m, size_t size);
void *irs__realloc(irs_mem *m, void *p, size_t old_size, size_t new_size);
void irs__free(irs_mem *m, void *p, size_t size);
char *irs__strdup(irs_mem *m, const char *s);
void irs__strfree(irs_mem *m, char *s);

static inline bool irs__mem_over_limit(irs_mem *m)
{
	return atomic_load_explicit(&m->limit_hit, memory_order_relaxed) != 0;
}

/*
 * Gives the whole pages inside q[0..n) back to the kernel (madvise MADV_DONTNEED): the
 * allocation stays, its resident memory goes. The bytes are lost (an anonymous page
 * reads as zero afterwards), so only for memory that is rewritten before it is read.
 */
void irs__pages_discard(void *q, size_t n);

/*
 * irs__malloc for table memory (arena chunks, hash indexes, the duplicate-key set, runs
 * of a big restore), asking for transparent huge pages. Rows and slots are reached at
 * random: with 4 KiB pages nearly every access also misses the TLB (measured: about
 * 1.7x faster apply with huge pages), and every 4 KiB page faults on its first touch,
 * which under a hypervisor is dear (about 12 us here: perf/first_touch.c).
 * A size that is a whole number of 2 MiB pages, with the default allocator, is taken
 * 2 MiB-aligned (aligned_alloc) and advised whole; otherwise, as with an allocator of
 * the caller's, only its 2 MiB-aligned interior is advised (a plain allocation starts
 * anywhere: up to 4 MiB of it stays in 4 KiB pages). Advice only: where THP is off,
 * nothing changes but speed. Freed with irs__free.
 */
void *irs__malloc_huge(irs_mem *m, size_t size);

/* The transparent huge page irs__malloc_huge asks for. */
#define IRS_HUGE_PAGE ((size_t)2 << 20)

/* The process-wide libc-backed irs_mem, for code with no handle. */
irs_mem *irs__mem_default(void);

#endif
