/*
 * stage.c: staging an incremental backup on its owner shard (the stage phase of
 * docs/design.md section 4): every run is kept as received, and as it arrives its
 * records go once through a duplicate-key set and add to the memory the apply will
 * need; at END the shard reserves that memory. Nothing of the backup is applied before
 * every shard has staged it without error, so a failure leaves the tables untouched.
 *
 * ALGORITHM: the duplicate check is an open-addressing set of record pointers (with
 * their table), probed by the key hash first and the key bytes on a hash match. It is
 * sized up front from the manifest's record count for the backup (this shard's share,
 * bounded by what the segment bytes can hold, see format/collection.c), kept at most
 * half full, and doubled when a skewed hash split sends more; its memory is kept from
 * backup to backup (fresh pages cost more than zeroing). Each run's slots are
 * prefetched several records ahead: they are random, and the misses overlap.
 *
 * INVARIANTS: set entries point into staged runs, which live until APPLY or DISCARD;
 * after the first error (a duplicate, no memory) the shard keeps receiving runs so
 * they can be discarded, but checks nothing more.
 */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "shard/fault.h"
#include "shard/shard.h"

#define STATUS(x) INCRESTORE__INCREMENTAL_RESTORE_RESULT__STATUS__##x

static int set_alloc(irs_shard *sh, size_t cap)
{
	irs_mem *mem = sh->pool->mem;
	const irs_rec **set = irs__malloc(mem, sizeof(*set) * cap);
	uint32_t *tab = irs__malloc(mem, sizeof(uint32_t) * cap);
	if (!set || !tab) {
		irs__free(mem, set, sizeof(*set) * cap);
		irs__free(mem, tab, sizeof(uint32_t) * cap);
		return irs__seterr(&sh->error, irs__mem_over_limit(mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "shard %u: no memory to check the keys of backup %s", sh->id,
				   sh->pool->plan.name);
	}
	irs__free(mem, sh->dup_set, sizeof(*sh->dup_set) * sh->dup_cap);
	irs__free(mem, sh->dup_table, sizeof(uint32_t) * sh->dup_cap);
	sh->dup_set = set;
	sh->dup_table = tab;
	sh->dup_cap = cap;
	return 0;
}

/* Puts rec (of table ti) in the set; IRS_EDUPKEY when its key is already there. */
static inline int set_put(irs_shard *sh, const irs_rec *rec, uint32_t ti)
{
	const irs_rec **set = sh->dup_set;
	size_t mask = sh->dup_cap - 1, i = (size_t)rec->hash & mask;
	for (; set[i]; i = (i + 1) & mask) {
		const irs_rec *o = set[i];
		if (o->hash == rec->hash && sh->dup_table[i] == ti &&
		    irs__key_cmp(irs__rec_key(o), o->key_len, irs__rec_key(rec), rec->key_len) == 0)
			return IRS_EDUPKEY;
	}
	set[i] = rec;
	sh->dup_table[i] = ti;
	sh->dup_count++;
	return 0;
}

/* Doubles the set, re-inserting what it holds. */
static int set_grow(irs_shard *sh)
{
	const irs_rec **old = sh->dup_set;
	uint32_t *old_tab = sh->dup_table;
	size_t old_cap = sh->dup_cap;
	sh->dup_set = NULL;
	sh->dup_table = NULL;
	sh->dup_cap = 0;
	int rc = set_alloc(sh, old_cap * 2);
	if (rc) {
		sh->dup_set = old;
		sh->dup_table = old_tab;
		sh->dup_cap = old_cap;
		return rc;
	}
	memset(sh->dup_set, 0, sizeof(*sh->dup_set) * sh->dup_cap);
	sh->dup_count = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			set_put(sh, old[i], old_tab[i]);
	irs_mem *mem = sh->pool->mem;
	irs__free(mem, old, sizeof(*old) * old_cap);
	irs__free(mem, old_tab, sizeof(uint32_t) * old_cap);
	return 0;
}

void irs__stage_begin(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	sh->dup_count = 0;
	for (uint32_t ti = 0; ti < pool->ntables; ti++)
		sh->resv_rows[ti] = sh->resv_bytes[ti] = 0;
	/* this shard's share of the backup, with room for an uneven split */
	uint64_t share = pool->plan.records / pool->nshards / (pool->part_count ? pool->part_count : 1);
	size_t cap = 64;
	while (cap < 2 * (share + share / 4 + 16))
		cap *= 2;
	if (cap > sh->dup_cap && set_alloc(sh, cap)) {
		irs__shard_fail(sh, sh->error.code);
		return;
	}
	if (sh->dup_cap)
		memset(sh->dup_set, 0, sizeof(*sh->dup_set) * sh->dup_cap);
}

void irs__stage_run(irs_shard *sh, irs_run *run)
{
	if (sh->result.status == STATUS(ERROR))
		return;
	irs_pool *pool = sh->pool;
	uint32_t ti = run->table;
	const irs_table_part *part = sh->parts[ti];
	const uint8_t *end = run->data + run->used;
	const uint8_t *ahead = run->data;
	/* start the slot misses PREFETCH records ahead */
	enum { PREFETCH = 8 };
	for (int k = 0; k < PREFETCH && ahead < end; k++) {
		const irs_rec *a = (const irs_rec *)ahead;
		__builtin_prefetch(&sh->dup_set[(size_t)a->hash & (sh->dup_cap - 1)], 1);
		ahead += irs__rec_padded(a->size);
	}
	for (const uint8_t *p = run->data; p < end;) {
		const irs_rec *rec = (const irs_rec *)p;
		p += irs__rec_padded(rec->size);
		if (ahead < end) {
			const irs_rec *a = (const irs_rec *)ahead;
			__builtin_prefetch(&sh->dup_set[(size_t)a->hash & (sh->dup_cap - 1)], 1);
			ahead += irs__rec_padded(a->size);
		}
		if (2 * (sh->dup_count + 1) > sh->dup_cap && set_grow(sh)) {
			irs__shard_fail(sh, sh->error.code);
			return;
		}
		if (set_put(sh, rec, ti)) {
			const irs_schema_table *t = &pool->tables[ti];
			char key[256];
			irs__rec_key_format(t, irs__rec_key(rec), rec->key_len, key, sizeof key);
			irs__seterr(&sh->error, IRS_EDUPKEY, "backup %s table %s: key %s appears twice in one backup",
				    pool->plan.name, t->name, key);
			irs__shard_fail(sh, IRS_EDUPKEY);
			return;
		}
		/* what the reservation at END needs */
		if (rec->op == IRS_REC_UPSERT) {
			sh->resv_rows[ti]++;
			sh->resv_bytes[ti] += irs__part_rec_bound(part, rec);
		}
	}
}

void irs__stage_end(irs_shard *sh)
{
	irs_pool *pool = sh->pool;
	if (sh->result.status == STATUS(ERROR))
		return;
	int rc = irs__fault_stage_end(pool->plan.backup, sh->id, &sh->error);
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
}
