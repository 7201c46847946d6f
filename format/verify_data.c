/*
 * verify_data.c: irs_collection_verify_data, a full read of every frame.
 *
 * For each backup and table it reads every segment through the same reader and
 * decoder a restore uses (so it finds exactly what a restore would refuse), checks the
 * manifest's per-segment frame count, record count and whole-file CRC32C, and looks
 * for a key that occurs twice within the backup.
 *
 * DUPLICATES in two passes, so memory stays at 8 bytes per change: pass 1 collects
 * the 64-bit key hashes and sorts them; only when two hashes are equal does pass 2
 * re-read the backup's table and compare the actual keys of those hashes (a hash
 * collision between distinct keys is not an error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "collection.h"
#include "common/error.h"

typedef struct vctx {
	irs_collection *c;
	irs_mem *mem;
	const irs_schema_table *t;
	/* pass 1 */
	uint64_t *hashes;
	size_t nh, caph;
	/* pass 2 */
	const uint64_t *dups;   /* sorted hashes seen twice */
	size_t ndups;
	irs_buf keys;           /* candidate records: [u32 len][u32 seg][u32 frame][u32 row][key] */
	uint32_t seg;
	irs_segment_scan scan;  /* the segment being read (its frame) */
	int pass;
} vctx;

static int sink(void *ctx, const irs_rec *r, irs_error *err)
{
	vctx *v = ctx;
	if (v->pass == 1) {
		if (v->nh == v->caph) {
			size_t ncap = v->caph ? v->caph * 2 : 4096;
			uint64_t *nh = irs__realloc(v->mem, v->hashes, v->caph * 8, ncap * 8);
			if (!nh)
				return irs__seterr(err, IRS_ENOMEM, "out of memory verifying");
			v->hashes = nh;
			v->caph = ncap;
		}
		v->hashes[v->nh++] = r->hash;
		return 0;
	}
	/* binary search of the sorted repeated hashes */
	size_t lo = 0, hi = v->ndups;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->dups[mid] < r->hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == v->ndups || v->dups[lo] != r->hash)
		return 0;
	uint32_t hdr[4] = {r->key_len, v->seg, v->scan.frame, (uint32_t)r->tag};
	if (!irs__buf_append(&v->keys, hdr, sizeof hdr) ||
	    !irs__buf_append(&v->keys, irs__rec_key(r), r->key_len))
		return irs__seterr(err, IRS_ENOMEM, "out of memory verifying");
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Reads every frame of backup b's table; pass 1 also checks the manifest's counts. */
static int read_table(vctx *v, irs_batch_decoder *d, uint32_t b, const Increstore__TableBackup *tb,
		      irs_verify_progress_fn progress, void *pctx, uint64_t *done, uint64_t total,
		      irs_error *err)
{
	irs_collection *c = v->c;
	const char *bname = c->backups[b].pb->name;
	bool full = c->backups[b].kind == IRS_BACKUP_FULL;
	for (size_t s = 0; s < tb->n_segments; s++) {
		const Increstore__Segment *seg = tb->segments[s];
		v->seg = (uint32_t)s;
		v->scan = (irs_segment_scan){.mem = v->mem, .dirfd = c->dirfd, .path = seg->path,
					     .table = tb->table, .t = v->t, .full = full, .backup = bname};
		int rc = irs__segment_scan(&v->scan, d, sink, v, err);
		if (rc)
			return rc;
		uint32_t frames = v->scan.frames, crc = v->scan.crc;
		uint64_t records = v->scan.records;
		if (v->pass == 1) {
			if (frames != seg->frames || records != seg->records)
				return irs__seterr(err, IRS_ECORRUPT,
						   "backup %s: segment %s holds %u frames and %llu records, the "
						   "manifest says %u and %llu",
						   bname, seg->path, frames, (unsigned long long)records,
						   seg->frames, (unsigned long long)seg->records);
			if (crc != seg->crc32c)
				return irs__seterr(err, IRS_ECORRUPT,
						   "backup %s: segment %s: file CRC32C %08x, the manifest says %08x",
						   bname, seg->path, crc, seg->crc32c);
			*done += seg->size;
			if (progress)
				progress(pctx, *done, total);
		}
	}
	return 0;
}

