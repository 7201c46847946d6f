/*
 * import_sink.c: the sink that feeds an import into a backup writer
 * (irs_backup_writer_upsert and _erase); the record's line is the writer's tag, so a
 * duplicate key found at commit names both lines.
 */
#include "import.h"

static int writer_upsert(void *ctx, uint32_t table, const irs_value *values, uint64_t tag,
			 irs_error *err)
{
	return irs_backup_writer_upsert(ctx, table, values, tag, err);
}

static int writer_erase(void *ctx, uint32_t table, const irs_value *values, uint64_t tag,
			irs_error *err)
{
	return irs_backup_writer_erase(ctx, table, values, tag, err);
}

irs_import_sink irs_import_writer_sink(irs_backup_writer *w)
{
	irs_import_sink s = {writer_upsert, writer_erase, w};
	return s;
}

