import { GatewayClient } from '@ghostnet/client';

/**
 * The live console: the feed exactly as a frontend gets it through the SDK (with sequence ids), and the
 * backend's own position (stream, projections, clients, scan countdowns) polled from /console/status.
 */
interface Status {
  gatewayUrl: string;
  stream: { lastSequence: number; messages: number; epoch: string } | null;
  projections: { projection: string; version: number; lastSequence: number; lag: number; status: string }[];
  clients: number | null;
  nextScans: Record<string, number | null>;
}

const $ = (id: string) => document.getElementById(id)!;
const MAX_ROWS = 200;

async function status(): Promise<Status> {
  const response = await fetch('/console/status', { cache: 'no-store' });
  if (!response.ok) throw new Error(`status ${response.status}`);
  return (await response.json()) as Status;
}

let nextScans: Record<string, number | null> = {};

function renderStatus(s: Status): void {
  $('stream-seq').textContent = s.stream ? String(s.stream.lastSequence) : 'stream missing';
  $('stream-messages').textContent = s.stream ? String(s.stream.messages) : '–';
  $('stream-epoch').textContent = s.stream?.epoch ?? '–';
  $('clients').textContent = s.clients === null ? 'unknown' : String(s.clients);
  const body = $('projections').querySelector('tbody')!;
  body.replaceChildren(
    ...s.projections.map((p) => {
      const row = document.createElement('tr');
      row.dataset.projection = p.projection;
      for (const text of [
        `${p.projection} v${p.version}${p.status === 'live' ? '' : ` (${p.status})`}`,
        String(p.lastSequence),
        String(p.lag),
      ]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }),
  );
  nextScans = s.nextScans;
  renderScans();
}

function renderScans(): void {
  const body = $('scans').querySelector('tbody')!;
  const now = Date.now();
  body.replaceChildren(
    ...Object.entries(nextScans).map(([level, at]) => {
      const row = document.createElement('tr');
      const name = document.createElement('td');
      name.textContent = level;
      const when = document.createElement('td');
      when.textContent = at === null ? '–' : at <= now ? 'due' : countdown(at - now);
      row.append(name, when);
      return row;
    }),
  );
}

function countdown(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h ? `${h}h ` : ''}${m}m ${String(s % 60).padStart(2, '0')}s`;
}

async function main(): Promise<void> {
  const initial = await status();
  renderStatus(initial);
  setInterval(() => status().then(renderStatus, () => {}), 2_000);
  setInterval(renderScans, 1_000);

  const feed = new GatewayClient({ url: initial.gatewayUrl });
  let count = 0;
  feed.on('status', (s: string) => {
    $('connection').textContent = s;
    $('connection').dataset.status = s;
  });
  // Every (sequence, index) delivered, for the console's own end-to-end test and for debugging.
  const received: string[] = [];
  (window as unknown as { ghostnetReceived: string[] }).ghostnetReceived = received;
  feed.on('feed', (event: { type: string; data: unknown }, meta: { sequenceId: number; index: number }) => {
    received.push(`${meta.sequenceId}:${meta.index}`);
    count++;
    $('feed-count').textContent = `${count} events`;
    const item = document.createElement('li');
    item.className = event.type;
    item.dataset.sequence = String(meta.sequenceId);
    const seq = document.createElement('span');
    seq.className = 'seq';
    seq.textContent = `#${meta.sequenceId}`;
    const type = document.createElement('span');
    type.className = 'type';
    type.textContent = event.type;
    const data = document.createElement('span');
    data.textContent = JSON.stringify(event.data);
    item.append(seq, type, data);
    const list = $('feed');
    list.prepend(item);
    while (list.children.length > MAX_ROWS) list.lastElementChild!.remove();
    $('cursor').textContent = `${feed.cursor?.sequenceId ?? meta.sequenceId}`;
  });
  feed.connect();
  (window as unknown as { ghostnetFeed: GatewayClient }).ghostnetFeed = feed;
}

void main();
