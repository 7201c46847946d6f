/*
 * export_text.c: the rows of a JSONL or CSV export, formatted on helper threads and
 * written in key order (irs__export_text_rows; export.c owns the file around them).
 *
 * WHY: turning rows into text (numbers, timestamps, escaped strings) costs several
 * times what reading them in key order does; on one thread, W1's 5.5M rows took ten
 * times as long to export as to restore (docs/performance.md, "Exports").
 *
 * PIPELINE: the ordered merge of the table's partitions (cursor.c) is cut into chunks
 * of CHUNK_ROWS consecutive rows, which pass through a ring of slots. Chunk k lives in
 * slot k % nslots and is
 *     filled     by the calling thread: the next rows of the cursor, as (partition,
 *                blob) pairs, nothing decoded;
 *     formatted  by whichever thread claims it (a helper, or the caller when it has
 *                nothing else to do): each row decoded and appended to the slot's text;
 *     written    by the calling thread, in chunk order, the disk's writeback started
 *                every 32 MiB so that the final fsync has little left to wait for;
 * and its slot is then free for chunk k + nslots. Chunks are claimed for formatting in
 * chunk order, so the oldest chunk is always the first one taken. The caller does what
 * is ready, in this order: write the oldest chunk, fill a free slot, format a filled
 * chunk, and otherwise waits. So helpers find work while rows are left, the ring
 * drains as it fills, and with no helper (none wanted, or none could start) the caller
 * does everything itself and writes the same bytes. Before formatting, the helpers and
 * the caller sort the table's partitions side by side (read_order.c), which an ordered
 * read needs first.
 *
 * THREADS AND INVARIANTS: `lock` guards the counters, the slot states and the error:
 *     written <= claimed <= filled <= written + nslots.
 * A slot's rows and text belong to one thread at a time: the caller while it fills or
 * writes the slot, its claimer while it formats it. They change hands only under the
 * lock, which orders the last owner's writes before the next owner's reads. The tables
 * are only read: an export runs between barriers, when they do not change (table.h).
 * Every transition broadcasts `changed`; a waiter rechecks what it waits for.
 *
 * ERRORS: the first failure (a row that does not decode, out of memory, a write error,
 * the cancel flag) is kept in `rc` with its message; from then on nothing more is
 * filled or claimed, the caller joins the helpers and returns it, and export.c removes
 * the temporary file. Chunks already claimed are finished but not written.
 *
 * OWNERSHIP: the slots, their row arrays and texts, each thread's decode scratch and
 * the JSONL column names (escaped once, then only read) come from the restore's
 * allocator and are freed before the call returns; the rows point into the partitions.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "common/error.h"
#include "restore.h"
#include "shard/fault.h"
#include "textout.h"

#define CHUNK_ROWS 4096u
#define MAX_TEXT_HELPERS 63u
#define WRITEBACK_BYTES ((uint64_t)32 << 20) /* written text handed to the disk at once */

typedef struct text_row_ref {
	const irs_table_part *part;
	const uint8_t *blob;
} text_row_ref;

enum { SLOT_FREE, SLOT_FILLED, SLOT_DONE };

typedef struct text_slot {
	text_row_ref *rows; /* chunk_rows entries */
	size_t n;           /* rows filled */
	irs_textbuf text;
	int state;          /* SLOT_FREE, or a chunk waiting to be formatted or written */
} text_slot;

/* What one formatting thread decodes a row into. */
typedef struct text_formatter {
	struct text_export *x;
	irs_value *row;     /* ncols */
	uint8_t *scratch;   /* key strings holding 0x00, unescaped */
} text_formatter;

typedef struct text_export {
	const irs_restore *r;
	uint32_t table;
	const irs_schema_table *t;
	int csv;
	irs_jsonl_names names; /* JSONL: the column names, escaped once */
	uint32_t chunk_rows;
	uint64_t writeback_bytes; /* WRITEBACK_BYTES, or a test's step */
	text_slot *slots;
	uint32_t nslots;
	size_t scratch_bytes;
	_Atomic uint32_t sort_next; /* the next partition to sort before formatting */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	uint64_t filled, claimed, written; /* chunks */
	bool input_done;   /* the cursor has no more rows */
	off_t written_to;  /* the file offset the written chunks reach (caller only) */
	off_t flushed_to;  /* where the last writeback was started (caller only) */
	int rc;            /* the first failure, or 0 */
	irs_error why;     /* its message, when it had one */
} text_export;

/* Sorts the partitions of the table that no other thread has taken yet (errors are
 * left for the cursor's open to meet and report). */
static void sort_share(text_export *x)
{
	uint32_t s, n = x->r->pool.nshards;
	while ((s = atomic_fetch_add_explicit(&x->sort_next, 1, memory_order_relaxed)) < n) {
		const uint8_t *const *rows;
		size_t nrows;
		(void)irs__read_order_part(x->r, x->table, s, x->r->pool.cancel, &rows, &nrows);
	}
}

