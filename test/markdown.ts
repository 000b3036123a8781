// The fenced code blocks of a Markdown file (test/readme.test.ts runs the README's; test/pytorch.test.ts
// compares its Python snippet with the file).

export interface Block {
  /** The info string after the fence: language and flags, e.g. "ts no-run". */
  info: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** The fenced code blocks of a Markdown text (``` fences at the start of a line). */
export function codeBlocks(md: string): Block[] {
  const out: Block[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    if (i === lines.length) throw new Error(`README.md:${start + 1}: code block is not closed`);
    out.push({ info: open[1].trim(), code: body.join('\n') + '\n', line: start + 1 });
  }
  return out;
}
