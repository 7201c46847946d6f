/*
 * gen_model.h (private to the CLI): the expected-state model of `increstore gen`:
 * which rows exist, what they hold and the digest of every table, kept in about 4
 * bytes per key without storing a row (gen_model.c explains how). cmd_gen.c drives
 * it: each operation below updates the model and returns the change to write.
 *
 * OWNERSHIP: the values an operation returns point into the table's scratch row and
 * string buffers; they are valid until the next operation on that table.
 * Thread: one thread owns an irs_gen and its tables.
 */
#ifndef IRS_CLI_GEN_MODEL_H
#define IRS_CLI_GEN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen_random.h"
#include "increstore.h"

enum { IRS_GEN_KEYS_UNIFORM, IRS_GEN_KEYS_SEQUENTIAL, IRS_GEN_KEYS_ZIPF };

/* The flags of `gen` (cmd_gen.c parses them; the usage text describes them). */
typedef struct irs_gen_opts {
	uint64_t rows, incs, changes, seed;
	double mix[3];            /* updates, inserts, erases: normalised to sum 1 */
	bool mix_set[3];
	double partial, nulls, reinserts, noop_erases, theta;
	uint64_t partial_cols;
	int keys;                 /* IRS_GEN_KEYS_* */
	uint64_t value_bytes;
	bool value_bytes_set;
	uint64_t columns;
	bool columns_set;
	const char *types;
	const char *schema;
	uint64_t tables;
	bool tables_set;
	uint64_t fulls, empty_every;
	uint64_t batch_rows, writer_memory;
	bool quiet;
} irs_gen_opts;

/* The model of one table. */
typedef struct irs_gen_table {
	const irs_table_def *def;
	uint32_t ncols, nv;       /* columns; value columns */
	uint32_t *vcols;          /* column index of each value column */
	int *vidx;                /* per column: value index, or -1 for key columns */
	uint32_t carrier;         /* key column that carries the id */
	uint64_t rows0;           /* rows of the first full backup */
	uint64_t cap;             /* ids that can ever exist */
	/* state */
	uint32_t *ver;            /* per id: version (write events) */
	uint64_t *live, *touched; /* bitmaps over ids */
	uint64_t next_id;         /* ids [0, next_id) were created at some point */
	uint64_t live_count, dead_count;
	uint64_t live_avail, dead_avail; /* untouched in the current backup */
	uint64_t digest;          /* the table's content digest (sum of row digests) */
	uint64_t seq_cursor, seq_cursor_dead;
	/* hashing salts */
	uint64_t kind_salt, key_salt;
	uint64_t *col_salt;       /* per value column */
	irs_gen_zipf zipf;        /* over [0, next_id) */
	/* scratch */
	irs_value *row, *chg;     /* one per column */
	uint8_t **buf;            /* per column: string storage */
	uint32_t *stamp;          /* per value column: resolved version */
	uint32_t *sel;            /* columns of one partial event */
	uint8_t *mark;            /* per value column: chosen (subset sampling) */
	irs_gen_rng rng;          /* this backup's stream: operations and ids */
	/* totals */
	uint64_t changes_written;
} irs_gen_table;

/* The model of every table, and the probabilities of the flags as thresholds. */
typedef struct irs_gen {
	irs_gen_opts o;
	uint32_t ntables;
	irs_gen_table *t;
	uint64_t part_thr, null_thr, reins_thr, noop_thr; /* irs_gen_threshold of the flags */
	size_t str_cap;           /* bytes of each value string buffer */
} irs_gen;

/* Bytes a generated string of typical length L may take ([L - L/4, L + L/4]). */
size_t irs_gen_str_max(uint64_t L);

/*
 * Sets up g->t[ti] for table def: schema facts, salts, state arrays sized for the
 * worst case (g->o, g->ntables and g->str_cap must be set). Returns 0, or prints the
 * error and returns its exit code. Pair with irs_gen_table_free (also after a failure).
 */
int irs_gen_table_init(irs_gen *g, uint32_t ti, const irs_table_def *def);
void irs_gen_table_free(irs_gen_table *T);

/* The first full backup: ids [0, rows0) become live at version 0. */
void irs_gen_first_full(irs_gen_table *T);

/* T->row := the row of id when it is live, and returns it; NULL when it is not. */
const irs_value *irs_gen_live_row(const irs_gen *g, irs_gen_table *T, uint64_t id);

/* The content digest of T->row (common/digest.h). */
uint64_t irs_gen_row_digest(const irs_gen_table *T);

/* Starts the changes of T in an incremental backup: seeds T->rng with seed and
 * forgets which ids the previous backup touched. */
void irs_gen_backup_begin(const irs_gen *g, irs_gen_table *T, uint64_t seed);

/*
 * The operations (gen_model.c, "The operations"). Each picks an untouched id of the
 * right kind (the caller checks T->live_avail / T->dead_avail first), updates the
 * state and the digest, and returns the change's values: one per column, ABSENT
 * where the change does not list a column. update, insert_fresh and reinsert are
 * UPSERTs; erase returns the key of an ERASE (noop: of an erased id).
 */
const irs_value *irs_gen_update(const irs_gen *g, irs_gen_table *T);
const irs_value *irs_gen_insert_fresh(const irs_gen *g, irs_gen_table *T);
const irs_value *irs_gen_reinsert(const irs_gen *g, irs_gen_table *T);
const irs_value *irs_gen_erase(const irs_gen *g, irs_gen_table *T, bool noop);

#endif
