/*
 * increstore.h: the public API of libincrestore, and the only public header.
 *
 * increstore restores the tables of a backup collection (full backups, each followed
 * by an ordered chain of incremental backups) into in-memory, hash-partitioned tables,
 * with one coordinator thread and a pool of shard threads. Everything not declared
 * here is private and may change in any release.
 *
 * Conventions
 *   - Every fallible function returns int: 0 on success, a negative IRS_E* code on
 *     failure. When `err` is not NULL it receives the code and a one-line message
 *     naming what failed and where (file, frame, byte offset, key). Passing the error
 *     out (rather than keeping it on a handle or in a thread-local) works before a
 *     handle exists and from any thread.
 *   - Handles are opaque. Destructors accept NULL and return void.
 *   - The library never prints, never exits and never aborts on bad input or on
 *     out-of-memory: it returns IRS_ENOMEM / IRS_ECORRUPT / ... instead.
 *   - "Thread:" at the end of a comment says who may call the function. Unless it
 *     says otherwise, one handle must not be used by two threads at once.
 *   - Option structs (irs_writer_options, irs_restore_options, irs_diff_options)
 *     start with a `version` field naming their layout; later versions only append
 *     fields. Fill one with *_options_init(&o, IRS_*_OPTIONS_VERSION) and then set
 *     fields. The library reads exactly the bytes of the version the struct names,
 *     and gives every field that version lacks its default; *_options_init writes
 *     exactly those bytes too, so a program built against an older header keeps
 *     working with a newer library. A version the library does not know (0, or newer
 *     than the library) makes the call taking the struct fail with IRS_EINVAL, and
 *     *_options_init then sets only the version field.
 */
#ifndef INCRESTORE_H
#define INCRESTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(IRS_STATIC_DEFINE)
#define IRS_API
#elif defined(__GNUC__)
#define IRS_API __attribute__((visibility("default")))
#else
#define IRS_API
#endif

#define IRS_VERSION_MAJOR 0
#define IRS_VERSION_MINOR 1
#define IRS_VERSION_PATCH 0
#define IRS_VERSION_STRING "0.1.0"

/* Returns IRS_VERSION_STRING of the linked library. Thread: any. */
IRS_API const char *irs_version(void);

/* ------------------------------------------------------------------ errors */

/*
 * X(NAME, value, message). Released values never change and are never reused.
 * The CLI maps them to exit codes (docs/cli.md): EINVAL -> 2; ECORRUPT, ECHAIN,
 * ESCHEMA, EINPUT, EDUPKEY, EMISMATCH -> 3; EIO, ENOMEM, ELIMIT, ESHARD -> 4;
 * ECANCELED -> 5.
 */
#define IRS_ERRNO_MAP(X)                                                        \
	X(EINVAL, -1, "invalid argument")                                       \
	X(ENOMEM, -2, "out of memory")                                          \
	X(EIO, -3, "I/O error")                                                 \
	X(ECORRUPT, -4, "corrupt collection data")                              \
	X(ECHAIN, -5, "invalid backup chain")                                   \
	X(ESCHEMA, -6, "schema error")                                          \
	X(EINPUT, -7, "invalid input data")                                     \
	X(EDUPKEY, -8, "duplicate key within one backup")                       \
	X(ECANCELED, -9, "cancelled")                                           \
	X(ELIMIT, -10, "memory limit exceeded")                                 \
	X(ENOTFOUND, -11, "not found")                                          \
	X(EEXIST, -12, "already exists")                                        \
	X(ESHARD, -13, "shard failure")                                         \
	X(EMISMATCH, -14, "restored state differs from the expected state")

typedef enum irs_err {
	IRS_OK = 0,
#define IRS_ERR_ENUM_(name, value, msg) IRS_##name = value,
	IRS_ERRNO_MAP(IRS_ERR_ENUM_)
#undef IRS_ERR_ENUM_
} irs_err;

/* "IRS_ECORRUPT" for IRS_ECORRUPT; "IRS_UNKNOWN" otherwise. Thread: any. */
IRS_API const char *irs_err_name(int code);
/* The generic text of a code ("corrupt collection data"). Thread: any. */
IRS_API const char *irs_strerror(int code);

#define IRS_ERROR_MESSAGE_MAX 512

