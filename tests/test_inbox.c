/*
 * test_inbox.c: the shard inbox (MPSC wfcqueue + futex sleep) and the countdown
 * barrier, with far more threads than cores.
 *
 * cmocka asserts only on the main thread: worker threads record what they saw and
 * the main thread checks it after joining them.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/futex.h"
#include "shard/countdown.h"
#include "shard/inbox.h"
#include "test_util.h"

#define SECOND 1000000000ull

typedef struct msg {
	struct cds_wfcq_node node;
	uint32_t producer;
	uint32_t seq;
	uint32_t round;
} msg;

static msg *msg_of(struct cds_wfcq_node *n)
{
	return caa_container_of(n, msg, node);
}

static void nap(uint64_t *rs)
{
	uint64_t r = tu_rand(rs) % 64;
	if (r == 0) {
		struct timespec ts = {0, 20000}; /* 20 us: the consumer goes to sleep */
		nanosleep(&ts, NULL);
	} else if (r < 4) {
		sched_yield();
	}
}

/* ------------------------------------------------------------------ MPSC order */

typedef struct prod_arg {
	irs_inbox *ib;
	msg *msgs;
	uint32_t id, n;
} prod_arg;

static void *producer(void *arg)
{
	prod_arg *a = arg;
	uint64_t rs = a->id + 1;
	for (uint32_t i = 0; i < a->n; i++) {
		msg *m = &a->msgs[i];
		m->producer = a->id;
		m->seq = i;
		irs__inbox_push(a->ib, &m->node);
		nap(&rs);
	}
	return NULL;
}

/* Every message arrives exactly once and in per-producer FIFO order. */
static void run_mpsc(uint32_t nprod, uint32_t per, int mode)
{
	irs_inbox ib;
	irs__inbox_init(&ib);
	pthread_t *th = calloc(nprod, sizeof *th);
	prod_arg *args = calloc(nprod, sizeof *args);
	msg *msgs = calloc((size_t)nprod * per, sizeof *msgs);
	uint32_t *next = calloc(nprod, sizeof *next);
	assert_true(th && args && msgs && next);
	for (uint32_t p = 0; p < nprod; p++) {
		args[p] = (prod_arg){&ib, msgs + (size_t)p * per, p, per};
		assert_int_equal(pthread_create(&th[p], NULL, producer, &args[p]), 0);
	}
	uint64_t total = (uint64_t)nprod * per, got = 0;
	while (got < total) {
		struct cds_wfcq_node *n;
		if (mode == 0) {
			n = irs__inbox_pop_blocking(&ib, 10 * SECOND);
			assert_non_null(n); /* a lost wake-up would stall here */
		} else if (mode == 1) {
			n = irs__inbox_pop_blocking(&ib, 0);
		} else {
			n = irs__inbox_pop_nonblocking(&ib);
			if (!n) {
				sched_yield();
				continue;
			}
		}
		msg *m = msg_of(n);
		assert_true(m->producer < nprod);
		if (m->seq != next[m->producer])
			fail_msg("producer %u: got seq %u, expected %u", m->producer, m->seq,
				 next[m->producer]);
		next[m->producer]++;
		got++;
	}
	for (uint32_t p = 0; p < nprod; p++) {
		pthread_join(th[p], NULL);
		assert_int_equal(next[p], per);
	}
		assert_null(irs__inbox_pop_nonblocking(&ib));
	irs__inbox_destroy(&ib);
	free(th);
	free(args);
	free(msgs);
	free(next);
}

static void test_mpsc_timed(void **state)
{
	(void)state;
	run_mpsc(16, 4000, 0);
}

static void test_mpsc_64_blocking(void **state)
{
	(void)state;
	run_mpsc(64, 1000, 1);
}

static void test_mpsc_nonblocking(void **state)
{
	(void)state;
	run_mpsc(8, 5000, 2);
}

/* ------------------------------------------------------------------ ping-pong */

typedef struct pp_arg {
	irs_inbox *in, *out;
	uint32_t rounds;
	uint32_t bad; /* messages out of order, checked by main */
} pp_arg;

static void *ponger(void *arg)
{
	pp_arg *a = arg;
	for (uint32_t i = 0; i < a->rounds; i++) {
		msg *m = msg_of(irs__inbox_pop_blocking(a->in, 0));
		if (m->seq != i)
			a->bad++;
		irs__inbox_push(a->out, &m->node);
	}
	return NULL;
}

