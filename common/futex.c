/*
 * futex.c: the raw futex system calls behind futex.h. The kernel compares *addr with
 * the expected value under its hash-bucket lock, so a store and wake between a
 * caller's check and its sleep makes FUTEX_WAIT return at once: no lost wake-ups.
 */
#include "futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

bool irs__futex_wait(_Atomic int32_t *addr, int32_t expected, uint64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
		ts.tv_nsec = (long)(timeout_ns % 1000000000u);
		tp = &ts;
	}
	/* _Atomic int32_t has the size and representation of int32_t on every Linux ABI. */
	long rc = syscall(SYS_futex, (int32_t *)(void *)addr, FUTEX_WAIT_PRIVATE, expected, tp,
			  NULL, 0);
	return !(rc == -1 && errno == ETIMEDOUT);
}

void irs__futex_wake(_Atomic int32_t *addr, int32_t n)
{
	syscall(SYS_futex, (int32_t *)(void *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
