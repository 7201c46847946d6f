/*
 * table_sort.c: the rows of a partition in key order (for ordered reads and exports):
 * an introsort of (8-byte key prefix, row) entries, so most comparisons touch no row,
 * then an array of row pointers in that order.
 * The layout and invariants are described in table_impl.h.
 */
#include "shard/table_impl.h"

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
