/*
 * restore_chains.h: random backup chains checked against a SQLite oracle, for the
 * restore tests. Helpers assert with cmocka, so call them on the test's main thread
 * (on_barrier-style callbacks record and return instead).
 */
#ifndef IRS_TEST_RESTORE_CHAINS_H
#define IRS_TEST_RESTORE_CHAINS_H

#include <stdbool.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"
#include "format/collection.h"

#define MAX_T 3
#define MAX_C 9
#define MAX_B 12

typedef struct gen_table {
	irs_table_def def;
	irs_column_def cols[MAX_C];
	uint32_t pk[3];
	char name[16];
	char colnames[MAX_C][16];
} gen_table;

typedef struct chain {
	char dir[256];
	uint32_t ntables;
	gen_table t[MAX_T];
	uint32_t nbackups;
	sqlite3 *db;            /* oracle with snapshot tables s<b>_<t> */
	uint64_t rng;
	uint32_t keyspace;
	bool expected;          /* backups record the oracle's rows and digest as expected states */
	char strbuf[MAX_C][48]; /* storage for generated string values of one change */
} chain;

/*
 * Creates a collection in a fresh temporary directory from `seed`: 1..3 tables of
 * random schemas (every type, composite keys in an order other than the schema's),
 * 2..12 backups (fulls and incrementals, some empty) of random changes to a small key
 * space, and the oracle with a snapshot after every backup. Two seeds in three record
 * expected states in the manifest. Free with chain_free().
 */
void chain_make(chain *ch, uint64_t seed);
/* Closes the oracle and removes the temporary directory. */
void chain_free(chain *ch);

/* Compares every table of r with the oracle's snapshot after backup `snap`; 0 when
 * identical, else 1 with the first difference in why. Calls no cmocka assert. */
int chain_compare(chain *ch, irs_restore *r, uint32_t snap, char *why, size_t whycap);

/* Restores the chain up to backup `upto` with `shards` shards and compares every
 * barrier with the oracle (asserts). The shard count also picks the read-twice mode
 * (3) and whether the coordinator decodes (2, 3: yes; 7: no; else the default). */
void chain_restore_and_check(chain *ch, uint32_t shards, uint32_t upto);

/* The chain's first non-empty incremental after position 1 (so i-1 exists), or -1. */
int32_t chain_pick_incremental(const irs_collection *c);

/* Restores all of c with `shards` shards, expecting want_rc from a failure in backup
 * fb: through = fb - 1, the message says so, and the tables equal backup fb - 1. */
void chain_check_failed_state(chain *ch, irs_collection *c, uint32_t shards, int32_t fb,
			      int want_rc, const char *what);

/* Flips one payload byte in the first frame of the first segment of backup fb;
 * returns that segment's path. */
const char *chain_damage_frame(const irs_collection *c, uint32_t fb);

/* The path of the first segment of backup fb (tables in order): the first the plan
 * indexes. */
const char *chain_first_segment(const irs_collection *c, uint32_t fb);

/*
 * The message docs/reliability.md promises for a failure in backup fb: it starts with
 * "backup <fb>: " and then `mid` (may be ""), and ends with where the tables are. With
 * exact, it is exactly "backup <fb>: <mid>; the tables are as restored through backup
 * <fb-1>". Asserts.
 */
void chain_check_message(const irs_collection *c, int32_t fb, const char *msg, const char *mid,
			 bool exact, const char *what);

/* The message of the last chain_check_failed_state. */
const char *chain_last_message(void);

/* Changes to a key already changed in the same incremental, over every chain made:
 * the writer collapses them in order while the oracle applies each one. */
extern uint64_t chain_repeated_changes;

/* True with IRS_TEST_QUICK=1 (the sanitizer builds): fewer rounds. */
int chain_quick(void);

#endif