/* Filled by fallible calls when passed non-NULL. message is NUL-terminated. */
typedef struct irs_error {
	int code;                              /* 0 or an IRS_E* value */
	char message[IRS_ERROR_MESSAGE_MAX];   /* one line, no trailing newline */
} irs_error;

/* ------------------------------------------------------------------ allocator */

/*
 * Every allocation the library makes goes through one of these. NULL everywhere
 * means libc. A NULL return is an out-of-memory failure the library reports as
 * IRS_ENOMEM; it is never fatal. free receives the size that was requested, so
 * sized deallocation (jemalloc's sdallocx) can be used. The functions are called
 * from any thread, concurrently.
 */
typedef struct irs_allocator {
	void *(*malloc)(void *ctx, size_t size);
	void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
	void (*free)(void *ctx, void *ptr, size_t size);
	void *ctx;
} irs_allocator;

/* ------------------------------------------------------------------ schema and values */

typedef enum irs_type {
	IRS_TYPE_BOOL = 1,
	IRS_TYPE_INT32 = 2,
	IRS_TYPE_INT64 = 3,
	IRS_TYPE_UINT32 = 4,
	IRS_TYPE_UINT64 = 5,
	IRS_TYPE_DOUBLE = 6,
	IRS_TYPE_UTF8 = 7,
	IRS_TYPE_BYTES = 8,
	IRS_TYPE_TIMESTAMP = 9 /* int64 microseconds since the Unix epoch */
} irs_type;

/* "uint64" for IRS_TYPE_UINT64, NULL for an unknown value. Thread: any. */
IRS_API const char *irs_type_name(irs_type type);
/* Parses a type name, case-insensitive; YDB's names (Uint32, Utf8, String = bytes,
 * Int64, Bool, Double, Timestamp, ...) are accepted too. 0 on success; IRS_EINVAL for
 * an unknown name or a NULL argument. Thread: any. */
IRS_API int irs_type_parse(const char *name, irs_type *out);

typedef struct irs_column_def {
	const char *name;
	irs_type type;
} irs_column_def;

typedef struct irs_table_def {
	const char *name;
	const irs_column_def *columns;
	uint32_t column_count;
	const uint32_t *primary_key;  /* indexes into columns, in key order */
	uint32_t primary_key_count;   /* at least 1 */
} irs_table_def;

/* A value in a row or a change. */
typedef enum irs_value_state {
	IRS_VALUE_ABSENT = 0,  /* not listed: unchanged by an upsert, NULL in a full row */
	IRS_VALUE_NULL = 1,
	IRS_VALUE_SET = 2
} irs_value_state;

typedef struct irs_value {
	uint8_t state;  /* irs_value_state */
	union {
		int b;        /* bool: 0 or 1 */
		int64_t i64;  /* int32, int64, timestamp */
		uint64_t u64; /* uint32, uint64 */
		double d;
		struct {
			const void *ptr;
			size_t len;
		} s;          /* utf8 (valid UTF-8), bytes */
	} v;
} irs_value;

/* ------------------------------------------------------------------ collections */

typedef struct irs_collection irs_collection;

typedef enum irs_backup_kind {
	IRS_BACKUP_FULL = 1,
	IRS_BACKUP_INCREMENTAL = 2
} irs_backup_kind;

/*
 * Creates an empty collection (no backups) in `dir`, which must not exist or be an
 * empty directory. Table and column names are non-empty UTF-8, unique, at most 255
 * bytes. Crash-safe: a crash leaves no MANIFEST or a complete one.
 * Errors: IRS_EEXIST (a MANIFEST is there), IRS_ESCHEMA, IRS_EINVAL (a NULL dir, or
 * a NULL array with a non-zero count), IRS_EIO, IRS_ENOMEM.
 * Thread: any; not concurrently with other writers of the same directory.
 */
IRS_API int irs_collection_create(const char *dir, const irs_table_def *tables,
				  uint32_t table_count, irs_error *err);

/* Flags for irs_collection_open. */
#define IRS_OPEN_VERIFY_CRC 0x1u  /* also read every segment and check its CRC32C */

/*
 * Opens a collection and validates it before anything can be applied: the manifest's
 * framing and CRC, its schema, the chain (kinds, order, gaps, parents, unique names, a
 * full first), every segment (present, inside the collection, right size; with
 * IRS_OPEN_VERIFY_CRC, right CRC). Frame contents are checked when read.
 * On success *out owns the collection; release it with irs_collection_close().
 * alloc may be NULL (libc); it must outlive the collection.
 * Thread: any. The handle may then be read by several threads at once (it is
 * immutable) except while a writer adds to it.
 */
