/*
 * plan.c: the coordinator's plan of one backup: which segment files the shards read
 * and where each frame is (shard.h's irs_plan). Planning opens every segment of the
 * enabled tables and indexes its frames from their 8-byte headers only, so decoding
 * can be spread over all shards frame by frame (no single thread decodes everything).
 *
 * OWNERSHIP: the plan's arrays grow with the largest backup seen and are reused; the
 * segment descriptors are opened here and closed when the next backup is planned or
 * the restore ends. Shards read the plan only between BEGIN and `applied`.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "engine/restore.h"

/* Closes the segment files and forgets the frames, keeping the arrays. */
static void plan_release(irs_plan *p)
{
	for (uint32_t s = 0; s < p->nsegs; s++)
		if (p->seg_fd[s] >= 0)
			close(p->seg_fd[s]);
	p->nsegs = 0;
	p->nframes = 0;
	p->max_frame = 0;
}

static void plan_arrays_free(irs_plan *p, irs_mem *mem)
{
	irs__free(mem, p->frame_table, sizeof(uint32_t) * p->segs_cap);
	irs__free(mem, (void *)p->seg_path, sizeof(char *) * p->segs_cap);
	irs__free(mem, p->seg_fd, sizeof(int) * p->segs_cap);
	irs__free(mem, p->seg_records, sizeof(uint64_t) * p->segs_cap);
	irs__free(mem, (void *)p->seg_decoded, sizeof(uint64_t) * p->segs_cap);
	p->frame_table = NULL;
	p->seg_path = NULL;
	p->seg_fd = NULL;
	p->seg_records = NULL;
	p->seg_decoded = NULL;
	p->segs_cap = 0;
}

void irs__plan_free(irs_restore *r)
{
	irs_plan *p = &r->pool.plan;
	plan_release(p);
	plan_arrays_free(p, &r->mem);
	irs__free(&r->mem, p->frames, sizeof(irs_frame_ref) * p->frames_cap);
	p->frames = NULL;
	p->frames_cap = 0;
}

/* Makes room for nsegs segments in the per-segment arrays. */
static int plan_reserve_segments(irs_plan *p, irs_mem *mem, uint32_t nsegs, irs_error *err)
{
	if (nsegs <= p->segs_cap)
		return 0;
	plan_arrays_free(p, mem);
	p->frame_table = irs__malloc(mem, sizeof(uint32_t) * nsegs);
	p->seg_path = irs__malloc(mem, sizeof(char *) * nsegs);
	p->seg_fd = irs__malloc(mem, sizeof(int) * nsegs);
	p->seg_records = irs__malloc(mem, sizeof(uint64_t) * nsegs);
	p->seg_decoded = irs__malloc(mem, sizeof(uint64_t) * nsegs);
	p->segs_cap = nsegs;
	if (!p->frame_table || !p->seg_path || !p->seg_fd || !p->seg_records || !p->seg_decoded) {
		plan_arrays_free(p, mem);
		return irs__seterr(err, IRS_ENOMEM, "out of memory planning %s", p->name);
	}
	return 0;
}

/* Opens and indexes one segment of table t. */
static int plan_segment(irs_restore *r, const irs_collection *c, uint32_t t,
			const Increstore__Segment *seg, irs_error *err)
{
	irs_plan *p = &r->pool.plan;
	uint32_t si = p->nsegs++;
	p->frame_table[si] = t;
	p->seg_path[si] = seg->path;
	p->seg_records[si] = seg->records;
	p->records += seg->records;
	atomic_init(&p->seg_decoded[si], 0);
	p->seg_fd[si] = -1;
	size_t first = p->nframes;
	int rc = irs__segment_index(&r->mem, c->dirfd, seg->path, t, si, &p->frames, &p->nframes,
				    &p->frames_cap, &p->seg_fd[si], err);
	if (rc)
		irs__errprefix(err, "%s", p->name);
	for (size_t i = first; !rc && i < p->nframes; i++)
		if (p->frames[i].length > p->max_frame)
			p->max_frame = p->frames[i].length;
	return rc;
}

/*
 * What staging backup sb of c in memory would hold: its records (about 1.5 times their
 * encoded bytes: headers, bitmaps and padding) and the duplicate-key set (8-byte
 * slots, at most 3/4 full: under 3 slots a record), this restore's share of them.
 */
static uint64_t staging_estimate(const irs_restore *r, const irs_collection *c, uint32_t sb)
{
	uint64_t bytes = 0, records = 0;
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[sb], t);
		if (!r->enabled[t] || !tb)
			continue;
		for (size_t s = 0; s < tb->n_segments; s++) {
			bytes += tb->segments[s]->size;
			records += tb->segments[s]->records;
		}
	}
	uint64_t est = bytes + bytes / 2 + 3 * sizeof(uint64_t) * records;
	return r->pool.part_count ? est / r->pool.part_count : est;
}

/* The staging budget: the option, or the larger of 64 MiB and a quarter of what the
 * restore holds now (mostly the tables). */
static uint64_t staging_budget(const irs_restore *r)
{
	if (r->o.staging_budget)
		return r->o.staging_budget;
	uint64_t quarter = atomic_load_explicit(&r->mem.used, memory_order_relaxed) / 4;
	return quarter > ((uint64_t)64 << 20) ? quarter : (uint64_t)64 << 20;
}

int irs__plan_backup(irs_restore *r, const irs_collection *src, uint32_t sb, uint32_t b,
		     irs_error *err)
{
	const irs_collection *c = src;
	irs_plan *p = &r->pool.plan;
	plan_release(p);
	p->backup = b;
	p->records = 0;
	p->src = src;
	p->src_backup = sb;
	p->gen++;
	p->full = c->backups[sb].kind == IRS_BACKUP_FULL;
	p->pass = 0;
	p->reread = false;
	/* The label every message of this backup starts with; set before anything can
	 * fail, and kept when the arrays are freed or grown. */
	if (src == r->c)
		snprintf(p->name_buf, sizeof p->name_buf, "backup %s", c->backups[sb].pb->name);
	else
		snprintf(p->name_buf, sizeof p->name_buf, "checkpoint of backup %s (%s)",
			 r->c->backups[b].pb->name, src->dir);
	p->name = p->name_buf;
	uint32_t nsegs = 0;
	for (uint32_t t = 0; t < c->ntables; t++)
		if (r->enabled[t] && irs__backup_table(&c->backups[sb], t))
			nsegs += (uint32_t)irs__backup_table(&c->backups[sb], t)->n_segments;
	int rc = plan_reserve_segments(p, &r->mem, nsegs, err);
	if (rc)
		return rc;
	for (uint32_t t = 0; t < c->ntables; t++) {
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[sb], t);
		if (!r->enabled[t] || !tb)
			continue;
		for (size_t s = 0; s < tb->n_segments; s++) {
			rc = plan_segment(r, c, t, tb->segments[s], err);
			if (rc)
				return rc;
		}
	}
	p->reread = !p->full && staging_estimate(r, c, sb) > staging_budget(r);
	atomic_store_explicit(&p->next_frame, 0, memory_order_relaxed);
	atomic_store_explicit(&p->abort, 0, memory_order_relaxed);
	atomic_store_explicit(&p->big_bound, 0, memory_order_relaxed);
	return 0;
}