/* Records the first failure and wakes everyone. Caller holds the lock. */
static void fail_locked(text_export *x, int rc, const irs_error *why)
{
	if (!x->rc) {
		x->rc = rc;
		if (why && why->code)
			x->why = *why;
	}
	pthread_cond_broadcast(&x->changed);
}

/* Formats the rows of slot s into its text. Thread: the slot's claimer. */
static int format_chunk(text_formatter *f, text_slot *s, irs_error *err)
{
	text_export *x = f->x;
	irs__textbuf_reset(&s->text);
	for (size_t i = 0; i < s->n; i++) {
		if (irs__part_row_values(s->rows[i].part, s->rows[i].blob, f->row, f->scratch) != 0)
			return irs__seterr(err, IRS_ECORRUPT, "table %s: a stored key does not decode", x->t->name);
		int rc = x->csv ? irs__text_csv_row(&s->text, x->t, f->row)
				: irs__text_jsonl_row_named(&s->text, &x->names, x->t, f->row);
		if (rc)
			return rc;
	}
	return 0;
}

/* Claims the oldest filled chunk and formats it, with the lock held on entry and on
 * return. False when no chunk is waiting (or the export failed). */
static bool format_one_locked(text_formatter *f)
{
	text_export *x = f->x;
	if (x->rc || x->claimed == x->filled)
		return false;
	text_slot *s = &x->slots[x->claimed++ % x->nslots];
	pthread_mutex_unlock(&x->lock);
	irs_error err;
	irs__errclear(&err);
	int rc = format_chunk(f, s, &err);
	pthread_mutex_lock(&x->lock);
	if (rc)
		fail_locked(x, rc, &err);
	s->state = SLOT_DONE;
	pthread_cond_broadcast(&x->changed);
	return true;
}

