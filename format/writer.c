/*
 * writer.c: adding one backup to a collection, atomically and with bounded memory.
 *
 * ALGORITHM
 *   Changes arrive in any order as irs_values; each becomes a change record
 *   (common/record.h) appended to its table's buffer. When the buffers together pass
 *   the memory budget, the largest is sorted by (hash, key, arrival) and spilled to a
 *   temporary run file. At commit every table's runs and buffer are merged in that
 *   order; equal keys meet and are collapsed in arrival order (incremental backups:
 *   docs/design.md section 1) or reported as duplicates (full backups, or when collapsing is
 *   off). The merged stream is cut into ChangeBatch frames and segment files.
 *   The sort works on the hashes alone (sort_table) and compares records only where
 *   hashes share their top 32 bits; the order of changes within a backup carries no
 *   meaning, since keys are distinct.
 *
 * CRASH SAFETY
 *   Segments go to a fresh directory data/b<seq>-<random>/ and are fsynced, then the
 *   directory and data/ are fsynced, and only then is the MANIFEST replaced
 *   (manifest.c). A crash before the rename leaves the old manifest, which names none
 *   of the new files; the next writer deletes such unreferenced directories and
 *   leftover temporary files. An flock on DIR/LOCK keeps two writers apart.
 *
 * OWNERSHIP: the writer owns its buffers, run files and the temporary directory; on
 * commit the collection handle is re-read in place (its old contents are released).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "collection.h"
#include "common/cancel.h"
#include "common/error.h"
#include "common/fault_env.h"
#include "common/options.h"

/* A sorted run spilled to a file: records back to back (each padded to 8 bytes). */
typedef struct run_file {
	int fd;
	uint64_t records;
	uint64_t bytes;
} run_file;

typedef struct wtable {
	irs_buf recs;         /* records, 8-byte aligned, arrival order */
	uint32_t *index;      /* offsets of records in recs */
	size_t nindex, index_cap;
	run_file *runs;
	uint32_t nruns;
	uint64_t changes;     /* accepted (before collapsing) */
	int has_expected;
	uint64_t exp_rows, exp_digest;
	Increstore__Segment *segs; /* written at commit */
	size_t nsegs;
	uint64_t out_records;
} wtable;

struct irs_backup_writer {
	irs_collection *c;
	irs_mem *mem;
	irs_backup_kind kind;
	irs_writer_options o;
	char name[IRS_MAX_NAME + 1];
	uint64_t seq;
	char datadir[64];     /* data/b<seq>-<hex>, relative to the collection */
	char tmpdir[64];      /* tmp-<hex>: spilled runs */
	int lockfd;
	wtable *t;
	size_t buffered;      /* bytes in all tables' buffers */
	int failed;
	uint8_t *scratch;     /* one record being built */
	size_t scratch_cap;
	uint64_t run_seq;
};

/* Bytes of each version of irs_writer_options (common/options.h). */
static const size_t writer_options_size[] = {
	0, IRS_OPTIONS_END(irs_writer_options, no_sync), /* 1: 0.1.0 */
	IRS_OPTIONS_END(irs_writer_options, cancel),     /* 2: the cancel flag */
};
#define WRITER_OPTIONS_VERSIONS (sizeof writer_options_size / sizeof writer_options_size[0] - 1)

static void writer_options_defaults(irs_writer_options *o)
{
	memset(o, 0, sizeof *o);
	o->version = IRS_WRITER_OPTIONS_VERSION;
	o->collapse_duplicates = 1;
}

void irs_writer_options_init(irs_writer_options *o, uint32_t version)
{
	irs_writer_options d;
	writer_options_defaults(&d);
	d.version = version;
	irs__options_init(o, &d, version, writer_options_size, WRITER_OPTIONS_VERSIONS);
}

static void fill_defaults(irs_writer_options *o)
{
	if (!o->memory_budget)
		o->memory_budget = 64u << 20;
	if (o->memory_budget < (1u << 16))
		o->memory_budget = 1u << 16;
	if (!o->batch_rows)
		o->batch_rows = 4096;
	if (o->batch_rows > IRS_MAX_BATCH_ROWS)
		o->batch_rows = IRS_MAX_BATCH_ROWS;
	if (!o->segment_bytes)
		o->segment_bytes = 256u << 20;
}

static void random_hex(char *out, size_t nbytes)
{
	uint8_t rnd[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, rnd, nbytes) : -1;
	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)nbytes) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 20 ^ (uint64_t)ts.tv_sec << 32;
		for (size_t i = 0; i < nbytes; i++, x = x * 6364136223846793005u + 1442695040888963407u)
			rnd[i] = (uint8_t)(x >> 56);
	}
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

void irs__remove_tree_at(int dirfd, const char *rel)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		unlinkat(dirfd, rel, 0);
		return;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) /* a non-directory is unlinked */
			irs__remove_tree_at(fd, e->d_name);
		else
			unlinkat(fd, e->d_name, 0);
	}
	closedir(d);
	unlinkat(dirfd, rel, AT_REMOVEDIR);
}

/* "b000012-0123456789abcdef" (6 or more digits, 16 hex digits): the directories
 * this writer creates under data/. */