IRS_API int irs_collection_open(const char *dir, const irs_allocator *alloc,
				unsigned flags, irs_collection **out, irs_error *err);

/* Releases a collection; NULL is a no-op. Thread: the owner, once nothing uses it. */
IRS_API void irs_collection_close(irs_collection *c);

/* Information about the collection. Strings live as long as the collection. */
IRS_API const char *irs_collection_id(const irs_collection *c);
IRS_API uint32_t irs_collection_table_count(const irs_collection *c);
/* Fills *out with table i's definition; pointers live as long as the collection. */
IRS_API int irs_collection_table(const irs_collection *c, uint32_t i, irs_table_def *out);
/* Index of the table named `name`, or -1. */
IRS_API int irs_collection_find_table(const irs_collection *c, const char *name);
IRS_API uint32_t irs_collection_backup_count(const irs_collection *c);

typedef struct irs_backup_info {
	const char *name;
	irs_backup_kind kind;
	uint64_t seq;           /* 1-based position in the chain */
	const char *parent;     /* "" for the first backup */
	int64_t created_us;
	uint32_t base_index;    /* index of the full backup this one builds on (itself for a full) */
	uint64_t records;       /* changes (rows, for a full) in all tables */
	uint64_t bytes;         /* segment bytes in all tables */
	uint32_t segments;
} irs_backup_info;

/* Backup i (0-based chain position). */
IRS_API int irs_collection_backup(const irs_collection *c, uint32_t i, irs_backup_info *out);
/* Index of the backup named `name`, or -1. */
IRS_API int irs_collection_find_backup(const irs_collection *c, const char *name);

typedef struct irs_table_backup_info {
	uint64_t records;
	uint64_t bytes;
	uint32_t segments;
	int has_expected;       /* gen records the expected state after each backup */
	uint64_t expected_rows;
	uint64_t expected_digest;
} irs_table_backup_info;

/* What backup `backup` holds for table `table` (zeros when it holds nothing). */
IRS_API int irs_collection_table_backup(const irs_collection *c, uint32_t backup,
					uint32_t table, irs_table_backup_info *out);

/* Progress of irs_collection_verify_data, called after each segment. */
typedef void (*irs_verify_progress_fn)(void *ctx, uint64_t bytes_done, uint64_t bytes_total);

/*
 * Reads every frame of every segment (or of backups [0, upto] when upto is not
 * UINT32_MAX) and checks framing, CRCs, decoding, types against the schema, record
 * counts against the manifest and that no key occurs twice within one backup and
 * table. The first problem found is returned with its backup, file, frame and byte
 * offset; IRS_EINVAL for an upto past the last backup (other than UINT32_MAX).
 * Thread: any; it does not modify the collection.
 */
IRS_API int irs_collection_verify_data(const irs_collection *c, uint32_t upto,
				       irs_verify_progress_fn progress, void *ctx,
				       irs_error *err);

/* ------------------------------------------------------------------ writing backups */

typedef struct irs_backup_writer irs_backup_writer;

/*
 * Starts a new backup at the end of the chain. name NULL gives a UTC timestamp name
 * ("20261126T091500.123456Z") that sorts in chain order. Nothing is visible until
 * irs_backup_writer_commit(); irs_backup_writer_abort() (or a crash) leaves the
 * collection as it was. An incremental needs a full backup before it (IRS_ECHAIN).
 * The writer accepts changes in any order and keeps its memory bounded (it spills
 * sorted runs to temporary files in the collection). Options: see irs_writer_options.
 * Thread: one writer per collection at a time; the writer is single-threaded.
 */
