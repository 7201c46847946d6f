/*
 * fuzz_changes_jsonl.c: libFuzzer target for the changes JSONL importer
 * ({"op": "upsert", "row": ...} / {"op": "erase", "key": ...}); upserts and erases are
 * checked against the promises of cli/import.h (fuzz_common.h).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	irs_import_sink sink = {fz_change_upsert, fz_change_erase, NULL};
	fz_import(data, size, IRS_IMPORT_CHANGES_JSONL, &sink);
	return 0;
}
