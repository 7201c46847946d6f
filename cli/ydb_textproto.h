/*
 * ydb_textproto.h (private to the CLI): a parser for the protobuf text format, enough
 * to read the scheme.pb files that `ydb tools dump` writes.
 *
 * protobuf-c has no text-format parser, and scheme.pb is a text-format
 * Ydb.Table.CreateTableRequest. This parser knows no message definitions: it turns
 * the text into a tree of fields (name, then a scalar or a nested message) and the
 * caller picks the fields it needs, so every field it does not know (storage
 * settings, partitioning, TTL, indexes, future additions) is skipped by construction.
 *
 * SYNTAX ACCEPTED (what google::protobuf::TextFormat prints, plus what its parser takes)
 *   message  := field*
 *   field    := name ( ':' scalar | ':' '[' list ']' | [':'] ( '{' message '}' | '<' message '>' ) )
 *               [';' | ',']
 *   name     := identifier | '[' identifier ('.' | '/' identifier)* ']'   (extensions, Any)
 *   scalar   := string+ (adjacent strings concatenate) | ['-'] number | ['-'] identifier
 *   list     := (scalar | '{' message '}' | '<' message '>') (',' ...)*  or empty
 *   strings  : '...' or "...", C escapes \n \t \r \a \b \f \v \\ \' \" \? \ooo \xHH
 *              \uXXXX \UXXXXXXXX (the last two written as UTF-8)
 *   comments : '#' to the end of the line
 * A list element becomes one field per element, as if the field were repeated.
 *
 * LIMITS: nesting depth IRS_TP_MAX_DEPTH; the caller bounds the input size.
 * ERRORS: IRS_EINPUT with "NAME:LINE:COL: reason". OWNERSHIP: irs_tp_parse returns a
 * tree that irs_tp_free releases; every string in it belongs to the tree.
 */
#ifndef IRS_CLI_YDB_TEXTPROTO_H
#define IRS_CLI_YDB_TEXTPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"

#define IRS_TP_MAX_DEPTH 64

typedef enum irs_tp_kind {
	IRS_TP_MESSAGE = 1,    /* children holds the fields */
	IRS_TP_STRING = 2,     /* value: the decoded bytes (may hold NUL; value_len counts) */
	IRS_TP_NUMBER = 3,     /* value: the number as written, with its '-' */
	IRS_TP_IDENT = 4       /* value: an identifier (enum value, true/false, inf), with its '-' */
} irs_tp_kind;

typedef struct irs_tp_node irs_tp_node;
struct irs_tp_node {
	char *name;            /* field name; "[a.b]" for extensions; "" for the root */
	irs_tp_kind kind;
	char *value;           /* scalars: NUL-terminated */
	size_t value_len;
	irs_tp_node *children; /* messages: first field */
	irs_tp_node *next;     /* next field of the same message */
	uint32_t line;         /* where the field's name starts (1-based) */
};

/*
 * Parses text[0..len) (need not be NUL-terminated). name is the input in messages.
 * On success *root is a MESSAGE node holding the top-level fields.
 * Returns 0, IRS_EINPUT or IRS_ENOMEM.
 */
int irs_tp_parse(const char *text, size_t len, const char *name, irs_tp_node **root,
		 irs_error *err);

/* Releases a tree from irs_tp_parse; NULL is a no-op. */
void irs_tp_free(irs_tp_node *root);

/* The first field of msg named `name`, or NULL. */
const irs_tp_node *irs_tp_first(const irs_tp_node *msg, const char *name);
/* The next field after n with the same name, or NULL. */
const irs_tp_node *irs_tp_next(const irs_tp_node *n);
/* The number of fields of msg named `name`. */
size_t irs_tp_count(const irs_tp_node *msg, const char *name);

#endif
