import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ToolCallStream } from "../../src/engine/tools/ToolCallStream.js";
import { toolCallsText, withToolInstructions } from "../../src/engine/tools/llama3ToolFormat.js";

/** Feeds `text` in pieces of `size` characters and reassembles the calls as an OpenAI client would. */
function read(text: string, size: number): { name: string; arguments: string }[] {
  const s = new ToolCallStream();
  const calls: { name: string; arguments: string }[] = [];
  for (let i = 0; i < text.length; i += size) {
    for (const e of s.push(text.slice(i, i + size))) {
      if (e.type === "call") {
        assert.equal(calls.length, e.index, "calls are numbered in order");
        calls.push({ name: e.name, arguments: "" });
      } else {
        const call = calls[e.index];
        assert.ok(call, "arguments come after their call's name");
        call.arguments += e.text;
      }
    }
  }
  assert.equal(s.callCount, calls.length);
  return calls;
}

// Replies recorded from Llama 3.x 8B Instruct models prompted with this server's tool section
// (and the same JSON style from Meta's model card), including pretty-printed and parallel ones.
const recorded: { name: string; text: string; calls: { name: string; arguments: unknown }[] }[] = [
  {
    name: "one call, compact",
    text: '{"name": "get_current_weather", "parameters": {"location": "San Francisco, CA", "unit": "fahrenheit"}}',
    calls: [{ name: "get_current_weather", arguments: { location: "San Francisco, CA", unit: "fahrenheit" } }],
  },
  {
    name: "pretty-printed, nested arguments",
    text: '{\n  "name": "book_flight",\n  "parameters": {\n    "route": {"from": "SFO", "to": "JFK"},\n    "passengers": [1, 2],\n    "notes": "window seat, \\"quiet\\" {please}"\n  }\n}',
    calls: [
      {
        name: "book_flight",
        arguments: { route: { from: "SFO", to: "JFK" }, passengers: [1, 2], notes: 'window seat, "quiet" {please}' },
      },
    ],
  },
  {
    name: "two parallel calls, one per line",
    text: '{"name": "get_time", "parameters": {"tz": "Europe/Paris"}}\n{"name": "get_time", "parameters": {"tz": "Asia/Tokyo"}}',
    calls: [
      { name: "get_time", arguments: { tz: "Europe/Paris" } },
      { name: "get_time", arguments: { tz: "Asia/Tokyo" } },
    ],
  },
  {
    name: "no arguments, leading whitespace",
    text: '  {"name": "list_files", "parameters": {}}',
    calls: [{ name: "list_files", arguments: {} }],
  },
  {
    name: "OpenAI-style 'arguments' key and a unicode name value",
    text: '{"name":"translate","arguments":{"text":"日本語 ✓","target":"en"}}',
    calls: [{ name: "translate", arguments: { text: "日本語 ✓", target: "en" } }],
  },
];

describe("ToolCallStream: streamed tool-call replies", () => {
  for (const r of recorded) {
    it(`${r.name}: same calls whatever the chunking`, () => {
      for (const size of [1, 2, 3, 5, 8, 13, 1000]) {
        const calls = read(r.text, size);
        assert.deepEqual(
          calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) as unknown })),
          r.calls,
          `chunks of ${size}`,
        );
      }
    });
  }

  it("the arguments fragments are the generated JSON text, verbatim", () => {
    const args = '{\n    "a": 1,\n    "b": [true, null]\n  }';
    const [call] = read(`{"name": "f", "parameters": ${args}}`, 4);
    assert.equal(call?.arguments, args);
  });

  it("a name comes out before any of its arguments, even when split mid-string", () => {
    const s = new ToolCallStream();
    assert.deepEqual(s.push('{"name": "get_we'), []);
    assert.deepEqual(s.push('ather", "parameters": {"ci'), [
      { type: "call", index: 0, name: "get_weather" },
      { type: "arguments", index: 0, text: '{"ci' },
    ]);
    assert.deepEqual(s.push('ty": "Oslo"}}'), [{ type: "arguments", index: 0, text: 'ty": "Oslo"}' }]);
  });

  it("plain text is not a call", () => {
    assert.deepEqual(read("I can't check the weather, sorry.", 3), []);
  });
});

describe("Llama 3 tool format", () => {
  const tools = {
    tools: [
      {
        name: "get_weather",
        description: "Current weather",
        parameters: { type: "object", properties: { city: { type: "string" } } },
      },
    ],
    choice: { type: "auto" } as const,
    parallel: true,
  };

  it("puts the tool section after the system prompt, or adds a system message", () => {
    const withSystem = withToolInstructions(
      [
        { role: "system", content: "You are Lunaris." },
        { role: "user", content: "hi" },
      ],
      tools,
    );
    assert.equal(withSystem.length, 2);
    assert.match(withSystem[0]?.content ?? "", /^You are Lunaris\.\n\nYou have access to the functions below/);
    assert.match(
      withSystem[0]?.content ?? "",
      /\{"name":"get_weather","description":"Current weather","parameters":\{"type":"object"/,
    );
    const without = withToolInstructions([{ role: "user", content: "hi" }], tools);
    assert.equal(without[0]?.role, "system");
    assert.equal(without[1]?.content, "hi");
  });

  it("writes history calls in the format the model is asked to use", () => {
    assert.equal(
      toolCallsText([
        { id: "a", name: "f", arguments: '{"x": 1}' },
        { id: "b", name: "g", arguments: "" },
      ]),
      '{"name": "f", "parameters": {"x": 1}}\n{"name": "g", "parameters": {}}',
    );
  });
});
