/**
 * A GBNF grammar without recursion, as a JavaScript RegExp: lets unit tests check exactly
 * which strings a generated grammar accepts (thousands of numbers against a range, strings
 * against a pattern) without a model. GBNF's syntax is close to regex: quoted literals, [..]
 * classes, ( | ) groups, ? * + {m,n}, and rule names to inline.
 */
export function gbnfToRegExp(grammar: string): RegExp {
  const rules = new Map<string, string>();
  for (const line of grammar.split("\n")) {
    const m = /^([a-zA-Z0-9-]+) ::= (.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) rules.set(m[1], m[2]);
  }
  const expand = (name: string, seen: readonly string[]): string => {
    if (seen.includes(name)) throw new Error(`rule ${name} is recursive`);
    const body = rules.get(name);
    if (body === undefined) throw new Error(`no rule ${name}`);
    return `(?:${translate(body, [...seen, name])})`;
  };
  const translate = (body: string, seen: readonly string[]): string => {
    let out = "";
    let i = 0;
    while (i < body.length) {
      const ch = body[i] as string;
      if (ch === '"') {
        let j = i + 1;
        let lit = "";
        while (body[j] !== '"') {
          if (body[j] === "\\") {
            const e = body[j + 1] as string;
            if (e === "x") {
              lit += String.fromCharCode(parseInt(body.slice(j + 2, j + 4), 16));
              j += 4;
            } else {
              lit += ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[e] ?? e;
              j += 2;
            }
          } else lit += body[j++];
        }
        out += `(?:${lit.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")})`;
        i = j + 1;
      } else if (ch === "[") {
        let j = i + 1;
        let cls = "";
        while (body[j] !== "]") {
          if (body[j] === "\\") {
            const e = body[j + 1] as string;
            if (e === "x") {
              cls += `\\x${body.slice(j + 2, j + 4)}`;
              j += 4;
            } else if (e === "U") {
              cls += `\\u{${body.slice(j + 2, j + 10)}}`;
              j += 10;
            } else {
              cls += e === '"' ? '"' : `\\${e}`;
              j += 2;
            }
          } else cls += body[j++];
        }
        out += `[${cls}]`;
        i = j + 1;
      } else if (ch === "{") {
        const j = body.indexOf("}", i);
        out += body.slice(i, j + 1);
        i = j + 1;
      } else if (/[a-zA-Z0-9-]/.test(ch)) {
        let j = i;
        while (j < body.length && /[a-zA-Z0-9-]/.test(body[j] as string)) j++;
        out += expand(body.slice(i, j), seen);
        i = j;
      } else if (ch === "(") {
        out += "(?:";
        i++;
      } else if (ch === " ") i++;
      else {
        out += ch;
        i++;
      }
    }
    return out;
  };
  return new RegExp(`^${expand("root", [])}$`, "u");
}
