/*
 * fuzz_ydb_textproto.c: libFuzzer target for the protobuf text-format parser and the
 * scheme.pb reader (cli/ydb_textproto.h, cli/ydb_scheme.h). Errors must be one line
 * naming the input; a parsed tree must be well formed (scalars have values, messages
 * do not); a parsed scheme must have what the importer relies on: at least one
 * column, distinct non-empty names without NUL, a primary key of distinct columns in
 * range.
 */
#include <string.h>

#include "ydb_scheme.h"
#include "ydb_textproto.h"

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tree(const irs_tp_node *n, int depth)
{
	CHECK(depth <= IRS_TP_MAX_DEPTH + 1);
	for (const irs_tp_node *c = n->children; c; c = c->next) {
		CHECK(c->name && c->name[0]);
		if (c->kind == IRS_TP_MESSAGE) {
			CHECK(c->value == NULL);
			check_tree(c, depth + 1);
		} else {
			CHECK(c->kind == IRS_TP_STRING || c->kind == IRS_TP_NUMBER || c->kind == IRS_TP_IDENT);
			CHECK(c->value && c->value[c->value_len] == '\0');
			CHECK(c->children == NULL);
			if (c->kind != IRS_TP_STRING)
				CHECK(c->value_len > 0 && strlen(c->value) == c->value_len);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	irs_error err;
	memset(&err, 0, sizeof err);
	irs_tp_node *root = NULL;
	int rc = irs_tp_parse((const char *)data, size, "fuzz.pb", &root, &err);
	if (rc) {
		CHECK(rc == IRS_EINPUT || rc == IRS_ENOMEM);
		CHECK(root == NULL);
		CHECK(strncmp(err.message, "fuzz.pb", 7) == 0);
		CHECK(strchr(err.message, '\n') == NULL);
	} else {
		CHECK(root && root->kind == IRS_TP_MESSAGE);
		check_tree(root, 0);
		irs_tp_free(root);
	}
	irs_ydb_scheme s;
	memset(&err, 0, sizeof err);
	rc = irs_ydb_scheme_parse((const char *)data, size, "fuzz.pb", &s, &err);
	if (rc) {
		CHECK(rc == IRS_EINPUT || rc == IRS_ENOMEM);
		CHECK(s.cols == NULL && s.pk == NULL);
		CHECK(strncmp(err.message, "fuzz.pb", 7) == 0);
		return 0;
	}
	CHECK(s.ncols >= 1 && s.npk >= 1 && s.npk <= s.ncols);
	for (uint32_t c = 0; c < s.ncols; c++) {
		CHECK(s.cols[c].name[0]);
		CHECK(irs_ydb_scheme_find(&s, s.cols[c].name) == (int)c);
		CHECK(s.cols[c].type_name[0]);
		CHECK((s.cols[c].kind == IRS_YDB_UNSUPPORTED) == (irs_ydb_kind_type(s.cols[c].kind) == 0));
	}
	for (uint32_t k = 0; k < s.npk; k++) {
		CHECK(s.pk[k] < s.ncols);
		for (uint32_t j = 0; j < k; j++)
			CHECK(s.pk[j] != s.pk[k]);
	}
	irs_ydb_scheme_free(&s);
	return 0;
}
