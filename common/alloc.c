/*
 * alloc.c: the irs_mem accounting allocator (see alloc.h).
 *
 * Every byte is counted on the way in and out, so the limit is exact for memory the
 * library allocates. The counters are relaxed atomics: they order nothing.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *libc_malloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}
static void *libc_realloc(void *ctx, void *p, size_t old_size, size_t new_size)
{
	(void)ctx;
	(void)old_size;
	return realloc(p, new_size);
}
static void libc_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	(void)size;
	free(p);
}

void irs__mem_init(irs_mem *m, const irs_allocator *alloc, uint64_t limit)
{
	m->a.malloc = alloc && alloc->malloc ? alloc->malloc : libc_malloc;
	m->a.realloc = alloc && alloc->realloc ? alloc->realloc : libc_realloc;
	m->a.free = alloc && alloc->free ? alloc->free : libc_free;
	m->a.ctx = alloc ? alloc->ctx : NULL;
	atomic_init(&m->used, 0);
	atomic_init(&m->peak, 0);
	atomic_init(&m->limit_hit, 0);
	m->limit = limit;
#ifdef IRS_FAULT_INJECTION
	atomic_init(&m->fail_after, -1);
#endif
}

/* Counts size bytes in; false (and nothing counted) when the limit forbids it. */
static bool charge(irs_mem *m, uint64_t size)
{
#ifdef IRS_FAULT_INJECTION
	if (atomic_load_explicit(&m->fail_after, memory_order_relaxed) >= 0 &&
	    atomic_fetch_sub_explicit(&m->fail_after, 1, memory_order_relaxed) == 0)
		return false;
#endif
	uint64_t now = atomic_fetch_add_explicit(&m->used, size, memory_order_relaxed) + size;
	if (m->limit && now > m->limit) {
		atomic_fetch_sub_explicit(&m->used, size, memory_order_relaxed);
		atomic_store_explicit(&m->limit_hit, 1, memory_order_relaxed);
		return false;
	}
	uint64_t peak = atomic_load_explicit(&m->peak, memory_order_relaxed);
	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&m->peak, &peak, now, memory_order_relaxed,
						      memory_order_relaxed))
		;
	return true;
}

static void uncharge(irs_mem *m, uint64_t size)
{
	atomic_fetch_sub_explicit(&m->used, size, memory_order_relaxed);
}

void *irs__malloc(irs_mem *m, size_t size)
{
	if (size == 0)
		size = 1;
	if (!charge(m, size))
		return NULL;
	void *p = m->a.malloc(m->a.ctx, size);
	if (!p)
		uncharge(m, size);
	return p;
}

void *irs__calloc(irs_mem *m, size_t size)
{
	void *p = irs__malloc(m, size);
	if (p)
		memset(p, 0, size);
	return p;
}

void *irs__realloc(irs_mem *m, void *p, size_t old_size, size_t new_size)
{
	if (!p)
		return irs__malloc(m, new_size);
	if (new_size == 0)
		new_size = 1;
	if (new_size > old_size && !charge(m, new_size - old_size))
		return NULL;
	void *q = m->a.realloc(m->a.ctx, p, old_size, new_size);
	if (!q) {
		if (new_size > old_size)
			uncharge(m, new_size - old_size);
		return NULL;
	}
	if (new_size < old_size)
		uncharge(m, old_size - new_size);
	return q;
}

void irs__free(irs_mem *m, void *p, size_t size)
{
	if (!p)
		return;
	if (size == 0)
		size = 1;
	m->a.free(m->a.ctx, p, size);
	uncharge(m, size);
}

char *irs__strdup(irs_mem *m, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = irs__malloc(m, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void irs__strfree(irs_mem *m, char *s)
{
	if (s)
		irs__free(m, s, strlen(s) + 1);
}

irs_mem *irs__mem_default(void)
{
	static irs_mem mem = {
		.a = {libc_malloc, libc_realloc, libc_free, NULL},
#ifdef IRS_FAULT_INJECTION
		.fail_after = -1,
#endif
	};
	return &mem;
}

/* Advises the kernel on the whole `align`-sized pages inside q[0..n), if any. Advice
 * only: a refusal costs speed or memory, never correctness. */
static void advise_interior(void *q, size_t n, uintptr_t align, int advice)
{
	uintptr_t a = ((uintptr_t)q + align - 1) & ~(align - 1);
	uintptr_t e = ((uintptr_t)q + n) & ~(align - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, advice);
}

void irs__pages_discard(void *q, size_t n)
{
	advise_interior(q, n, (uintptr_t)sysconf(_SC_PAGESIZE), MADV_DONTNEED);
}

/* Advises huge pages on the 2 MiB-aligned interior of q[0..n), when it has one. */
static void hugepage_hint(void *q, size_t n)
{
#ifdef MADV_HUGEPAGE
	if (n >= 2 * IRS_HUGE_PAGE)
		advise_interior(q, n, IRS_HUGE_PAGE, MADV_HUGEPAGE);
#else
	(void)q;
	(void)n;
#endif
}

void *irs__malloc_huge(irs_mem *m, size_t size)
{
#ifdef MADV_HUGEPAGE
	if (m->a.malloc == libc_malloc && size >= IRS_HUGE_PAGE && size % IRS_HUGE_PAGE == 0) {
		if (!charge(m, size))
			return NULL;
		void *q = aligned_alloc(IRS_HUGE_PAGE, size);
		if (!q) {
			uncharge(m, size);
			return NULL;
		}
		(void)madvise(q, size, MADV_HUGEPAGE);
		return q;
	}
#endif
	void *q = irs__malloc(m, size);
	if (q)
		hugepage_hint(q, size);
	return q;
}
