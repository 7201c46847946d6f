/*
 * fault.h (private): test-only fault hooks of the shard layer. With
 * IRS_FAULT_INJECTION (the dev, asan and tsan presets; never a release) tests set
 * irs__fault before irs_restore_run and reset it after; the shards consult it at the
 * points below. Without it every hook is an inline function that does nothing, so the
 * hot paths carry no conditional code.
 */
#ifndef IRS_SHARD_FAULT_H
#define IRS_SHARD_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef IRS_FAULT_INJECTION
typedef struct irs_fault_hooks {
	int64_t fail_backup;   /* chain index whose staging fails on shard fail_shard; -1 = off */
	uint32_t fail_shard;
	int64_t fail_frame;    /* -1: at the end of staging; n: when that shard has decoded n frames */
	size_t run_bytes;      /* run capacity override (tiny runs stress the queues); 0 = off */
	bool huge_run_slabs;   /* standard runs in huge-page slabs even in a small restore */
	int yield_every;       /* sched_yield() in hot paths about once per N events; 0 = off */
	int64_t eio_backup;    /* chain index whose frame eio_frame reads as EIO; -1 = off */
	uint32_t eio_frame;    /* index in the backup's frame list */
	int eio_pass;          /* only in this pass of a backup read twice (0, 1); -1 = any */
	int64_t slow_shard;    /* this shard sleeps slow_us per run it applies (a full
				* backup's or a staged one); -1 = off. Off,
				* every shard sleeps IRS_FAULT_SLOW_APPLY_US from the
				* environment per run (so scripts see a slow restore) */
	uint32_t slow_us;
	int64_t fail_thread;   /* starting this shard's thread fails (EAGAIN); -1 = off */
	uint32_t read_helpers; /* a digest scan or a text export starts this many helper
				* threads, whatever the CPUs; 0 = off */
	int64_t fail_read_helper; /* their helpers from this one on fail to start (EAGAIN);
				   * -1 = off */
	uint32_t export_chunk_rows; /* rows per chunk of a text export; 0 = the default */
	uint32_t export_writeback_bytes; /* a text export starts the disk's writeback every
					  * this many bytes; 0 = the default */
	uint64_t stage_hash_bits; /* the duplicate-key check keeps only these bits of each
				   * key hash, so that different keys share hashes; 0 = off */
	uint32_t slow_export_us; /* an export sleeps this long per 1024 rows; 0 = off. Also
				  * from the environment, IRS_FAULT_SLOW_EXPORT_US (so scripts
				  * can signal the CLI while it exports) */
	size_t sort_cancel_step; /* a partition sort reads its cancel flag for steps of this
				  * many entries instead of 65536; 0 = off */
	int64_t sort_cancel_read; /* from this read of a sort's cancel flag on (0 = its
				   * first), the flag reads as set; -1 = off */
} irs_fault_hooks;

extern irs_fault_hooks irs__fault;

/* Turns every hook off. */
void irs__fault_reset(void);

/* sched_yield() about once per yield_every calls (counter is the caller's). */
void irs__fault_yield(unsigned *counter);

/* The run capacity to use instead of run_cap (run_bytes, when set). */
size_t irs__fault_run_cap(size_t run_cap);

/* Whether standard runs go in huge-page slabs: `big` (the pool's choice) or forced. */
static inline bool irs__fault_huge_run_slabs(bool big)
{
	return big || irs__fault.huge_run_slabs;
}

/* IRS_EIO when frame fi of backup `backup` is to read as failed in this pass, else 0. */
int irs__fault_frame_read(uint32_t backup, uint8_t pass, size_t fi, const char *path,
			  uint32_t frame_index, uint64_t offset, irs_error *err);

/* IRS_ESHARD when shard `shard` is to fail after decoding its `decoded`-th frame of
 * backup `backup`, else 0. */
int irs__fault_after_frame(uint32_t backup, uint32_t shard, uint64_t decoded, irs_error *err);

/* IRS_ESHARD when shard `shard` is to fail at the end of staging backup `backup`. */
int irs__fault_stage_end(uint32_t backup, uint32_t shard, irs_error *err);

