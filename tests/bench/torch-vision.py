#!/usr/bin/env python3
"""torch-vision.py — the PyTorch peer of fvl's vision benchmark (benchmark only, never part of fvl).

DaViT and Florence-2's _encode_image written with torch's own operators from the description in
docs (florence-vl-inference.md sections 3 and 4), over the f32 weights of an fvl model file, so
both programs run the very same weights. It first checks that it computes what fvl computes (its
output against the stage dump of `fvl task --dump DIR` on the same pixels), then times the image at
each thread count asked for, and prints one line per count:

    torch-vision: threads 2, DaViT + _encode_image 3612.4 ms (best of 3)

usage: torch-vision.py MODEL.gguf DUMP_DIR [--threads 1,2] [--runs 3]
Needs Debian's python3-torch and python3-numpy (/usr/bin/python3).
"""
import argparse
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                10: "<Q", 11: "<q", 12: "<d"}


def read_gguf(path):
    """Metadata and f32/f16 tensors (numpy views of a memory map) of a GGUF v3 file."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = bytes(buf[pos:pos + n]).decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(GGUF_SCALARS[t])

    if bytes(buf[:4]) != b"GGUF":
        sys.exit(f"{path}: not a GGUF file")
    pos = 4
    if take("<I") != 3:
        sys.exit(f"{path}: not GGUF v3")
    n_tensors, n_kv = take("<Q"), take("<Q")
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = meta.get("general.alignment", 32)
    data = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, t, off in infos:
        if t not in (0, 1):
            continue  # quantized: the peer takes f32 (or f16) files only
        dt = np.float32 if t == 0 else np.float16
        n = int(np.prod(ne))
        a = np.frombuffer(buf, dtype=dt, count=n, offset=data + off)
        tensors[name] = a.reshape(list(reversed(ne)))  # ggml's ne[0] is the fastest axis
    return meta, tensors


class Florence2Vision:
    def __init__(self, meta, tensors):
        self.m = meta
        self.w = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in tensors.items()
                  if k.startswith("v.")}
        self.eps = meta.get("f2.vision.layer_norm_eps", 1e-5)
        if "v.conv.0.weight" not in self.w:
            sys.exit("the model file has no f32/f16 vision weights (convert with --vision-wtype f32)")

    def ln(self, x, p):
        return F.layer_norm(x, (x.shape[-1],), self.w[p + ".weight"], self.w[p + ".bias"],
                            self.eps)

    def lin(self, x, p):
        return F.linear(x, self.w[p + ".weight"], self.w.get(p + ".bias"))

    def dw(self, x, h, w, p):  # x + DWConv3x3(x), x (1, N, C)
        c = x.shape[-1]
        img = x.transpose(1, 2).reshape(1, c, h, w)
        y = F.conv2d(img, self.w[p + ".weight"], self.w[p + ".bias"], padding=1, groups=c)
        return x + y.flatten(2).transpose(1, 2)

    def mlp(self, x, p):
        return x + self.lin(F.gelu(self.lin(self.ln(x, p + ".ffn_norm"), p + ".ffn_up")),
                            p + ".ffn_down")

    def spatial(self, x, h, w, heads, p):
        x = self.dw(x, h, w, p + ".dw1")
        c, win = x.shape[-1], self.m["f2.vision.window_size"]
        t = self.ln(x, p + ".attn_norm").view(1, h, w, c)
        hp, wp = -(-h // win) * win, -(-w // win) * win
        t = F.pad(t, (0, 0, 0, wp - w, 0, hp - h))
        win_t = t.view(1, hp // win, win, wp // win, win, c).permute(0, 1, 3, 2, 4, 5)
        win_t = win_t.reshape(-1, win * win, c)
        b = win_t.shape[0]
        qkv = self.lin(win_t, p + ".attn_qkv").reshape(b, win * win, 3, heads, c // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = ((q * (c // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        o = self.lin((a @ v).transpose(1, 2).reshape(b, win * win, c), p + ".attn_out")
        o = o.view(1, hp // win, wp // win, win, win, c).permute(0, 1, 3, 2, 4, 5)
        o = o.reshape(1, hp, wp, c)[:, :h, :w].reshape(1, h * w, c)
        x = self.dw(x + o, h, w, p + ".dw2")
        return self.mlp(x, p)

    def channel(self, x, h, w, groups, p):
        x = self.dw(x, h, w, p + ".dw1")
        n, c = x.shape[1], x.shape[2]
        qkv = self.lin(self.ln(x, p + ".attn_norm"), p + ".attn_qkv")
        q, k, v = qkv.reshape(1, n, 3, groups, c // groups).permute(2, 0, 3, 1, 4)
        a = ((q * n ** -0.5).transpose(-1, -2) @ k).softmax(-1)
        o = (a @ v.transpose(-1, -2)).transpose(-1, -2)
        o = self.lin(o.transpose(1, 2).reshape(1, n, c), p + ".attn_out")
        x = self.dw(x + o, h, w, p + ".dw2")
        return self.mlp(x, p)

    def davit(self, px):
        m = self.m
        x, h, w = px, px.shape[2], px.shape[3]
        tokens = None
        for s, c in enumerate(m["f2.vision.dim_embed"]):
            k, st, pad = (m["f2.vision.patch_size"][s], m["f2.vision.patch_stride"][s],
                          m["f2.vision.patch_padding"][s])
            if m["f2.vision.patch_prenorm"][s]:
                cin = tokens.shape[-1]
                x = self.ln(tokens, f"v.conv.{s}.norm").transpose(1, 2).reshape(1, cin, h, w)
            x = F.conv2d(x, self.w[f"v.conv.{s}.weight"], self.w[f"v.conv.{s}.bias"], stride=st,
                         padding=pad)
            h, w = x.shape[2], x.shape[3]
            tokens = x.flatten(2).transpose(1, 2)
            if not m["f2.vision.patch_prenorm"][s]:
                tokens = self.ln(tokens, f"v.conv.{s}.norm")
            for j in range(m["f2.vision.depths"][s]):
                tokens = self.spatial(tokens, h, w, m["f2.vision.num_heads"][s],
                                      f"v.blk.{s}.{j}.sp")
                tokens = self.channel(tokens, h, w, m["f2.vision.num_groups"][s],
                                      f"v.blk.{s}.{j}.ch")
        return tokens, h

    def encode_image(self, tokens, g):
        c = tokens.shape[-1]
        col, row = self.w["v.pos_col.weight"][:g], self.w["v.pos_row.weight"][:g]
        pos = torch.cat([col.unsqueeze(0).expand(g, g, c // 2),
                         row.unsqueeze(1).expand(g, g, c // 2)], -1).reshape(1, g * g, c)
        x = tokens + pos
        x[..., 1::2] += 1.0  # the cosine temporal embedding at t = 0
        x = torch.cat([x.mean(1, keepdim=True), x], 1)  # spatial then temporal pool
        return self.ln(self.lin(x, "v.img_proj"), "v.img_proj_norm")

    def forward(self, px):
        tokens, g = self.davit(px)
        return tokens, self.encode_image(tokens, g)


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("dump", help="fvl task --dump DIR of the same model on an image")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--check-only", action="store_true")
    a = ap.parse_args()
    meta, tensors = read_gguf(a.model)
    net = Florence2Vision(meta, tensors)
    px = torch.from_numpy(np.load(f"{a.dump}/pixel_values.npy")).reshape(1, 3, *([
        meta["preprocess.height"]] * 2))
    with torch.inference_mode():
        dav, feat = net.forward(px)
    c1 = cosine(dav.numpy(), np.load(f"{a.dump}/davit_out.npy"))
    c2 = cosine(feat.numpy(), np.load(f"{a.dump}/image_features.npy"))
    print(f"torch-vision: vs fvl's dump: cosine davit_out {c1:.7f}, image_features {c2:.7f}")
    if c1 < 0.9999 or c2 < 0.9999:
        sys.exit("torch-vision: PyTorch and fvl disagree: not the same computation")
    if a.check_only:
        return
    for t in [int(s) for s in a.threads.split(",")]:
        torch.set_num_threads(t)
        best = float("inf")
        with torch.inference_mode():
            for _ in range(a.runs):
                t0 = time.perf_counter()
                net.forward(px)
                best = min(best, time.perf_counter() - t0)
        print(f"torch-vision: threads {t}, DaViT + _encode_image {best * 1e3:.1f} ms "
              f"(best of {a.runs}), torch {torch.__version__}")


if __name__ == "__main__":
    main()
