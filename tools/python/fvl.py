"""fvl — Florence-VL and Florence-2 on the C library libfvl.so, through ctypes (no build step).

    import fvl
    model = fvl.Model("model.gguf")
    s = model.session(threads=4)
    s.set_image("photo.jpg")              # a path, encoded bytes (JPEG/PNG/PNM), or a numpy
                                          # array: (h, w, 3) RGB, (h, w, 4) RGBA or (h, w) grey
    print(s.ask("What is in the image?", max_tokens=64))
    for piece in s.stream("And the colours?"):
        print(piece, end="", flush=True)
    print(s.run_task("od"))               # Florence-2 tasks: the members of `fvl task --json`

libfvl.so is looked for in $FVL_LIBRARY (a path), then in the folder `make install` wrote it to,
then where the dynamic loader looks. Every failure raises fvl.Error with libfvl's message.
"""

import ctypes
import ctypes.util
import os
import queue
import threading

__all__ = ["Error", "Model", "Session", "version"]

_LIB_DIRS = []  # make install writes its library folder here
_SOVERSION = "0.1"


class Error(Exception):
    """A failed libfvl call: .status is the fvl_status name ("bad file"), str() the message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _load():
    names = []
    if os.environ.get("FVL_LIBRARY"):
        names.append(os.environ["FVL_LIBRARY"])
    names += [os.path.join(d, "libfvl.so." + _SOVERSION) for d in _LIB_DIRS]
    names += ["libfvl.so." + _SOVERSION, ctypes.util.find_library("fvl") or "libfvl.so"]
    errors = []
    for n in names:
        try:
            return ctypes.CDLL(n)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("cannot load libfvl.so (set FVL_LIBRARY to its path): " + "; ".join(errors))


_lib = _load()
_u8p = ctypes.POINTER(ctypes.c_uint8)


# ---- the structs of fvl.h, field for field ----------------------------------------------------

class _SessionParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("n_threads", ctypes.c_uint32), ("n_ctx", ctypes.c_uint32),
                ("kv_f32", ctypes.c_bool), ("isa", ctypes.c_char_p),
                ("abort_cb", ctypes.c_void_p), ("progress_cb", ctypes.c_void_p), ("cb_user", ctypes.c_void_p)]


class _GenParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("n_predict", ctypes.c_int32), ("temp", ctypes.c_float),
                ("top_k", ctypes.c_int32), ("top_p", ctypes.c_float), ("min_p", ctypes.c_float),
                ("repeat_penalty", ctypes.c_float), ("seed", ctypes.c_uint64),
                ("ignore_eos", ctypes.c_bool), ("parse_special", ctypes.c_bool)]


class _TaskParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("task", ctypes.c_char_p), ("text", ctypes.c_char_p),
                ("n_beams", ctypes.c_int32), ("max_new", ctypes.c_int32),
                ("no_repeat_ngram", ctypes.c_int32), ("n_threads", ctypes.c_uint32), ("isa", ctypes.c_char_p)]


class _TaskItem(ctypes.Structure):
    _fields_ = [("label", ctypes.c_char_p), ("coords", ctypes.c_float * 8), ("n_coords", ctypes.c_uint32)]


class _TaskSearch(ctypes.Structure):
    _fields_ = [("n_beams", ctypes.c_uint32), ("max_new", ctypes.c_uint32), ("no_repeat_ngram", ctypes.c_uint32),
                ("early_stopping", ctypes.c_bool), ("forced_bos_id", ctypes.c_int32),
                ("forced_eos", ctypes.c_bool), ("length_penalty", ctypes.c_float)]


class _TaskResult(ctypes.Structure):
    _fields_ = [("task", ctypes.c_char_p), ("search", _TaskSearch), ("text", ctypes.c_char_p),
                ("items", ctypes.POINTER(_TaskItem)), ("n_items", ctypes.c_size_t),
                ("item_coords", ctypes.c_uint32), ("ids", ctypes.POINTER(ctypes.c_int32)),
                ("n_ids", ctypes.c_size_t), ("ms_vision", ctypes.c_double), ("ms_decode", ctypes.c_double)]


class _Image(ctypes.Structure):
    _fields_ = [("w", ctypes.c_uint32), ("h", ctypes.c_uint32), ("rgb", _u8p)]


class _ImageView(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("w", ctypes.c_uint32), ("h", ctypes.c_uint32),
                ("stride", ctypes.c_size_t), ("format", ctypes.c_int), ("size", ctypes.c_size_t)]


class _Stats(ctypes.Structure):
    _fields_ = [("ms_preprocess", ctypes.c_double), ("ms_vision", ctypes.c_double),
                ("ms_prefill", ctypes.c_double), ("ms_decode", ctypes.c_double),
                ("n_prompt", ctypes.c_uint32), ("n_visual", ctypes.c_uint32), ("n_reused", ctypes.c_uint32),
                ("n_generated", ctypes.c_uint32), ("n_ctx", ctypes.c_uint32), ("finish", ctypes.c_int)]


_PIXEL_RGB8, _PIXEL_RGBA8, _PIXEL_GRAY8 = 0, 2, 3
_FINISH = ["", "stop", "length", "context", "cancelled"]
_TOKEN_FN = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_char),
                             ctypes.c_size_t)


def _fn(name, res, *args):
    f = getattr(_lib, name)
    f.restype, f.argtypes = res, list(args)
    return f


_status_str = _fn("fvl_status_str", ctypes.c_char_p, ctypes.c_int)
_last_error = _fn("fvl_last_error", ctypes.c_char_p)
_version = _fn("fvl_version", ctypes.c_char_p)
_model_load = _fn("fvl_model_load", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p))
_model_free = _fn("fvl_model_free", None, ctypes.c_void_p)
_model_arch = _fn("fvl_model_arch", ctypes.c_char_p, ctypes.c_void_p)
_image_decode = _fn("fvl_image_decode", ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64,
                    ctypes.POINTER(_Image))
_image_free = _fn("fvl_image_free", None, ctypes.POINTER(_Image))
_image_decode_ex = _fn("fvl_image_decode_ex", ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64,
                       ctypes.c_uint32, ctypes.POINTER(_Image))
_EXIF_TRANSPOSE = 1
_session_init = _fn("fvl_session_init", ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_SessionParams),
                    ctypes.POINTER(ctypes.c_void_p))
_session_free = _fn("fvl_session_free", None, ctypes.c_void_p)
_set_image_file = _fn("fvl_session_set_image_file", ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)
_set_image_rgb = _fn("fvl_session_set_image_rgb", ctypes.c_int, ctypes.c_void_p, _u8p, ctypes.c_uint32,
                     ctypes.c_uint32)
_set_image_view = _fn("fvl_session_set_image_view", ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_ImageView))
_ask = _fn("fvl_session_ask", ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_GenParams),
           _TOKEN_FN, ctypes.c_void_p)
_reset = _fn("fvl_session_reset", None, ctypes.c_void_p)
_stats = _fn("fvl_session_stats", None, ctypes.c_void_p, ctypes.POINTER(_Stats))
_run_task = _fn("fvl_session_run_task", ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_TaskParams),
                ctypes.POINTER(_TaskResult))
_task_result_free = _fn("fvl_task_result_free", None, ctypes.POINTER(_TaskResult))


def _defaults(struct, name):
    """A params struct as libfvl's _default function fills it, after checking libfvl's size of it
    against this module's (they differ when the library and this file come from other versions)."""
    buf = ctypes.create_string_buffer(4096)
    _fn(name, None, ctypes.c_void_p)(buf)
    size = ctypes.c_uint32.from_buffer(buf).value
    if size != ctypes.sizeof(struct):
        raise Error("unsupported", "%s: libfvl %s has %d bytes, this fvl.py %d: use the fvl.py of that "
                    "libfvl" % (struct.__name__, version(), size, ctypes.sizeof(struct)))
    return struct.from_buffer_copy(buf.raw[:size])


