/*
 * fuzz_csv.c: libFuzzer target for the rows CSV importer (libcsv underneath); accepted
 * rows are checked and round-tripped through engine/textout.c (fuzz_common.h).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	irs_import_sink sink = {fz_row_upsert, fz_no_erase, NULL};
	fz_import(data, size, IRS_IMPORT_ROWS_CSV, &sink);
	return 0;
}
