/* fuzz-task-parse.c — libFuzzer target for Florence-2's post-processing: any generated text, every
 * task kind, coordinates always finite. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "florence2-tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tasks[] = {"ocr", "ocr_with_region", "od", "region_proposal",
	                                    "caption_to_phrase_grounding"};
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const struct fvl_task_geom geom = {640, 480, 640, 0, 80};
	for (size_t t = 0; t < sizeof(tasks) / sizeof(tasks[0]); t++) {
		struct fvl_task_result r;
		memset(&r, 0, sizeof(r));
		if (fvl_task_parse(fvl_task_find(tasks[t]), text, &geom, &r) == FVL_STATUS_OK)
			for (size_t i = 0; i < r.n_items; i++)
				for (uint32_t c = 0; c < r.items[i].n_coords; c++)
					if (!isfinite(r.items[i].coords[c]))
						abort();
		fvl_task_result_free(&r);
	}
	free(text);
	return 0;
}