typedef struct irs_writer_options {
	uint32_t version;             /* IRS_WRITER_OPTIONS_VERSION */
	size_t memory_budget;         /* bytes buffered before a sorted run is spilled; 0 = 64 MiB */
	uint32_t batch_rows;          /* changes per frame; 0 = 4096 */
	uint64_t segment_bytes;       /* target segment file size; 0 = 256 MiB */
	int collapse_duplicates;      /* incremental: collapse repeated keys in order (docs/design.md section 1);
				       * 0 = report a repeated key as IRS_EDUPKEY. Fulls always report. */
	int no_sync;                  /* skip every fsync: for scratch collections and tests only;
				       * a crash may then lose or tear the backup */
	/* version 2 */
	const volatile int *cancel;   /* set non-zero from any thread or a signal handler to
				       * stop a commit (IRS_ECANCELED, the collection as it
				       * was); read with relaxed atomic loads when the commit
				       * starts, every 4096 changes it merges and before it
				       * replaces the MANIFEST, and by an add that spills
				       * buffered changes to disk (after sorting them, every
				       * 1 MiB written), which then fails with IRS_ECANCELED:
				       * abort the writer. NULL = none */
} irs_writer_options;
#define IRS_WRITER_OPTIONS_VERSION 2
/* Fills *o with the defaults of layout `version` (pass IRS_WRITER_OPTIONS_VERSION):
 * see "Option structs" above. Thread: any. */
IRS_API void irs_writer_options_init(irs_writer_options *o, uint32_t version);

IRS_API int irs_backup_writer_begin(irs_collection *c, irs_backup_kind kind, const char *name,
				    const irs_writer_options *opts, irs_backup_writer **out,
				    irs_error *err);

/*
 * Adds one change to table `table`. values has one entry per column. For a full
 * backup this is a row (ABSENT = NULL). For an incremental, an upsert lists the
 * changed columns (ABSENT = unchanged). Key columns must be SET. `tag` is echoed in
 * errors about this change (the importer passes the input line number).
 * Errors: IRS_EINPUT (a type or value problem, a NULL key), IRS_EDUPKEY, IRS_EIO,
 * IRS_ENOMEM, IRS_ECANCELED (the cancel flag, seen when buffered changes spill to
 * disk). After an error the writer can only be aborted.
 */
IRS_API int irs_backup_writer_upsert(irs_backup_writer *w, uint32_t table,
				     const irs_value *values, uint64_t tag, irs_error *err);
/* Adds an ERASE of the key in values (only the key columns are read). */
IRS_API int irs_backup_writer_erase(irs_backup_writer *w, uint32_t table,
				    const irs_value *values, uint64_t tag, irs_error *err);
/* Records the expected state of `table` after this backup (see gen). */
IRS_API int irs_backup_writer_set_expected(irs_backup_writer *w, uint32_t table, uint64_t rows,
					   uint64_t digest, irs_error *err);

/* Writes the remaining data, fsyncs it, then replaces the MANIFEST atomically and
 * re-reads it into c. The writer is released in every case. A cancel flag
 * (irs_writer_options.cancel) found set before the MANIFEST is replaced gives
 * IRS_ECANCELED and leaves the collection as it was. */
IRS_API int irs_backup_writer_commit(irs_backup_writer *w, irs_error *err);
/* Discards the backup and releases the writer; NULL is a no-op. */
IRS_API void irs_backup_writer_abort(irs_backup_writer *w);

/* ------------------------------------------------------------------ restore */

typedef struct irs_restore irs_restore;  /* the restored tables */

/* Progress, called by the coordinator thread after every backup and about every
 * 100 ms during one. */
typedef struct irs_progress {
	uint32_t backup_index;     /* chain index being restored */
	uint32_t backups_done;     /* of the backups this restore applies */
	uint32_t backups_total;
	const char *backup_name;
	uint64_t changes_done;     /* changes applied so far, all backups */
	uint64_t changes_total;
	uint64_t bytes_done;       /* segment bytes decoded so far */
	uint64_t bytes_total;
} irs_progress;
typedef void (*irs_progress_fn)(void *ctx, const irs_progress *p);

/*
 * Called by the coordinator after backup `backup_index` is applied by every shard and
 * before the next one starts: every shard is quiescent, so the read functions below
 * may be used on `r`, by any number of threads that are done before it returns. Returning non-zero cancels the restore (IRS_ECANCELED) with the
 * tables left at this backup.
 */
typedef int (*irs_barrier_fn)(void *ctx, irs_restore *r, uint32_t backup_index);

/* The most shard threads one restore runs (irs_restore_options.shards). */
#define IRS_MAX_SHARDS 256

