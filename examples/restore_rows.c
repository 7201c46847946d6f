/*
 * restore_rows.c: restores a collection with the library and prints every row of one
 * table in primary key order, as JSON-ish lines. The README quotes this program, and
 * the tests build and run it.
 *
 *     irs_example_restore DIR [TABLE]
 */
#include <increstore.h>
#include <inttypes.h>
#include <stdio.h>

typedef struct {
	const irs_table_def *def;
	uint64_t rows;
} print_ctx;

static int print_row(void *ctx, const irs_value *row)
{
	print_ctx *p = ctx;
	printf("{");
	for (uint32_t c = 0; c < p->def->column_count; c++) {
		const irs_value *v = &row[c];
		printf("%s\"%s\": ", c ? ", " : "", p->def->columns[c].name);
		if (v->state != IRS_VALUE_SET) {
			printf("null");
			continue;
		}
		switch (p->def->columns[c].type) {
		case IRS_TYPE_BOOL: printf("%s", v->v.b ? "true" : "false"); break;
		case IRS_TYPE_INT32:
		case IRS_TYPE_INT64:
		case IRS_TYPE_TIMESTAMP: printf("%" PRId64, v->v.i64); break;
		case IRS_TYPE_UINT32:
		case IRS_TYPE_UINT64: printf("%" PRIu64, v->v.u64); break;
		case IRS_TYPE_DOUBLE: printf("%.17g", v->v.d); break;
		case IRS_TYPE_UTF8:
		case IRS_TYPE_BYTES: printf("\"%.*s\"", (int)v->v.s.len, (const char *)v->v.s.ptr); break;
		}
	}
	printf("}\n");
	p->rows++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [TABLE]\n", argv[0]);
		return 2;
	}
	irs_error err;
	irs_collection *c = NULL;
	if (irs_collection_open(argv[1], NULL, 0, &c, &err) != 0) {
		fprintf(stderr, "%s\n", err.message);
		return 3;
	}
	int table = argc > 2 ? irs_collection_find_table(c, argv[2]) : 0;
	if (table < 0) {
		fprintf(stderr, "no table %s\n", argv[2]);
		irs_collection_close(c);
		return 2;
	}
	irs_restore_options opts;
	irs_restore_options_init(&opts, IRS_RESTORE_OPTIONS_VERSION);
	opts.shards = 2;
	irs_restore *r = NULL;
	int rc = irs_restore_run(c, &opts, NULL, &r, &err);
	if (rc == 0) {
		irs_table_def def;
		irs_collection_table(c, (uint32_t)table, &def);
		print_ctx p = {&def, 0};
		rc = irs_restore_scan(r, (uint32_t)table, print_row, &p, &err);
		if (rc == 0)
			printf("%" PRIu64 " rows\n", p.rows);
	}
	if (rc != 0)
		fprintf(stderr, "%s\n", err.message);
	irs_restore_free(r);
	irs_collection_close(c);
	return rc == 0 ? 0 : 1;
}
