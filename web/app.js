// The playground: talks only to the public API (the same endpoints and key any client uses).
const card = JSON.parse(document.getElementById("model-card").textContent);
const $ = (id) => document.getElementById(id);
const base = `${location.origin}/v1/openai`;
const KEY_STORAGE = "lunaris.apiKey";

// Model card.
$("model-name").textContent = card.id;
$("model-description").textContent = card.description;
$("model-price").textContent = `$${card.price_in}/$${card.price_out} in/out Mtoken`;
$("model-context").textContent = `${card.context_length.toLocaleString("en-US")} tokens`;
$("model-precision").textContent = card.precision;
$("model-quant").textContent = card.quantization ?? "loading…";
if (card.demo) {
  $("demo-note").hidden = false;
  $("demo-note").textContent =
    "Demo model: random weights with the real tokenizer and template. Replies are gibberish.";
}

$("api-key").value = localStorage.getItem(KEY_STORAGE) ?? "";
$("api-key").addEventListener("change", () => localStorage.setItem(KEY_STORAGE, $("api-key").value.trim()));

const numberFields = [
  "temperature",
  "top_p",
  "top_k",
  "min_p",
  "max_tokens",
  "presence_penalty",
  "frequency_penalty",
  "repetition_penalty",
  "seed",
];

/** The request body from the current settings: only fields with a value are sent. */
function requestBody(messages) {
  const body = { model: card.id, messages, stream: true, stream_options: { include_usage: true } };
  for (const f of numberFields) {
    const v = $(f).value.trim();
    if (v !== "") body[f] = Number(v);
  }
  const stop = $("stop-seqs")
    .value.split("\n")
    .filter((s) => s !== "");
  if (stop.length > 0) body.stop = stop;
  return body;
}

$("recommended").addEventListener("click", () => {
  for (const [k, v] of Object.entries(card.recommended ?? {})) if ($(k)) $(k).value = String(v);
  renderExample();
});

// Chat state.
let history = [];
let controller = null;

function addMessage(role, text) {
  const el = document.createElement("div");
  el.className = `msg ${role}`;
  el.textContent = text;
  $("log").append(el);
  el.scrollIntoView({ block: "end" });
  return el;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
  $("regenerate").disabled = busy || !history.some((m) => m.role === "user");
}

function fmtCost(usd) {
  return usd < 0.01 ? `$${usd.toPrecision(2)}` : `$${usd.toFixed(4)}`;
}

async function complete() {
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...history);
  const out = addMessage("assistant", "");
  const text = document.createTextNode("");
  out.append(text);
  controller = new AbortController();
  setBusy(true);
  $("status").textContent = "Generating…";
  let content = "";
  let usage = null;
  try {
    const key = $("api-key").value.trim();
    const res = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(requestBody(messages)),
      signal: controller.signal,
    });
    if (!res.ok) throw new Error((await res.json()).error?.message ?? `HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        const data = buffer.slice(0, cut).replace(/^data: /, "");
        buffer = buffer.slice(cut + 2);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) {
          content += delta;
          text.data = content;
        }
        if (chunk.usage) usage = chunk.usage;
      }
    }
    $("status").textContent = "";
  } catch (e) {
    if (e.name === "AbortError") $("status").textContent = "Stopped.";
    else {
      out.classList.add("error");
      text.data = content || String(e.message ?? e);
      $("status").textContent = "";
    }
  } finally {
    controller = null;
    history.push({ role: "assistant", content });
    if (usage) {
      const u = document.createElement("span");
      u.className = "usage";
      u.textContent = `${usage.prompt_tokens} in (${usage.prompt_tokens_details?.cached_tokens ?? 0} cached) · ${usage.completion_tokens} out · ${fmtCost(usage.estimated_cost)}`;
      out.append(u);
    }
    setBusy(false);
  }
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const content = $("prompt").value.trim();
  if (!content || controller) return;
  $("prompt").value = "";
  history.push({ role: "user", content });
  addMessage("user", content);
  void complete();
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", () => controller?.abort());
$("regenerate").addEventListener("click", () => {
  if (history.at(-1)?.role === "assistant") {
    history.pop();
    $("log").lastElementChild?.remove();
  }
  void complete();
});
$("reset").addEventListener("click", () => {
  history = [];
  $("log").replaceChildren();
  setBusy(false);
});

// Copyable API examples, filled in with this server's URL and the model id.
const examples = {
  curl: () => `curl "${base}/chat/completions" \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $LUNARIS_API_KEY" \\
  -d '${JSON.stringify({ model: card.id, messages: [{ role: "user", content: "Hello!" }], ...sampling() })}'`,
  python: () => `import os
from openai import OpenAI

client = OpenAI(base_url="${base}", api_key=os.environ["LUNARIS_API_KEY"])
r = client.chat.completions.create(
    model="${card.id}",
    messages=[{"role": "user", "content": "Hello!"}],${Object.entries(sampling())
      .map(([k, v]) => `\n    ${k}=${JSON.stringify(v)},`)
      .join("")}
)
print(r.choices[0].message.content)`,
  js: () => `import OpenAI from "openai";

const client = new OpenAI({ baseURL: "${base}", apiKey: process.env.LUNARIS_API_KEY });
const r = await client.chat.completions.create({
  model: "${card.id}",
  messages: [{ role: "user", content: "Hello!" }],${Object.entries(sampling())
    .map(([k, v]) => `\n  ${k}: ${JSON.stringify(v)},`)
    .join("")}
});
console.log(r.choices[0].message.content);`,
};
function sampling() {
  const { model: _m, messages: _x, stream: _s, stream_options: _o, ...rest } = requestBody([]);
  return rest;
}
let lang = "curl";
function renderExample() {
  $("example-code").textContent = examples[lang]();
}
for (const [id, l] of [
  ["tab-curl", "curl"],
  ["tab-python", "python"],
  ["tab-js", "js"],
]) {
  $(id).addEventListener("click", () => {
    lang = l;
    for (const t of document.querySelectorAll("[role=tab]")) t.setAttribute("aria-selected", String(t.id === id));
    renderExample();
  });
}
for (const f of [...numberFields, "stop-seqs"]) $(f).addEventListener("input", renderExample);
$("copy").addEventListener("click", async () => {
  await navigator.clipboard?.writeText($("example-code").textContent);
  $("status").textContent = "Example copied.";
});
renderExample();
setBusy(false);
