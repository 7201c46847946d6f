/*
 * read_order.c: the sorted order of the restored tables, shared by every ordered read
 * (cursors, scans, exports, checkpoints) between two changes of the tables.
 *
 * WHY: an ordered read merges the partitions of a table, each sorted by encoded key.
 * Sorting costs O(rows log rows); reads at one barrier (an export, then a scan, or many
 * range cursors from many threads) must not pay it again. So each partition is sorted
 * the first time an ordered read of its table asks, kept, and dropped when the tables
 * change: the coordinator calls irs__read_order_drop() before every backup. A restore
 * nobody reads in order never sorts. The cache holds 8 bytes per row of every table
 * read in order (table_sort.c), from the restore's allocator.
 *
 * THREADS: any number of reader threads call irs__read_order_part() at once (after the
 * run, or while the coordinator waits in a barrier callback). `lock` guards all the
 * state; the sorting itself runs outside it. A partition is UNSORTED, SORTING (one
 * reader sorts it; others wait on `done`) or READY. Readers start at different
 * partitions (`turn`), so several readers opening ordered reads of one big table sort
 * its partitions in parallel instead of queueing behind one. A failed sort (out of
 * memory, or an export's cancel flag) puts the partition back to UNSORTED and wakes
 * the waiters, who try again.
 * init, drop and free run on the coordinator with no reader active.
 *
 * OWNERSHIP: the restore owns every array here; the rows they point to are the
 * partitions' and live as long as the tables do not change.
 */
#include <string.h>

#include "common/cancel.h"
#include "common/error.h"
#include "restore.h"

enum { UNSORTED = 0, SORTING = 1, READY = 2 };

struct irs_sorted_table {
	const uint8_t **rows[IRS_MAX_SHARDS]; /* per partition, NULL when empty or unsorted */
	size_t n[IRS_MAX_SHARDS];
	uint8_t state[IRS_MAX_SHARDS];
};

int irs__read_order_init(irs_restore *r)
{
	irs_read_order *o = &r->order;
	o->ntables = r->c->ntables;
	o->tables = irs__calloc(&r->mem, sizeof *o->tables * (o->ntables ? o->ntables : 1));
	if (!o->tables)
		return IRS_ENOMEM;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->done, NULL);
	o->ready = 1;
	return 0;
}

void irs__read_order_drop(irs_restore *r)
{
	irs_read_order *o = &r->order;
	if (!o->ready)
		return;
	pthread_mutex_lock(&o->lock);
	for (uint32_t t = 0; t < o->ntables; t++) {
		irs_sorted_table *st = o->tables[t];
		if (!st)
			continue;
		for (uint32_t s = 0; s < r->pool.nshards; s++)
			if (st->rows[s])
				irs__part_sorted_free(r->pool.shards[s].parts[t], st->rows[s], st->n[s]);
		irs__free(&r->mem, st, sizeof *st);
		o->tables[t] = NULL;
	}
	pthread_mutex_unlock(&o->lock);
}

void irs__read_order_free(irs_restore *r)
{
	irs_read_order *o = &r->order;
	if (!o->ready)
		return;
	irs__read_order_drop(r);
	pthread_cond_destroy(&o->done);
	pthread_mutex_destroy(&o->lock);
	irs__free(&r->mem, o->tables, sizeof *o->tables * (o->ntables ? o->ntables : 1));
	o->ready = 0;
}

int irs__read_order_part(const irs_restore *cr, uint32_t table, uint32_t s, const volatile int *cancel,
			 const uint8_t *const **rows, size_t *n)
{
	/* The cache is the restore's mutable part; readers of a const restore share it
	 * under the lock. */
	irs_restore *r = (irs_restore *)cr;
	irs_read_order *o = &r->order;
	const irs_table_part *part = r->pool.shards[s].parts[table];
	*rows = NULL;
	*n = 0;
	if (!part)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&o->lock);
	irs_sorted_table *st = o->tables[table];
	if (!st && !(st = o->tables[table] = irs__calloc(&r->mem, sizeof *st)))
		rc = irs__mem_over_limit(&r->mem) ? IRS_ELIMIT : IRS_ENOMEM;
	while (!rc && st->state[s] != READY) {
		if (st->state[s] == SORTING) {
			/* an export that was cancelled does not wait for another reader's sort */
			if (irs__cancel_requested(cancel)) {
				rc = IRS_ECANCELED;
				break;
			}
			pthread_cond_wait(&o->done, &o->lock);
			continue;
		}
		st->state[s] = SORTING;
		pthread_mutex_unlock(&o->lock);
		const uint8_t **sorted = NULL;
		size_t cnt = 0;
		rc = irs__part_sorted(part, cancel, &sorted, &cnt);
		pthread_mutex_lock(&o->lock);
		st->state[s] = rc ? UNSORTED : READY;
		o->sorts += !rc;
		st->rows[s] = sorted;
		st->n[s] = cnt;
		pthread_cond_broadcast(&o->done);
	}
	if (!rc) {
		*rows = st->rows[s];
		*n = st->n[s];
	}
	pthread_mutex_unlock(&o->lock);
	return rc;
}