/* Pass 2: among the records whose hash repeats, find two equal keys. */
static int find_dup(vctx *v, uint32_t b, const Increstore__TableBackup *tb, irs_error *err)
{
	const uint8_t *p = v->keys.p, *end = v->keys.p + v->keys.len;
	/* Candidates are few (hash repeats); compare them pairwise. */
	for (const uint8_t *a = p; a < end;) {
		uint32_t ha[4];
		memcpy(ha, a, sizeof ha);
		const uint8_t *ka = a + sizeof ha;
		for (const uint8_t *q = ka + ha[0]; q < end;) {
			uint32_t hb[4];
			memcpy(hb, q, sizeof hb);
			const uint8_t *kb = q + sizeof hb;
			if (ha[0] == hb[0] && memcmp(ka, kb, ha[0]) == 0) {
				char key[256];
				irs__rec_key_format(v->t, ka, ha[0], key, sizeof key);
				return irs__seterr(err, IRS_EDUPKEY,
						   "backup %s table %s: key %s appears twice (segment %s frame %u "
						   "change %u, and segment %s frame %u change %u)",
						   v->c->backups[b].pb->name, v->t->name, key,
						   tb->segments[ha[1]]->path, ha[2], ha[3],
						   tb->segments[hb[1]]->path, hb[2], hb[3]);
			}
			q = kb + hb[0];
		}
		a = ka + ha[0];
	}
	return 0;
}

int irs_collection_verify_data(const irs_collection *cc, uint32_t upto,
			       irs_verify_progress_fn progress, void *ctx, irs_error *err)
{
	irs__errclear(err);
	if (!cc)
		return irs__seterr(err, IRS_EINVAL, "irs_collection_verify_data: NULL collection");
	irs_collection *c = (irs_collection *)cc; /* only its irs_mem counters change */
	if (upto != UINT32_MAX && upto >= c->nbackups)
		return irs__seterr(err, IRS_EINVAL, "irs_collection_verify_data: backup %u of %u", upto,
				   c->nbackups);
	if (upto == UINT32_MAX)
		upto = c->nbackups ? c->nbackups - 1 : 0;
	uint64_t total = 0, done = 0;
	for (uint32_t b = 0; b < c->nbackups && b <= upto; b++)
		total += c->backups[b].bytes;
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, &c->mem);
	vctx v = {.c = c, .mem = &c->mem};
	irs__buf_init(&v.keys, &c->mem);
	int rc = 0;
	for (uint32_t b = 0; !rc && b < c->nbackups && b <= upto; b++) {
		for (uint32_t ti = 0; !rc && ti < c->ntables; ti++) {
			const Increstore__TableBackup *tb = irs__backup_table(&c->backups[b], ti);
			if (!tb)
				continue;
			v.t = &c->tables[ti];
			v.pass = 1;
			v.nh = 0;
			rc = read_table(&v, &d, b, tb, progress, ctx, &done, total, err);
			if (rc)
				break;
			if (v.nh) /* qsort's array may not be NULL, even empty */
				qsort(v.hashes, v.nh, 8, u64_cmp);
			size_t nd = 0;
			for (size_t i = 1; i < v.nh; i++)
				if (v.hashes[i] == v.hashes[i - 1] && (nd == 0 || v.hashes[nd - 1] != v.hashes[i]))
					v.hashes[nd++] = v.hashes[i];
			if (!nd)
				continue;
			v.dups = v.hashes;
			v.ndups = nd;
			v.pass = 2;
			v.keys.len = 0;
			rc = read_table(&v, &d, b, tb, NULL, NULL, &done, total, err);
			if (!rc)
				rc = find_dup(&v, b, tb, err);
		}
	}
	irs__batch_decoder_free(&d);
	irs__free(&c->mem, v.hashes, v.caph * 8);
	irs__buf_free(&v.keys);
	return rc;
}
