/**
 * The bar chart of events per 2-hour window: inline SVG drawn at the container's width. Each
 * window with events is a button (`g.bar-group`, `data-window-start`, the whole column height
 * clickable) that the summaries view turns into "show these events"; one of them is in the tab
 * order at a time (a roving tabindex: arrow keys move between them).
 */
import { s } from './dom.ts';
import { formatLocalMinute, formatWindow, niceMax, WINDOW_MS } from './format.ts';

export interface Bar {
  startMs: number;
  /** undefined: not loaded yet (older windows beyond the summaries loaded so far). */
  count: number | undefined;
}

const HEIGHT = 200;
const MARGIN = { left: 44, right: 8, top: 12, bottom: 28 };
const TICK_WIDTH = 96;

export function barChart(bars: readonly Bar[], width: number): SVGSVGElement {
  const plotWidth = Math.max(width - MARGIN.left - MARGIN.right, 40);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.count ?? 0)));
  const step = plotWidth / Math.max(bars.length, 1);
  const gap = step > 6 ? 2 : step > 3 ? 1 : 0;
  const y = (count: number): number => MARGIN.top + plotHeight - (count / max) * plotHeight;

  const busiest = bars.reduce<Bar | undefined>((best, b) => ((b.count ?? 0) > (best?.count ?? 0) ? b : best), undefined);
  const first = bars[0];
  const last = bars[bars.length - 1];
  const label =
    first && last
      ? // Whole windows: the first may start before the range asked for, the last end after it.
        `Events per 2-hour window, ${bars.length} window${bars.length === 1 ? '' : 's'} from ${formatLocalMinute(first.startMs)} to ${formatLocalMinute(last.startMs + WINDOW_MS)}` +
        (busiest ? `; the busiest is ${formatWindow(busiest.startMs)} with ${busiest.count} event${busiest.count === 1 ? '' : 's'}.` : '; no events in the windows loaded.')
      : 'No windows.';

  // A group (not an image): its bars are buttons, which an image's children could not be.
  const svg = s('svg', { class: 'bar-chart', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'group', 'aria-label': label });
  for (const value of [0, max / 2, max]) {
    const at = y(value);
    svg.append(
      s('line', { class: 'grid', x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: at, y2: at, 'aria-hidden': 'true' }),
      s('text', { class: 'axis', x: MARGIN.left - 6, y: at + 4, 'text-anchor': 'end', 'aria-hidden': 'true' }, Number.isInteger(value) ? String(value) : value.toFixed(1)),
    );
  }
  let focusable = true;
  bars.forEach((bar, i) => {
    const x = MARGIN.left + i * step + gap / 2;
    const w = Math.max(step - gap, 1);
    if (bar.count === undefined) {
      svg.append(s('rect', { class: 'bar-unknown', x, y: MARGIN.top, width: w, height: plotHeight }, s('title', {}, `${formatWindow(bar.startMs)}: not loaded yet`)));
    } else if (bar.count > 0) {
      const top = y(bar.count);
      const events = `${bar.count} event${bar.count === 1 ? '' : 's'}`;
      svg.append(
        s(
          'g',
          {
            class: 'bar-group',
            role: 'button',
            tabindex: focusable ? 0 : -1,
            'aria-label': `Show the ${bar.count === 1 ? 'event' : events} of ${formatWindow(bar.startMs)}`,
            'data-window-start': bar.startMs,
          },
          s('title', {}, `${formatWindow(bar.startMs)}: ${events}`),
          s('rect', { class: 'bar-hit', x, y: MARGIN.top, width: w, height: plotHeight }),
          s('rect', { class: 'bar', x, y: top, width: w, height: MARGIN.top + plotHeight - top }),
        ),
      );
      focusable = false;
    }
  });
  const every = Math.max(1, Math.ceil(TICK_WIDTH / step));
  for (let i = 0; i < bars.length; i += every) {
    const x = MARGIN.left + i * step;
    if (x + TICK_WIDTH - 16 > width) break;
    svg.append(s('text', { class: 'axis', x, y: HEIGHT - 8, 'aria-hidden': 'true' }, formatLocalMinute((bars[i] as Bar).startMs).slice(5)));
  }
  return svg;
}
