/*
 * test_restore_faults.c: failures injected into a restore through the test-only fault
 * hooks (shard/fault.h), checked against the SQLite oracle of restore_chains.c.
 * Registered only when the hooks are compiled in (IRS_FAULT_INJECTION).
 *
 * ATOMICITY: a shard failing while it stages incremental i (at the end, or after its
 * n-th frame) and an I/O error reading a frame of incremental i must leave every table
 * exactly equal to the snapshot of backup i-1, with irs_restore_through() = i-1.
 *
 * STRESS: 64 shards on 2 cores, runs of one record, random yields in the hot paths; a
 * shard much slower than the others.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/restore.h"
#include "shard/fault.h"
#include "restore_chains.h"
#include "test_util.h"

static void test_atomicity_shard_failure(void **state)
{
	(void)state;
	int tested = 0;
	for (uint32_t seed = 200; seed < 240; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = chain_pick_incremental(c);
		if (fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base) {
			for (uint32_t shards = 1; shards <= 7; shards += 3) {
				irs__fault_reset();
				irs__fault.fail_backup = fb;
				irs__fault.fail_shard = (uint32_t)(seed % shards);
				chain_check_failed_state(&ch, c, shards, fb, IRS_ESHARD, "injected shard failure");
				char mid[128];
				snprintf(mid, sizeof mid, "shard %u: injected failure in backup %d", seed % shards, fb);
				chain_check_message(c, fb, chain_last_message(), mid, true, "injected shard failure");
				tested++;
			}
			irs__fault_reset();
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 10);
}

/* A shard error at a chosen (backup, decoder, frame): IRS_ESHARD and tables at i-1, or
 * success when that decoder decoded fewer frames than the chosen one. The decoders:
 * one shard alone; 1-3 shards; one shard and the coordinator, which fails. */
