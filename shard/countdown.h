/*
 * countdown.h (private): the barrier at the end of each phase of a backup.
 *
 * The coordinator arms the countdown with the number of shards before it dispatches
 * a backup. Each shard, once it has applied its part and posted its result, calls
 * irs__countdown_done(); exactly one caller, the one that brings the count to zero,
 * gets true and wakes the coordinator, which sleeps in irs__countdown_wait() on a
 * futex (no polling, so 64 shards on 2 cores waste no CPU on the barrier).
 *
 * Synchronization table ("X": needs external ordering, "-": safe concurrently)
 *
 *              arm   done  wait  destroy
 *     arm       X     X     X     X
 *     done      X     -     -     X
 *     wait      X     -     X     X
 *     destroy   X     X     X     X
 *
 *   - arm happens before the work that leads to done is handed out (the inbox push
 *     orders it), and never while a previous round is still counting down.
 *   - one waiter at a time (the coordinator); several would work but are not needed.
 *   - destroy (or reuse of the memory) only after every done caller has returned:
 *     the last one touches the countdown after the waiter may already have woken.
 *
 * MEMORY ORDERING: done is an acq_rel read-modify-write and wait ends with an acquire
 * load of zero, so everything every shard did before its done happens before
 * everything the coordinator does after its wait returns (release sequence over the
 * decrements).
 */
#ifndef IRS_SHARD_COUNTDOWN_H
#define IRS_SHARD_COUNTDOWN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct irs_countdown {
	_Atomic int32_t left; /* calls of done still expected; also the futex word */
} irs_countdown;

/* Initializes to 0 (not armed: wait returns at once). Nothing to destroy. */
void irs__countdown_init(irs_countdown *c);

/* Arms with n >= 0 expected done calls. Thread: coordinator, see the table. */
void irs__countdown_arm(irs_countdown *c, int32_t n);

/*
 * One expected call has happened. Returns true for exactly one caller per round, the
 * one that brings the count to zero; that caller has already woken the waiter.
 * Thread: any; never blocks.
 */
bool irs__countdown_done(irs_countdown *c);

/* Blocks until the count is zero. Thread: the coordinator. */
void irs__countdown_wait(irs_countdown *c);

/*
 * Blocks until the count is zero or timeout_ns passed (the coordinator wakes about
 * every 100 ms for progress and cancellation). Returns true when zero.
 * Thread: the coordinator.
 */
bool irs__countdown_wait_for(irs_countdown *c, uint64_t timeout_ns);

#endif