static void *helper_main(void *arg)
{
	text_formatter *f = arg;
	text_export *x = f->x;
	sort_share(x);
	pthread_mutex_lock(&x->lock);
	while (!x->rc && !(x->input_done && x->claimed == x->filled))
		if (!format_one_locked(f))
			pthread_cond_wait(&x->changed, &x->lock);
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

/* Fills slot s with the cursor's next rows. Thread: the caller. */
static int fill_chunk(text_export *x, irs_cursor *c, text_slot *s, uint64_t *seen, bool *end)
{
	s->n = 0;
	while (s->n < x->chunk_rows) {
		int rc = irs__export_cancelled(x->r, seen);
		if (rc)
			return rc;
		text_row_ref *row = &s->rows[s->n];
		if (!irs__cursor_next_blob(c, &row->part, &row->blob)) {
			*end = true;
			break;
		}
		s->n++;
	}
	return 0;
}

/*
 * Writes a formatted chunk. Every WRITEBACK_BYTES, the text written since the last time
 * is flushed to the kernel and its writeback to the disk started (sync_file_range,
 * which does not wait): the fsync at the end then waits only for the last part, instead
 * of for the whole file while nothing else runs. sync_file_range is only a hint, so its
 * errors are left to the fsync to report. False with *io_errno set when a write fails.
 * Thread: the caller.
 */
static bool write_chunk(text_export *x, const text_slot *s, FILE *out, int *io_errno)
{
	if (fwrite(s->text.data, 1, s->text.len, out) != s->text.len) {
		*io_errno = errno;
		return false;
	}
	x->written_to += (off_t)s->text.len;
	if ((uint64_t)(x->written_to - x->flushed_to) >= x->writeback_bytes) {
		if (fflush(out) != 0) {
			*io_errno = errno;
			return false;
		}
		(void)sync_file_range(fileno(out), x->flushed_to, x->written_to - x->flushed_to,
				      SYNC_FILE_RANGE_WRITE);
		x->flushed_to = x->written_to;
	}
	return true;
}

/* The caller's loop: write, fill, format, wait, until every chunk is written or the
 * export failed. Lock held on entry and on return. */
static void caller_loop(text_export *x, text_formatter *f, irs_cursor *c, FILE *out, int *io_errno)
{
	uint64_t seen = 0;
	while (!x->rc) {
		text_slot *oldest = &x->slots[x->written % x->nslots];
		if (x->written < x->filled && oldest->state == SLOT_DONE) {
			pthread_mutex_unlock(&x->lock);
			bool ok = write_chunk(x, oldest, out, io_errno);
			pthread_mutex_lock(&x->lock);
			if (!ok) {
				fail_locked(x, IRS_EIO, NULL);
				break;
			}
			oldest->state = SLOT_FREE;
			x->written++;
			pthread_cond_broadcast(&x->changed);
			continue;
		}
		if (!x->input_done && x->filled < x->written + x->nslots) {
			text_slot *s = &x->slots[x->filled % x->nslots];
			bool end = false;
			pthread_mutex_unlock(&x->lock);
			int rc = fill_chunk(x, c, s, &seen, &end);
			pthread_mutex_lock(&x->lock);
			if (rc) {
				fail_locked(x, rc, NULL);
				break;
			}
			x->input_done = end;
			if (s->n) {
				s->state = SLOT_FILLED;
				x->filled++;
			}
			pthread_cond_broadcast(&x->changed);
			continue;
		}
		if (format_one_locked(f))
			continue;
		if (x->input_done && x->written == x->filled)
			break;
		pthread_cond_wait(&x->changed, &x->lock);
	}
}

static void *alloc_or_fail(text_export *x, size_t bytes, int *rc)
{
	void *p = irs__calloc((irs_mem *)&x->r->mem, bytes);
	if (!p && !*rc)
		*rc = irs__mem_over_limit((irs_mem *)&x->r->mem) ? IRS_ELIMIT : IRS_ENOMEM;
	return p;
}

int irs__export_text_rows(const irs_restore *r, uint32_t table, int csv, FILE *f, int *io_errno,
			  irs_error *err)
{
	irs_mem *mem = (irs_mem *)&r->mem;
	uint32_t helpers = irs__fault_read_helpers(irs__online_cpus() - 1);
	if (helpers > MAX_TEXT_HELPERS)
		helpers = MAX_TEXT_HELPERS;
	text_export x = {.r = r, .table = table, .t = &r->c->tables[table], .csv = csv,
			 .chunk_rows = irs__fault_export_chunk_rows(CHUNK_ROWS),
			 .writeback_bytes = irs__fault_export_writeback(WRITEBACK_BYTES),
			 .nslots = 2 * (helpers + 1) + 2, .scratch_bytes = irs__table_key_scratch(r, table)};
	atomic_init(&x.sort_next, 0);
	off_t at = ftello(f); /* after a CSV header */
	x.written_to = x.flushed_to = at > 0 ? at : 0;
	irs__errclear(&x.why);
	int rc = 0;
	if (!csv && irs__jsonl_names_init(&x.names, x.t, mem))
		rc = irs__mem_over_limit(mem) ? IRS_ELIMIT : IRS_ENOMEM;
	text_formatter fmt[MAX_TEXT_HELPERS + 1];
	memset(fmt, 0, sizeof fmt);
	x.slots = alloc_or_fail(&x, sizeof *x.slots * x.nslots, &rc);
	for (uint32_t i = 0; x.slots && i < x.nslots; i++) {
		irs__textbuf_init(&x.slots[i].text, mem);
		x.slots[i].rows = alloc_or_fail(&x, sizeof(text_row_ref) * x.chunk_rows, &rc);
	}
	for (uint32_t i = 0; i <= helpers; i++) {
		fmt[i].x = &x;
		fmt[i].row = alloc_or_fail(&x, sizeof(irs_value) * x.t->ncols, &rc);
		fmt[i].scratch = alloc_or_fail(&x, x.scratch_bytes, &rc);
	}
	pthread_t th[MAX_TEXT_HELPERS];
	uint32_t started = 0;
	if (!rc) {
		pthread_mutex_init(&x.lock, NULL);
		pthread_cond_init(&x.changed, NULL);
		while (started < helpers && !irs__fault_read_helper_start(started) &&
		       !pthread_create(&th[started], NULL, helper_main, &fmt[started + 1]))
			started++;
		sort_share(&x);
		irs_cursor *c = NULL;
		rc = irs__cursor_open(r, table, NULL, NULL, r->pool.cancel, &c, err);
		pthread_mutex_lock(&x.lock);
		if (rc)
			fail_locked(&x, rc, NULL); /* err says why */
		else
			caller_loop(&x, &fmt[0], c, f, io_errno);
		x.input_done = true;
		pthread_cond_broadcast(&x.changed);
		pthread_mutex_unlock(&x.lock);
		for (uint32_t i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		irs_cursor_close(c);
		rc = x.rc;
		if (x.why.code && err && !err->code)
			*err = x.why;
		pthread_cond_destroy(&x.changed);
		pthread_mutex_destroy(&x.lock);
	}
	for (uint32_t i = 0; i <= helpers; i++) {
		irs__free(mem, fmt[i].row, sizeof(irs_value) * x.t->ncols);
		irs__free(mem, fmt[i].scratch, x.scratch_bytes);
	}
	for (uint32_t i = 0; x.slots && i < x.nslots; i++) {
		irs__textbuf_free(&x.slots[i].text);
		irs__free(mem, x.slots[i].rows, sizeof(text_row_ref) * x.chunk_rows);
	}
	irs__free(mem, x.slots, sizeof *x.slots * x.nslots);
	if (!csv)
		irs__jsonl_names_free(&x.names);
	return rc;
}
