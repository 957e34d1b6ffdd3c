// A group chat in a webview panel: its transcript (the person, the moderator routing by
// @mentions, the participants' answers, the synthesis, maestro's notes), who is thinking now,
// and an input box whose text goes to the moderator. Entries arrive as `maestro/chat`
// notifications and are posted to the page, so typing is never interrupted by a redraw; the
// panel comes back after a window reload (a panel serializer keeps the chat's id).

import * as vscode from 'vscode';

export interface ChatInfo {
  id: string;
  workspace: string;
  title: string;
  moderator: string;
  participants: string[];
  state: string;
  maxRounds: number;
  budgetUsd: number;
  spentUsd: number;
  entries: number;
}

export interface ChatEntry {
  seq: number;
  at: number;
  author: string;
  kind: string;
  round: number;
  text: string;
}

export interface ChatEvent {
  chat: string;
  event: string;
  entry?: ChatEntry;
  thinking: string[];
}

/** What the extension gives the panels. */
export interface ChatHost {
  run<T = unknown>(command: string, arg: unknown, quiet?: boolean): Promise<T | undefined>;
}

interface Open {
  panel: vscode.WebviewPanel;
  chat: ChatInfo;
  entries: ChatEntry[];
  thinking: string[];
  /** Every name seen thinking (the end-to-end report). */
  seenThinking: Set<string>;
}

const VIEW = 'maestro.chat';

export class Chats implements vscode.WebviewPanelSerializer {
  private readonly open = new Map<string, Open>();

  constructor(private readonly host: ChatHost, subscriptions: vscode.Disposable[]) {
    subscriptions.push(vscode.window.registerWebviewPanelSerializer(VIEW, this));
  }

