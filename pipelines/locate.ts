import { isCollection, isMap, isPair, isScalar, type Document, type LineCounter, type Node } from 'yaml';

export interface Position {
  line: number;
  col: number;
}

/** Where a JSON-pointer path is in the YAML document; `key` points at a map key instead of its value. */
export function locate(doc: Document, lines: LineCounter, pointer: string[], key?: string): Position {
  let node: unknown = doc.contents;
  for (const segment of pointer) {
    if (!isCollection(node)) break;
    const next = node.get(isMap(node) ? segment : Number(segment), true);
    if (next === undefined) break;
    node = next;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (pair && isScalar(pair.key)) node = pair.key;
  }
  const offset = (node as Node | null)?.range?.[0] ?? 0;
  return lines.linePos(offset);
}

/**
 * The position of a character inside a scalar's value (a CEL error's column):
 * exact for plain and single-line quoted scalars, the scalar's start otherwise.
 */
export function locateInScalar(doc: Document, lines: LineCounter, pointer: string[], line: number, col: number): Position {
  const start = locate(doc, lines, pointer);
  let node: unknown = doc.contents;
  for (const segment of pointer) node = isCollection(node) ? node.get(isMap(node) ? segment : Number(segment), true) : undefined;
  if (!isScalar(node) || line !== 1) return start;
  const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
  return node.type === 'PLAIN' || quoted ? { line: start.line, col: start.col + (quoted ? 1 : 0) + col - 1 } : start;
}
