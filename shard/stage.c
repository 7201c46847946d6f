/*
 * stage.c: staging an incremental backup on its owner shard (the stage phase of
 * docs/design.md section 4): every run is kept as received, and as it arrives its
 * records go once through a duplicate-key set and add to the memory the apply will
 * need; at END the shard reserves that memory. Nothing of the backup is applied before
 * every shard has staged it without error, so a failure leaves the tables untouched.
 *
 * ALGORITHM: the duplicate check is an open-addressing set of 8-byte key hashes
 * (mixed with the table), at most 3/4 full, sized up front from the manifest's record
 * count for the backup (this shard's share, bounded by what the segment bytes can hold,
 * see format/collection.c) and doubled when a skewed hash split sends more; its memory
 * is kept from backup to backup (fresh pages cost more than zeroing), but the pages of
 * a backup read twice (below) go back at END. Each run's slots are prefetched several
 * records ahead: they are random, and the misses overlap. Two equal hashes are a
 * suspect, not yet an error: at END the records with a suspect hash
 * are compared key by key, so a duplicate is found exactly and a 64-bit collision is
 * not one. A slot is 8 bytes, not a record pointer and a tag: the set of W1's
 * incrementals (250k records a shard) is 4 MiB instead of 16, so zeroing it and
 * probing it touch a quarter of the memory.
 *
 * READ TWICE: an incremental whose records would not fit the staging budget is not
 * kept (the coordinator decides, engine/plan.c). Pass 0 only checks: each record's
 * hash goes into the set, the run goes back at once, and the reservation counts a row
 * only for an upsert of a key the partition does not hold (the partition is quiescent
 * while staging, so it can be probed). The suspects are then found by reading the
 * backup's frames once more, keeping only this shard's records with a suspect hash.
 * Pass 1 then decodes again and applies as it streams (shard.c).
 *
 * INVARIANTS: staged runs live until APPLY or DISCARD; after the first error (no
 * memory for the set) the shard keeps receiving runs so they can be discarded, but
 * checks nothing more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "shard/fault.h"
#include "shard/shard.h"

#define STATUS(x) INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__##x

/* ---- the set of 8-byte key hashes */

/* The set's value for rec of table ti: its key hash mixed with the table, never 0. */
static inline uint64_t hset_key(const irs_rec *rec, uint32_t ti)
{
	uint64_t h = irs__fault_stage_hash(rec->hash + (uint64_t)ti * 0x9E3779B97F4A7C15u);
	return h ? h : 1;
}

/* The error of every allocation of the duplicate check: out of memory, or the limit. */
static int no_key_memory(const irs_shard *sh, irs_error *err)
{
	return irs__seterr(err, irs__mem_over_limit(sh->pool->mem) ? IRS_ELIMIT : IRS_ENOMEM,
			   "shard %u: no memory to check the keys", sh->id);
}

static void hset_begin(irs_shard *sh, size_t cap)
{
	irs_mem *mem = sh->pool->mem;
	sh->nsuspects = 0;
	sh->hset_count = 0;
	if (cap > sh->hset_alloc) {
		uint64_t *n = irs__malloc_huge(mem, sizeof(uint64_t) * cap);
		if (!n) {
			irs__shard_fail(sh, no_key_memory(sh, &sh->error));
			return;
		}
		irs__free(mem, sh->hset, sizeof(uint64_t) * sh->hset_alloc);
		sh->hset = n;
		sh->hset_alloc = cap;
	}
	/* a smaller backup after a big one uses (and zeroes) only the slots it needs */
	sh->hset_cap = cap;
	memset(sh->hset, 0, sizeof(uint64_t) * cap);
}

/* The home slot of h in a set of mask + 1 slots. */
static inline size_t hset_slot(uint64_t h, size_t mask)
{
	return (size_t)(h ^ h >> 29) & mask;
}

