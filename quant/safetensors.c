/* safetensors.c — reads a .safetensors file: an 8-byte header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data. Everything is checked against the file. */
#include <cjson/cJSON.h>
#include <string.h>

#include "ckpt.h"
#include "common.h"

static bool parse_dtype(const char *s, enum ckpt_dtype *dt, uint32_t *size)
{
	static const struct {
		const char *name;
		enum ckpt_dtype dt;
		uint32_t size;
	} dtypes[] = {
	        {"F32", CKPT_DTYPE_F32, 4},       {"F16", CKPT_DTYPE_F16, 2},
	        {"BF16", CKPT_DTYPE_BF16, 2},     {"F64", CKPT_DTYPE_OTHER, 8},
	        {"I64", CKPT_DTYPE_OTHER, 8},     {"I32", CKPT_DTYPE_OTHER, 4},
	        {"I16", CKPT_DTYPE_OTHER, 2},     {"I8", CKPT_DTYPE_OTHER, 1},
	        {"U8", CKPT_DTYPE_OTHER, 1},      {"BOOL", CKPT_DTYPE_OTHER, 1},
	        {"U16", CKPT_DTYPE_OTHER, 2},     {"U32", CKPT_DTYPE_OTHER, 4},
	        {"U64", CKPT_DTYPE_OTHER, 8},     {"F8_E4M3", CKPT_DTYPE_OTHER, 1},
	        {"F8_E5M2", CKPT_DTYPE_OTHER, 1},
	};
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++) {
		if (strcmp(s, dtypes[i].name) == 0) {
			*dt = dtypes[i].dt;
			*size = dtypes[i].size;
			return true;
		}
	}
	return false;
}

/* A JSON number that is a non-negative integer below 2^53 (exact in a double). */
static bool json_u64(const cJSON *j, uint64_t *out)
{
	if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 9007199254740992.0 ||
	    j->valuedouble != (double)(uint64_t)j->valuedouble)
		return false;
	*out = (uint64_t)j->valuedouble;
	return true;
}

static enum fvl_status parse_entry(struct ckpt *c, const struct ckpt_file *f, const cJSON *e,
                                   const uint8_t *data, uint64_t data_size)
{
	const char *path = f->path, *name = e->string;
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
	const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	struct ckpt_tensor t;
	uint32_t esize;
	uint64_t begin, end, numel = 1;

	memset(&t, 0, sizeof(t));
	if (!cJSON_IsObject(e) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
	    !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: malformed safetensors header: entry '%s' "
		                "needs dtype, shape and data_offsets [begin, end]",
		                path, name);
	if (!parse_dtype(dtype->valuestring, &t.dtype, &esize))
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: tensor '%s' has unknown dtype '%s'",
		                path, name, dtype->valuestring);
	snprintf(t.dtype_name, sizeof(t.dtype_name), "%s", dtype->valuestring);
	int nd = cJSON_GetArraySize(shape);
	if (nd > CKPT_MAX_DIMS)
		return fvl_fail(FVL_STATUS_UNSUPPORTED, "%s: tensor '%s' has %d dimensions", path,
		                name, nd);
	t.n_dims = (uint32_t)nd;
	for (int d = 0; d < nd; d++) {
		if (!json_u64(cJSON_GetArrayItem(shape, d), &t.shape[d]) ||
		    !fvl_mul_u64(numel, t.shape[d], &numel) || numel > (1ull << 48))
			return fvl_fail(FVL_STATUS_BAD_FILE,
			                "%s: malformed safetensors header: "
			                "tensor '%s' has a bad shape",
			                path, name);
	}
	int64_t stride = 1;
	for (int d = nd; d-- > 0;) {
		t.stride[d] = stride;
		stride *= (int64_t)t.shape[d];
	}
	if (!json_u64(cJSON_GetArrayItem(offs, 0), &begin) ||
	    !json_u64(cJSON_GetArrayItem(offs, 1), &end) || begin > end || end > data_size)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: tensor '%s': data_offsets outside the "
		                "%llu bytes of data (truncated file?)",
		                path, name, (unsigned long long)data_size);
	if (end - begin != numel * esize)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: tensor '%s': %llu bytes for %llu elements "
		                "of %s",
		                path, name, (unsigned long long)(end - begin),
		                (unsigned long long)numel, dtype->valuestring);
	t.name = (char *)name;
	t.storage = data + begin;
	t.storage_n = numel;
	t.offset = 0;
	t.file = f;
	return ckpt_push(c, &t);
}

enum fvl_status ckpt_add_safetensors(struct ckpt *c, const char *path)
{
	const struct ckpt_file *f;
	enum fvl_status st = ckpt_map_file(c, path, &f);
	uint64_t hlen;
	if (st != FVL_STATUS_OK)
		return st;
	if (f->size < 8)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: truncated: %llu bytes, no safetensors "
		                "header",
		                path, (unsigned long long)f->size);
	memcpy(&hlen, f->map, 8);
	if (hlen < 2 || hlen > f->size - 8)
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: safetensors header of %llu bytes does not "
		                "fit the %llu-byte file (truncated or not safetensors)",
		                path, (unsigned long long)hlen, (unsigned long long)f->size);
	cJSON *root = cJSON_ParseWithLength((const char *)f->map + 8, (size_t)hlen);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return fvl_fail(FVL_STATUS_BAD_FILE,
		                "%s: malformed safetensors header (not a JSON "
		                "object)",
		                path);
	}
	const uint8_t *data = f->map + 8 + hlen;
	const cJSON *e;
	cJSON_ArrayForEach (e, root) {
		if (strcmp(e->string, "__metadata__") == 0)
			continue;
		if ((st = parse_entry(c, f, e, data, f->size - 8 - hlen)) != FVL_STATUS_OK)
			break;
	}
	cJSON_Delete(root);
	return st;
}
