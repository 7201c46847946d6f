/*
 * fault.c: the test-only fault hooks of fault.h (built only with IRS_FAULT_INJECTION).
 * The hooks are plain globals read without synchronisation: tests set them before a
 * restore starts its threads (pthread_create orders the writes) and reset them after
 * it returns.
 */
#include "fault.h"

#include "common/fault_env.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#define FAULT_OFF                                                                          \
	{.fail_backup = -1, .fail_frame = -1, .eio_backup = -1, .eio_pass = -1, .slow_shard = -1,  \
	 .fail_thread = -1, .fail_read_helper = -1, .sort_cancel_read = -1}

irs_fault_hooks irs__fault = FAULT_OFF;

void irs__fault_reset(void)
{
	irs_fault_hooks off = FAULT_OFF;
	irs__fault = off;
}

void irs__fault_yield(unsigned *counter)
{
	if (irs__fault.yield_every && ++*counter % (unsigned)irs__fault.yield_every == 0)
		sched_yield();
}

size_t irs__fault_run_cap(size_t run_cap)
{
	return irs__fault.run_bytes ? irs__fault.run_bytes : run_cap;
}

int irs__fault_frame_read(uint32_t backup, uint8_t pass, size_t fi, const char *path,
			  uint32_t frame_index, uint64_t offset, irs_error *err)
{
	if (irs__fault.eio_backup != (int64_t)backup || irs__fault.eio_frame != fi ||
	    (irs__fault.eio_pass >= 0 && irs__fault.eio_pass != pass))
		return 0;
	return irs__seterr(err, IRS_EIO, "segment %s: frame %u at byte %llu: read failed: "
			   "injected I/O error", path, frame_index, (unsigned long long)offset);
}

int irs__fault_after_frame(uint32_t backup, uint32_t shard, uint64_t decoded, irs_error *err)
{
	if (irs__fault.fail_backup != (int64_t)backup || irs__fault.fail_shard != shard ||
	    irs__fault.fail_frame != (int64_t)decoded)
		return 0;
	return irs__seterr(err, IRS_ESHARD, "shard %u: injected failure after frame %llu of backup %u",
			   shard, (unsigned long long)decoded, backup);
}

int irs__fault_stage_end(uint32_t backup, uint32_t shard, irs_error *err)
{
	if (irs__fault.fail_backup != (int64_t)backup || irs__fault.fail_shard != shard ||
	    irs__fault.fail_frame >= 0)
		return 0;
	return irs__seterr(err, IRS_ESHARD, "shard %u: injected failure in backup %u", shard, backup);
}

void irs__fault_slow_apply(uint32_t shard)
{
	static int from_env = -1;
	int us = irs__fault_env_int(&from_env, "IRS_FAULT_SLOW_APPLY_US");
	if (irs__fault.slow_shard == (int64_t)shard)
		usleep(irs__fault.slow_us);
	else if (us > 0)
		usleep((useconds_t)us);
}

int irs__fault_thread_start(uint32_t shard)
{
	return irs__fault.fail_thread == (int64_t)shard ? EAGAIN : 0;
}

uint32_t irs__fault_read_helpers(uint32_t helpers)
{
	return irs__fault.read_helpers ? irs__fault.read_helpers : helpers;
}

int irs__fault_read_helper_start(uint32_t i)
{
	return irs__fault.fail_read_helper >= 0 && (int64_t)i >= irs__fault.fail_read_helper ? EAGAIN : 0;
}

void irs__fault_slow_export(void)
{
	static int from_env = -1;
	int env_us = irs__fault_env_int(&from_env, "IRS_FAULT_SLOW_EXPORT_US");
	uint32_t us = irs__fault.slow_export_us ? irs__fault.slow_export_us : (uint32_t)env_us;
	if (us)
		usleep(us);
}