typedef struct irs_restore_options {
	uint32_t version;              /* IRS_RESTORE_OPTIONS_VERSION */
	uint32_t shards;               /* 1..IRS_MAX_SHARDS; 0 = online CPUs (at most IRS_MAX_SHARDS) */
	const char *upto;              /* backup name; NULL = the last backup */
	const char *const *tables;     /* restore only these tables; NULL = all */
	uint32_t table_count;
	irs_progress_fn progress;
	void *progress_ctx;
	irs_barrier_fn barrier;
	void *barrier_ctx;
	const volatile int *cancel;    /* set non-zero from any thread or a signal handler to
					* cancel; read with relaxed atomic loads, so store it
					* atomically (__atomic_store_n, or C11 atomic_store) */
	uint64_t memory_limit;         /* bytes the restore may allocate; 0 = unlimited */
	int check_expected;            /* 1 = fail with IRS_EMISMATCH when an expected state
					* recorded in the manifest differs (default 1) */
	const char *checkpoint_dir;    /* resume from and write checkpoints here; NULL = none */
	uint32_t checkpoint_every;     /* write one when at least this many backups ... (0 = 1) */
	uint32_t checkpoint_seconds;   /* ... and at least this many seconds passed since the last */
	uint32_t partition;            /* restore only the keys of hash partition `partition` ... */
	uint32_t partition_count;      /* ... of partition_count (docs/format.md, "Partitions");
					* 0 or 1 = every key. Partitions are disjoint, their union is
					* the whole restore, and their digests add up to the table's.
					* Expected states are not checked (check-partitions does),
					* and checkpoint_dir cannot be combined with it (IRS_EINVAL). */
	uint64_t staging_budget;       /* bytes an incremental may stage in memory; one that
					* would need more is read twice instead (checked, then
					* applied as it streams). 0 = the larger of 64 MiB and a
					* quarter of what the restore holds when it starts. */
	int coordinator_decodes;       /* whether the thread that called irs_restore_run decodes
					* alongside the shards instead of sleeping while they do:
					* 0 = when there are fewer shards than online CPUs
					* (default), 1 = always, -1 = never */
} irs_restore_options;
#define IRS_RESTORE_OPTIONS_VERSION 3
/* Fills *o with the defaults of layout `version` (pass IRS_RESTORE_OPTIONS_VERSION):
 * see "Option structs" above. Thread: any. */
IRS_API void irs_restore_options_init(irs_restore_options *o, uint32_t version);

/* Statistics of a restore, per backup applied. */
typedef struct irs_backup_stats {
	uint32_t backup_index;
	uint64_t wall_ns;          /* from start of the backup to its barrier */
	uint64_t inserted, updated, erased, noop_erases;
	uint64_t bytes;
	uint64_t barrier_turnaround_ns;  /* last shard done -> coordinator wakes */
	uint64_t max_shard_applied, sum_shard_applied;  /* skew = max / (sum / shards) */
	uint64_t max_shard_wait_ns;      /* longest time a shard sat idle at the barrier */
	const uint64_t *shard_applied;   /* changes applied by each shard (shard count entries) */
} irs_backup_stats;

/*
 * Restores the chain of `c` up to opts->upto: the last full backup at or before it,
 * then every incremental after it in order. Backup i+1 starts only after every shard
 * has applied all of backup i. On failure in backup i the tables are exactly as they
 * were after backup i-1 (empty if the failure is in the full backup) and *out is still
 * returned when it could be built, so the caller can read that state;
 * irs_restore_through() says which backup the tables reflect.
 *
 * CHECKPOINTS: with opts->checkpoint_dir, after a barrier (at most every
 * checkpoint_every backups and checkpoint_seconds seconds) the tables are written to
 * the directory as a compacted collection with a RestoreState record, atomically
 * (a new subdirectory, fsync, then the CURRENT file replaced by rename). A later run
 * with the same directory, collection, target and table filter resumes after the last
 * checkpointed backup; a checkpoint of another collection, target or filter is refused
 * with IRS_EINVAL, a damaged one with IRS_ECORRUPT (the message says how to start
 * over). The directory is made when missing, locked for the whole run (a second run on
 * it gets IRS_EIO at once) and checked for writing before anything is restored; only
 * the checkpoints runs of this collection wrote there are ever removed (docs/format.md
 * section 13). Backups before the target's base full are never needed.
 * Thread: any caller thread acts as the coordinator; the call blocks until done.
 */