/* Inserts h; false when it was already there. */
static inline bool hset_put(uint64_t *set, size_t cap, uint64_t h)
{
	size_t mask = cap - 1, i = hset_slot(h, mask);
	for (; set[i]; i = (i + 1) & mask)
		if (set[i] == h)
			return false;
	set[i] = h;
	return true;
}

static int hset_grow(irs_shard *sh)
{
	irs_mem *mem = sh->pool->mem;
	size_t cap = sh->hset_cap * 2;
	uint64_t *n = irs__malloc_huge(mem, sizeof(uint64_t) * cap);
	if (!n)
		return no_key_memory(sh, &sh->error);
	memset(n, 0, sizeof(uint64_t) * cap);
	for (size_t i = 0; i < sh->hset_cap; i++)
		if (sh->hset[i])
			hset_put(n, cap, sh->hset[i]);
	irs__free(mem, sh->hset, sizeof(uint64_t) * sh->hset_alloc);
	sh->hset = n;
	sh->hset_cap = sh->hset_alloc = cap;
	return 0;
}

static int suspect_add(irs_shard *sh, uint64_t h)
{
	if (sh->nsuspects == sh->suspects_cap) {
		irs_mem *mem = sh->pool->mem;
		size_t cap = sh->suspects_cap ? 2 * sh->suspects_cap : 16;
		uint64_t *n = irs__realloc(mem, sh->suspects, sizeof(uint64_t) * sh->suspects_cap,
					   sizeof(uint64_t) * cap);
		if (!n)
			return no_key_memory(sh, &sh->error);
		sh->suspects = n;
		sh->suspects_cap = cap;
	}
	sh->suspects[sh->nsuspects++] = h;
	return 0;
}

/* The duplicate check and the reservation count of one run (see the top comment): in
 * a backup read twice, a row is reserved only for an upsert of a key the partition
 * lacks. */
static void hset_run(irs_shard *sh, irs_run *run)
{
	uint32_t ti = run->table;
	const irs_table_part *part = sh->parts[ti];
	bool reread = sh->pool->plan.reread;
	const uint8_t *end = run->data + run->used, *ahead = run->data;
	/* start the slot misses PREFETCH records ahead */
	enum { PREFETCH = 8 };
	for (int k = 0; k < PREFETCH && ahead < end; k++) {
		const irs_rec *a = (const irs_rec *)ahead;
		__builtin_prefetch(&sh->hset[hset_slot(hset_key(a, ti), sh->hset_cap - 1)], 1);
		ahead += irs__rec_padded(a->size);
	}
	for (const uint8_t *p = run->data; p < end;) {
		const irs_rec *rec = (const irs_rec *)p;
		p += irs__rec_padded(rec->size);
		if (ahead < end) {
			const irs_rec *a = (const irs_rec *)ahead;
			__builtin_prefetch(&sh->hset[hset_slot(hset_key(a, ti), sh->hset_cap - 1)], 1);
			ahead += irs__rec_padded(a->size);
		}
		if (4 * (sh->hset_count + 1) > 3 * sh->hset_cap && hset_grow(sh)) {
			irs__shard_fail(sh, sh->error.code);
			return;
		}
		uint64_t h = hset_key(rec, ti);
		if (hset_put(sh->hset, sh->hset_cap, h)) {
			sh->hset_count++;
		} else if (suspect_add(sh, h)) {
			irs__shard_fail(sh, sh->error.code);
			return;
		}
		/* what the reservation at END needs */
		if (rec->op == IRS_REC_UPSERT) {
			if (!reread || !irs__part_get(part, irs__rec_key(rec), rec->key_len, rec->hash))
				sh->resv_rows[ti]++;
			sh->resv_bytes[ti] += irs__part_rec_bound(part, rec);
		}
	}
}

/* The records of this shard whose hash is a suspect: pointers into the staged runs,
 * or copies when they come from frames read again (the frame buffer is reused). */