/* One message bouncing between two threads: each side sleeps on every round. */
static void test_pingpong(void **state)
{
	(void)state;
	irs_inbox a, b;
	irs__inbox_init(&a);
	irs__inbox_init(&b);
	pp_arg arg = {&a, &b, 5000, 0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, ponger, &arg), 0);
	msg m;
	for (uint32_t i = 0; i < arg.rounds; i++) {
		m.seq = i;
		irs__inbox_push(&a, &m.node);
		struct cds_wfcq_node *n = irs__inbox_pop_blocking(&b, 10 * SECOND);
		assert_ptr_equal(n, &m.node);
	}
	pthread_join(th, NULL);
	assert_int_equal(arg.bad, 0);
	irs__inbox_destroy(&a);
	irs__inbox_destroy(&b);
}

static void test_timeouts(void **state)
{
	(void)state;
	irs_inbox ib;
	irs__inbox_init(&ib);
	uint64_t t0 = irs__now_ns();
	assert_null(irs__inbox_pop_blocking(&ib, 20000000)); /* 20 ms */
	assert_true(irs__now_ns() - t0 >= 20000000);
	msg m[3];
	for (int i = 0; i < 3; i++) {
		m[i].seq = (uint32_t)i;
		irs__inbox_push(&ib, &m[i].node);
	}
	assert_ptr_equal(irs__inbox_pop_blocking(&ib, 1), &m[0].node);
	irs__inbox_destroy(&ib);

	irs_countdown c;
	irs__countdown_init(&c);
	irs__countdown_wait(&c); /* unarmed: returns at once */
	irs__countdown_arm(&c, 2);
	t0 = irs__now_ns();
	assert_false(irs__countdown_wait_for(&c, 20000000));
	assert_true(irs__now_ns() - t0 >= 20000000);
	assert_int_equal(atomic_load(&c.left), 2);
	assert_false(irs__countdown_done(&c));
	assert_true(irs__countdown_done(&c));
	assert_true(irs__countdown_wait_for(&c, 1));
}

/* A burst pops in push order and leaves the inbox empty. */
static void test_burst(void **state)
{
	(void)state;
	irs_inbox ib;
	irs__inbox_init(&ib);
	msg m[100];
	for (uint32_t i = 0; i < 100; i++) {
		m[i].seq = i;
		irs__inbox_push(&ib, &m[i].node);
	}
	for (uint32_t i = 0; i < 100; i++) {
		struct cds_wfcq_node *n = irs__inbox_pop_nonblocking(&ib);
		assert_non_null(n);
		assert_int_equal(msg_of(n)->seq, i);
	}
	assert_null(irs__inbox_pop_nonblocking(&ib));
	irs__inbox_destroy(&ib);
}

/* ------------------------------------------------------------------ barrier rounds */

#define NSHARDS 64
#define ROUNDS 300

/*
 * The engine's shape: NSHARDS shard threads, each sleeping on its inbox. Each round
 * the coordinator (main) arms the countdown and pushes one work message per shard;
 * each shard "applies" it (writes its slot of the round), calls done and records
 * whether it saw the last call; main waits on the countdown, then checks that every
 * shard's write is visible (the barrier orders it), and finally that exactly one
 * shard per round saw done.
 */
typedef struct shard {
	irs_inbox ib;
	pthread_t th;
	uint32_t id;
	irs_countdown *cd;
	uint32_t *applied;   /* [ROUNDS * NSHARDS]: written by the shard, read by main */
	uint8_t *was_last;   /* [ROUNDS * NSHARDS] */
} shard;

static void *shard_main(void *arg)
{
	shard *s = arg;
	uint64_t rs = s->id * 7 + 3;
	for (;;) {
		msg *m = msg_of(irs__inbox_pop_blocking(&s->ib, 0));
		if (m->round == UINT32_MAX)
			return NULL;
		s->applied[m->round * NSHARDS + s->id] = m->seq;
		nap(&rs);
		s->was_last[m->round * NSHARDS + s->id] = irs__countdown_done(s->cd);
	}
}