IRS_API int irs_restore_run(const irs_collection *c, const irs_restore_options *opts,
			    const irs_allocator *alloc, irs_restore **out, irs_error *err);

/* Releases the tables; NULL is a no-op. */
IRS_API void irs_restore_free(irs_restore *r);

/* Chain index of the last backup fully applied, or -1 when none was. */
IRS_API int64_t irs_restore_through(const irs_restore *r);
/* Chain index of the backup the restore resumed from (its checkpoint), or -1. */
IRS_API int64_t irs_restore_resumed_from(const irs_restore *r);
IRS_API uint32_t irs_restore_shard_count(const irs_restore *r);
/* Statistics of the backups applied, in order; valid while r lives. A restore that
 * resumed lists the load of its checkpoint first, at the backup_index
 * irs_restore_resumed_from() names, its rows counted as inserted. */
IRS_API const irs_backup_stats *irs_restore_stats(const irs_restore *r, uint32_t *count);
/* Peak bytes allocated through the restore's allocator accounting. */
IRS_API uint64_t irs_restore_peak_bytes(const irs_restore *r);

/*
 * READING THE RESTORED TABLES
 *
 * Tables are addressed by the collection's table index; tables filtered out by
 * opts->tables are empty. Every function below reads only, so any number of threads
 * may call them at once on one restore, once irs_restore_run has returned, or while
 * the coordinator waits in the barrier callback (the reading threads must then be done,
 * their cursors closed, before the callback returns: the next backup changes the
 * tables). A row[] array has one irs_value per column, in schema order.
 *
 * Lifetimes: string values of value columns point into the tables and stay valid
 * until the restore changes (the next backup) or is freed. Key columns of a get point
 * to the caller's key[]; key columns of a cursor's row may point into the cursor and
 * are valid until its next irs_cursor_next or irs_cursor_close.
 *
 * Order: "key order" is the typed order of the primary key tuple, column by column in
 * primary key order: integers and timestamps numerically, bool false < true, utf8 and
 * bytes bytewise (a prefix first), doubles -Infinity < ... < -0.0 < +0.0 < ... <
 * +Infinity < NaN (a NaN with its sign bit set, which only this API can store, sorts
 * before -Infinity; NaNs among themselves by their bits). The first ordered read of a
 * table after a change sorts its partitions (O(rows log rows), 8 bytes per row kept
 * until the next change); later ordered reads at the same barrier reuse that order.
 */
IRS_API uint64_t irs_restore_row_count(const irs_restore *r, uint32_t table);
/* Logical size: encoded keys + values + NULL bits of every row of the table. */
IRS_API uint64_t irs_restore_logical_bytes(const irs_restore *r, uint32_t table);
/* Order-independent content digest of the table (docs/format.md, "Content digest").
 * O(shards) when the restore checked expected states (the shards then maintain it per
 * change); otherwise it reads every row of the table on each call, its partitions
 * spread over helper threads (one per online CPU at most, joined before it returns). */
IRS_API uint64_t irs_restore_digest(const irs_restore *r, uint32_t table);

/*
 * Point get. key has one entry per column (only the primary key columns are read).
 * On success row[] receives the row (its key columns are key's). IRS_ENOTFOUND when
 * there is no such row; IRS_EINVAL for a key column that is not SET or not valid.
 * Thread: any reader (above).
 */
IRS_API int irs_restore_get(const irs_restore *r, uint32_t table, const irs_value *key,
			    irs_value *row, irs_error *err);

/*
 * Batch get: n point gets at once, overlapping their memory accesses (several times
 * faster per key than irs_restore_get on tables larger than the CPU caches). keys
 * holds n rows of the table's column count (only key columns are read), rows receives
 * n rows the same way. For a key without a row, found[i] = 0 and every entry of its
 * row is IRS_VALUE_ABSENT (found may be NULL: a found row always has its key columns
 * SET). Returns 0, or IRS_EINVAL naming the first invalid key ("key 12: key column
 * id: not set"; rows[] is then unspecified), or IRS_ENOMEM. Thread: any reader.
 */
IRS_API int irs_restore_get_batch(const irs_restore *r, uint32_t table, const irs_value *keys,
				  size_t n, irs_value *rows, uint8_t *found, irs_error *err);

/* A cursor over the rows of one table: see irs_restore_cursor_open. */
typedef struct irs_cursor irs_cursor;