static bool is_backup_dir_name(const char *s)
{
	const char *dash = strchr(s, '-');
	if (s[0] != 'b' || !dash || dash - s < 7 || strlen(dash + 1) != 16)
		return false;
	for (const char *p = s + 1; p < dash; p++)
		if (*p < '0' || *p > '9')
			return false;
	for (const char *p = dash + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Deletes what an interrupted writer left: tmp-* directories, MANIFEST.tmp, and data/
 * directories that the manifest does not reference. */
static void clean_leftovers(irs_collection *c)
{
	unlinkat(c->dirfd, "MANIFEST.tmp", 0);
	DIR *d = opendir(c->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "tmp-", 4))
				irs__remove_tree_at(c->dirfd, e->d_name);
		closedir(d);
	}
	int dfd = openat(c->dirfd, "data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	DIR *dd = fdopendir(dfd);
	if (!dd) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dd))) {
		struct stat st;
		if (!is_backup_dir_name(e->d_name) ||
		    (e->d_type != DT_DIR &&
		     (e->d_type != DT_UNKNOWN || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		      !S_ISDIR(st.st_mode))))
			continue;
		char prefix[300];
		snprintf(prefix, sizeof prefix, "data/%s/", e->d_name);
		bool used = false;
		for (uint32_t i = 0; i < c->nbackups && !used; i++) {
			const Increstore__Backup *b = c->backups[i].pb;
			for (size_t k = 0; k < b->n_tables && !used; k++)
				for (size_t s = 0; s < b->tables[k]->n_segments && !used; s++)
					used = !strncmp(b->tables[k]->segments[s]->path, prefix, strlen(prefix));
		}
		if (!used)
			irs__remove_tree_at(dfd, e->d_name);
	}
	closedir(dd);
}

/* "20261126T091500.123456Z": UTC, microseconds; sorts like the time it names. */
static void timestamp_name(char *out, size_t cap, int64_t us)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(out, cap, "%04d%02d%02dT%02d%02d%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(us % 1000000));
}

/* The last time a default name can name: 9999-12-31T23:59:59.999999Z. */
#define LATEST_NAME_US INT64_C(253402300799999999)

static int digits_at(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* The time s names when s is a name timestamp_name writes (a real date and time, in
 * its one spelling); false for any other name, even one of the same shape. */
static bool parse_timestamp_name(const char *s, int64_t *us)
{
	if (strlen(s) != 23 || s[8] != 'T' || s[15] != '.' || s[22] != 'Z')
		return false;
	for (int i = 0; i < 22; i++)
		if (i != 8 && i != 15 && (s[i] < '0' || s[i] > '9'))
			return false;
	struct tm tm = {
		.tm_year = digits_at(s, 4) - 1900, .tm_mon = digits_at(s + 4, 2) - 1,
		.tm_mday = digits_at(s + 6, 2), .tm_hour = digits_at(s + 9, 2),
		.tm_min = digits_at(s + 11, 2), .tm_sec = digits_at(s + 13, 2),
	};
	int64_t secs = (int64_t)timegm(&tm);
	if (secs < 0 || secs > LATEST_NAME_US / 1000000)
		return false;
	*us = secs * 1000000 + digits_at(s + 16, 6);
	char back[96]; /* room for any int fields, as the compiler counts them */
	timestamp_name(back, sizeof back, *us);
	return strcmp(back, s) == 0; /* not a month 13 or a 31 November */
}

/* The default name: now, or just after the chain's last default name when the clock
 * is behind it, so default names are unique and sort in chain order. */
static int default_name(const irs_collection *c, char *out, size_t cap, irs_error *err)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	int64_t us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec, last_us;
	for (uint32_t i = c->nbackups; i-- > 0;) {
		if (!parse_timestamp_name(c->backups[i].pb->name, &last_us))
			continue;
		if (us <= last_us)
			us = last_us + 1;
		break;
	}
	/* a name some backup was given by hand moves it on: at most a step per backup */
	for (uint32_t step = 0; step <= c->nbackups && us <= LATEST_NAME_US; step++, us++) {
		timestamp_name(out, cap, us);
		if (irs_collection_find_backup(c, out) < 0)
			return 0;
	}
	return irs__seterr(err, IRS_ECHAIN,
			   "%s: no default name sorts after the chain's last one (year 9999): name the backup",
			   c->dir);
}

/* Re-reads the collection after the manifest changed and swaps it into c. */
static int reload(irs_collection *c, irs_error *err)
{
	irs_collection *n;
	int rc = irs_collection_open(c->dir, &c->mem.a, 0, &n, err);
	if (rc)
		return rc;
	irs_collection old = *c;
	*c = *n;
	*n = old;
	irs_collection_close(n);
	return 0;
}

/* The chain and name rules for a new backup, against the current chain. */
static int check_begin(const irs_collection *c, irs_backup_kind kind, const char *name,
		       irs_error *err)
{
	if (kind == IRS_BACKUP_INCREMENTAL && c->nbackups == 0)
		return irs__seterr(err, IRS_ECHAIN,
				   "%s: an incremental backup needs a full backup before it", c->dir);
	if (!name)
		return 0;
	size_t n = strlen(name);
	if (n == 0 || n > IRS_MAX_NAME || !irs__utf8_valid((const uint8_t *)name, n))
		return irs__seterr(err, IRS_EINVAL, "backup name must be 1 to %d bytes of UTF-8",
				   IRS_MAX_NAME);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20)
			return irs__seterr(err, IRS_EINVAL, "backup name holds a control character");
	if (irs_collection_find_backup(c, name) >= 0)
		return irs__seterr(err, IRS_EEXIST, "%s: a backup named %s already exists", c->dir, name);
	return 0;
}