static void test_atomicity_shard_failure_at_frame(void **state)
{
	(void)state;
	int failed = 0, coordinator_failed = 0;
	for (uint32_t seed = 700; seed < 720; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = chain_pick_incremental(c);
		uint64_t frames = 0;
		for (uint32_t t = 0; fb > 0 && t < c->ntables; t++) {
			const Increstore__TableBackup *tb = irs__backup_table(&c->backups[fb], t);
			for (size_t k = 0; tb && k < tb->n_segments; k++)
				frames += tb->segments[k]->frames;
		}
		/* one shard decoding alone decodes every frame, so it fails exactly when the
		 * backup has that many; with other decoders it may decode fewer and the
		 * restore succeed */
		bool applies = fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base;
		for (int pass = 0; applies && pass < 3; pass++) {
			uint32_t shards = pass == 1 ? 1 + seed % 3 : 1;
			if (pass == 1 && shards == 1)
				continue;
			bool must_fail = pass == 0 && frames >= 1 + seed % 2;
			uint32_t failing = pass == 2 ? 1 : 0; /* pass 2: the coordinator's decoder */
			irs__fault_reset();
			irs__fault.fail_backup = fb;
			irs__fault.fail_shard = failing;
			irs__fault.fail_frame = 1 + seed % 2;
			irs_restore_options o;
			irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
			o.shards = shards;
			o.coordinator_decodes = pass == 0 ? -1 : pass == 2 ? 1 : 0;
			irs_restore *r = NULL;
			int rc = irs_restore_run(c, &o, NULL, &r, &err);
			irs__fault_reset();
			char why[600];
			if (rc == 0) {
				if (must_fail)
					fail_msg("seed %u: one shard decoded all %llu frames, but no failure", seed,
						 (unsigned long long)frames);
				assert_int_equal(irs_restore_through(r), (int64_t)c->nbackups - 1);
				if (chain_compare(&ch, r, c->nbackups - 1, why, sizeof why))
					fail_msg("%s", why);
			} else {
				assert_int_equal(rc, IRS_ESHARD);
				assert_int_equal(irs_restore_through(r), fb - 1);
				char mid[128];
				snprintf(mid, sizeof mid, "shard %u: injected failure after frame %u of backup %d",
					 failing, 1 + seed % 2, fb);
				chain_check_message(c, fb, err.message, mid, true, "injected failure after a frame");
				if (chain_compare(&ch, r, (uint32_t)fb - 1, why, sizeof why))
					fail_msg("%s", why);
				failed++;
				coordinator_failed += pass == 2;
			}
			irs_restore_free(r);
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	print_message("  %d restores failed, %d of them in the coordinator's decoding\n", failed,
		      coordinator_failed);
	assert_true(failed >= 3);
}

/* An I/O error reading a frame of incremental i: IRS_EIO, tables at i-1. */
static void test_atomicity_read_error(void **state)
{
	(void)state;
	int tested = 0;
	for (uint32_t seed = 400; seed < 420; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = chain_pick_incremental(c);
		if (fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base) {
			irs__fault_reset();
			irs__fault.eio_backup = fb;
			irs__fault.eio_frame = 0;
			chain_check_failed_state(&ch, c, 1 + seed % 4, fb, IRS_EIO, "injected read error");
			irs__fault_reset();
			char mid[400];
			snprintf(mid, sizeof mid, "segment %s: frame 0 at byte 16: read failed: injected I/O error",
				 chain_first_segment(c, (uint32_t)fb));
			chain_check_message(c, fb, chain_last_message(), mid, true, "injected read error");
			tested++;
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 5);
}

/* An incremental read twice whose second read fails (its file changed, or the
 * device failed): the restore says the tables are partly applied and that no backup
 * is complete, instead of claiming the state before it. */
static void test_read_twice_second_pass_fails(void **state)
{
	(void)state;
	int tested = 0;
	for (uint32_t seed = 430; seed < 450 && tested < 4; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = chain_pick_incremental(c);
		if (fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base && c->backups[fb].records) {
			irs__fault_reset();
			irs__fault.eio_backup = fb;
			irs__fault.eio_frame = 0;
			irs__fault.eio_pass = 1;
			irs_restore_options o;
			irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
			o.shards = 2;
			o.staging_budget = 1;
			irs_restore *r = NULL;
			int rc = irs_restore_run(c, &o, NULL, &r, &err);
			irs__fault_reset();
			assert_int_equal(rc, IRS_EIO);
			char want[128];
			snprintf(want, sizeof want, "backup b%02d: read twice, and its second read failed", fb);
			if (!strstr(err.message, want) || !strstr(err.message, "injected I/O error") ||
			    !strstr(err.message, "; the tables are partly applied: restore again"))
				fail_msg("message: %s", err.message);
			assert_int_equal(irs_restore_through(r), -1);
			irs_restore_free(r);
			tested++;
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 2);
}

/* One shard much slower than the others: the barrier waits for it, nothing else. */
static void test_slow_shard(void **state)
{
	(void)state;
	for (uint32_t seed = 600; seed < 606; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs__fault_reset();
		irs__fault.slow_shard = seed % 3;
		irs__fault.slow_us = 2000;
		irs__fault.run_bytes = 256;
		irs__fault.huge_run_slabs = seed & 1; /* thousands of runs in a slab */
		chain_restore_and_check(&ch, 3, ch.nbackups - 1);
		irs__fault_reset();
		chain_free(&ch);
	}
}

/* Different keys that share a hash in the duplicate-key check (only 4 bits of each
 * hash kept, so nearly every record is a suspect): the exact check at END tells them
 * apart, staged in memory (2 shards) and read twice (3 shards), and every barrier
 * equals the oracle. A real duplicate among them is still found and named
 * (test_format.c: restore_refuses_dup runs under the same narrowed hash). */
static void test_shared_hashes_are_not_duplicates(void **state)
{
	(void)state;
	for (uint32_t seed = 700; seed < 704; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs__fault_reset();
		irs__fault.stage_hash_bits = 0xF;
		chain_restore_and_check(&ch, 2, ch.nbackups - 1);
		chain_restore_and_check(&ch, 3, ch.nbackups - 1);
		irs__fault_reset();
		chain_free(&ch);
	}
}

/* ------------------------------------------------------------------ stress */

static void test_stress_many_shards(void **state)
{
	(void)state;
	uint32_t rounds = chain_quick() ? 3 : 12;
	for (uint32_t seed = 500; seed < 500 + rounds; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs__fault_reset();
		irs__fault.run_bytes = 1; /* one record per run: the most queue traffic */
		irs__fault.yield_every = 7;
		chain_restore_and_check(&ch, 64, ch.nbackups - 1);
		chain_restore_and_check(&ch, 33, ch.nbackups - 1);
		irs__fault_reset();
		chain_free(&ch);
	}
}

/* Watchdog: a hang (a lost wakeup, a deadlock) fails the run instead of stalling it. */
static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_restore_faults: watchdog expired (hang)\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(900);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomicity_shard_failure),
		cmocka_unit_test(test_atomicity_read_error),
		cmocka_unit_test(test_atomicity_shard_failure_at_frame),
		cmocka_unit_test(test_read_twice_second_pass_fails),
		cmocka_unit_test(test_slow_shard),
		cmocka_unit_test(test_shared_hashes_are_not_duplicates),
		cmocka_unit_test(test_stress_many_shards),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