typedef struct suspect_rec {
	const irs_rec *rec;
	uint32_t table;
} suspect_rec;

typedef struct suspect_recs {
	irs_shard *sh;
	uint32_t table;    /* of the frame being read */
	bool copies;
	suspect_rec *v;
	size_t n, cap;
} suspect_recs;

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Records in (table, hash, key) order, so that equal keys are neighbours. */
static int suspect_cmp(const void *a, const void *b)
{
	const suspect_rec *x = a, *y = b;
	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	if (x->rec->hash != y->rec->hash)
		return x->rec->hash < y->rec->hash ? -1 : 1;
	return irs__key_cmp(irs__rec_key(x->rec), x->rec->key_len, irs__rec_key(y->rec), y->rec->key_len);
}

/* Whether h is a suspect; the suspects are sorted by then (resolve_suspects). */
static bool is_suspect(const irs_shard *sh, uint64_t h)
{
	return bsearch(&h, sh->suspects, sh->nsuspects, sizeof *sh->suspects, u64_cmp) != NULL;
}

static int suspect_keep(suspect_recs *x, const irs_rec *rec, uint32_t table, irs_error *err)
{
	irs_mem *mem = x->sh->pool->mem;
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 16;
		suspect_rec *v = irs__realloc(mem, x->v, sizeof(*v) * x->cap, sizeof(*v) * cap);
		if (!v)
			return no_key_memory(x->sh, err);
		x->v = v;
		x->cap = cap;
	}
	if (x->copies) {
		irs_rec *copy = irs__malloc(mem, rec->size);
		if (!copy)
			return no_key_memory(x->sh, err);
		memcpy(copy, rec, rec->size);
		rec = copy;
	}
	x->v[x->n++] = (suspect_rec){rec, table};
	return 0;
}

/* Decoder output of a frame read again: this shard's records with a suspect hash. */
static int collect_suspect(void *ctx, const irs_rec *rec, irs_error *err)
{
	suspect_recs *x = ctx;
	irs_shard *sh = x->sh;
	irs_pool *pool = sh->pool;
	if (irs__shard_of(rec->hash, pool->nshards) != sh->id ||
	    !irs__pool_keeps(pool, x->table, irs__rec_key(rec), rec->key_len, rec->hash) ||
	    !is_suspect(sh, hset_key(rec, x->table)))
		return 0;
	return suspect_keep(x, rec, x->table, err);
}

/* Finds this shard's records whose hashes repeated (in the staged runs, or by reading
 * every frame of the backup again) and compares their keys: a repeated key is
 * IRS_EDUPKEY, naming it. Sorting both the suspect hashes and the records keeps it
 * O(n log n) however many keys share a hash, so crafted collisions cannot stall it. */
