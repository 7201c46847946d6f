/*
 * cancel.h (private): reading a caller's cancel flag.
 *
 * The library's option structs take `const volatile int *cancel`, which a signal
 * handler or another thread sets; every long loop reads it with a relaxed atomic load
 * (a plain read would be a data race under ThreadSanitizer, and no ordering is needed:
 * the flag only asks to stop). NULL means no flag.
 */
#ifndef IRS_COMMON_CANCEL_H
#define IRS_COMMON_CANCEL_H

#include <stdbool.h>

static inline bool irs__cancel_requested(const volatile int *flag)
{
	return flag && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0;
}

#endif