def _check(status):
    if status != 0:
        raise Error(_status_str(status).decode(), _last_error().decode("utf-8", "replace"))


def version():
    """libfvl's version, "0.1.0"."""
    return _version().decode()


class _Handle:
    """A libfvl object: self._h, freed by _free on close(), at exit of a with block, or when
    collected (also when __init__ failed before the handle was made)."""

    _free = None

    def close(self):
        h = getattr(self, "_h", None)
        if h:
            type(self)._free(h)
            self._h = ctypes.c_void_p()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Model(_Handle):
    """A loaded model file: immutable, shared by its sessions."""

    _free = _model_free

    def __init__(self, path):
        self._h = ctypes.c_void_p()
        _check(_model_load(os.fsencode(path), ctypes.byref(self._h)))
        self.arch = _model_arch(self._h).decode()

    def session(self, threads=0, ctx=0, kv_f32=False, isa=None):
        return Session(self, threads, ctx, kv_f32, isa)


class Session(_Handle):
    """One conversation about one image (not thread-safe: one thread at a time, as in fvl.h)."""

    _free = _session_free

    def __init__(self, model, threads=0, ctx=0, kv_f32=False, isa=None):
        p = _defaults(_SessionParams, "fvl_session_params_default")
        p.n_threads, p.n_ctx, p.kv_f32 = threads, ctx, kv_f32
        self._isa = isa.encode() if isa else None
        p.isa = self._isa
        self._model = model  # the session uses the model: keep it alive
        self._h = ctypes.c_void_p()
        _check(_session_init(model._h, ctypes.byref(p), ctypes.byref(self._h)))

    def set_image(self, image, exif_transpose=False):
        """A file path, encoded image bytes, or a numpy uint8 array (h, w, 3|4) or (h, w).
        exif_transpose turns a file or bytes upright by its EXIF orientation (PIL's
        exif_transpose); by default the pixels are taken as stored, as the reference does."""
        if isinstance(image, (str, os.PathLike)) and not exif_transpose:
            _check(_set_image_file(self._h, os.fsencode(image)))
        elif isinstance(image, (str, os.PathLike, bytes, bytearray, memoryview)):
            if isinstance(image, (str, os.PathLike)):
                with open(image, "rb") as f:
                    data = f.read()
            else:
                data = bytes(image)
            img = _Image()
            _check(_image_decode_ex(data, len(data), 0, _EXIF_TRANSPOSE if exif_transpose else 0,
                                    ctypes.byref(img)))
            try:
                _check(_set_image_rgb(self._h, img.rgb, img.w, img.h))
            finally:
                _image_free(ctypes.byref(img))
        elif hasattr(image, "__array_interface__"):
            self._set_array(image)
        else:
            raise TypeError("set_image takes a path, bytes or a numpy array, not %s" % type(image).__name__)

    def _set_array(self, a):
        import numpy as np
        if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
            raise TypeError("an image array must be uint8 of shape (h, w, 3), (h, w, 4) or (h, w)")
        pixel = a.shape[2] if a.ndim == 3 else 1
        if a.strides[-1] != 1 or (a.ndim == 3 and a.strides[1] != pixel) or a.strides[0] < 0:
            a = np.ascontiguousarray(a)  # rows may have a stride; pixels must be packed
        v = _ImageView(a.ctypes.data, a.shape[1], a.shape[0], a.strides[0],
                       {1: _PIXEL_GRAY8, 3: _PIXEL_RGB8, 4: _PIXEL_RGBA8}[pixel],
                       a.strides[0] * (a.shape[0] - 1) + a.shape[1] * pixel)
        _check(_set_image_view(self._h, ctypes.byref(v)))

    def reset(self):
        """Drops the image and the KV cache."""
        _reset(self._h)

    def _gen(self, max_tokens, temperature, top_p, top_k, seed):
        g = _defaults(_GenParams, "fvl_gen_params_default")
        g.n_predict, g.temp, g.top_p, g.top_k = max_tokens, temperature, top_p, top_k
        if seed is not None:
            g.seed = seed
        return g

    def _ask(self, question, on_text, gen):
        pending = []

        def cb(_user, _id, text, n):
            try:
                return on_text(ctypes.string_at(text, n).decode("utf-8", "replace")) is not False
            except BaseException as e:  # noqa: B036 -- an exception cannot cross the C frames
                pending.append(e)
                return False

        st = _ask(self._h, question.encode(), ctypes.byref(gen), _TOKEN_FN(cb), None)
        if pending:
            raise pending[0]
        if st != 8:  # FVL_STATUS_CANCELLED: the caller stopped it
            _check(st)

    def ask(self, question, max_tokens=256, temperature=0.0, top_p=1.0, top_k=0, seed=None):
        """The answer to question about the current image (or none), as one string."""
        parts = []
        self._ask(question, parts.append, self._gen(max_tokens, temperature, top_p, top_k, seed))
        return "".join(parts)

    def stream(self, question, max_tokens=256, temperature=0.0, top_p=1.0, top_k=0, seed=None):
        """The answer in pieces as they are generated; leaving the loop stops the generation."""
        q, stop = queue.Queue(), threading.Event()
        gen = self._gen(max_tokens, temperature, top_p, top_k, seed)

        def run():
            try:
                self._ask(question, lambda t: q.put(("text", t)) if not stop.is_set() else False, gen)
                q.put(("end", None))
            except BaseException as e:  # noqa: B036 -- handed to the consumer
                q.put(("error", e))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            while True:
                kind, x = q.get()
                if kind == "text":
                    if x:
                        yield x
                elif kind == "error":
                    raise x
                else:
                    return
        finally:
            stop.set()
            t.join()

    def stats(self):
        """Timings and counts of the last set_image / ask (fvl_session_stats) as a dict."""
        s = _Stats()
        _stats(self._h, ctypes.byref(s))
        d = {name: getattr(s, name) for name, _ in _Stats._fields_}
        d["finish"] = _FINISH[s.finish] if 0 <= s.finish < len(_FINISH) else str(s.finish)
        return d

    def run_task(self, task, text=None, beams=0, max_new=0):
        """A Florence-2 task on the current image: task, text, ids, and bboxes or quad_boxes with
        labels (image pixels), as `fvl task --json` has them."""
        p = _defaults(_TaskParams, "fvl_task_params_default")
        task_b, text_b = task.encode(), text.encode() if text is not None else None
        p.task, p.text, p.n_beams, p.max_new = task_b, text_b, beams, max_new
        r = _TaskResult()
        _check(_run_task(self._h, ctypes.byref(p), ctypes.byref(r)))
        try:
            out = {"task": r.task.decode(), "text": (r.text or b"").decode("utf-8", "replace"),
                   "ids": [r.ids[i] for i in range(r.n_ids)]}
            if r.item_coords:
                items = [r.items[i] for i in range(r.n_items)]
                out["quad_boxes" if r.item_coords == 8 else "bboxes"] = [
                    [round(it.coords[k], 2) for k in range(it.n_coords)] for it in items]
                out["labels"] = [it.label.decode("utf-8", "replace") for it in items]
            return out
        finally:
            _task_result_free(ctypes.byref(r))
