/*
 * countdown.c: the per-backup barrier (countdown.h).
 *
 * ALGORITHM: the count itself is the futex word. The waiter loads it; if non-zero it
 * sleeps with FUTEX_WAIT on that value. The kernel re-checks the word under its
 * hash-bucket lock, so a decrement between the load and the sleep makes the wait
 * return at once (EAGAIN) and the waiter re-loads: intermediate decrements cost the
 * waiter at most a retry, never a lost wake-up. Only the caller that brings the
 * count to zero issues FUTEX_WAKE, so a round costs one wake syscall.
 */
#include "countdown.h"

#include <limits.h>

#include "common/clock.h"
#include "common/futex.h"

void irs__countdown_init(irs_countdown *c)
{
	atomic_init(&c->left, 0);
}

void irs__countdown_arm(irs_countdown *c, int32_t n)
{
	atomic_store_explicit(&c->left, n, memory_order_release);
}

bool irs__countdown_done(irs_countdown *c)
{
	int32_t prev = atomic_fetch_sub_explicit(&c->left, 1, memory_order_acq_rel);
	if (prev != 1)
		return false;
	irs__futex_wake(&c->left, INT_MAX);
	return true;
}

void irs__countdown_wait(irs_countdown *c)
{
	for (;;) {
		int32_t v = atomic_load_explicit(&c->left, memory_order_acquire);
		if (v <= 0)
			return;
		irs__futex_wait(&c->left, v, 0);
	}
}

bool irs__countdown_wait_for(irs_countdown *c, uint64_t timeout_ns)
{
	uint64_t deadline = irs__now_ns() + timeout_ns;
	for (;;) {
		int32_t v = atomic_load_explicit(&c->left, memory_order_acquire);
		if (v <= 0)
			return true;
		uint64_t now = irs__now_ns();
		if (now >= deadline)
			return false;
		irs__futex_wait(&c->left, v, deadline - now);
	}
}