/*
 * Opens a cursor over the table's rows in key order whose key is >= lo and < hi. lo
 * and hi hold one entry per column like a key; NULL means unbounded. A bound may set
 * only the first key columns in primary key order (the others ABSENT): it is then a
 * key prefix, which orders before every key extending it. So with the key (tenant,
 * id), lo = {tenant: 5} and hi = {tenant: 6} give every row of tenant 5; a bound with
 * no key column set is below every key. Cost: the table's sorted order (above), then
 * a binary search per partition; each irs_cursor_next is O(log partitions).
 * Errors: IRS_EINVAL (a NULL or invalid bound column, a column set after an absent
 * one), IRS_ENOMEM/IRS_ELIMIT (sorting). Release with irs_cursor_close.
 * Thread: any reader; the cursor is then used by one thread at a time.
 */
IRS_API int irs_restore_cursor_open(const irs_restore *r, uint32_t table, const irs_value *lo,
				    const irs_value *hi, irs_cursor **out, irs_error *err);

/* Number of partitions a table is stored in (the restore's shard count); 0 for NULL. */
IRS_API uint32_t irs_restore_partition_count(const irs_restore *r);

/*
 * Opens a cursor over the rows of one partition (0 <= partition <
 * irs_restore_partition_count), in no particular order. The partitions of a table are
 * disjoint and together hold all its rows, so N threads, each with its own partitions,
 * read the whole table N ways at once. No sorting, nothing allocated per row.
 * Errors: IRS_EINVAL, IRS_ENOMEM. Thread: any reader.
 */
IRS_API int irs_restore_cursor_open_partition(const irs_restore *r, uint32_t table,
					      uint32_t partition, irs_cursor **out,
					      irs_error *err);

/*
 * Reads the cursor's next row into row[]: returns 1 with a row, 0 at the end (row[]
 * untouched), or a negative IRS_E* code (IRS_ECORRUPT: a stored key does not decode,
 * never for a healthy restore). Thread: the cursor's user.
 */
IRS_API int irs_cursor_next(irs_cursor *cur, irs_value *row, irs_error *err);

/* Releases a cursor; NULL is a no-op. Every cursor is closed before irs_restore_free. */
IRS_API void irs_cursor_close(irs_cursor *cur);

/*
 * Calls fn for every row of the table in key order (an ordered cursor without bounds).
 * row[] is valid during the call only. A non-zero return from fn stops the scan and is
 * returned. Thread: any reader.
 */
typedef int (*irs_row_fn)(void *ctx, const irs_value *row);
IRS_API int irs_restore_scan(const irs_restore *r, uint32_t table, irs_row_fn fn, void *ctx,
			     irs_error *err);

/* Export formats for irs_restore_export. */
typedef enum irs_export_format {
	IRS_EXPORT_JSONL = 1,   /* one object per row, key order, NULL as null */
	IRS_EXPORT_CSV = 2,     /* header, key order, NULL as an unquoted empty field */
	IRS_EXPORT_SQLITE = 3,  /* every restored table, typed columns, primary key; `table`
				 * ignored */
	IRS_EXPORT_COLLECTION = 4 /* a new collection of the restored tables with one full
				   * backup; `table` ignored */
} irs_export_format;

/* Writes table `table` (or, for SQLITE and COLLECTION, every table the restore holds:
 * those opts->tables filtered out are left out, not written empty) to `path`: the text forms
 * and the SQLite representation are in docs/cli.md ("Output values"). The file is
 * written to a temporary name, fsync'd and renamed into place: on failure nothing is
 * left and a file already at `path` stays as it was. The restore's cancel flag
 * (irs_restore_options.cancel) is read while a table is sorted for the export and
 * every 1024 rows written: IRS_ECANCELED when set.
 * JSONL and CSV rows are formatted on helper threads, one per online CPU beyond the
 * caller's, joined before the call returns; the file is the same whatever their number.
 * Errors name `path`. Thread: any reader, one export per path at a time. */
IRS_API int irs_restore_export(const irs_restore *r, irs_export_format format, uint32_t table,
			       const char *path, irs_error *err);

/* ------------------------------------------------------------------ net diff */

