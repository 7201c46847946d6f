/* error.c: error codes, their names and texts (from IRS_ERRNO_MAP), and irs_error. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *irs_err_name(int code)
{
	switch (code) {
	case 0: return "IRS_OK";
#define IRS_ERR_NAME_(name, value, msg) case value: return "IRS_" #name;
	IRS_ERRNO_MAP(IRS_ERR_NAME_)
#undef IRS_ERR_NAME_
	}
	return "IRS_UNKNOWN";
}

const char *irs_strerror(int code)
{
	switch (code) {
	case 0: return "success";
#define IRS_ERR_TEXT_(name, value, msg) case value: return msg;
	IRS_ERRNO_MAP(IRS_ERR_TEXT_)
#undef IRS_ERR_TEXT_
	}
	return "unknown error";
}

const char *irs_version(void)
{
	return IRS_VERSION_STRING;
}

/* Replaces control characters (a newline in a name or a key) so the message stays one line. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

int irs__seterr(irs_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	one_line(err->message);
	return code;
}

void irs__errprefix(irs_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	char prefix[IRS_ERROR_MESSAGE_MAX];
	char old[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof old);
	snprintf(err->message, sizeof err->message, "%.200s: %.300s", prefix, old);
	one_line(err->message);
}

void irs__errrename(irs_error *err, const char *from, const char *to)
{
	size_t n = from ? strlen(from) : 0;
	if (!err || !to || n == 0 || !strstr(err->message, from))
		return;
	char old[IRS_ERROR_MESSAGE_MAX], *o = err->message, *end = err->message + sizeof err->message - 1;
	memcpy(old, err->message, sizeof old);
	for (const char *p = old; *p && o < end;) {
		if (strncmp(p, from, n) == 0) {
			for (const char *t = to; *t && o < end;)
				*o++ = *t++;
			p += n;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
}

void irs__errclear(irs_error *err)
{
	if (err) {
		err->code = 0;
		err->message[0] = '\0';
	}
}
