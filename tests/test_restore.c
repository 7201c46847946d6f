/*
 * test_restore.c: the restore engine against a straightforward reference
 * (restore_chains.c).
 *
 * DIFFERENTIAL: random chains from fixed seeds (random schemas with every type, NULLs,
 * composite keys, partial upserts, erases, re-inserts, empty backups, several fulls)
 * are written with the backup writer and, independently, applied into SQLite with
 * plain SQL. The engine then restores every chain with 1, 2, 3, 7 and 64 shards, and
 * at every barrier each table must equal the oracle's snapshot of that backup row for
 * row, column for column.
 *
 * ATOMICITY: a damaged frame in incremental i must leave every table exactly equal to
 * the snapshot of backup i-1, with irs_restore_through() = i-1; a damaged full backup
 * leaves empty tables. Failures injected through the test-only fault hooks are in
 * test_restore_faults.c.
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
#include "restore_chains.h"
#include "test_util.h"

static void test_differential(void **state)
{
	(void)state;
	static const uint32_t shard_counts[] = {1, 2, 3, 7, 64};
	uint32_t chains = chain_quick() ? 25 : 120;
	for (uint32_t seed = 1; seed <= chains; seed++) {
		chain ch;
		chain_make(&ch, seed);
		for (size_t i = 0; i < sizeof shard_counts / sizeof shard_counts[0]; i++) {
			/* 64 shards on every 4th chain keeps the run time reasonable */
			if (shard_counts[i] == 64 && seed % 4)
				continue;
			chain_restore_and_check(&ch, shard_counts[i], ch.nbackups - 1);
		}
		/* every earlier target too, with 2 shards */
		for (uint32_t upto = 0; upto + 1 < ch.nbackups; upto++)
			chain_restore_and_check(&ch, 2, upto);
		chain_free(&ch);
	}
}

/* ------------------------------------------------------------------ atomicity */

static void test_atomicity_corrupt_frame(void **state)
{
	(void)state;
	int tested = 0;
	for (uint32_t seed = 300; seed < 330; seed++) {
		chain ch;
		chain_make(&ch, seed);
		irs_collection *c;
		irs_error err;
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		int32_t fb = chain_pick_incremental(c);
		if (fb > 0 && (uint32_t)fb > c->backups[c->nbackups - 1].base) {
			chain_damage_frame(c, (uint32_t)fb);
			chain_check_failed_state(&ch, c, 3, fb, IRS_ECORRUPT, "corrupt frame");
			tested++;
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 5);
}

/* A full backup that fails leaves empty tables. */
static void test_full_failure_leaves_empty(void **state)
{
	(void)state;
	chain ch;
	chain_make(&ch, 7);
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
	uint32_t base = c->backups[c->nbackups - 1].base;
	if (c->backups[base].records == 0) {
		irs_collection_close(c);
		chain_free(&ch);
		skip();
	}
	chain_damage_frame(c, base);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 4;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c, &o, NULL, &r, &err), IRS_ECORRUPT);
	assert_non_null(strstr(err.message, "the tables are empty"));
	assert_int_equal(irs_restore_through(r), -1);
	for (uint32_t t = 0; t < c->ntables; t++)
		assert_int_equal(irs_restore_row_count(r, t), 0);
	irs_restore_free(r);
	irs_collection_close(c);
	chain_free(&ch);
}

/* Cancellation before the first backup: nothing restored, ECANCELED. */
static void test_cancel(void **state)
{
	(void)state;
	chain ch;
	chain_make(&ch, 11);
	irs_collection *c;
	irs_error err;
	assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
	volatile int cancel = 1;
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 2;
	o.cancel = &cancel;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c, &o, NULL, &r, &err), IRS_ECANCELED);
	assert_int_equal(irs_restore_through(r), -1);
	irs_restore_free(r);
	irs_collection_close(c);
	chain_free(&ch);
}

/* Watchdog: a hang (a lost wakeup, a deadlock) fails the run instead of stalling it. */
static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_restore: watchdog expired (hang)\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(900);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_atomicity_corrupt_frame),
		cmocka_unit_test(test_full_failure_leaves_empty),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
