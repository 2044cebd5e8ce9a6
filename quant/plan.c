/* plan.c — the conversion plan: which checkpoint tensor becomes which model-file tensor, checked
 * against the shape the config implies, in which type (the class's default, --type overrides,
 * f16 where a quantized type does not fit the row). arch.c fills it; convert.c writes it. */
#include <fnmatch.h>
#include <string.h>

#include "common.h"
#include "plan.h"

static enum fvl_type resolve_type(const struct convert_opts *o, const char *name, enum tclass cls)
{
	enum fvl_type t = cls == TCLASS_LLM      ? o->wtype
	                  : cls == TCLASS_VISION ? o->vision_wtype
	                  : cls == TCLASS_EMBED  ? o->embed_wtype
	                                         : FVL_TYPE_F32;
	for (uint32_t i = 0; i < o->n_overrides; i++) /* the last matching override wins */
		if (fnmatch(o->overrides[i].pattern, name, 0) == 0)
			t = o->overrides[i].type;
	return t;
}

static void fmt_shape(char *buf, size_t n, uint32_t nd, const uint64_t *shape)
{
	int at = snprintf(buf, n, "[");
	for (uint32_t d = 0; d < nd && at < (int)n; d++)
		at += snprintf(buf + at, n - (size_t)at, "%s%llu", d ? ", " : "",
		               (unsigned long long)shape[d]);
	if (at < (int)n)
		snprintf(buf + at, n - (size_t)at, "]");
}

enum fvl_status plan_add(struct plan *p, const char *name, enum tclass cls, bool transpose,
                         uint32_t n_dims, const uint64_t *shape, const char *src_name,
                         const char *const *alts)
{
	const struct ckpt_tensor *t = ckpt_find(p->ck, src_name);
	for (uint32_t i = 0; !t && alts && alts[i]; i++)
		if ((t = ckpt_find(p->ck, alts[i])))
			src_name = alts[i];
	if (!t && p->opts->synth) {
		enum fvl_status st =
		        ckpt_push_random(p->ck, src_name, n_dims, shape, p->opts->seed);
		if (st != FVL_STATUS_OK)
			return st;
		t = ckpt_find(p->ck, src_name);
	}
	if (!t)
		return fvl_fail(FVL_STATUS_NOT_FOUND, "the checkpoint has no tensor '%s'",
		                src_name);
	bool ok = t->n_dims == n_dims;
	for (uint32_t d = 0; ok && d < n_dims; d++)
		ok = t->shape[d] == shape[d];
	if (!ok) {
		char want[96], got[96];
		fmt_shape(want, sizeof(want), n_dims, shape);
		fmt_shape(got, sizeof(got), t->n_dims, t->shape);
		return fvl_fail(FVL_STATUS_BAD_FILE, "tensor '%s' has shape %s, the config says %s",
		                src_name, got, want);
	}
	if (t->dtype == CKPT_DTYPE_OTHER)
		return fvl_fail(FVL_STATUS_UNSUPPORTED,
		                "%s: tensor '%s' has dtype %s; fvl converts "
		                "F32, F16 and BF16",
		                t->file->path, src_name, t->dtype_name);
	enum fvl_status st = FVL_GROW(p->t, p->cap, p->n, 256);
	if (st != FVL_STATUS_OK)
		return st;
	struct plan_tensor *pt = &p->t[p->n++];
	memset(pt, 0, sizeof(*pt));
	snprintf(pt->name, sizeof(pt->name), "%s", name);
	pt->src_name = t->name;
	pt->src = transpose ? ckpt_transpose(t) : *t;
	/* Model-file order is PyTorch's reversed: ne[0] is the contiguous row. 5-D and up fold
	 * into the last dimension (none of fvl's tensors have them). */
	pt->n_dims = n_dims > 4 ? 4 : n_dims;
	for (uint32_t d = 0; d < 4; d++)
		pt->ne[d] = 1;
	for (uint32_t d = 0; d < n_dims; d++)
		pt->ne[d < 4 ? d : 3] *= pt->src.shape[n_dims - 1 - d];
	pt->type = resolve_type(p->opts, name, cls);
	const uint64_t blck = fvl_type_info(pt->type)->blck;
	if (pt->ne[0] % blck == 0)
		return FVL_STATUS_OK;
	/* A convolution's rows (kw) rarely fit a block, but the runtime reads [kw, kh, cin, cout]
	 * as the linear [kw kh cin, cout]: stored 2-D, quantized along kw kh cin, when that fits. */
	struct ckpt_tensor folded;
	if (n_dims == 4 && (pt->ne[0] * pt->ne[1] * pt->ne[2]) % blck == 0 &&
	    ckpt_fold_rows(&pt->src, 3, &folded)) {
		pt->src = folded;
		pt->ne[0] *= pt->ne[1] * pt->ne[2];
		pt->ne[1] = pt->ne[3];
		pt->ne[2] = pt->ne[3] = 1;
		pt->n_dims = 2;
		return FVL_STATUS_OK;
	}
	pt->fallback = true;
	pt->type = FVL_TYPE_F16;
	return FVL_STATUS_OK;
}
