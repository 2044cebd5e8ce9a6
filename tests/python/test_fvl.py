"""The Python module (tools/python/fvl.py) end to end on the fixture, with Debian's python3: the
answers, streams and tasks equal what `fvl run --json` / `fvl task --json` print; images from
paths, bytes and numpy arrays (with a row stride) give the same answers; failures raise fvl.Error.

Usage: python3 tests/python/test_fvl.py BUILD_DIR      Ends with "N passed, N failed"."""

import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
build = os.path.abspath(sys.argv[1])
os.environ.setdefault("FVL_LIBRARY", os.path.join(build, "libfvl.so"))
sys.path.insert(0, os.path.join(root, "tools", "python"))
import fvl  # noqa: E402

data = os.environ.get("FVL_TEST_DATA", os.path.join(root, "tests", "data"))
tmp = tempfile.mkdtemp()
passed = failed = 0


def test(name, fn):
    global passed, failed
    try:
        fn()
        print("ok   " + name)
        passed += 1
    except Exception as e:  # noqa: BLE001 -- every failure is reported, the rest still run
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
        failed += 1


def same(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def cli(*args):
    return json.loads(subprocess.run([os.path.join(build, "fvl"), *args], check=True,
                                     capture_output=True).stdout)


phi3 = os.path.join(tmp, "phi3.gguf")
f2 = os.path.join(tmp, "f2.gguf")
quant = os.path.join(build, "fvl-quant")
subprocess.run([quant, "convert", os.path.join(data, "fvl-tiny-phi3", "checkpoint"), "-o", phi3, "--quiet"],
               check=True)
subprocess.run([quant, "convert", os.path.join(data, "florence2-tiny"), "-o", f2, "--quiet"], check=True)
jpg = os.path.join(data, "images", "coffee.jpg")
png = os.path.join(data, "images", "png", "rgb8.png")
Q = "What is in the image?"
want_jpg = cli("run", "-m", phi3, "-i", jpg, "-p", Q, "-n", "12", "--json")
want_png = cli("run", "-m", phi3, "-i", png, "-p", Q, "-n", "12", "--json")["text"]
want_text = cli("run", "-m", phi3, "-p", "Say hello.", "-n", "12", "--json")["text"]

model = fvl.Model(phi3)
s = model.session(threads=2)


def t_version():
    same(fvl.version(), subprocess.run([os.path.join(build, "fvl"), "version"], capture_output=True,
                                       text=True).stdout.split()[1], "version")
    same(model.arch, "florence-vl", "arch")


def t_path():
    s.set_image(jpg)
    same(s.ask(Q, max_tokens=12), want_jpg["text"], "answer")
    st = s.stats()
    same((st["n_generated"], st["finish"], st["n_prompt"]),
         (12, want_jpg["finish"], want_jpg["n_prompt_tokens"]), "stats")


def t_stream():
    s.set_image(jpg)
    pieces = list(s.stream(Q, max_tokens=12))
    same("".join(pieces), want_jpg["text"], "stream")
    if len(pieces) < 3:
        raise AssertionError("%d pieces" % len(pieces))


def t_stream_stops_early():
    it = s.stream(Q, max_tokens=12)
    first = next(it)
    it.close()  # the generation stops; the session answers the next question
    same(s.ask(Q, max_tokens=12), want_jpg["text"], "after a stopped stream")
    same(want_jpg["text"].startswith(first), True, "first piece")


def t_bytes():
    with open(png, "rb") as f:
        s.set_image(f.read())
    same(s.ask(Q, max_tokens=12), want_png, "PNG bytes")


def t_numpy():
    import numpy as np
    s.set_image(png)
    want = s.ask(Q, max_tokens=12)
    with open(os.path.join(data, "images", "png", "rgb8.ppm"), "rb") as f:
        raw = f.read()
    h, w = 23, 37
    rgb = np.frombuffer(raw[-w * h * 3:], np.uint8).reshape(h, w, 3)
    s.set_image(rgb)
    same(s.ask(Q, max_tokens=12), want, "numpy RGB")
    padded = np.zeros((h, w + 5, 3), np.uint8)
    padded[:, :w] = rgb
    s.set_image(padded[:, :w])  # rows with a stride: passed as a view, not copied
    same(s.ask(Q, max_tokens=12), want, "numpy with a row stride")
    rgba = np.concatenate([rgb, np.full((h, w, 1), 7, np.uint8)], axis=2)
    s.set_image(rgba)
    same(s.ask(Q, max_tokens=12), want, "numpy RGBA")
    same(want, want_png, "PNG file")


def t_exif():
    ex = os.path.join(data, "images", "exif")
    s.set_image(os.path.join(ex, "o6-upright.ppm"))
    want = s.ask(Q, max_tokens=12)
    s.set_image(os.path.join(ex, "o6.jpg"), exif_transpose=True)
    same(s.ask(Q, max_tokens=12), want, "file, exif_transpose")
    with open(os.path.join(ex, "o6.jpg"), "rb") as f:
        s.set_image(f.read(), exif_transpose=True)
    same(s.ask(Q, max_tokens=12), want, "bytes, exif_transpose")
    s.set_image(os.path.join(ex, "o6.jpg"))
    if s.ask(Q, max_tokens=12) == want:
        raise AssertionError("the default transposed too (or the image does not matter)")


def t_no_image():
    s.reset()
    same(s.ask("Say hello.", max_tokens=12), want_text, "text-only")


def t_task():
    m2 = fvl.Model(f2)
    t = m2.session(threads=1)
    t.set_image(jpg)
    got = t.run_task("od")
    want = cli("task", "-m", f2, "-i", jpg, "--task", "od", "--json")
    same({k: got.get(k) for k in ("task", "text", "ids", "bboxes", "labels")},
         {k: want.get(k) for k in ("task", "text", "ids", "bboxes", "labels")}, "od")
    got = t.run_task("ocr", beams=1)  # the second task reuses the image's vision pass
    want = cli("task", "-m", f2, "-i", jpg, "--task", "ocr", "--beams", "1", "--json")
    same((got["text"], got["ids"]), (want["text"], want["ids"]), "ocr")
    t.close()
    m2.close()


def t_errors():
    for bad, status, words in [(lambda: fvl.Model(os.path.join(tmp, "none.gguf")), "not found", "none.gguf"),
                               (lambda: s.set_image(b"not an image"), "unsupported", "unsupported image"),
                               (lambda: s.set_image(os.path.join(tmp, "none.jpg")), "not found", "none.jpg"),
                               (lambda: s.ask(Q, max_tokens=0), "invalid argument", "n_predict")]:
        try:
            bad()
        except fvl.Error as e:
            same(e.status, status, "status of %s" % words)
            if words not in str(e):
                raise AssertionError("message %r lacks %r" % (str(e), words))
            continue
        raise AssertionError("no error for " + words)
    try:
        s.set_image(42)
    except TypeError:
        return
    raise AssertionError("set_image(42) accepted")


def t_florence2_session_has_no_llm():
    m2 = fvl.Model(f2)
    t = m2.session(threads=1)
    try:
        t.ask("hi")
    except fvl.Error as e:
        same(e.status, "unsupported", "status")
        return
    finally:
        t.close()
        m2.close()
    raise AssertionError("ask on Florence-2 answered")


for name, fn in [("python_version_and_arch", t_version), ("python_ask_path_equals_fvl_run", t_path),
                 ("python_stream_equals_fvl_run", t_stream), ("python_stream_stops_early", t_stream_stops_early),
                 ("python_bytes_equal_fvl_run", t_bytes), ("python_numpy_views", t_numpy),
                 ("python_exif_transpose", t_exif), ("python_text_only_equals_fvl_run", t_no_image), ("python_tasks_equal_fvl_task", t_task),
                 ("python_errors_raise", t_errors), ("python_florence2_has_no_llm", t_florence2_session_has_no_llm)]:
    test(name, fn)
s.close()
model.close()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
