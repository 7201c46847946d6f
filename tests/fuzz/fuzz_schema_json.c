/*
 * fuzz_schema_json.c: libFuzzer target for schema.json parsing (cli/schema_json.c).
 * A parsed schema must satisfy what irs_collection_create expects: non-empty unique
 * names, known types, key indexes in range and distinct.
 */
#include <string.h>

#include "common/schema.h"
#include "schema_json.h"

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	irs_cli_schema s;
	irs_error err;
	memset(&err, 0, sizeof err);
	int rc = irs_schema_json_parse((const char *)data, size, "fuzz.json", &s, &err);
	if (rc) {
		CHECK(rc == IRS_ESCHEMA || rc == IRS_ENOMEM);
		CHECK(strncmp(err.message, "fuzz.json", 9) == 0);
		CHECK(s.tables == NULL);
		return 0;
	}
	CHECK(s.count >= 1);
	for (uint32_t i = 0; i < s.count; i++) {
		const irs_table_def *t = &s.tables[i];
		CHECK(t->name[0] && strlen(t->name) <= IRS_MAX_NAME);
		CHECK(t->column_count >= 1 && t->primary_key_count >= 1);
		for (uint32_t c = 0; c < t->column_count; c++) {
			CHECK(t->columns[c].name[0]);
			CHECK(irs__type_valid(t->columns[c].type));
			for (uint32_t d = 0; d < c; d++)
				CHECK(strcmp(t->columns[c].name, t->columns[d].name) != 0);
		}
		for (uint32_t k = 0; k < t->primary_key_count; k++) {
			CHECK(t->primary_key[k] < t->column_count);
			for (uint32_t j = 0; j < k; j++)
				CHECK(t->primary_key[k] != t->primary_key[j]);
		}
		for (uint32_t j = 0; j < i; j++)
			CHECK(strcmp(t->name, s.tables[j].name) != 0);
	}
	irs_schema_json_free(&s);
	return 0;
}
