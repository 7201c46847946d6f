/*
 * collection.h (private): an opened, validated collection. Immutable after open
 * (a backup writer replaces it wholesale on commit), so any number of threads may
 * read it at once.
 */
#ifndef IRS_FORMAT_COLLECTION_H
#define IRS_FORMAT_COLLECTION_H

#include "common/alloc.h"
#include "common/schema.h"
#include "format.h"

typedef struct irs_backup_meta {
	const Increstore__Backup *pb;
	irs_backup_kind kind;
	uint32_t base;                         /* index of the full backup it builds on */
	uint64_t records, bytes;
	uint32_t segments;
	/* the tables it lists, ordered by table index (irs__backup_table finds one): as
	 * many entries as the manifest lists, never one per table of the schema, so a
	 * chain of many backups of a wide schema costs what its manifest holds */
	const Increstore__TableBackup **tables;
	uint32_t ntables;
} irs_backup_meta;

/* What backup bm holds for table t, or NULL when it lists nothing for t. */
static inline const Increstore__TableBackup *irs__backup_table(const irs_backup_meta *bm, uint32_t t)
{
	uint32_t lo = 0, hi = bm->ntables;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t x = bm->tables[mid]->table;
		if (x == t)
			return bm->tables[mid];
		if (x < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct irs_collection {
	irs_mem mem;
	char *dir;                /* as given */
	char *realdir;            /* realpath of dir: segments must resolve inside it */
	int dirfd;
	Increstore__Manifest *m;
	uint32_t ntables;
	irs_schema_table *tables;
	irs_column_def **coldefs; /* per table, for irs_collection_table */
	uint32_t nbackups;
	irs_backup_meta *backups;
	uint32_t max_ncols;
	uint8_t manifest_id[28];  /* header + inode of the MANIFEST read (irs__collection_changed) */
};

/* True when DIR/MANIFEST is no longer the file this handle read (another writer
 * committed since), or cannot be checked. */
bool irs__collection_changed(const irs_collection *c);

/* Builds (and validates) the internal schema of the manifest's tables. */
int irs__schema_build(irs_mem *mem, const Increstore__Manifest *m, irs_schema_table **out,
		      irs_error *err);
void irs__schema_free(irs_mem *mem, irs_schema_table *t, uint32_t n);

/* Checks that a relative path stays inside the collection (no "..", not absolute). */
int irs__path_check(const char *rel);

/* Sets enabled[t] (one per table) for the tables names[0..n) name, or for every table
 * when names is NULL; IRS_ENOTFOUND naming the first unknown name. */
int irs__tables_enable(const irs_collection *c, const char *const *names, uint32_t n, bool *enabled,
		       irs_error *err);

#endif
