/*
 * clock.h (private): the monotonic clock every layer times itself with (progress,
 * barrier statistics, timeouts).
 */
#ifndef IRS_COMMON_CLOCK_H
#define IRS_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic clock in nanoseconds. Thread: any. */
static inline uint64_t irs__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