int irs_backup_writer_begin(irs_collection *c, irs_backup_kind kind, const char *name,
			    const irs_writer_options *opts, irs_backup_writer **out, irs_error *err)
{
	irs__errclear(err);
	if (!c || !out || (kind != IRS_BACKUP_FULL && kind != IRS_BACKUP_INCREMENTAL))
		return irs__seterr(err, IRS_EINVAL, "irs_backup_writer_begin: bad argument");
	*out = NULL;
	irs_writer_options o;
	writer_options_defaults(&o);
	if (irs__options_read(&o, opts, writer_options_size, WRITER_OPTIONS_VERSIONS,
			      "irs_writer_options", err))
		return IRS_EINVAL;
	/* Lock, then re-read the manifest: another handle (or process) may have added
	 * backups since c was opened, and the new backup must follow the real chain. */
	int lockfd = openat(c->dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (lockfd < 0)
		return irs__seterr(err, IRS_EIO, "%s/LOCK: %s", c->dir, strerror(errno));
	if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
		close(lockfd);
		return irs__seterr(err, IRS_EIO, "%s: another writer is adding a backup", c->dir);
	}
	int rc = irs__collection_changed(c) ? reload(c, err) : 0;
	if (!rc)
		rc = check_begin(c, kind, name, err);
	if (rc) {
		close(lockfd);
		return rc;
	}
	char nm[IRS_MAX_NAME + 1];
	if (name)
		snprintf(nm, sizeof nm, "%s", name);
	else if ((rc = default_name(c, nm, sizeof nm, err)) != 0) {
		close(lockfd);
		return rc;
	}
	irs_backup_writer *w = irs__calloc(&c->mem, sizeof *w);
	if (!w) {
		close(lockfd);
		return irs__seterr(err, IRS_ENOMEM, "out of memory starting a backup");
	}
	w->c = c;
	w->mem = &c->mem;
	w->kind = kind;
	w->lockfd = lockfd;
	w->o = o;
	fill_defaults(&w->o);
	memcpy(w->name, nm, sizeof nm);
	w->seq = (uint64_t)c->nbackups + 1;
	char hex[17];
	random_hex(hex, 8);
	snprintf(w->datadir, sizeof w->datadir, "data/b%06llu-%s", (unsigned long long)w->seq, hex);
	snprintf(w->tmpdir, sizeof w->tmpdir, "tmp-%s", hex);
	w->t = irs__calloc(w->mem, sizeof(wtable) * c->ntables);
	w->scratch_cap = IRS_REC_HEADER + IRS_MAX_KEY_BYTES + 64;
	w->scratch = irs__malloc(w->mem, w->scratch_cap);
	if (!w->t || !w->scratch) {
		irs_backup_writer_abort(w);
		return irs__seterr(err, IRS_ENOMEM, "out of memory starting a backup");
	}
	for (uint32_t i = 0; i < c->ntables; i++)
		irs__buf_init(&w->t[i].recs, w->mem);
	clean_leftovers(c);
	*out = w;
	return 0;
}

static void wtable_free(irs_backup_writer *w, wtable *t)
{
	irs__buf_free(&t->recs);
	irs__free(w->mem, t->index, sizeof(uint32_t) * t->index_cap);
	for (uint32_t r = 0; r < t->nruns; r++)
		if (t->runs[r].fd >= 0)
			close(t->runs[r].fd);
	irs__free(w->mem, t->runs, sizeof(run_file) * t->nruns);
	for (size_t s = 0; s < t->nsegs; s++)
		irs__strfree(w->mem, t->segs[s].path);
	irs__free(w->mem, t->segs, sizeof(Increstore__Segment) * t->nsegs);
}

static void writer_free(irs_backup_writer *w)
{
	if (w->t) {
		for (uint32_t i = 0; i < w->c->ntables; i++)
			wtable_free(w, &w->t[i]);
		irs__free(w->mem, w->t, sizeof(wtable) * w->c->ntables);
	}
	irs__free(w->mem, w->scratch, w->scratch_cap);
	irs__remove_tree_at(w->c->dirfd, w->tmpdir);
	if (w->lockfd >= 0)
		close(w->lockfd);
	irs__free(w->mem, w, sizeof *w);
}

void irs_backup_writer_abort(irs_backup_writer *w)
{
	if (!w)
		return;
	irs__remove_tree_at(w->c->dirfd, w->datadir);
	writer_free(w);
}

/* ---- sorting and spilling */

#ifdef IRS_FAULT_INJECTION
/* Test builds only: IRS_FAULT_SLOW_COMMIT_US in the environment makes a commit sleep
 * that long after each frame it writes, and a spill after it sorts, so that a script
 * can signal the CLI while it commits or spills (tests/cli/signals.sh). */
static void fault_slow_commit(void)
{
	static int from_env = -1;
	int us = irs__fault_env_int(&from_env, "IRS_FAULT_SLOW_COMMIT_US");
	if (us > 0)
		usleep((useconds_t)us);
}
#else
static inline void fault_slow_commit(void)
{
}
#endif


static int rec_order(const irs_rec *a, const irs_rec *b)
{
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return irs__key_cmp(irs__rec_key(a), a->key_len, irs__rec_key(b), b->key_len);
}