  /** Shows chat `id` (its panel, or a new one). */
  async show(id: string): Promise<void> {
    const known = this.open.get(id);
    if (known) {
      known.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(VIEW, `chat ${id}`, vscode.ViewColumn.Beside, {
      enableScripts: true,
      enableFindWidget: true,
      retainContextWhenHidden: true,
    });
    await this.attach(panel, id);
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const id = (state as { id?: string } | undefined)?.id;
    if (!id) {
      panel.dispose();
      return;
    }
    await this.attach(panel, id);
  }

  /** The person's message to the chat's moderator. */
  async say(id: string, text: string): Promise<boolean> {
    const r = await this.host.run<{ entries: ChatEntry[] }>('maestro.chat.say', { chat: id, text });
    if (r) {
      r.entries.forEach((e) => this.add(id, e));
    }
    return r !== undefined;
  }

  /** A `maestro/chat` notification. */
  onEvent(p: ChatEvent): void {
    const o = this.open.get(p.chat);
    if (!o) {
      return;
    }
    if (p.event === 'entry' && p.entry) {
      this.add(p.chat, p.entry);
    }
    if (p.event === 'thinking' || p.event === 'done' || p.event === 'closed') {
      o.thinking = p.thinking;
      p.thinking.forEach((t) => o.seenThinking.add(t));
      void o.panel.webview.postMessage({ type: 'thinking', thinking: p.thinking });
    }
    if (p.event === 'done' || p.event === 'closed') {
      void this.refreshInfo(p.chat, o);
    }
  }

  /** What an open panel shows, for the end-to-end report. */
  shown(id: string): { entries: ChatEntry[]; seenThinking: string[]; title: string } | undefined {
    const o = this.open.get(id);
    return o && { entries: o.entries, seenThinking: [...o.seenThinking].sort(), title: o.panel.title };
  }

  private add(id: string, e: ChatEntry): void {
    const o = this.open.get(id);
    if (!o || o.entries.some((x) => x.seq === e.seq)) {
      return;
    }
    o.entries.push(e);
    o.entries.sort((a, b) => a.seq - b.seq);
    void o.panel.webview.postMessage({ type: 'entry', entry: e });
  }

  private async refreshInfo(id: string, o: Open): Promise<void> {
    const log = await this.host.run<{ chat: ChatInfo }>('maestro.chat.log', { chat: id, after: o.entries.at(-1)?.seq ?? 0 }, true);
    if (log) {
      o.chat = log.chat;
      void o.panel.webview.postMessage({ type: 'about', about: about(log.chat) });
    }
  }

  private async attach(panel: vscode.WebviewPanel, id: string): Promise<void> {
    const log = await this.host.run<{ chat: ChatInfo; entries: ChatEntry[]; thinking: string[] }>('maestro.chat.log', { chat: id });
    if (!log) {
      panel.dispose();
      return;
    }
    const o: Open = { panel, chat: log.chat, entries: log.entries, thinking: log.thinking, seenThinking: new Set(log.thinking) };
    this.open.set(log.chat.id, o);
    panel.title = `chat: ${log.chat.title || log.chat.id}`;
    panel.onDidDispose(() => this.open.delete(log.chat.id));
    panel.webview.onDidReceiveMessage(async (m: { type: string; text?: string }) => {
      if (m.type === 'say' && m.text?.trim()) {
        const ok = await this.say(log.chat.id, m.text);
        void panel.webview.postMessage({ type: 'said', ok });
      }
    });
    panel.webview.html = page(log.chat, log.entries, log.thinking);
  }
}

function about(c: ChatInfo): string {
  const budget = c.budgetUsd > 0 ? `$${c.spentUsd.toFixed(4)} of $${c.budgetUsd.toFixed(2)}` : `$${c.spentUsd.toFixed(4)}`;
  return `moderator @${c.moderator} · ${c.participants.map((p) => '@' + p).join(' ')} · ${c.state} · ${c.maxRounds} rounds at most · ${budget}`;
}

/** The page; its script draws entries as they are posted and sends what is typed. */
export function page(chat: ChatInfo, entries: ChatEntry[], thinking: string[]): string {
  const nonce = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 1em 7em; }
h1 { font-size: 1.2em; } .note, .about, .thinking { color: var(--vscode-descriptionForeground); }
.entry { margin: .5em 0; padding: .3em .6em; border-left: 3px solid var(--vscode-panel-border); white-space: pre-wrap; }
.entry .who { font-weight: bold; } .entry.person { border-color: var(--vscode-textLink-foreground); }
.entry.synthesis { border-color: var(--vscode-testing-iconPassed); background: var(--vscode-textBlockQuote-background); }
.entry.failed, .entry.note { color: var(--vscode-editorWarning-foreground); }
form { position: fixed; bottom: 0; left: 0; right: 0; padding: .5em 1em; background: var(--vscode-editor-background); display: flex; gap: .5em; }
textarea { flex: 1; font-family: inherit; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border); min-height: 3em; }
button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 0 1em; }
</style></head><body>
<h1 id="title"></h1><p class="about" id="about"></p>
<div id="entries"></div><p class="thinking" id="thinking"></p>
<form id="form"><textarea id="text" placeholder="To the moderator (Ctrl+Enter sends)"></textarea><button type="submit">Send</button></form>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
const chat = ${json(chat)};
vscode.setState({ id: chat.id });
document.getElementById('title').textContent = chat.title ? chat.title + ' (' + chat.id + ')' : chat.id;
document.getElementById('about').textContent = ${json(about(chat))};
const box = document.getElementById('entries');
const seen = new Set();
const labels = { synthesis: ' (synthesis)', failed: ' ✗', note: ' ⚠', route: '', answer: '', say: '' };
function add(e) {
  if (seen.has(e.seq)) return;
  seen.add(e.seq);
  const div = document.createElement('div');
  div.className = 'entry ' + e.kind + (e.author === 'person' ? ' person' : '');
  div.dataset.seq = e.seq;
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = (e.author === 'person' ? 'you' : e.author === 'maestro' ? 'maestro' : '@' + e.author) + (labels[e.kind] || '') + ': ';
  div.appendChild(who);
  div.appendChild(document.createTextNode(e.text));
  const after = [...box.children].find((c) => Number(c.dataset.seq) > e.seq);
  box.insertBefore(div, after || null);
  window.scrollTo(0, document.body.scrollHeight);
}
function thinking(names) {
  document.getElementById('thinking').textContent = names.length ? names.map((n) => '@' + n).join(' ') + ' thinking…' : '';
}
${json(entries)}.forEach(add);
thinking(${json(thinking)});
window.addEventListener('message', (ev) => {
  const m = ev.data;
  if (m.type === 'entry') add(m.entry);
  if (m.type === 'thinking') thinking(m.thinking);
  if (m.type === 'about') document.getElementById('about').textContent = m.about;
  if (m.type === 'said' && m.ok) document.getElementById('text').value = '';
});
const form = document.getElementById('form');
form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = document.getElementById('text').value;
  if (text.trim()) vscode.postMessage({ type: 'say', text });
});
document.getElementById('text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
});
</script></body></html>`;
}
