/* cfg.h — typed reads from the JSON files of a checkpoint (cJSON underneath); every error names
 * the file and the key. */
#ifndef FVL_CFG_H
#define FVL_CFG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "fvl.h"

struct cfg {
	cJSON *root;
	char path[512];
};

/* NOT_FOUND if the file does not exist, BAD_FILE if it is not a JSON object. */
enum fvl_status cfg_load(struct cfg *c, const char *path);
void cfg_free(struct cfg *c);

/* obj may be c->root or any object inside it; key may be "a.b" for nested objects. */
const cJSON *cfg_get(const cJSON *obj, const char *key);
enum fvl_status cfg_int(const struct cfg *c, const cJSON *obj, const char *key, int64_t *out);
enum fvl_status cfg_num(const struct cfg *c, const cJSON *obj, const char *key, double *out);
enum fvl_status cfg_str(const struct cfg *c, const cJSON *obj, const char *key, const char **out);
/* Optional keys: the default when absent, an error only when present with the wrong type. */
enum fvl_status
cfg_int_or(const struct cfg *c, const cJSON *obj, const char *key, int64_t def, int64_t *out);
enum fvl_status
cfg_num_or(const struct cfg *c, const cJSON *obj, const char *key, double def, double *out);
enum fvl_status
cfg_bool_or(const struct cfg *c, const cJSON *obj, const char *key, bool def, bool *out);
/* An array of numbers into out (n entries, exactly): BAD_FILE otherwise. */
enum fvl_status
cfg_num_array(const struct cfg *c, const cJSON *obj, const char *key, double *out, int n);
/* Reads a whole file into a NUL-terminated buffer (free with free()). */
enum fvl_status cfg_read_file(const char *path, char **out, size_t *n);

#endif /* FVL_CFG_H */
