/*
 * test_restore.c: the restore engine against a straightforward reference
 * (restore_chains.c).
 *
 * DIFFERENTIAL: random chains from fixed seeds (random schemas with every type, NULLs,
 * composite keys, partial upserts, erases, re-inserts, empty backups, several fulls,
 * keys changed up to 3 times within one incremental) are written with the backup
 * writer, which collapses repeated keys (docs/design.md section 1), and, independently,
 * applied change by change into SQLite with plain SQL. The engine then restores every
 * chain with 1, 2, 3, 7 and 64 shards (with 3 every incremental is read twice instead
 * of staged in memory; with 2 and 3 the coordinator decodes too, with 7 it does not),
 * and at every barrier each table must equal the oracle's
 * snapshot of that backup row for row, column for column, and each table's digest
 * (maintained per change when the chain records expected states) a scan by definition.
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
	print_message("  %u chains; %llu changes repeated a key within an incremental\n", chains,
		      (unsigned long long)chain_repeated_changes);
	assert_true(chain_repeated_changes >= chains);
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
			const char *seg = chain_damage_frame(c, (uint32_t)fb);
			chain_check_failed_state(&ch, c, 3, fb, IRS_ECORRUPT, "corrupt frame");
			char mid[400];
			snprintf(mid, sizeof mid, "segment %s: frame 0 at byte 16: CRC32C mismatch (stored ", seg);
			chain_check_message(c, fb, chain_last_message(), mid, false, "corrupt frame");
			tested++;
		}
		irs_collection_close(c);
		chain_free(&ch);
	}
	assert_true(tested >= 5);
}

/* A full backup that fails leaves empty tables, and the message says so. (The first
 * seed whose last full backup holds records; a fixed choice, so the test never skips.) */
static void test_full_failure_leaves_empty(void **state)
{
	(void)state;
	chain ch;
	irs_collection *c = NULL;
	irs_error err;
	uint32_t base = 0;
	for (uint64_t seed = 7; seed < 40 && !c; seed++) {
		chain_make(&ch, seed);
		assert_int_equal(irs_collection_open(ch.dir, NULL, 0, &c, &err), 0);
		base = c->backups[c->nbackups - 1].base;
		if (c->backups[base].records == 0) {
			irs_collection_close(c);
			c = NULL;
			chain_free(&ch);
		}
	}
	assert_non_null(c);
	const char *seg = chain_damage_frame(c, base);
	irs_restore_options o;
	irs_restore_options_init(&o, IRS_RESTORE_OPTIONS_VERSION);
	o.shards = 4;
	irs_restore *r = NULL;
	assert_int_equal(irs_restore_run(c, &o, NULL, &r, &err), IRS_ECORRUPT);
	char head[400];
	snprintf(head, sizeof head, "backup %s: segment %s: frame 0 at byte 16: CRC32C mismatch (stored ",
		 c->backups[base].pb->name, seg);
	const char *tail = "; the tables are empty";
	size_t n = strlen(err.message);
	if (strncmp(err.message, head, strlen(head)) != 0 || n < strlen(tail) ||
	    strcmp(err.message + n - strlen(tail), tail) != 0)
		fail_msg("message \"%s\", want \"%s...%s\"", err.message, head, tail);
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
