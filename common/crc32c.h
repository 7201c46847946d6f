/*
 * crc32c.h (private): CRC-32C (Castagnoli), as used by iSCSI, ext4 and this format.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time),
 * else a slicing-by-8 table. crc = irs__crc32c(0, buf, len); extend with the
 * previous value as the first argument.
 */
#ifndef IRS_COMMON_CRC32C_H
#define IRS_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t irs__crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable implementation, exposed so tests can compare both. */
uint32_t irs__crc32c_portable(uint32_t crc, const void *buf, size_t len);
/* 1 when the hardware path is in use. */
int irs__crc32c_hw(void);

#endif
