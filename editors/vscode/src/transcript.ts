// An agent's transcript as a person reads it: a webview of its turns (the prompt, its words, its
// tool calls folded, denials and failures marked, how each turn ended and what it cost), kept
// current from `maestro/agentOutput`, and back after a window reload (a panel serializer).

import * as vscode from 'vscode';
import { AgentInfo, TranscriptTurn, parseTranscript } from './model';

/** What the extension gives the panels. */
export interface TranscriptHost {
  agents: Map<string, AgentInfo>;
  run<T = unknown>(command: string, arg: unknown, quiet?: boolean): Promise<T | undefined>;
}

interface Open {
  panel: vscode.WebviewPanel;
  root: string;
  /** The log as fetched and followed, and where it ends. */
  text: string;
  start: number;
  end: number;
  timer?: NodeJS.Timeout;
}

const VIEW = 'maestro.transcript';

export class Transcripts implements vscode.WebviewPanelSerializer {
  private readonly open = new Map<string, Open>();

  constructor(private readonly host: TranscriptHost, subscriptions: vscode.Disposable[]) {
    subscriptions.push(vscode.window.registerWebviewPanelSerializer(VIEW, this));
  }

  /** Shows `name`'s transcript (the panel it has, or a new one). */
  async show(name: string, root: string): Promise<void> {
    const known = this.open.get(name);
    if (known) {
      known.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(VIEW, `transcript: ${name}`, vscode.ViewColumn.Beside, {
      enableScripts: true,
      enableFindWidget: true,
    });
    await this.attach(panel, name, root);
  }

  /** After a window reload: the panels that were open come back with their agent. */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const s = (state ?? {}) as { name?: string; root?: string };
    if (!s.name || !s.root) {
      panel.dispose();
      return;
    }
    await this.attach(panel, s.name, s.root);
  }

  /** New output of an agent whose panel is open: appended, drawn again shortly. */
  output(name: string, offset: number, data: string): void {
    const o = this.open.get(name);
    const bytes = Buffer.byteLength(data);
    if (!o || offset + bytes <= o.end) {
      return;
    }
    // A gap or an overlap (output read while this was fetched): fetch it all again.
    if (offset !== o.end) {
      void this.fetch(name, o);
      return;
    }
    o.text += data;
    o.end = offset + bytes;
    this.redraw(name, o);
  }

  /** Rendered turns of an open panel, for the end-to-end report. */
  turns(name: string): TranscriptTurn[] | undefined {
    const o = this.open.get(name);
    return o && parseTranscript(o.text);
  }

  private async attach(panel: vscode.WebviewPanel, name: string, root: string): Promise<void> {
    const o: Open = { panel, root, text: '', start: 0, end: 0 };
    this.open.set(name, o);
    panel.onDidDispose(() => {
      clearTimeout(o.timer);
      this.open.delete(name);
    });
    await this.fetch(name, o);
  }

  private async fetch(name: string, o: Open): Promise<void> {
    const r = await this.host.run<{ offset: number; data: string; end: number; logFile?: string }>(
      'maestro.agent.output',
      { name, path: o.root, offset: 0 },
      true,
    );
    if (r) {
      o.text = r.data;
      o.start = r.offset;
      o.end = r.end;
    }
    this.redraw(name, o, true);
  }

  private redraw(name: string, o: Open, now = false): void {
    clearTimeout(o.timer);
    const draw = () => {
      o.panel.webview.html = page(o.panel.webview, name, o.root, this.host.agents.get(name), parseTranscript(o.text), o.start > 0);
    };
    if (now) {
      draw();
    } else {
      o.timer = setTimeout(draw, 250);
    }
  }
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The panel's page: plain HTML in the editor's colours; its one script keeps the agent's name
 * as the panel's state, which brings it back after a reload. */
export function page(
  webview: vscode.Webview,
  name: string,
  root: string,
  agent: AgentInfo | undefined,
  turns: TranscriptTurn[],
  truncated: boolean,
): string {
  const nonce = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const status: Record<string, string> = { done: '✓ done', warned: '⚠ done with warnings', failed: '✗ failed', stopped: '■ stopped' };
  const sections = turns.map((t) => {
    const parts: string[] = [];
    let tools: string[] = [];
    const flush = () => {
      if (tools.length > 0) {
        parts.push(
          `<details class="tools"><summary>${tools.length} tool call${tools.length === 1 ? '' : 's'}</summary><ul>${tools
            .map((x) => `<li><code>${escape(x)}</code></li>`)
            .join('')}</ul></details>`,
        );
        tools = [];
      }
    };
    for (const item of t.items) {
      if (item.kind === 'tool') {
        tools.push(item.text);
        continue;
      }
      flush();
      if (item.kind === 'text') {
        parts.push(`<p class="words">${escape(item.text)}</p>`);
      } else {
        const label = item.kind === 'denied' ? 'denied' : item.kind === 'failed' ? 'failed' : 'error';
        parts.push(`<p class="bad ${item.kind}"><b>${label}</b> ${escape(item.text)}</p>`);
      }
    }
    flush();
    const end = t.end
      ? `<span class="end ${t.end.status}">${escape(status[t.end.status])}</span>${t.end.cost ? ` <span class="cost">${escape(t.end.cost)}</span>` : ''}`
      : '<span class="end running">… running</span>';
    const warnings = t.warnings.length
      ? `<ul class="warnings">${t.warnings.map((w) => `<li>⚠ ${escape(w)}</li>`).join('')}</ul>`
      : '';
    const head = t.n === 0 ? 'Before the first turn' : `Turn ${t.n}`;
    return `<section><h2>${head} ${t.n === 0 ? '' : end}</h2>${t.prompt ? `<blockquote>${escape(t.prompt)}</blockquote>` : ''}${parts.join('')}${warnings}</section>`;
  });
  const about = agent ? `${escape(agent.agent)} · ${escape(agent.state.replace('_', ' '))} · ${agent.turns} turns · $${(agent.usage?.costUsd ?? 0).toFixed(4)}` : '';
  const interactive = agent?.mode === 'interactive' ? '<p class="note">An interactive agent: its terminal shows its screen; this is what it printed.</p>' : '';
  const cut = truncated ? '<p class="note">Older output was dropped from the daemon\'s buffer; the log file holds all of it.</p>' : '';
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 1em; }
h1 { font-size: 1.2em; } h2 { font-size: 1em; border-top: 1px solid var(--vscode-panel-border); padding-top: .6em; }
blockquote { margin: 0 0 .5em; padding: .3em .6em; border-left: 3px solid var(--vscode-textBlockQuote-border); background: var(--vscode-textBlockQuote-background); white-space: pre-wrap; }
.words { white-space: pre-wrap; }
.bad { color: var(--vscode-errorForeground); white-space: pre-wrap; }
.end.done { color: var(--vscode-testing-iconPassed); } .end.failed { color: var(--vscode-errorForeground); }
.end.warned { color: var(--vscode-editorWarning-foreground); } .cost, .note, summary { color: var(--vscode-descriptionForeground); }
.warnings { color: var(--vscode-editorWarning-foreground); list-style: none; padding-left: 0; }
code { font-family: var(--vscode-editor-font-family); }
</style></head><body>
<h1>agent ${escape(name)}</h1><p class="note">${about}</p>${interactive}${cut}
${sections.join('\n') || '<p class="note">No output yet.</p>'}
<script nonce="${nonce}">acquireVsCodeApi().setState(${JSON.stringify({ name, root }).replace(/</g, '\\u003c')});</script>
</body></html>`;
}