/* Sleeps when shard `shard` is the slow one (per run it applies). */
void irs__fault_slow_apply(uint32_t shard);

/* EAGAIN when shard `shard`'s thread is not to start, else 0. */
int irs__fault_thread_start(uint32_t shard);

/* The helper threads a digest scan or a text export starts: `helpers`, or
 * read_helpers when set. */
uint32_t irs__fault_read_helpers(uint32_t helpers);

/* EAGAIN when helper `i` of a digest scan or a text export is not to start, else 0. */
int irs__fault_read_helper_start(uint32_t i);

/* Sleeps slow_export_us (an export calls it every 1024 rows). */
void irs__fault_slow_export(void);

/* The rows per chunk of a text export: `rows`, or export_chunk_rows when set. */
static inline uint32_t irs__fault_export_chunk_rows(uint32_t rows)
{
	return irs__fault.export_chunk_rows ? irs__fault.export_chunk_rows : rows;
}

/* A text export's writeback step: `bytes`, or export_writeback_bytes when set. */
static inline uint64_t irs__fault_export_writeback(uint64_t bytes)
{
	return irs__fault.export_writeback_bytes ? irs__fault.export_writeback_bytes : bytes;
}

/* The key hash the duplicate-key check uses: h, or h & stage_hash_bits when set. */
static inline uint64_t irs__fault_stage_hash(uint64_t h)
{
	return irs__fault.stage_hash_bits ? h & irs__fault.stage_hash_bits : h;
}

/* The step of a partition sort's flag reads: `step`, or sort_cancel_step when set. */
static inline size_t irs__fault_sort_cancel_step(size_t step)
{
	return irs__fault.sort_cancel_step ? irs__fault.sort_cancel_step : step;
}

/* Whether a sort's cancel flag reads as set at its read number `read`. */
static inline bool irs__fault_sort_cancelled(bool set, uint64_t read)
{
	return set || (irs__fault.sort_cancel_read >= 0 && read >= (uint64_t)irs__fault.sort_cancel_read);
}

#else

static inline void irs__fault_yield(unsigned *counter)
{
	(void)counter;
}
static inline size_t irs__fault_run_cap(size_t run_cap)
{
	return run_cap;
}
static inline bool irs__fault_huge_run_slabs(bool big)
{
	return big;
}
static inline int irs__fault_frame_read(uint32_t backup, uint8_t pass, size_t fi, const char *path,
					uint32_t frame_index, uint64_t offset, irs_error *err)
{
	(void)backup, (void)pass, (void)fi, (void)path, (void)frame_index, (void)offset, (void)err;
	return 0;
}
static inline int irs__fault_after_frame(uint32_t backup, uint32_t shard, uint64_t decoded,
					 irs_error *err)
{
	(void)backup, (void)shard, (void)decoded, (void)err;
	return 0;
}
static inline int irs__fault_stage_end(uint32_t backup, uint32_t shard, irs_error *err)
{
	(void)backup, (void)shard, (void)err;
	return 0;
}
static inline void irs__fault_slow_apply(uint32_t shard)
{
	(void)shard;
}
static inline int irs__fault_thread_start(uint32_t shard)
{
	(void)shard;
	return 0;
}
static inline uint32_t irs__fault_read_helpers(uint32_t helpers)
{
	return helpers;
}
static inline int irs__fault_read_helper_start(uint32_t i)
{
	(void)i;
	return 0;
}
static inline void irs__fault_slow_export(void)
{
}
static inline uint32_t irs__fault_export_chunk_rows(uint32_t rows)
{
	return rows;
}
static inline uint64_t irs__fault_export_writeback(uint64_t bytes)
{
	return bytes;
}
static inline uint64_t irs__fault_stage_hash(uint64_t h)
{
	return h;
}
static inline size_t irs__fault_sort_cancel_step(size_t step)
{
	return step;
}
static inline bool irs__fault_sort_cancelled(bool set, uint64_t read)
{
	(void)read;
	return set;
}
#endif

#endif
