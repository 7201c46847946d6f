/*
 * error.h (private): filling an irs_error. Every message is one line that names what
 * failed and where; formatting never fails (it truncates).
 */
#ifndef IRS_COMMON_ERROR_H
#define IRS_COMMON_ERROR_H

#include "increstore.h"

#if defined(__GNUC__)
#define IRS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IRS_PRINTF(f, a)
#endif

/* Sets err (when not NULL) to code and the formatted message; returns code. */
int irs__seterr(irs_error *err, int code, const char *fmt, ...) IRS_PRINTF(3, 4);

/* Prefixes the message already in err with the formatted context ("ctx: old"). */
void irs__errprefix(irs_error *err, const char *fmt, ...) IRS_PRINTF(2, 3);

/* Replaces every "from" in the message with "to": a file written under a temporary
 * name is named by its final one. */
void irs__errrename(irs_error *err, const char *from, const char *to);

/* Clears err (code 0, empty message). */
void irs__errclear(irs_error *err);

#endif