static void test_barrier_rounds(void **state)
{
	(void)state;
	irs_countdown cd;
	irs__countdown_init(&cd);
	shard *sh = calloc(NSHARDS, sizeof *sh);
	msg *work = calloc((size_t)NSHARDS * (ROUNDS + 1), sizeof *work);
	uint32_t *applied = calloc((size_t)ROUNDS * NSHARDS, sizeof *applied);
	uint8_t *was_last = calloc((size_t)ROUNDS * NSHARDS, 1);
	assert_true(sh && work && applied && was_last);
	for (uint32_t i = 0; i < NSHARDS; i++) {
		irs__inbox_init(&sh[i].ib);
		sh[i].id = i;
		sh[i].cd = &cd;
		sh[i].applied = applied;
		sh[i].was_last = was_last;
		assert_int_equal(pthread_create(&sh[i].th, NULL, shard_main, &sh[i]), 0);
	}
	for (uint32_t r = 0; r < ROUNDS; r++) {
		irs__countdown_arm(&cd, NSHARDS);
		for (uint32_t i = 0; i < NSHARDS; i++) {
			msg *m = &work[(size_t)r * NSHARDS + i];
			m->round = r;
			m->seq = r * 1000 + i + 1;
			irs__inbox_push(&sh[i].ib, &m->node);
		}
		if (r % 2)
			irs__countdown_wait(&cd);
		else
			while (!irs__countdown_wait_for(&cd, SECOND / 10))
				;
		assert_int_equal(atomic_load(&cd.left), 0);
		for (uint32_t i = 0; i < NSHARDS; i++)
			assert_int_equal(applied[r * NSHARDS + i], r * 1000 + i + 1);
	}
	for (uint32_t i = 0; i < NSHARDS; i++) {
		msg *m = &work[(size_t)ROUNDS * NSHARDS + i];
		m->round = UINT32_MAX;
		irs__inbox_push(&sh[i].ib, &m->node);
	}
	for (uint32_t i = 0; i < NSHARDS; i++) {
		pthread_join(sh[i].th, NULL);
		irs__inbox_destroy(&sh[i].ib);
	}
	for (uint32_t r = 0; r < ROUNDS; r++) {
		int lasts = 0;
		for (uint32_t i = 0; i < NSHARDS; i++)
			lasts += was_last[r * NSHARDS + i];
		if (lasts != 1)
			fail_msg("round %u: %d callers saw done", r, lasts);
	}
	free(sh);
	free(work);
	free(applied);
	free(was_last);
}

/* Bare countdown: 64 threads released together by a generation futex, many rounds. */
typedef struct cd_arg {
	irs_countdown *cd;
	_Atomic int32_t *gen;
	uint32_t id;
	uint8_t *was_last; /* [ROUNDS] per thread */
} cd_arg;

static void *cd_worker(void *arg)
{
	cd_arg *a = arg;
	for (int32_t r = 0; r < ROUNDS; r++) {
		while (atomic_load_explicit(a->gen, memory_order_acquire) <= r)
			irs__futex_wait(a->gen, r, 0);
		a->was_last[r] = irs__countdown_done(a->cd);
	}
	return NULL;
}

static void test_countdown_64(void **state)
{
	(void)state;
	irs_countdown cd;
	irs__countdown_init(&cd);
	_Atomic int32_t gen;
	atomic_init(&gen, 0);
	pthread_t th[NSHARDS];
	cd_arg args[NSHARDS];
	uint8_t *was_last = calloc((size_t)NSHARDS * ROUNDS, 1);
	assert_non_null(was_last);
	for (uint32_t i = 0; i < NSHARDS; i++) {
		args[i] = (cd_arg){&cd, &gen, i, was_last + (size_t)i * ROUNDS};
		assert_int_equal(pthread_create(&th[i], NULL, cd_worker, &args[i]), 0);
	}
	for (int32_t r = 0; r < ROUNDS; r++) {
		irs__countdown_arm(&cd, NSHARDS);
		atomic_store_explicit(&gen, r + 1, memory_order_release);
		irs__futex_wake(&gen, NSHARDS);
		irs__countdown_wait(&cd);
	}
	for (uint32_t i = 0; i < NSHARDS; i++)
		pthread_join(th[i], NULL);
	for (int32_t r = 0; r < ROUNDS; r++) {
		int lasts = 0;
		for (uint32_t i = 0; i < NSHARDS; i++)
			lasts += was_last[(size_t)i * ROUNDS + (size_t)r];
		if (lasts != 1)
			fail_msg("round %d: %d callers saw done", r, lasts);
	}
	free(was_last);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mpsc_timed),
		cmocka_unit_test(test_mpsc_64_blocking),
		cmocka_unit_test(test_mpsc_nonblocking),
		cmocka_unit_test(test_pingpong),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_barrier_rounds),
		cmocka_unit_test(test_countdown_64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