/* What one net change does (irs_diff_fn). */
typedef enum irs_diff_op {
	IRS_DIFF_UPSERT = 1,  /* row[] is the whole row at `to`: every column SET or NULL */
	IRS_DIFF_ERASE = 2    /* row[] holds the key (key columns SET, the others ABSENT) */
} irs_diff_op;

/*
 * Receives one net change of table `table` (a collection table index). row[] has one
 * entry per column and is valid during the call only (strings point into the
 * library's memory). A non-zero return stops the diff and is returned by
 * irs_collection_diff. Called on the caller's thread, tables in collection order and,
 * within a table, keys in primary key order, each key at most once.
 */
typedef int (*irs_diff_fn)(void *ctx, uint32_t table, irs_diff_op op, const irs_value *row);

typedef struct irs_diff_options {
	uint32_t version;              /* IRS_DIFF_OPTIONS_VERSION */
	uint32_t shards;               /* shard threads of the restores, 1..256; 0 = online CPUs */
	const char *const *tables;     /* diff only these tables; NULL = all */
	uint32_t table_count;
	irs_progress_fn progress;      /* passed to every restore the diff runs */
	void *progress_ctx;
	const volatile int *cancel;    /* as irs_restore_options.cancel */
	uint64_t memory_limit;         /* bytes each restore, and the diff's own key set, may
					* allocate; 0 = unlimited */
	int check_expected;            /* as irs_restore_options (default 1); only whole
					* restores can be checked (see irs_collection_diff) */
} irs_diff_options;
#define IRS_DIFF_OPTIONS_VERSION 1
IRS_API void irs_diff_options_init(irs_diff_options *o, uint32_t version);

/* What a diff did (irs_collection_diff's `stats`, may be NULL). */
typedef struct irs_diff_stats {
	int whole_tables;        /* 1 when whole states were compared (a full backup lies in
				  * (from, to]), 0 when only the keys the incrementals touched */
	uint64_t keys;           /* keys compared, all tables */
	uint64_t upserts;        /* net changes delivered */
	uint64_t erases;
	uint64_t peak_bytes;     /* peak bytes allocated by the restores and the key set */
	uint64_t collect_ns;     /* reading the incrementals for the keys they touch */
	uint64_t restore_ns;     /* the restore(s), the copies of the rows at `from` included */
	uint64_t compare_ns;     /* sorting, comparing and calling fn (fn's own time included) */
} irs_diff_stats;

/*
 * The net changes that take the state at backup `from` to the state at backup `to`
 * (NULL = the last backup): an UPSERT of the whole row for every row that is new or
 * different at `to`, an ERASE for every row present at `from` and gone at `to`, and
 * nothing for a row that is equal at both (also when it changed and changed back in
 * between). Applied as one incremental backup on top of the state at `from`, they give
 * exactly the state at `to` (rows compare bitwise: -0.0 differs from 0.0). `from` may
 * equal `to` (no changes).
 *
 * HOW: when `from` and `to` share their base full backup, the incrementals in
 * (from, to] are read first for the keys they touch; one restore up to `to` then keeps
 * only those keys (every change is still decoded and validated), the rows at `from` are
 * copied at that backup's barrier, and the two are compared. Memory grows with the
 * touched keys, not with the tables; time with the chain read up to `to`. When a full
 * backup lies in (from, to] (or `from` is before the base of `to`) every key may have
 * changed: the whole states are compared, from a restore up to `from` (its rows kept
 * in a compact copy) and one up to `to`, whose expected states are checked when the
 * options ask (the filtered restore cannot check them).
 *
 * Errors: IRS_EINVAL (`from` after `to`, bad options), IRS_ENOTFOUND (no backup or
 * table of that name), the errors of irs_restore_run (corrupt data, IRS_ELIMIT,
 * IRS_ECANCELED, ...), or fn's non-zero return. Changes delivered before a failure
 * are not taken back: a caller writing them should write to a temporary and keep it
 * only on success. alloc may be NULL (libc).
 * Thread: any caller thread; it runs restores (with their shard threads) and calls fn
 * on the caller's thread after they finished. Blocks until done.
 */
IRS_API int irs_collection_diff(const irs_collection *c, const char *from, const char *to,
				const irs_diff_options *opts, const irs_allocator *alloc,
				irs_diff_fn fn, void *ctx, irs_diff_stats *stats, irs_error *err);

#ifdef __cplusplus
}
#endif

#endif /* INCRESTORE_H */
