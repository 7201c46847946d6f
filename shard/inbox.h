/*
 * inbox.h (private): a shard's inbox, a multi-producer single-consumer queue of
 * intrusive nodes with a blocking pop.
 *
 * It is liburcu's wfcqueue (wait-free enqueue) plus a futex so the owner can sleep
 * when the inbox is empty: the owner spins briefly, then announces that it may
 * sleep (futex word -1), re-checks the queue and sleeps; a producer that finds the
 * queue empty before its enqueue checks the word and wakes the owner only if it was
 * -1. A busy shard therefore costs producers no syscall, and an idle shard costs no
 * CPU: 64 shard threads on 2 cores must work well.
 *
 * Messages embed a struct cds_wfcq_node and are recovered with caa_container_of().
 * A node belongs to the inbox from push until it is popped; the producer must not
 * touch it in between. Everything the producer wrote before the push is visible to
 * the consumer after the pop (release/acquire through the queue).
 *
 * Synchronization table ("X": must not run concurrently, "-": may)
 *
 *              push  pop   wait  destroy
 *     push      -     -     -     X
 *     pop       -     X     X     X
 *     wait      -     X     X     X
 *     destroy   X     X     X     X
 *
 *   push     irs__inbox_push                                       any thread
 *   pop      irs__inbox_pop_nonblocking                            the owner only
 *   wait     irs__inbox_pop_blocking                               the owner only
 *   destroy  irs__inbox_destroy                                    after all pushes
 */
#ifndef IRS_SHARD_INBOX_H
#define IRS_SHARD_INBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/compiler.h> /* caa_container_of */
#include <urcu/wfcqueue.h>

#define IRS_CACHELINE 64

/*
 * Padded so that the consumer's head, the producers' tail and the futex word sit on
 * different cache lines whatever the alignment of the enclosing allocation.
 */
typedef struct irs_inbox {
	struct __cds_wfcq_head head;  /* written by the owner only */
	char pad0[IRS_CACHELINE];
	struct cds_wfcq_tail tail;    /* exchanged by producers */
	char pad1[IRS_CACHELINE];
	_Atomic int32_t futex;        /* 0 = owner awake, -1 = owner may be asleep */
	char pad2[IRS_CACHELINE];
} irs_inbox;

/* Initializes an empty inbox. Pair with irs__inbox_destroy(). Thread: before use. */
void irs__inbox_init(irs_inbox *ib);

/*
 * Destroys an inbox. Nodes still in it are not touched (pop them first if they own
 * memory). Thread: once no thread pushes or pops.
 */
void irs__inbox_destroy(irs_inbox *ib);

/*
 * Appends node (which the call initializes) and wakes the owner if it may be asleep.
 * Wait-free apart from the rare wake-up syscall. Issues a full memory barrier.
 * Thread: any.
 */
void irs__inbox_push(irs_inbox *ib, struct cds_wfcq_node *node);

/*
 * The oldest node, or NULL when the inbox is empty. "Oldest" is per producer: nodes
 * pushed by one thread come out in push order; pushes from different threads are
 * ordered by their enqueue linearization. When a producer is between the two steps
 * of its enqueue, the call waits for it to finish (spin, then yield): that is
 * bounded by the producer's progress, never by an empty queue. Thread: owner.
 */
struct cds_wfcq_node *irs__inbox_pop_nonblocking(irs_inbox *ib);

/*
 * The oldest node, sleeping on the futex while the inbox is empty (after a short
 * bounded spin). timeout_ns 0 waits for ever; otherwise NULL once timeout_ns have
 * passed (tests bound their waits with it, so a lost wake-up fails instead of
 * hanging). Thread: owner.
 */
struct cds_wfcq_node *irs__inbox_pop_blocking(irs_inbox *ib, uint64_t timeout_ns);

#endif
