/*
 * fuzz_checkpoint.c: libFuzzer target for the checkpoint state reader
 * (irs__restore_state_parse): the input is a RESTORE_STATE file's bytes, behind a valid
 * header and CRC when the first byte is even (so the protobuf decode is reached), raw
 * when odd (so the framing checks are). It must accept or refuse, never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "engine/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + 20);
	size_t len = size;
	if (size && (data[0] & 1) == 0) {
		memcpy(buf, "IRSCKP\r\n", 8);
		irs__store_le32(buf + 8, 1);
		irs__store_le32(buf + 12, (uint32_t)(size - 1));
		irs__store_le32(buf + 16, irs__crc32c(0, data + 1, size - 1));
		memcpy(buf + 20, data + 1, size - 1);
		len = size + 19;
	} else if (size) {
		memcpy(buf, data, size);
	}
	Increstore__RestoreState *rs = NULL;
	irs_error err = {0};
	int rc = irs__restore_state_parse(buf, len, &rs, &err);
	if (rc == 0) {
		if (!rs || !rs->collection_id || !rs->upto)
			abort();
		irs__restore_state_free(rs);
	} else if (rs || !err.message[0]) {
		abort();
	}
	free(buf);
	return 0;
}