static int resolve_suspects(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	irs_plan *p = &pool->plan;
	suspect_recs x = {.sh = sh, .copies = p->reread};
	int rc = 0;
	qsort(sh->suspects, sh->nsuspects, sizeof *sh->suspects, u64_cmp);
	size_t u = 0;
	for (size_t i = 0; i < sh->nsuspects; i++)
		if (!u || sh->suspects[i] != sh->suspects[u - 1])
			sh->suspects[u++] = sh->suspects[i];
	sh->nsuspects = u;
	for (const irs_run *run = p->reread ? NULL : sh->staged; run && !rc; run = run->next) {
		for (size_t off = 0; off < run->used && !rc;) {
			const irs_rec *rec = (const irs_rec *)(run->data + off);
			off += irs__rec_padded(rec->size);
			if (is_suspect(sh, hset_key(rec, run->table)))
				rc = suspect_keep(&x, rec, run->table, &sh->error);
		}
	}
	for (size_t fi = 0; p->reread && fi < p->nframes && !rc; fi++) {
		const irs_frame_ref *f = &p->frames[fi];
		x.table = p->frame_table[f->segment];
		rc = irs__frame_read(pool->mem, p->seg_fd[f->segment], p->seg_path[f->segment], f,
				     &sh->frame_buf, &sh->frame_cap, &sh->error);
		uint32_t n;
		if (!rc)
			rc = irs__batch_decode(&sh->dec, &pool->tables[x.table], sh->frame_buf, f->length,
					       false, 0, collect_suspect, &x, &n, &sh->error);
		if (rc)
			irs__errprefix(&sh->error, "%s: checking repeated key hashes", p->name);
	}
	if (!rc && x.n > 1)
		qsort(x.v, x.n, sizeof *x.v, suspect_cmp);
	for (size_t i = 1; i < x.n && !rc; i++) {
		if (suspect_cmp(&x.v[i - 1], &x.v[i]) != 0)
			continue;
		const irs_rec *a = x.v[i].rec;
		const irs_schema_table *t = &pool->tables[x.v[i].table];
		char key[256];
		irs__rec_key_format(t, irs__rec_key(a), a->key_len, key, sizeof key);
		rc = irs__seterr(&sh->error, IRS_EDUPKEY, "%s table %s: key %s appears twice in one backup",
				 p->name, t->name, key);
	}
	for (size_t i = 0; x.copies && i < x.n; i++)
		irs__free(pool->mem, (void *)x.v[i].rec, x.v[i].rec->size);
	irs__free(pool->mem, x.v, sizeof(*x.v) * x.cap);
	return rc;
}

/* ---- the backup's three steps */

void irs__stage_begin(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	for (uint32_t ti = 0; ti < pool->ntables; ti++)
		sh->resv_rows[ti] = sh->resv_bytes[ti] = 0;
	/* this shard's share of the backup, with room for an uneven split, at most 3/4 full */
	uint64_t share = pool->plan.records / pool->nshards / (pool->part_count ? pool->part_count : 1);
	size_t cap = 64;
	while (3 * cap < 4 * (share + share / 8 + 16))
		cap *= 2;
	hset_begin(sh, cap);
}

void irs__stage_run(irs_shard *sh, irs_run *run)
{
	if (sh->result.status != STATUS(ERROR))
		hset_run(sh, run);
}

void irs__stage_end(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	if (sh->result.status == STATUS(ERROR))
		return;
	int rc = irs__fault_stage_end(pool->plan.backup, sh->id, &sh->error);
	if (!rc && sh->nsuspects)
		rc = resolve_suspects(sh);
	/* A backup read twice is one too big to stage: its key set is as big as sets get,
	 * and the apply that follows grows the tables. The set is zeroed before its next
	 * use, so its pages can go back now instead of adding to the restore's peak. Not
	 * after a staged backup: faulting its pages in again at every incremental made
	 * W1's incrementals 8% slower for 6.5 MB (docs/performance.md). */
	if (pool->plan.reread)
		irs__pages_discard(sh->hset, sizeof(uint64_t) * sh->hset_cap);
	if (rc) {
		irs__shard_fail(sh, rc);
		return;
	}
	/* Reserve, per table, room for every upsert as a new row of its largest size. */
	for (uint32_t ti = 0; ti < pool->ntables; ti++) {
		uint64_t rows = sh->resv_rows[ti], bytes = sh->resv_bytes[ti];
		if (!sh->parts[ti] || !rows)
			continue;
		rc = irs__part_reserve(sh->parts[ti], rows, bytes);
		if (rc) {
			irs__seterr(&sh->error, rc, "shard %u: %s reserving memory for %llu changes of table %s",
				    sh->id, rc == IRS_ELIMIT ? "memory limit reached" : "out of memory",
				    (unsigned long long)rows, pool->tables[ti].name);
			irs__shard_fail(sh, rc);
			return;
		}
	}
	/* and what its decoder's second read needs, still before the point of no return */
	if (pool->plan.reread && (rc = irs__decoder_prepare_reread(sh, &sh->error)) != 0)
		irs__shard_fail(sh, rc);
}
