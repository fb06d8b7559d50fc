import { esc, STATUS_ICON } from './ui-html.ts';

export interface GraphStage {
  name: string;
  status: string;
  needs: string[];
  matrix: { stage: string } | null;
}

const NODE_W = 170;
const NODE_H = 34;
const COL_W = 230;
const ROW_H = 48;
/** Room above a matrix's instances for the stage's own name. */
const GROUP_HEAD = 18;
const PAD = 12;

/**
 * The run's stages as an inline SVG, laid out left to right from `needs`:
 * a stage's column is one past its furthest need. Each node carries
 * `data-stage` and `data-status` (the API's names and states) and links to
 * the stage's log; each edge carries `data-edge="<from>-><to>"`. A matrix
 * stage's instances sit together in one frame named after the stage.
 */
export function stageGraph(stages: GraphStage[], href: (stage: string) => string): string {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const column = new Map<string, number>();
  const columnOf = (name: string, seen = new Set<string>()): number => {
    if (column.has(name)) return column.get(name)!;
    if (seen.has(name)) return 0;
    seen.add(name);
    const needs = byName.get(name)?.needs.filter((n) => byName.has(n)) ?? [];
    const c = needs.length ? 1 + Math.max(...needs.map((n) => columnOf(n, seen))) : 0;
    column.set(name, c);
    return c;
  };
  // Rows per column, in the run's order; a matrix's instances one after the other under their frame.
  const columns: Array<Array<{ kind: 'node'; stage: GraphStage } | { kind: 'group'; name: string; size: number }>> = [];
  for (const s of stages) {
    const c = columnOf(s.name);
    const col = (columns[c] ??= []);
    if (s.matrix && !col.some((e) => e.kind === 'group' && e.name === s.matrix!.stage)) {
      col.push({ kind: 'group', name: s.matrix.stage, size: stages.filter((o) => o.matrix?.stage === s.matrix!.stage).length });
    }
    col.push({ kind: 'node', stage: s });
  }
  const at = new Map<string, { x: number; y: number }>();
  const frames: string[] = [];
  let height = 0;
  columns.forEach((col, c) => {
    let y = PAD;
    const x = PAD + c * COL_W;
    for (const entry of col) {
      if (entry.kind === 'group') {
        frames.push(`<g class="matrix" data-matrix="${esc(entry.name)}"><rect x="${x - 6}" y="${y}" width="${NODE_W + 12}" height="${GROUP_HEAD + entry.size * ROW_H}" rx="8"/>`
          + `<text x="${x}" y="${y + 13}">${esc(entry.name)} · matrix</text></g>`);
        y += GROUP_HEAD + 4;
        continue;
      }
      at.set(entry.stage.name, { x, y });
      y += ROW_H;
    }
    height = Math.max(height, y);
  });
  const edges = stages.flatMap((s) => s.needs.filter((n) => at.has(n)).map((n) => {
    const from = at.get(n)!;
    const to = at.get(s.name)!;
    const [x1, y1, x2, y2] = [from.x + NODE_W, from.y + NODE_H / 2, to.x, to.y + NODE_H / 2];
    const mid = (x1 + x2) / 2;
    return `<path class="edge" data-edge="${esc(`${n}->${s.name}`)}" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}"/>`;
  }));
  const nodes = stages.map((s) => {
    const { x, y } = at.get(s.name)!;
    const label = s.name.length > 22 ? `${s.name.slice(0, 21)}…` : s.name;
    return `<a href="${esc(href(s.name))}" aria-label="${esc(`${s.name}: ${s.status}`)}"><g class="node ${esc(s.status)}" data-stage="${esc(s.name)}" data-status="${esc(s.status)}">`
      + `<title>${esc(`${s.name}: ${s.status}`)}</title><rect x="${x}" y="${y}" width="${NODE_W}" height="${NODE_H}" rx="6"/>`
      + `<text class="icon" x="${x + 10}" y="${y + 22}">${STATUS_ICON[s.status] ?? '?'}</text><text x="${x + 28}" y="${y + 22}">${esc(label)}</text></g></a>`;
  });
  const width = PAD * 2 + (columns.length - 1) * COL_W + NODE_W;
  // The last row's room below its node is the bottom margin.
  const tall = height - (ROW_H - NODE_H) + PAD;
  return `<svg class="graph" role="img" aria-label="stage graph" width="${width}" height="${tall}" viewBox="0 0 ${width} ${tall}" xmlns="http://www.w3.org/2000/svg">${frames.join('')}${edges.join('')}${nodes.join('')}</svg>`;
}
