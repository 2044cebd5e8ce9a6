// client.mjs — fvl serve through the `openai` npm client (the version package.json pins): plain,
// streamed and image requests equal fvl run's answers, error bodies arrive as the client's
// APIError, and 8 concurrent clients get what the same requests get one at a time (greedy).
// Usage: node client.mjs URL WANT_PLAIN_FILE WANT_IMAGE_FILE IMAGE.jpg IMAGE.png OTHER.jpg
// Prints "ok NAME" / "FAIL NAME: why" lines.
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const [url, wantPlainFile, wantImageFile, jpg, png, other] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
const wantPlain = readFileSync(wantPlainFile, "utf8").replace(/\n$/, "");
const wantImage = readFileSync(wantImageFile, "utf8").replace(/\n$/, "");
const dataUrl = (file, mime) => `data:${mime};base64,${readFileSync(file).toString("base64")}`;
const ask = (text, image, extra = {}) => ({
  model: "phi3",
  max_tokens: 12,
  temperature: 0,
  messages: [
    {
      role: "user",
      content: image ? [{ type: "image_url", image_url: { url: image } }, { type: "text", text }] : text,
    },
  ],
  ...extra,
});

let failed = 0;
async function test(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.message ? e.message : e}`);
  }
}
function same(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
async function expectError(promise, status, code, param) {
  try {
    await promise;
  } catch (e) {
    same(e.status, status, "status");
    same(e.code, code, "code");
    if (param !== undefined) same(e.param, param, "param");
    return;
  }
  throw new Error("no error");
}
async function streamText(stream) {
  let text = "";
  for await (const c of stream) for (const ch of c.choices) text += ch.delta.content ?? "";
  return text;
}

await test("openai_models_list", async () => {
  const models = await client.models.list();
  same(models.data.map((m) => m.id).join(","), "phi3", "model ids");
});
await test("openai_plain_equals_fvl_run", async () => {
  const r = await client.chat.completions.create(ask("Say hello."));
  same(r.choices[0].message.content, wantPlain, "answer");
  same(r.choices[0].finish_reason, "length", "finish_reason");
  same(r.usage.completion_tokens, 12, "completion_tokens");
});
await test("openai_image_equals_fvl_run", async () => {
  const r = await client.chat.completions.create(ask("What is in the image?", dataUrl(jpg, "image/jpeg")));
  same(r.choices[0].message.content, wantImage, "answer");
});
await test("openai_stream_equals_fvl_run", async () => {
  const stream = await client.chat.completions.create(
    ask("What is in the image?", dataUrl(jpg, "image/jpeg"), {
      stream: true,
      stream_options: { include_usage: true },
    }),
  );
  let text = "",
    finish = null,
    usage = null,
    chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  same(text, wantImage, "streamed text");
  same(finish, "length", "finish_reason");
  same(usage && usage.completion_tokens, 12, "usage.completion_tokens");
  if (chunks < 3) throw new Error(`only ${chunks} chunks`);
});
await test("openai_error_unknown_model", () =>
  expectError(client.chat.completions.create({ ...ask("x"), model: "gpt-9" }), 404, "model_not_found"),
);
await test("openai_error_bad_image", () =>
  expectError(
    client.chat.completions.create(ask("x", "data:image/png;base64,!!!!")),
    400,
    "invalid_base64",
    "image_url",
  ),
);
await test("openai_error_on_a_stream_request", () =>
  expectError(
    client.chat.completions.create({ ...ask("x"), stream: true, max_tokens: 1 << 30 }),
    400,
    "invalid_value",
    "max_tokens",
  ),
);

// 8 clients at once (3 sessions, the rest queue) get the answers of the same 8 requests made one
// by one; half of them stream.
const images = [null, dataUrl(jpg, "image/jpeg"), dataUrl(png, "image/png"), dataUrl(other, "image/jpeg")];
const questions = ["Say hello.", "What is in the image?", "Describe the scene.", "Count the cups."];
const reqs = [...Array(8).keys()].map((i) => ask(questions[i % 4], images[(i * 3) % 4]));
const serial = [];
for (const r of reqs) serial.push((await client.chat.completions.create(r)).choices[0].message.content);
await test("openai_8_concurrent_equal_serial", async () => {
  const got = await Promise.all(
    reqs.map((r, i) =>
      i % 2
        ? client.chat.completions.create(r).then((x) => x.choices[0].message.content)
        : client.chat.completions.create({ ...r, stream: true }).then(streamText),
    ),
  );
  got.forEach((g, i) => same(g, serial[i], `client ${i}`));
  if (new Set(serial).size < 4) throw new Error("the 8 requests do not differ enough to tell");
});
process.exitCode = failed ? 1 : 0;
