/*
 * futex.h (private): process-private futex wait and wake, the one way threads of a
 * restore sleep (the shard inboxes and the coordinator's countdowns; docs/design.md
 * section 2: idle threads block, they never spin without bound).
 */
#ifndef IRS_COMMON_FUTEX_H
#define IRS_COMMON_FUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Sleeps while *addr == expected, at most timeout_ns (0 = no limit). It may return
 * early or spuriously, so callers re-check their condition in a loop. Returns false
 * only when the timeout expired. Thread: any.
 */
bool irs__futex_wait(_Atomic int32_t *addr, int32_t expected, uint64_t timeout_ns);

/* Wakes up to n sleepers on addr. Thread: any. */
void irs__futex_wake(_Atomic int32_t *addr, int32_t n);

#endif
