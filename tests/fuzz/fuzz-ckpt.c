/* fuzz-ckpt.c — libFuzzer target for the checkpoint readers: the bytes become a file (memfd) read
 * as safetensors and as a PyTorch zip; every tensor found is then read in full. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(struct ckpt *c)
{
	float *buf = NULL;
	if (ckpt_index(c) != FVL_STATUS_OK)
		return;
	for (uint64_t i = 0; i < c->n_tensors; i++) {
		const struct ckpt_tensor *t = &c->tensors[i];
		uint64_t n = ckpt_numel(t);
		if (t->n_dims == 0 || n == 0 || n > (1u << 20))
			continue;
		buf = realloc(buf, n * sizeof(float));
		if (buf)
			ckpt_read_rows(t, 0, n / t->shape[t->n_dims - 1], buf);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct ckpt c;
	ckpt_init(&c);
	if (ckpt_add_safetensors(&c, path) == FVL_STATUS_OK)
		read_all(&c);
	ckpt_free(&c);
	ckpt_init(&c);
	if (ckpt_add_torch(&c, path) == FVL_STATUS_OK)
		read_all(&c);
	ckpt_free(&c);
	close(fd);
	return 0;
}
