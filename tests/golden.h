/* golden.h — the fixture's reference tensors (tests/data/fvl-tiny-phi3/golden.safetensors) and a
 * model file converted from its checkpoint once per test run. */
#ifndef FVL_TEST_GOLDEN_H
#define FVL_TEST_GOLDEN_H

#include <stddef.h>

#include "gguf.h"

/* The golden tensor name as n floats (malloc'd; NULL with a recorded failure if absent). */
float *golden_tensor(const char *name, size_t n);
/* Ids of golden.json's array `key` (up to cap); returns the count or -1. */
int golden_ids(const char *key, int *ids, int cap);
/* The same for another fixture folder under tests/data ("fvl-tiny-llama3"). */
float *golden_tensor_in(const char *fixture, const char *name, size_t n);
int golden_ids_in(const char *fixture, const char *key, int *ids, int cap);
/* Path of the fixture checkpoint converted with every weight type `type` ("f32", "q8_0",
 * "q4_0"; LLM linears take the type, the rest stay f32 or follow vision_type). Cached. */
const char *golden_model(const char *llm_type, const char *vision_type);

/* max |a - b| / max |b| */
double golden_err(const float *a, const float *b, size_t n);
double golden_cosine(const float *a, const float *b, size_t n);
size_t golden_argmax(const float *a, size_t n);

#endif /* FVL_TEST_GOLDEN_H */
