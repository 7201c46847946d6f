/*
 * fault_env.h (private, test builds): a number for a test hook from the environment.
 *
 * Scripts cannot reach the library's hook structs, so a few hooks also read an
 * environment variable (IRS_FAULT_SLOW_COMMIT_US, IRS_FAULT_SLOW_EXPORT_US,
 * IRS_FAULT_SLOW_APPLY_US). Each is read once, by whichever thread gets there first:
 * racing first reads store the same value, so relaxed atomics suffice (and keep
 * ThreadSanitizer quiet).
 */
#ifndef IRS_COMMON_FAULT_ENV_H
#define IRS_COMMON_FAULT_ENV_H

#include <stdlib.h>

/* The variable `name` as a non-negative int (0 when unset); *cache starts at -1. */
static inline int irs__fault_env_int(int *cache, const char *name)
{
	int v = __atomic_load_n(cache, __ATOMIC_RELAXED);
	if (v < 0) {
		const char *s = getenv(name);
		v = s ? atoi(s) : 0;
		if (v < 0)
			v = 0;
		__atomic_store_n(cache, v, __ATOMIC_RELAXED);
	}
	return v;
}

#endif
