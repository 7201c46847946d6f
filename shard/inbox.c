/*
 * inbox.c: a shard's inbox (inbox.h): liburcu wfcqueue + a futex for sleeping.
 *
 * DESIGN
 *   Producers (decoder threads, the coordinator) enqueue wait-free: one atomic
 *   exchange of the tail, then a store linking the previous tail to the node. The
 *   single consumer (the owning shard) dequeues with the lock-free "__" variants of
 *   wfcqueue, legal because it is the only dequeuer.
 *
 *   Sleeping, the classic futex handshake:
 *
 *     consumer                              producer
 *       queue empty after a short spin        enqueue (xchg: full barrier)
 *       futex := -1                           fence
 *       fence                                 if the queue was empty before it
 *       queue still empty?                      and futex == -1:
 *         yes: FUTEX_WAIT(futex, -1)              if xchg(futex, 0) == -1: FUTEX_WAKE
 *         no:  futex := 0, pop
 *
 *   Store-then-load on both sides with a full fence between (Dekker): either the
 *   producer sees -1 and wakes, or the consumer's re-check sees the node. The kernel
 *   compares the word under its lock, so a wake between the re-check and the sleep
 *   makes FUTEX_WAIT return at once. Only a producer that found the queue empty
 *   checks the word: when the queue already held a node, the consumer cannot find it
 *   empty until it has popped our node too, so it will not sleep on it.
 *
 *   The one wait in a dequeue: a producer preempted between its exchange and its
 *   link store leaves the queue non-empty but unlinked. __cds_wfcq_dequeue_nonblocking
 *   reports that (CDS_WFCQ_WOULDBLOCK) instead of liburcu's 10 ms sleep; we spin a
 *   little, then sched_yield() so the preempted producer gets the CPU.
 *
 * THREAD SANITIZER: liburcu 0.13's atomics are inline assembly that TSan cannot see.
 * Under TSan we call the out-of-line (uninstrumented) liburcu functions instead of
 * the inline ones, and annotate push/pop as release/acquire on the node, which is
 * exactly the ordering wfcqueue guarantees. Nothing is suppressed.
 */
#if defined(__SANITIZE_THREAD__)
#define IRS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IRS_TSAN 1
#endif
#endif

#ifndef IRS_TSAN
#define _LGPL_SOURCE /* inline wfcqueue fast paths */
#endif

#include "inbox.h"

#include <sched.h>

#include "common/clock.h"
#include "common/futex.h"

#ifdef IRS_TSAN
#include <sanitizer/tsan_interface.h>
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)0)
#define TSAN_ACQUIRE(p) ((void)0)
#endif

#define SPIN_EMPTY 64    /* polls of an empty queue before sleeping */
#define SPIN_LINK 64     /* pauses waiting for a producer's link store before yielding */

void irs__inbox_init(irs_inbox *ib)
{
	__cds_wfcq_init(&ib->head, &ib->tail);
	atomic_init(&ib->futex, 0);
}

void irs__inbox_destroy(irs_inbox *ib)
{
	(void)ib; /* the lock-free head has no mutex to destroy */
}

void irs__inbox_push(irs_inbox *ib, struct cds_wfcq_node *node)
{
	cds_wfcq_node_init(node);
	TSAN_RELEASE(node);
	if (cds_wfcq_enqueue(&ib->head, &ib->tail, node))
		return; /* the queue held a node: the owner is awake or will pop ours first */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&ib->futex, memory_order_relaxed) == -1 &&
	    atomic_exchange_explicit(&ib->futex, 0, memory_order_relaxed) == -1)
		irs__futex_wake(&ib->futex, 1);
}

struct cds_wfcq_node *irs__inbox_pop_nonblocking(irs_inbox *ib)
{
	struct cds_wfcq_node *node;
	for (unsigned attempt = 0;; attempt++) {
		node = __cds_wfcq_dequeue_nonblocking(&ib->head, &ib->tail);
		if (node != CDS_WFCQ_WOULDBLOCK)
			break;
		if (attempt < SPIN_LINK)
			caa_cpu_relax();
		else
			sched_yield();
	}
	if (node)
		TSAN_ACQUIRE(node);
	return node;
}

struct cds_wfcq_node *irs__inbox_pop_blocking(irs_inbox *ib, uint64_t timeout_ns)
{
	uint64_t deadline = timeout_ns ? irs__now_ns() + timeout_ns : 0;
	for (;;) {
		struct cds_wfcq_node *node = irs__inbox_pop_nonblocking(ib);
		if (node)
			return node;
		bool seen = false;
		for (unsigned i = 0; i < SPIN_EMPTY && !seen; i++) {
			caa_cpu_relax();
			seen = !cds_wfcq_empty(&ib->head, &ib->tail);
		}
		if (seen)
			continue;
		uint64_t wait_ns = 0;
		if (deadline) {
			uint64_t now = irs__now_ns();
			if (now >= deadline)
				return NULL;
			wait_ns = deadline - now;
		}
		atomic_store_explicit(&ib->futex, -1, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		if (cds_wfcq_empty(&ib->head, &ib->tail))
			irs__futex_wait(&ib->futex, -1, wait_ns);
		/* Awake again: producers need not wake us until we announce it again. */
		atomic_store_explicit(&ib->futex, 0, memory_order_relaxed);
	}
}
