/*
 * table_sort.c: the rows of a partition in key order (for ordered reads and exports).
 *
 * Each row gets a sorting entry holding the first 8 bytes of its encoded key
 * (big-endian, zero padded) and a pointer to it. The entries are sorted by a radix sort
 * on those bytes, most significant first and in place (an "American flag" sort: count
 * a byte's values, then move every entry into its bucket by following cycles), which
 * reads each entry a few times instead of the ~log2(n) comparisons of a quicksort,
 * and touches no row. Bytes every entry of a range shares are skipped; a bucket of few
 * entries, or one whose 8 bytes are all alike (keys that share a long prefix), is
 * finished by an introsort whose comparisons fall back to the whole keys. The result
 * is an array of row pointers in that order.
 *
 * CANCELLING: a sort of many rows takes seconds (about 12 M rows a second), so it
 * reads the caller's cancel flag (an export's: a signal must stop it) before it starts,
 * after it has scanned the partition, and at every radix level or introsort partition
 * of at least CANCEL_STEP entries; once set, every level returns without sorting
 * further and the entries are freed.
 * The layout and invariants are described in table_impl.h.
 */
#include "shard/table_impl.h"

#include "common/cancel.h"
#include "shard/fault.h"

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

/* The cancel flag of one sort, and whether it was seen set. */
typedef struct sort_ctx {
	const volatile int *cancel;
	size_t step;    /* CANCEL_STEP (a test build's hook may lower it) */
	uint64_t reads; /* of the flag so far (a test build's hook may fake it set) */
	bool stop;
} sort_ctx;

#define CANCEL_STEP ((size_t)1 << 16) /* entries of work between two reads of the flag */

/* True once the flag was seen set; reads it for steps of at least x->step entries. */
static bool sort_stop(sort_ctx *x, size_t n)
{
	if (!x->stop && n >= x->step && x->cancel &&
	    irs__fault_sort_cancelled(irs__cancel_requested(x->cancel), x->reads++))
		x->stop = true;
	return x->stop;
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
static void intro_sort(sort_ctx *x, sort_ent *a, size_t n, int depth)
{
	while (n > 16) {
		if (sort_stop(x, n))
			return;
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
			intro_sort(x, a, left, depth);
			a += left;
			n -= left;
		} else {
			intro_sort(x, a + left, n - left, depth);
			n = left;
		}
	}
	insertion_sort(a, n);
}

#define RADIX_MIN 64 /* fewer entries than this: the introsort's, whose small cases are cheap */

/* The depth limit of an introsort of n entries (then heapsort). */
static int intro_depth(size_t n)
{
	int depth = 0;
	for (size_t m = n; m; m >>= 1)
		depth += 2;
	return depth;
}

/*
 * Moves every entry of a[0..n) into its bucket, the value of its prefix's byte at
 * `shift`, given each bucket's count: an entry not yet in its bucket is swapped into
 * the next free place of its bucket, taking the entry there in turn, until one belongs
 * where the cycle began. Apart from radix_sort so that the recursion's frames do not
 * keep its 4 KiB of cursors.
 */
static __attribute__((noinline)) void spread(sort_ent *a, unsigned shift, const size_t count[256])
{
	size_t next[256], end[256], at = 0;
	for (unsigned b = 0; b < 256; b++) {
		next[b] = at;
		at += count[b];
		end[b] = at;
	}
	for (unsigned b = 0; b < 256; b++)
		while (next[b] < end[b]) {
			sort_ent x = a[next[b]];
			unsigned d = (x.pre >> shift) & 0xFF;
			while (d != b) {
				sort_ent y = a[next[d]];
				a[next[d]++] = x;
				x = y;
				d = (x.pre >> shift) & 0xFF;
			}
			a[next[b]++] = x;
		}
}

/*
 * Sorts a[0..n): finds the first byte of the prefixes that not all of them share,
 * spreads the entries over that byte's 256 buckets and sorts each bucket the same way.
 * A bucket's entries share every byte up to that one, so each level starts at a later
 * byte: at most 8 levels split (2 KiB a level), and one more call sorts by whole keys.
 */
static void radix_sort(sort_ctx *x, sort_ent *a, size_t n)
{
	if (sort_stop(x, n))
		return;
	uint64_t differ = 0; /* the bits on which some prefix differs from the first */
	if (n >= RADIX_MIN)
		for (size_t i = 1; i < n; i++)
			differ |= a[i].pre ^ a[0].pre;
	if (!differ) { /* few entries, or every prefix alike: only whole keys order them */
		intro_sort(x, a, n, intro_depth(n));
		return;
	}
	unsigned shift = 56 - 8 * ((unsigned)__builtin_clzll(differ) / 8);
	size_t count[256] = {0};
	for (size_t i = 0; i < n; i++)
		count[(a[i].pre >> shift) & 0xFF]++;
	spread(a, shift, count);
	size_t from = 0;
	for (unsigned b = 0; b < 256 && !sort_stop(x, n); b++) {
		if (count[b] > 1)
			radix_sort(x, a + from, count[b]);
		from += count[b];
	}
}

int irs__part_sorted(const irs_table_part *p, const volatile int *cancel, const uint8_t ***rows_out,
		     size_t *n)
{
	*rows_out = NULL;
	*n = 0;
	size_t cnt = (size_t)p->count;
	sort_ctx x = {.cancel = cancel, .step = irs__fault_sort_cancel_step(CANCEL_STEP)};
	if (!cnt)
		return 0;
	if (sort_stop(&x, x.step)) /* read whatever the size, here and after the scan */
		return IRS_ECANCELED;
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
	if (!sort_stop(&x, x.step))
		radix_sort(&x, e, k);
	if (x.stop) {
		irs__free(p->mem, e, cnt * sizeof *e);
		return IRS_ECANCELED;
	}
	/* The result is kept (engine/read_order.c caches it for a barrier): a pointer per
	 * row, half the sorting entries' size. */
	const uint8_t **rows = k ? irs__malloc(p->mem, k * sizeof *rows) : NULL;
	if (rows)
		for (size_t i = 0; i < k; i++)
			rows[i] = e[i].row;
	irs__free(p->mem, e, cnt * sizeof *e);
	if (k && !rows)
		return mem_error(p->mem);
	*rows_out = rows;
	*n = k;
	return 0;
}

void irs__part_sorted_free(const irs_table_part *p, const uint8_t **rows, size_t n)
{
	if (rows)
		irs__free(p->mem, (void *)rows, n * sizeof *rows);
}