static int index_cmp(const void *x, const void *y, void *base)
{
	uint32_t oa = *(const uint32_t *)x, ob = *(const uint32_t *)y;
	const uint8_t *b = base;
	int c = rec_order((const irs_rec *)(b + oa), (const irs_rec *)(b + ob));
	if (c)
		return c;
	return oa < ob ? -1 : oa > ob; /* arrival order: offsets grow with arrival */
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/*
 * Orders t->index by (hash, key, arrival). A comparison sort of the offsets reads two
 * records for every comparison (a cache miss each, ~20 per record), which made it a
 * fifth of an import's time. Instead each record becomes one word, the top 32 bits
 * of its hash above its offset, and a counting pass places the words in buckets by
 * their top bits (2^16 buckets from 2^19 records on, fewer below: about 8 words
 * each). Each bucket is sorted as plain integers, which orders by those hash bits and
 * then by offset, i.e. arrival. Only words that share all 32 hash bits (a repeated
 * key, or a rare collision) are then ordered by the full comparator. Takes 8 bytes a
 * record while sorting; without them, qsort_r alone.
 */
static void sort_table(irs_backup_writer *w, wtable *t)
{
	size_t n = t->nindex;
	if (n < 2)
		return;
	unsigned bits = 63u - (unsigned)__builtin_clzll(n); /* floor(log2 n) */
	bits = bits > 19 ? 16 : bits > 4 ? bits - 3 : 1;
	const size_t nb = (size_t)1 << bits;
	uint64_t *words = irs__malloc(w->mem, n * sizeof *words);
	uint32_t *start = words ? irs__calloc(w->mem, (nb + 1) * sizeof *start) : NULL;
	if (!start) {
		irs__free(w->mem, words, n * sizeof *words);
		qsort_r(t->index, n, sizeof(uint32_t), index_cmp, t->recs.p);
		return;
	}
	const uint8_t *base = t->recs.p;
	for (size_t i = 0; i < n; i++)
		start[((const irs_rec *)(base + t->index[i]))->hash >> (64 - bits)]++;
	uint32_t at = 0;
	for (size_t b = 0; b < nb; b++) { /* counts become each bucket's next free place */
		uint32_t c = start[b];
		start[b] = at;
		at += c;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t h = ((const irs_rec *)(base + t->index[i]))->hash;
		words[start[h >> (64 - bits)]++] = (h & 0xFFFFFFFF00000000u) | t->index[i];
	}
	/* start[b] is now where bucket b ends, which is where bucket b + 1 begins */
	for (size_t b = 0, from = 0; b < nb; from = start[b++]) {
		size_t m = start[b] - from;
		uint64_t *v = words + from;
		if (m > 32) {
			qsort(v, m, sizeof *v, u64_cmp);
		} else {
			for (size_t i = 1; i < m; i++) {
				uint64_t x = v[i];
				size_t j = i;
				for (; j > 0 && v[j - 1] > x; j--)
					v[j] = v[j - 1];
				v[j] = x;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		t->index[i] = (uint32_t)words[i];
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && words[j] >> 32 == words[i] >> 32; j++)
			;
		if (j - i > 1)
			qsort_r(t->index + i, j - i, sizeof(uint32_t), index_cmp, t->recs.p);
	}
	irs__free(w->mem, start, (nb + 1) * sizeof *start);
	irs__free(w->mem, words, n * sizeof *words);
}

/* The caller's cancel flag (common/cancel.h). */
static int check_cancel(const irs_backup_writer *w, irs_error *err)
{
	if (irs__cancel_requested(w->o.cancel))
		return irs__seterr(err, IRS_ECANCELED, "%s: backup %s: cancelled before its commit; the "
				   "collection was left as it was", w->c->dir, w->name);
	return 0;
}

/* Sorts table t's buffer and writes it to a new run file. The cancel flag is read
 * after the sort and between the 1 MiB writes: a spill of the whole budget (64 MiB
 * by default) takes about a second, and a signal must not wait for it. A cancelled
 * spill leaves a partial run, which the writer (poisoned) removes when aborted. */
static int spill(irs_backup_writer *w, wtable *t, irs_error *err)
{
	if (!t->nindex)
		return 0;
	sort_table(w, t);
	fault_slow_commit();
	int rc = check_cancel(w, err);
	if (!rc)
		rc = irs__mkdirs_at(w->c->dirfd, w->tmpdir, err);
	if (rc)
		return rc;
	char rel[128];
	snprintf(rel, sizeof rel, "%s/run-%llu", w->tmpdir, (unsigned long long)w->run_seq++);
	int fd = openat(w->c->dirfd, rel, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "%s/%s: cannot create: %s", w->c->dir, rel, strerror(errno));
	run_file *nr = irs__realloc(w->mem, t->runs, sizeof(run_file) * t->nruns,
				    sizeof(run_file) * (t->nruns + 1));
	if (!nr) {
		close(fd);
		return irs__seterr(err, IRS_ENOMEM, "out of memory spilling buffered changes");
	}
	t->runs = nr;
	run_file *run = &t->runs[t->nruns++];
	run->fd = fd;
	run->records = t->nindex;
	run->bytes = 0;
	/* Write through a 1 MiB staging buffer. */
	irs_buf out;
	irs__buf_init(&out, w->mem);
	if (!irs__buf_reserve(&out, 1u << 20))
		return irs__seterr(err, IRS_ENOMEM, "out of memory spilling buffered changes");
	for (size_t i = 0; i < t->nindex && !rc; i++) {
		const irs_rec *r = (const irs_rec *)(t->recs.p + t->index[i]);
		size_t sz = irs__rec_padded(r->size);
		if (out.len + sz > out.cap) {
			rc = irs__write_all(fd, out.p, out.len, rel, err);
			run->bytes += out.len;
			out.len = 0;
			if (!rc)
				rc = check_cancel(w, err);
		}
		if (!rc && !irs__buf_append(&out, r, sz))
			rc = irs__seterr(err, IRS_ENOMEM, "out of memory spilling buffered changes");
	}
	if (!rc)
		rc = irs__write_all(fd, out.p, out.len, rel, err);
	if (rc && rc != IRS_ECANCELED) /* check_cancel's message names the directory */
		irs__errprefix(err, "%s", w->c->dir);
	run->bytes += out.len;
	irs__buf_free(&out);
	w->buffered -= t->recs.len;
	t->recs.len = 0;
	t->nindex = 0;
	return rc;
}

static int spill_largest(irs_backup_writer *w, irs_error *err)
{
	wtable *big = NULL;
	for (uint32_t i = 0; i < w->c->ntables; i++)
		if (!big || w->t[i].recs.len > big->recs.len)
			big = &w->t[i];
	return big ? spill(w, big, err) : 0;
}

/* ---- adding changes */

static int add_change_checked(irs_backup_writer *w, uint32_t table, int op,
			      const irs_value *values, uint64_t tag, irs_error *err);

/* Every error poisons the writer: a backup missing a refused change must not commit. */
static int add_change(irs_backup_writer *w, uint32_t table, int op, const irs_value *values,
		      uint64_t tag, irs_error *err)
{
	int rc = add_change_checked(w, table, op, values, tag, err);
	if (rc && w && rc != IRS_EINVAL)
		w->failed = 1;
	return rc;
}

static int add_change_checked(irs_backup_writer *w, uint32_t table, int op,
			      const irs_value *values, uint64_t tag, irs_error *err)
{
	irs__errclear(err);
	if (!w || w->failed)
		return irs__seterr(err, IRS_EINVAL, "the writer failed earlier; abort it");
	irs_collection *c = w->c;
	if (table >= c->ntables || !values)
		return irs__seterr(err, IRS_EINVAL, "table index %u of %u", table, c->ntables);
	const irs_schema_table *ts = &c->tables[table];
	bool full = w->kind == IRS_BACKUP_FULL;
	if (full && op == IRS_REC_ERASE)
		return irs__seterr(err, IRS_EINPUT, "line %llu: an erase in a full backup",
				   (unsigned long long)tag);
	size_t need = IRS_REC_HEADER + IRS_MAX_KEY_BYTES + 2u * ts->value_bitmap_bytes + 8;
	for (uint32_t col = 0; col < ts->ncols; col++) {
		const irs_schema_column *sc = &ts->cols[col];
		const irs_value *v = &values[col];
		if (sc->is_key && v->state != IRS_VALUE_SET)
			return irs__seterr(err, IRS_EINPUT, "line %llu: key column %s is %s",
					   (unsigned long long)tag, sc->name,
					   v->state == IRS_VALUE_NULL ? "NULL" : "missing");
		if (op == IRS_REC_ERASE && !sc->is_key)
			continue;
		const char *why = irs__value_check(sc->type, v);
		if (why)
			return irs__seterr(err, IRS_EINPUT, "line %llu: column %s (%s): %s",
					   (unsigned long long)tag, sc->name, irs_type_name(sc->type), why);
		if (!sc->is_key && v->state == IRS_VALUE_SET)
			need += sc->width ? sc->width : 4 + v->v.s.len;
	}
	if (need > w->scratch_cap) {
		uint8_t *s = irs__realloc(w->mem, w->scratch, w->scratch_cap, need);
		if (!s)
			return irs__seterr(err, IRS_ENOMEM, "out of memory buffering a change");
		w->scratch = s;
		w->scratch_cap = need;
	}
	size_t sz = irs__rec_build(ts, op, full, values, tag, w->scratch, w->scratch_cap);
	if (!sz)
		return irs__seterr(err, IRS_EINPUT, "line %llu: the encoded primary key is longer than %u bytes",
				   (unsigned long long)tag, IRS_MAX_KEY_BYTES);
	wtable *t = &w->t[table];
	size_t padded = irs__rec_padded(sz);
	if (w->buffered + padded > w->o.memory_budget || t->recs.len + padded > UINT32_MAX) {
		int rc = spill_largest(w, err);
		if (rc == 0 && t->recs.len + padded > UINT32_MAX)
			rc = spill(w, t, err);
		if (rc) {
			w->failed = 1;
			return rc;
		}
	}
	if (t->nindex == t->index_cap) {
		size_t ncap = t->index_cap ? t->index_cap * 2 : 1024;
		uint32_t *ni = irs__realloc(w->mem, t->index, sizeof(uint32_t) * t->index_cap,
					    sizeof(uint32_t) * ncap);
		if (!ni)
			return irs__seterr(err, IRS_ENOMEM, "out of memory buffering a change");
		t->index = ni;
		t->index_cap = ncap;
	}
	if (!irs__buf_reserve(&t->recs, padded))
		return irs__seterr(err, IRS_ENOMEM, "out of memory buffering a change");
	t->index[t->nindex++] = (uint32_t)t->recs.len;
	memcpy(t->recs.p + t->recs.len, w->scratch, sz);
	memset(t->recs.p + t->recs.len + sz, 0, padded - sz);
	t->recs.len += padded;
	w->buffered += padded;
	t->changes++;
	return 0;
}

int irs_backup_writer_upsert(irs_backup_writer *w, uint32_t table, const irs_value *values,
			     uint64_t tag, irs_error *err)
{
	return add_change(w, table, IRS_REC_UPSERT, values, tag, err);
}

int irs_backup_writer_erase(irs_backup_writer *w, uint32_t table, const irs_value *values,
			    uint64_t tag, irs_error *err)
{
	return add_change(w, table, IRS_REC_ERASE, values, tag, err);
}

int irs_backup_writer_set_expected(irs_backup_writer *w, uint32_t table, uint64_t rows,
				   uint64_t digest, irs_error *err)
{
	if (!w || table >= w->c->ntables)
		return irs__seterr(err, IRS_EINVAL, "irs_backup_writer_set_expected: bad argument");
	w->t[table].has_expected = 1;
	w->t[table].exp_rows = rows;
	w->t[table].exp_digest = digest;
	return 0;
}

/* ---- merging runs into segments */

/* A source of sorted records: a run file read through a buffer, or the in-memory index. */
typedef struct source {
	int fd;               /* -1 for the in-memory buffer */
	uint8_t *buf;
	size_t cap, len, pos; /* buffered file bytes [pos, len) */
	uint64_t left;        /* records not yet returned */
	const wtable *mem_t;  /* in-memory: the table */
	size_t mem_i;
	const irs_rec *cur;
	uint32_t order;       /* runs in spill order; the buffer is last (newest) */
} source;

static int source_next(irs_backup_writer *w, source *s, irs_error *err)
{
	s->cur = NULL;
	if (!s->left)
		return 0;
	s->left--;
	if (s->fd < 0) {
		s->cur = (const irs_rec *)(s->mem_t->recs.p + s->mem_t->index[s->mem_i++]);
		return 0;
	}
	for (;;) {
		size_t have = s->len - s->pos;
		if (have >= IRS_REC_HEADER) {
			const irs_rec *r = (const irs_rec *)(s->buf + s->pos);
			size_t sz = irs__rec_padded(r->size);
			if (have >= sz) {
				s->cur = r;
				s->pos += sz;
				return 0;
			}
			if (sz > s->cap) {
				uint8_t *nb = irs__realloc(w->mem, s->buf, s->cap, sz * 2);
				if (!nb)
					return irs__seterr(err, IRS_ENOMEM, "out of memory merging spilled changes");
				s->buf = nb;
				s->cap = sz * 2;
			}
		}
		memmove(s->buf, s->buf + s->pos, have);
		s->len = have;
		s->pos = 0;
		ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return irs__seterr(err, IRS_EIO, "%s/%s: a spilled run: read failed: %s", w->c->dir,
					   w->tmpdir, n < 0 ? strerror(errno) : "unexpected end");
		s->len += (size_t)n;
	}
}

static bool source_before(const source *a, const source *b)
{
	int c = rec_order(a->cur, b->cur);
	if (c)
		return c < 0;
	return a->order < b->order;
}

typedef struct emitter {
	irs_backup_writer *w;
	uint32_t table;
	wtable *t;
	irs_batch_encoder enc;
	irs_segment_writer seg;
	int seg_open;
	char seg_rel[128];
} emitter;


static int emit_flush_frame(emitter *e, irs_error *err)
{
	if (!e->enc.count)
		return 0;
	irs_backup_writer *w = e->w;
	int rc;
	if (!e->seg_open) {
		snprintf(e->seg_rel, sizeof e->seg_rel, "%s/t%u-%04zu.seg", w->datadir, e->table,
			 e->t->nsegs);
		rc = irs__mkdirs_at(w->c->dirfd, w->datadir, err);
		if (!rc)
			rc = irs__segment_create(&e->seg, w->c->dirfd, e->seg_rel, e->table, err);
		if (rc)
			return rc;
		e->seg_open = 1;
	}
	uint32_t n = e->enc.count;
	const uint8_t *payload;
	size_t len;
	rc = irs__batch_encoder_finish(&e->enc, &payload, &len, err);
	if (!rc)
		rc = irs__segment_append(&e->seg, payload, len, n, err);
	fault_slow_commit();
	return rc;
}

static int emit_close_segment(emitter *e, irs_error *err)
{
	if (!e->seg_open)
		return 0;
	irs_backup_writer *w = e->w;
	wtable *t = e->t;
	e->seg_open = 0;
	int rc = irs__segment_finish(&e->seg, !w->o.no_sync, err);
	if (rc)
		return rc;
	/* the path first: the array then grows by one entry that is complete (its size
	 * is what writer_free frees it with) */
	char *path = irs__strdup(w->mem, e->seg_rel);
	Increstore__Segment *ns = path ? irs__realloc(w->mem, t->segs, sizeof(*ns) * t->nsegs,
						      sizeof(*ns) * (t->nsegs + 1))
				       : NULL;
	if (!ns) {
		irs__strfree(w->mem, path);
		return irs__seterr(err, IRS_ENOMEM, "out of memory recording a segment");
	}
	t->segs = ns;
	Increstore__Segment init = INCRESTORE__SEGMENT__INIT;
	ns[t->nsegs] = init;
	ns[t->nsegs].path = path;
	ns[t->nsegs].size = e->seg.size;
	ns[t->nsegs].records = e->seg.records;
	ns[t->nsegs].crc32c = e->seg.crc;
	ns[t->nsegs].frames = e->seg.frames;
	t->nsegs++;
	t->out_records += e->seg.records;
	return 0;
}

static int emit(emitter *e, const irs_rec *r, irs_error *err)
{
	int rc = irs__batch_encoder_add(&e->enc, r, err);
	if (rc)
		return rc;
	/* Frames of batch_rows changes, kept well under the frame limit. */
	if (e->enc.count >= e->w->o.batch_rows || e->enc.bytes >= (8u << 20)) {
		rc = emit_flush_frame(e, err);
		if (!rc && e->seg.size >= e->w->o.segment_bytes)
			rc = emit_close_segment(e, err);
	}
	return rc;
}

/* The merge heap of sources, ordered by source_before. */
static void heap_sift_up(source **heap, size_t k)
{
	while (k && source_before(heap[k], heap[(k - 1) / 2])) {
		source *tmp = heap[k];
		heap[k] = heap[(k - 1) / 2];
		heap[(k - 1) / 2] = tmp;
		k = (k - 1) / 2;
	}
}

static void heap_sift_down(source **heap, size_t n)
{
	size_t k = 0;
	for (;;) {
		size_t l = 2 * k + 1, m = k;
		if (l < n && source_before(heap[l], heap[m]))
			m = l;
		if (l + 1 < n && source_before(heap[l + 1], heap[m]))
			m = l + 1;
		if (m == k)
			return;
		source *tmp = heap[k];
		heap[k] = heap[m];
		heap[m] = tmp;
		k = m;
	}
}

/* Opens source r of table t (spill run r, or the in-memory buffer for r == nruns) at
 * its first record and puts it on the heap when it has one. */
static int source_open(irs_backup_writer *w, wtable *t, source *s, uint32_t r, source **heap,
		       size_t *nheap, irs_error *err)
{
	s->order = r;
	if (r < t->nruns) {
		s->fd = t->runs[r].fd;
		s->left = t->runs[r].records;
		s->cap = 1u << 20;
		s->buf = irs__malloc(w->mem, s->cap);
		if (!s->buf)
			return irs__seterr(err, IRS_ENOMEM, "out of memory merging spilled changes");
		if (lseek(s->fd, 0, SEEK_SET) < 0)
			return irs__seterr(err, IRS_EIO, "%s/%s: a spilled run: seek failed: %s", w->c->dir,
					   w->tmpdir, strerror(errno));
	} else {
		s->fd = -1;
		s->mem_t = t;
		s->left = t->nindex;
	}
	int rc = source_next(w, s, err);
	if (rc || !s->cur)
		return rc;
	heap[*nheap] = s;
	heap_sift_up(heap, (*nheap)++);
	return 0;
}

/* The merge's pending record: the last key seen, with the changes to it so far
 * collapsed in order (docs/design.md section 1), emitted once the next key differs. */
typedef struct pending {
	irs_buf rec, spare;
	bool have;
} pending;

/* Folds record r (the next in merge order) into the pending one, or emits the pending
 * one and makes r pending. */
static int merge_next(irs_backup_writer *w, const irs_schema_table *ts, emitter *e, pending *pd,
		      const irs_rec *r, irs_error *err)
{
	const irs_rec *p = (const irs_rec *)pd->rec.p;
	if (pd->have && rec_order(p, r) == 0) {
		if (w->kind == IRS_BACKUP_FULL || !w->o.collapse_duplicates) {
			char key[256];
			irs__rec_key_format(ts, irs__rec_key(r), r->key_len, key, sizeof key);
			return irs__seterr(err, IRS_EDUPKEY,
					   "table %s: key %s appears twice in one backup (line %llu and line %llu)",
					   ts->name, key, (unsigned long long)p->tag, (unsigned long long)r->tag);
		}
		pd->spare.len = 0;
		if (!irs__buf_reserve(&pd->spare, (size_t)p->size + r->size))
			return irs__seterr(err, IRS_ENOMEM, "out of memory merging spilled changes");
		pd->spare.len = irs__rec_collapse(ts, p, r, pd->spare.p, pd->spare.cap);
		irs_buf tmp = pd->rec;
		pd->rec = pd->spare;
		pd->spare = tmp;
		return 0;
	}
	int rc = pd->have ? emit(e, p, err) : 0;
	if (rc)
		return rc;
	pd->rec.len = 0;
	if (!irs__buf_append(&pd->rec, r, r->size))
		return irs__seterr(err, IRS_ENOMEM, "out of memory merging spilled changes");
	pd->have = true;
	return 0;
}

/* Merges table i's runs and buffer, collapsing or rejecting repeated keys, into segments. */
static int write_table(irs_backup_writer *w, uint32_t i, irs_error *err)
{
	wtable *t = &w->t[i];
	const irs_schema_table *ts = &w->c->tables[i];
	if (!t->changes)
		return 0;
	sort_table(w, t);
	uint32_t nsrc = t->nruns + 1;
	source *src = irs__calloc(w->mem, sizeof(source) * nsrc);
	source **heap = irs__calloc(w->mem, sizeof(source *) * nsrc);
	emitter e = {.w = w, .table = i, .t = t};
	pending pd = {.have = false};
	irs__buf_init(&pd.rec, w->mem);
	irs__buf_init(&pd.spare, w->mem);
	int rc = 0;
	if (!src || !heap || irs__batch_encoder_init(&e.enc, w->mem, ts) != 0) {
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory writing the segments");
		goto out;
	}
	size_t nheap = 0;
	for (uint32_t r = 0; r < nsrc && !rc; r++)
		rc = source_open(w, t, &src[r], r, heap, &nheap, err);
	for (uint32_t step = 1; !rc && nheap; step++) {
		if (step % 4096 == 0 && (rc = check_cancel(w, err)) != 0)
			break;
		source *s = heap[0];
		rc = merge_next(w, ts, &e, &pd, s->cur, err);
		if (!rc)
			rc = source_next(w, s, err);
		if (!rc && !s->cur)
			heap[0] = heap[--nheap];
		heap_sift_down(heap, nheap);
	}
	if (!rc && pd.have)
		rc = emit(&e, (const irs_rec *)pd.rec.p, err);
	if (!rc)
		rc = emit_flush_frame(&e, err);
	if (!rc)
		rc = emit_close_segment(&e, err);
out:
	if (e.seg_open)
		irs__segment_discard(&e.seg);
	irs__batch_encoder_free(&e.enc);
	irs__buf_free(&pd.rec);
	irs__buf_free(&pd.spare);
	if (src)
		for (uint32_t r = 0; r < nsrc; r++)
			irs__free(w->mem, src[r].buf, src[r].cap);
	irs__free(w->mem, src, sizeof(source) * nsrc);
	irs__free(w->mem, heap, sizeof(source *) * nsrc);
	return rc;
}

int irs_backup_writer_commit(irs_backup_writer *w, irs_error *err)
{
	irs__errclear(err);
	if (!w)
		return irs__seterr(err, IRS_EINVAL, "irs_backup_writer_commit: NULL writer");
	irs_collection *c = w->c;
	int rc = w->failed ? irs__seterr(err, IRS_EINVAL, "the writer failed earlier") : check_cancel(w, err);
	for (uint32_t i = 0; !rc && i < c->ntables; i++) {
		rc = write_table(w, i, err);
		if (rc && rc != IRS_ECANCELED)
			irs__errprefix(err, "%s", c->dir);
	}
	/* Everything is on disk; make the directory entries durable too. */
	struct stat st;
	if (!rc && !w->o.no_sync && fstatat(c->dirfd, w->datadir, &st, 0) == 0) {
		rc = irs__fsync_dir_at(c->dirfd, w->datadir, err);
		if (!rc)
			rc = irs__fsync_dir_at(c->dirfd, "data", err);
	}
	/* The new manifest: the old one with one more backup. */
	Increstore__TableBackup *tbs = NULL, **tbp = NULL;
	Increstore__ExpectedState *exps = NULL;
	Increstore__Segment **segp = NULL;
	Increstore__Backup **chain = NULL;
	size_t nseg_total = 0, ntb = 0;
	for (uint32_t i = 0; i < c->ntables; i++)
		nseg_total += w->t[i].nsegs;
	if (!rc) {
		tbs = irs__calloc(w->mem, sizeof(*tbs) * c->ntables);
		tbp = irs__calloc(w->mem, sizeof(*tbp) * c->ntables);
		exps = irs__calloc(w->mem, sizeof(*exps) * c->ntables);
		segp = irs__calloc(w->mem, sizeof(*segp) * (nseg_total + 1));
		chain = irs__calloc(w->mem, sizeof(*chain) * (c->nbackups + 1));
		if (!tbs || !tbp || !exps || !segp || !chain)
			rc = irs__seterr(err, IRS_ENOMEM, "out of memory writing the manifest");
	}
	if (!rc) {
		size_t si = 0;
		for (uint32_t i = 0; i < c->ntables; i++) {
			wtable *t = &w->t[i];
			if (!t->nsegs && !t->has_expected)
				continue;
			Increstore__TableBackup init = INCRESTORE__TABLE_BACKUP__INIT;
			Increstore__TableBackup *tb = &tbs[ntb];
			*tb = init;
			tb->table = i;
			tb->n_segments = t->nsegs;
			tb->segments = segp + si;
			for (size_t s = 0; s < t->nsegs; s++)
				segp[si++] = &t->segs[s];
			tb->records = t->out_records;
			if (t->has_expected) {
				Increstore__ExpectedState einit = INCRESTORE__EXPECTED_STATE__INIT;
				exps[i] = einit;
				exps[i].rows = t->exp_rows;
				exps[i].digest = t->exp_digest;
				tb->expected = &exps[i];
			}
			tbp[ntb++] = tb;
		}
		Increstore__Backup b = INCRESTORE__BACKUP__INIT;
		b.name = w->name;
		b.kind = w->kind == IRS_BACKUP_FULL ? INCRESTORE__BACKUP_KIND__FULL
						    : INCRESTORE__BACKUP_KIND__INCREMENTAL;
		b.seq = w->seq;
		b.parent = c->nbackups ? c->backups[c->nbackups - 1].pb->name : "";
		struct timeval tv;
		gettimeofday(&tv, NULL);
		b.created_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
		b.n_tables = ntb;
		b.tables = tbp;
		for (uint32_t i = 0; i < c->nbackups; i++)
			chain[i] = c->m->chain[i];
		chain[c->nbackups] = &b;
		Increstore__Manifest m = *c->m;
		m.n_chain = c->nbackups + 1;
		m.chain = chain;
		/* the last point where a cancel leaves nothing: the manifest commits */
		rc = check_cancel(w, err);
		if (!rc)
			rc = irs__manifest_write(c->dir, &m, !w->o.no_sync, err);
	}
	irs__free(w->mem, tbs, sizeof(*tbs) * c->ntables);
	irs__free(w->mem, tbp, sizeof(*tbp) * c->ntables);
	irs__free(w->mem, exps, sizeof(*exps) * c->ntables);
	irs__free(w->mem, segp, sizeof(*segp) * (nseg_total + 1));
	irs__free(w->mem, chain, sizeof(*chain) * (c->nbackups + 1));
	if (rc) {
		irs_backup_writer_abort(w);
		return rc;
	}
	char w_name[IRS_MAX_NAME + 1];
	memcpy(w_name, w->name, sizeof w_name);
	writer_free(w);
	rc = reload(c, err);
	if (rc)
		irs__errprefix(err, "backup %s was committed, but re-reading the collection failed", w_name);
	return rc;
}
