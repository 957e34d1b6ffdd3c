// The pure parts of the extension: no `vscode` import, so `node --test` runs them as they are.

/** The protocol this extension speaks: the server's `experimental.maestro.protocolVersion`. */
export const PROTOCOL_VERSION = 1;

export type AgentState = 'starting' | 'working' | 'idle' | 'needs_input' | 'done' | 'failed' | 'lost';

/** What the server says of an agent (`maestro/agent.list`, `maestro/agentStatus`); the fields used here. */
export interface AgentInfo {
  name: string;
  /** The mesh node it runs on, when the daemon is in a mesh. */
  node?: string;
  workspace: string;
  workspaceRoot: string;
  agent: string;
  state: AgentState;
  mode: 'headless' | 'interactive';
  branch?: string;
  /** Where it works: its worktree (or the checkout, in place). */
  worktree?: string;
  /** The branch (or commit) it started from and merges into. */
  base?: string;
  reason?: string;
  turns: number;
  usage: { costUsd: number; inputTokens?: number; outputTokens?: number; unpricedTurns?: number };
  outputBytes?: number;
  /** Its last turn ended, but with denied tools, failed commands or uncommitted work. */
  warnings?: string[];
  /** The playbook run that started it for its tasks. */
  playbookRun?: string;
  /** The CLI binary it runs and what chose it (a config key, or the daemon's `PATH`). */
  program?: { path: string; from: string };
  /** Its work was merged (and nothing new came since). */
  merged?: { into: string; commit: string; at: number };
}

export interface AgentStatusParams {
  agent: AgentInfo;
  previous?: AgentState;
  attention: boolean;
  removed?: boolean;
}

/** Why the server cannot be used by this extension, from its initialize answer; undefined when it can. */
export function versionProblem(initializeResult: unknown, serverPath: string): string | undefined {
  const result = initializeResult as {
    capabilities?: { experimental?: { maestro?: { protocolVersion?: unknown } } };
    serverInfo?: { name?: string; version?: string };
  };
  const version = result?.capabilities?.experimental?.maestro?.protocolVersion;
  if (version === PROTOCOL_VERSION) {
    return undefined;
  }
  const server = result?.serverInfo?.version ?? 'unknown version';
  const spoken = version === undefined ? 'no maestro protocol' : `protocol ${String(version)}`;
  return (
    `maestro: ${serverPath} (maestro ${server}) speaks ${spoken}; this extension speaks protocol ` +
    `${PROTOCOL_VERSION}. Install the extension and the binary from the same maestro checkout ` +
    `(./install.sh), or set maestro.path to the matching binary.`
  );
}

/** The message for a server binary that is not there. */
export function missingBinaryMessage(configured: string): string {
  return configured
    ? `maestro: the server binary ${configured} (setting maestro.path) does not exist or is not executable. ` +
        'Fix the setting, or clear it to use maestro on PATH.'
    : 'maestro: the server binary `maestro` is not on PATH. Install it with ./install.sh from the ' +
        'maestro repository, or set maestro.path to it.';
}

/**
 * The binary to start: the configured path, else `maestro` found on `PATH`; undefined when
 * neither is executable. `isExecutable` is the file system check (injected for tests).
 */
export function resolveBinary(
  configured: string,
  pathEnv: string | undefined,
  isExecutable: (path: string) => boolean,
): string | undefined {
  if (configured) {
    return isExecutable(configured) ? configured : undefined;
  }
  for (const dir of (pathEnv ?? '').split(':')) {
    if (!dir) {
      continue;
    }
    const candidate = `${dir.replace(/\/+$/, '')}/maestro`;
    if (isExecutable(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/** A codicon and theme colour for an agent state (an idle agent whose turn warned: a warning). */
export function stateIcon(state: AgentState, warned = false): { icon: string; color?: string } {
  if (state === 'idle' && warned) {
    return { icon: 'warning', color: 'charts.yellow' };
  }
  switch (state) {
    case 'starting':
      return { icon: 'loading~spin' };
    case 'working':
      return { icon: 'sync~spin', color: 'charts.blue' };
    case 'idle':
      return { icon: 'circle-outline' };
    case 'needs_input':
      return { icon: 'bell-dot', color: 'charts.yellow' };
    case 'done':
      return { icon: 'pass', color: 'charts.green' };
    case 'failed':
      return { icon: 'error', color: 'charts.red' };
    case 'lost':
      return { icon: 'debug-disconnect', color: 'charts.red' };
    default:
      return { icon: 'question' };
  }
}

export function isRunning(state: AgentState): boolean {
  return state === 'starting' || state === 'working' || state === 'needs_input';
}

export function dollars(x: number | undefined): string {
  return `$${(x ?? 0).toFixed(2)}`;
}

/** A node of the agents tree: a group of names, a playbook run, the finished agents, or an agent. */
export interface TreeNode {
  /** Unique in the tree: the agent's name, or `group:<prefix>`, `run:<id>`, `finished`. */
  id: string;
  label: string;
  agent?: AgentInfo;
  children: TreeNode[];
  /** What a node without an agent is. */
  kind?: 'group' | 'run' | 'finished';
  /** Shown folded: a run with nothing running, the finished agents. */
  collapsed?: boolean;
  description?: string;
}

/**
 * The agents as the person named them. Names are grouped by a shared `-` prefix only where two
 * or more agents share it (`shop-api` and `shop-web` under `shop`; a lone `docs-readme-typos`
 * stays one node), and a group with one subgroup is one node (`shop-backend`). Agents a
 * playbook run started are under their run, folded once nothing there runs; finished agents
 * (`done`) are folded at the end. Siblings are sorted by label.
 */
export function agentTree(agents: AgentInfo[]): TreeNode[] {
  const finished = agents.filter((a) => a.state === 'done');
  const live = agents.filter((a) => a.state !== 'done');
  const runs = new Map<string, AgentInfo[]>();
  for (const a of live) {
    if (a.playbookRun) {
      runs.set(a.playbookRun, [...(runs.get(a.playbookRun) ?? []), a]);
    }
  }
  const nodes = nameTree(live.filter((a) => !a.playbookRun), '');
  const byLabel = (x: TreeNode, y: TreeNode) => x.label.localeCompare(y.label);
  const runNodes = [...runs.entries()].map(([id, workers]): TreeNode => {
    const busy = workers.filter((w) => isRunning(w.state) || w.state === 'needs_input').length;
    return {
      id: `run:${id}`,
      label: `playbook run ${id}`,
      kind: 'run',
      collapsed: busy === 0,
      description: `${workers.length} agent${workers.length === 1 ? '' : 's'}${busy ? `, ${busy} working` : ''}`,
      children: workers.map((a) => ({ id: a.name, label: a.name, agent: a, children: [] })).sort(byLabel),
    };
  });
  const out = [...nodes, ...runNodes.sort(byLabel)];
  if (finished.length > 0) {
    out.push({
      id: 'finished',
      label: `finished (${finished.length})`,
      kind: 'finished',
      collapsed: true,
      children: finished.map((a) => ({ id: a.name, label: a.name, agent: a, children: [] })).sort(byLabel),
    });
  }
  return out;
}

/** The names after `prefix`, grouped where at least two share their next part. */
function nameTree(agents: AgentInfo[], prefix: string): TreeNode[] {
  const byHead = new Map<string, AgentInfo[]>();
  for (const a of agents) {
    const head = a.name.slice(prefix.length).split('-')[0];
    byHead.set(head, [...(byHead.get(head) ?? []), a]);
  }
  const nodes: TreeNode[] = [];
  for (const [head, group] of byHead) {
    if (group.length === 1) {
      const a = group[0];
      nodes.push({ id: a.name, label: a.name.slice(prefix.length), agent: a, children: [] });
      continue;
    }
    let level = prefix + head;
    let label = head;
    let members = group;
    // One subgroup and no agent of this exact name: the two levels are one node.
    for (;;) {
      const self = members.find((a) => a.name === level);
      const below = nameTree(members.filter((a) => a !== self), `${level}-`);
      if (!self && below.length === 1 && !below[0].agent) {
        const only = below[0];
        label = `${label}-${only.label}`;
        level = only.id.slice('group:'.length);
        members = members.filter((a) => a.name.startsWith(`${level}-`) || a.name === level);
        continue;
      }
      nodes.push({
        id: self ? self.name : `group:${level}`,
        label,
        agent: self,
        kind: self ? undefined : 'group',
        children: below,
      });
      break;
    }
  }
  return nodes.sort((x, y) => x.label.localeCompare(y.label));
}

/** The description next to an agent in the tree: state, turns, dollars, merged. */
export function agentDescription(agent: AgentInfo): string {
  const state = agent.state.replace('_', ' ');
  const merged = agent.merged ? ` · merged into ${agent.merged.into}` : '';
  const node = agent.node ? ` · on ${agent.node}` : '';
  return `${state} · ${agent.turns} turn${agent.turns === 1 ? '' : 's'} · ${dollars(agent.usage?.costUsd)}${merged}${node}`;
}

/** `YYYY-MM-DD` of a time in the person's time zone (the usage request names it: `timeZone()`). */
export function dayKey(at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`;
}

/** The person's IANA time zone, for the server to count days in (`Europe/Berlin`). */
export function timeZone(): string | undefined {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
}

/** Dollars of today from a `maestro/usage` answer by day. */
export function costToday(usage: { rows?: { key: string; costUsd?: number }[] } | undefined, now: Date): number {
  const today = dayKey(now);
  return usage?.rows?.find((r) => r.key === today)?.costUsd ?? 0;
}

/** What waits for the person: agents needing input, failed agents, review gates of playbook runs. */
export function attentionCounts(agents: AgentInfo[], gates: number): { needsInput: number; failed: number; gates: number; total: number } {
  const needsInput = agents.filter((a) => a.state === 'needs_input').length;
  const failed = agents.filter((a) => a.state === 'failed').length;
  return { needsInput, failed, gates, total: needsInput + failed + gates };
}

/** The status bar item: agents working, what waits for the person, and dollars today. */
export function statusText(agents: AgentInfo[], today: number, gates = 0, unread = 0): { text: string; tooltip: string } {
  const running = agents.filter((a) => a.state === 'working' || a.state === 'starting').length;
  const c = attentionCounts(agents, gates);
  const parts = [`$(hubot) ${running}`];
  if (unread > 0) {
    parts.push(`$(mail) ${unread}`);
  }
  if (c.needsInput > 0) {
    parts.push(`$(bell-dot) ${c.needsInput}`);
  }
  if (c.failed > 0) {
    parts.push(`$(error) ${c.failed}`);
  }
  if (c.gates > 0) {
    parts.push(`$(checklist) ${c.gates}`);
  }
  parts.push(dollars(today));
  const waiting = [
    `${c.needsInput} needing input`,
    ...(c.failed ? [`${c.failed} failed`] : []),
    ...(c.gates ? [`${c.gates} review gate${c.gates === 1 ? '' : 's'} to approve`] : []),
  ];
  if (unread > 0) {
    waiting.push(`${unread} unread message${unread === 1 ? '' : 's'}`);
  }
  const tooltip =
    `maestro: ${running} agent${running === 1 ? '' : 's'} working, ${waiting.join(', ')}, ` +
    `${agents.length} in all; ${dollars(today)} spent today`;
  return { text: parts.join('  '), tooltip };
}

/** The Agents view's badge: what waits for the person, or undefined when nothing does. */
export function viewBadge(agents: AgentInfo[], gates: number): { value: number; tooltip: string } | undefined {
  const c = attentionCounts(agents, gates);
  if (c.total === 0) {
    return undefined;
  }
  const what = [
    ...(c.needsInput ? [`${c.needsInput} need${c.needsInput === 1 ? 's' : ''} input`] : []),
    ...(c.failed ? [`${c.failed} failed`] : []),
    ...(c.gates ? [`${c.gates} review gate${c.gates === 1 ? '' : 's'}`] : []),
  ];
  return { value: c.total, tooltip: `maestro: ${what.join(', ')}` };
}

/** What to tell the person about a status change, or undefined when nothing. */
export function attentionMessage(p: AgentStatusParams): string | undefined {
  if (!p.attention || p.removed || p.previous === p.agent.state) {
    return undefined;
  }
  const what: Record<string, string> = {
    needs_input: 'needs input',
    failed: 'failed',
    lost: 'was lost',
    idle: 'finished',
  };
  const reason = p.agent.reason ? `: ${p.agent.reason}` : '';
  return `maestro: agent ${p.agent.name} ${what[p.agent.state] ?? p.agent.state}${reason}`;
}

/** The palette command that gathers arguments for a server command: `maestro.x.y` → `maestro.ui.x.y`. */
export function paletteId(serverCommand: string): string {
  return serverCommand.replace(/^maestro\./, 'maestro.ui.');
}

/** Server commands without a palette entry among `registered`. */
export function missingFromPalette(serverCommands: string[], registered: string[]): string[] {
  const have = new Set(registered);
  return serverCommands.filter((c) => !have.has(paletteId(c)));
}

/**
 * What a palette command asks before it runs its server command. `agent` picks an agent of the
 * workspace, `text` asks a line, `run` an optional playbook run id; `path` is filled in with the
 * workspace. Commands not here (attach, delegate, search, playbook.run) have their own UI.
 */
export type Field =
  | { key: string; kind: 'agent' }
  | { key: string; kind: 'text'; prompt: string; optional?: boolean }
  | { key: string; kind: 'number'; prompt: string }
  | { key: string; kind: 'pick'; prompt: string; choices: string[] }
  | { key: string; kind: 'run' }
  | { key: string; kind: 'path' }
  | { key: string; kind: 'save'; prompt: string }
  | { key: string; kind: 'open'; prompt: string }
  | { key: string; kind: 'snapshot' };

export const FORMS: Record<string, Field[]> = {
  'maestro.status': [],
  'maestro.store.backup': [{ key: 'path', kind: 'text', prompt: 'Back up the store to (a new file)' }],
  'maestro.agent.spawn': [
    { key: 'name', kind: 'text', prompt: 'Agent name: lowercase letters and digits, `-` between parts (names sharing a prefix are grouped)' },
    { key: 'prompt', kind: 'text', prompt: 'First turn (empty: it waits)', optional: true },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.send': [
    { key: 'name', kind: 'agent' },
    { key: 'prompt', kind: 'text', prompt: 'Its next turn, or the answer it waits for' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.stop': [{ key: 'name', kind: 'agent' }, { key: 'path', kind: 'path' }],
  'maestro.agent.list': [{ key: 'path', kind: 'path' }],
  'maestro.agent.status': [{ key: 'name', kind: 'agent' }, { key: 'path', kind: 'path' }],
  'maestro.agent.output': [{ key: 'name', kind: 'agent' }, { key: 'path', kind: 'path' }],
  'maestro.agent.merge': [{ key: 'name', kind: 'agent' }, { key: 'path', kind: 'path' }],
  'maestro.agent.remove': [
    { key: 'name', kind: 'agent' },
    { key: 'force', kind: 'pick', prompt: 'Also with uncommitted changes?', choices: ['no', 'yes'] },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.input': [
    { key: 'name', kind: 'agent' },
    { key: 'data', kind: 'text', prompt: 'Text typed into its terminal (a line break is added)' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.resize': [
    { key: 'name', kind: 'agent' },
    { key: 'rows', kind: 'number', prompt: 'Rows' },
    { key: 'cols', kind: 'number', prompt: 'Columns' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.icon': [{ key: 'name', kind: 'agent' }],
  'maestro.agent.export': [
    { key: 'name', kind: 'agent' },
    { key: 'output', kind: 'save', prompt: 'Export the agent to' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.import': [
    { key: 'file', kind: 'open', prompt: 'Import the agent of' },
    { key: 'as', kind: 'text', prompt: 'Its name here (empty: the name in the archive)', optional: true },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.fork': [
    { key: 'name', kind: 'agent' },
    { key: 'new', kind: 'text', prompt: 'Name of the new agent (it starts from this one\'s branch, memories and session)' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.snapshot': [
    { key: 'name', kind: 'agent' },
    { key: 'note', kind: 'text', prompt: 'A note to know this snapshot by', optional: true },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.snapshots': [{ key: 'name', kind: 'agent' }, { key: 'path', kind: 'path' }],
  'maestro.agent.rollback': [
    { key: 'name', kind: 'agent' },
    { key: 'snapshot', kind: 'snapshot' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.agent.transfer': [
    { key: 'name', kind: 'agent' },
    { key: 'to', kind: 'text', prompt: 'Node of the mesh to move it to' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.usage': [
    { key: 'by', kind: 'pick', prompt: 'Usage by', choices: ['agent', 'model', 'day'] },
    { key: 'path', kind: 'path' },
  ],
  'maestro.playbook.status': [],
  'maestro.playbook.stop': [{ key: 'id', kind: 'run' }],
  'maestro.playbook.pause': [{ key: 'id', kind: 'run' }],
  'maestro.playbook.resume': [{ key: 'id', kind: 'run' }],
  'maestro.playbook.approve': [{ key: 'id', kind: 'run' }],
  'maestro.playbook.history': [{ key: 'id', kind: 'run' }],
  'maestro.message.send': [
    { key: 'to', kind: 'agent' },
    { key: 'text', kind: 'text', prompt: 'Message (a request asks for an answer and wakes an idle agent)' },
    { key: 'type', kind: 'pick', prompt: 'What it is', choices: ['request', 'notification', 'task'] },
    { key: 'path', kind: 'path' },
  ],
  'maestro.memory.add': [
    { key: 'text', kind: 'text', prompt: 'What to remember about this repository' },
    { key: 'path', kind: 'path' },
  ],
  'maestro.memory.list': [{ key: 'path', kind: 'path' }],
  'maestro.memory.forget': [{ key: 'ids', kind: 'text', prompt: 'Memory ids to forget (space separated)' }],
  'maestro.memory.status': [],
  'maestro.trust.list': [{ key: 'path', kind: 'path' }],
  'maestro.trust.revoke': [{ key: 'path', kind: 'path' }],
};

/** Turns the answers of a form into the command's argument (numbers, booleans and lists typed). */
export function formArgument(command: string, answers: Record<string, string | undefined>): Record<string, unknown> {
  const arg: Record<string, unknown> = {};
  for (const field of FORMS[command] ?? []) {
    const value = answers[field.key];
    if (value === undefined || value === '') {
      continue;
    }
    if (field.kind === 'number') {
      arg[field.key] = Number(value);
    } else if (command === 'maestro.agent.remove' && field.key === 'force') {
      arg.force = value === 'yes';
    } else if (command === 'maestro.memory.forget' && field.key === 'ids') {
      arg.ids = value.split(/\s+/).filter(Boolean);
    } else if (command === 'maestro.agent.input' && field.key === 'data') {
      arg.data = value + '\r';
    } else {
      arg[field.key] = value;
    }
  }
  return arg;
}

/**
 * Keystrokes typed into a headless agent's terminal, gathered into lines: each completed line is a
 * prompt for `maestro/agent.send`. `feed` returns what to echo and the lines completed.
 */
export class LineBuffer {
  private line = '';

  feed(data: string): { echo: string; lines: string[] } {
    let echo = '';
    const lines: string[] = [];
    for (const ch of data) {
      if (ch === '\r' || ch === '\n') {
        echo += '\r\n';
        if (this.line.trim()) {
          lines.push(this.line);
        }
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line.length > 0) {
          this.line = Array.from(this.line).slice(0, -1).join('');
          echo += '\b \b';
        }
      } else if (ch === '\x03') {
        this.line = '';
        echo += '^C\r\n';
      } else if (ch === '\x15') {
        echo += '\b \b'.repeat(Array.from(this.line).length);
        this.line = '';
      } else if (ch >= ' ') {
        this.line += ch;
        echo += ch;
      }
    }
    return { echo, lines };
  }

  get pending(): string {
    return this.line;
  }
}

/** Text for a terminal: bare line feeds become CR LF (a headless transcript is plain lines). */
export function toTerminal(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/**
 * Places output batches at their offsets: returns the part of `data` (at byte `offset`) not yet
 * shown, and whether bytes before it are missing (a gap to fetch). Offsets count UTF-8 bytes.
 */
export function placeOutput(shownUpTo: number, offset: number, data: string): { fresh: string; gap: boolean; end: number } {
  const bytes = Buffer.from(data, 'utf8');
  const end = offset + bytes.length;
  if (end <= shownUpTo) {
    return { fresh: '', gap: false, end: shownUpTo };
  }
  if (offset > shownUpTo) {
    return { fresh: data, gap: true, end };
  }
  return { fresh: bytes.subarray(shownUpTo - offset).toString('utf8'), gap: false, end };
}

/** What a playbook event says in the run's progress notification, and whether the run ended. */
export function playbookMessage(event: {
  kind: string;
  document?: string;
  line?: number;
  task?: string;
  message?: string;
}): { message: string; ended: boolean } {
  const where = event.document ? `${event.document}${event.line ? `:${event.line}` : ''}` : '';
  const ended = ['complete', 'halted', 'stopped', 'error'].includes(event.kind);
  const detail = event.task ?? event.message ?? '';
  const kind = event.kind.replace(/_/g, ' ');
  return { message: [kind, where, detail].filter(Boolean).join(' · '), ended };
}

/** Tasks done and in all, over a run's documents. */
export function runCounts(run: { documents?: { tasks: number; done: number }[] }): { done: number; tasks: number } {
  let done = 0;
  let tasks = 0;
  for (const d of run.documents ?? []) {
    done += d.done;
    tasks += d.tasks;
  }
  return { done, tasks };
}

/** A memory hit as a quick pick item. */
export function memoryItem(hit: {
  kind: string;
  agent: string;
  text: string;
  at: number;
  source: string;
  file?: string;
  line?: number;
}, now: number): { label: string; description: string; detail: string } {
  const age = ago(now - hit.at);
  const who = hit.agent ? ` · ${hit.agent}` : '';
  const first = hit.text.split('\n').find((l) => l.trim()) ?? '';
  const where = hit.file ? `${hit.file}${hit.line ? `:${hit.line}` : ''}` : hit.source;
  return { label: first.slice(0, 120), description: `${hit.kind}${who} · ${age}`, detail: where };
}

/** `3m ago`, `2h ago`, `5d ago`. */
export function ago(secs: number): string {
  if (secs < 60) {
    return 'just now';
  }
  if (secs < 3600) {
    return `${Math.floor(secs / 60)}m ago`;
  }
  if (secs < 86400) {
    return `${Math.floor(secs / 3600)}h ago`;
  }
  return `${Math.floor(secs / 86400)}d ago`;
}

/** A command's answer as one sentence for the person, or undefined when it is a listing. */
export function answerSentence(command: string, result: unknown, name?: string): { text: string; warn: boolean } | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  const say = (text: string, warn = false) => ({ text: `maestro: ${text}`, warn });
  const agent = name ? `agent ${name}` : 'the agent';
  switch (command) {
    case 'maestro.agent.send':
      return say(`sent to ${agent}.`);
    case 'maestro.message.send':
      return say(`message sent to ${who(String(r.to ?? ''))}.`);
    case 'maestro.agent.stop':
      return say(`${agent} stopped.`);
    case 'maestro.playbook.stop':
      return say('playbook run stopped.');
    case 'maestro.playbook.pause':
      return say('playbook run paused after its current task.');
    case 'maestro.playbook.resume':
      return say('playbook run resumed.');
    case 'maestro.playbook.approve':
      return say('review gate approved: the run goes on.');
    case 'maestro.agent.merge': {
      const conflicts = (r.conflicts as string[] | undefined) ?? [];
      if (conflicts.length > 0) {
        const files = conflicts.slice(0, 5).join(', ') + (conflicts.length > 5 ? ` and ${conflicts.length - 5} more` : '');
        return say(`${agent} was not merged into ${r.into}: ${files} conflict; nothing was changed.`, true);
      }
      if (r.upToDate) {
        return say(`${r.into} already has every commit of ${agent}: nothing to merge.`);
      }
      const how = r.fastForward ? 'fast-forward' : 'merge commit';
      const commit = typeof r.commit === 'string' ? ` (${r.commit.slice(0, 8)})` : '';
      return say(`${agent} merged into ${r.into}, ${how}${commit}.`);
    }
    case 'maestro.agent.remove': {
      const parts = [`${agent} removed`];
      if (r.worktreeRemoved) {
        parts.push('its worktree deleted');
      }
      if (r.branchKept) {
        parts.push(`branch ${r.branchKept} kept (it has commits the base does not)`);
      } else if (r.branchDeleted) {
        parts.push(`branch ${r.branchDeleted} deleted`);
      }
      if (Number(r.snapshotsDeleted ?? 0) > 0) {
        parts.push(`${r.snapshotsDeleted} snapshot(s) deleted`);
      }
      return say(`${parts.join(', ')}.`);
    }
    case 'maestro.memory.add': {
      const ids = (r.ids as string[] | undefined) ?? [];
      if (r.existed) {
        return say('already remembered: nothing new stored.');
      }
      return say(`remembered (${ids.length === 1 ? ids[0] : `${ids.length} parts`}).`);
    }
    case 'maestro.memory.forget': {
      const n = Number(r.forgotten ?? 0);
      return say(n === 0 ? 'no memory had those ids: nothing forgotten.' : `forgot ${n} memor${n === 1 ? 'y' : 'ies'}.`, n === 0);
    }
    case 'maestro.agent.export': {
      const notes = (r.notes as string[] | undefined) ?? [];
      return say(
        `${agent} exported to ${r.file} (${mib(Number(r.bytes ?? 0))}): ${r.memories ?? 0} memories, ${r.messages ?? 0} messages.` +
          (notes.length ? ` ${notes.join(' ')}` : ''),
        notes.length > 0,
      );
    }
    case 'maestro.agent.import':
    case 'maestro.agent.fork': {
      const notes = (r.notes as string[] | undefined) ?? [];
      const what = command === 'maestro.agent.fork' ? `forked ${agent} as ${r.name}` : `imported agent ${r.name}`;
      return say(`${what} on ${r.branch ?? r.worktree}.` + (notes.length ? ` ${notes.join(' ')}` : ''), notes.length > 0);
    }
    case 'maestro.agent.snapshot':
      return say(`snapshot ${r.id} of agent ${r.agent} kept${r.note ? ` (${r.note})` : ''}.`);
    case 'maestro.agent.rollback': {
      const restored = (r.restored ?? {}) as Record<string, unknown>;
      const before = (r.before ?? {}) as Record<string, unknown>;
      return say(`${agent} is back at snapshot ${restored.id}; where it was is snapshot ${before.id}.`);
    }
    case 'maestro.agent.transfer':
      return say(`${agent} moved to node ${r.node}.`);
    case 'maestro.store.backup':
      return say(`store backed up to ${r.path} (${mib(Number(r.sizeBytes ?? 0))}, schema ${r.schemaVersion}).`);
    default:
      return undefined;
  }
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

/**
 * A listing answer (status, usage, memory status, playbook runs…) as a document a person reads:
 * Markdown headings and `key: value` lines, lists as bullet points, instead of JSON.
 */
export function answerDocument(title: string, result: unknown): string {
  const lines: string[] = [`# ${title}`, ''];
  const words = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  const scalar = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  const walk = (value: unknown, depth: number, key?: string) => {
    const pad = '  '.repeat(depth);
    const label = key === undefined ? '' : `**${words(key)}**`;
    if (Array.isArray(value)) {
      if (value.length === 0) {
        if (label) lines.push(`${pad}- ${label}: none`);
        return;
      }
      if (label) lines.push(`${pad}- ${label}:`);
      for (const item of value) {
        if (item !== null && typeof item === 'object') {
          const entries = Object.entries(item as Record<string, unknown>);
          const [k0, v0] = entries[0] ?? ['', ''];
          lines.push(`${pad}  - ${words(k0)}: ${v0 !== null && typeof v0 === 'object' ? '' : scalar(v0)}`);
          for (const [k, v] of entries.slice(1)) walk(v, depth + 2, k);
        } else {
          lines.push(`${pad}  - ${scalar(item)}`);
        }
      }
      return;
    }
    if (value !== null && typeof value === 'object') {
      if (label) lines.push(`${pad}- ${label}:`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, label ? depth + 1 : depth, k);
      return;
    }
    lines.push(`${pad}- ${label}: ${value === null || value === undefined ? '—' : scalar(value)}`);
  };
  walk(result, 0);
  return lines.join('\n') + '\n';
}

/** A comment thread of a review, as the editor holds it. */
export interface ReviewThread {
  agent: string;
  /** Relative to the agent's worktree. */
  file: string;
  /** 1-based. */
  startLine: number;
  endLine: number;
  bodies: string[];
}

/** The `maestro.agent.review` comments of `agent`'s threads: one per thread, by file and line. */
export function reviewComments(
  threads: ReviewThread[],
  agent: string,
): { file: string; line: number; endLine?: number; body: string }[] {
  return threads
    .filter((t) => t.agent === agent && t.bodies.some((b) => b.trim()))
    .map((t) => ({
      file: t.file.split('\\').join('/'),
      line: t.startLine,
      ...(t.endLine > t.startLine ? { endLine: t.endLine } : {}),
      body: t.bodies.map((b) => b.trim()).filter(Boolean).join('\n\n'),
    }))
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** One turn of an agent's transcript, read from its output log. */
export interface TranscriptTurn {
  n: number;
  /** The prompt's first line (the log keeps 200 characters of it). */
  prompt: string;
  items: { kind: 'text' | 'tool' | 'denied' | 'failed' | 'error'; text: string }[];
  /** How it ended; none while it runs. */
  end?: { status: 'done' | 'warned' | 'failed' | 'stopped'; text: string; cost?: string };
  warnings: string[];
}

/**
 * An agent's output log (headless) as turns: `── turn N: PROMPT` opens one; `▸ TOOL …` is a tool
 * call, `✗ denied: …` / `✗ failed: …` what went wrong with one, `✗ …` an error; `✓ turn N done · …
 * · $COST`, `⚠ turn N done with warnings …`, `✗ turn N failed: …` and `■ turn N …` end it, with
 * `  ⚠ …` warnings after; anything else is the agent's words. Lines before the first turn (setup,
 * notes) are a turn 0.
 */
export function parseTranscript(log: string): TranscriptTurn[] {
  const turns: TranscriptTurn[] = [];
  let current: TranscriptTurn | undefined;
  const open = (n: number, prompt: string) => {
    current = { n, prompt, items: [], warnings: [] };
    turns.push(current);
    return current;
  };
  for (const raw of log.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const header = /^── turn (\d+): (.*)$/.exec(line);
    if (header) {
      open(Number(header[1]), header[2]);
      continue;
    }
    if (line.trim() === '') {
      continue;
    }
    const turn = current ?? open(0, '');
    const ended = /^(✓|⚠|✗|■) turn (\d+) (.*)$/.exec(line);
    if (ended && Number(ended[2]) === turn.n) {
      const status = ({ '✓': 'done', '⚠': 'warned', '✗': 'failed', '■': 'stopped' } as const)[ended[1] as '✓'];
      const cost = /· (\$\d+\.\d+|unpriced[^·]*)$/.exec(ended[3])?.[1]?.trim();
      turn.end = { status, text: ended[3], ...(cost ? { cost } : {}) };
      continue;
    }
    if (turn.end && line.startsWith('  ⚠ ')) {
      turn.warnings.push(line.slice(4));
      continue;
    }
    if (line.startsWith('▸ ')) {
      turn.items.push({ kind: 'tool', text: line.slice(2) });
    } else if (line.startsWith('✗ denied: ')) {
      turn.items.push({ kind: 'denied', text: line.slice('✗ denied: '.length) });
    } else if (line.startsWith('✗ failed: ')) {
      turn.items.push({ kind: 'failed', text: line.slice('✗ failed: '.length) });
    } else if (line.startsWith('✗ ')) {
      turn.items.push({ kind: 'error', text: line.slice(2) });
    } else {
      const last = turn.items[turn.items.length - 1];
      if (last?.kind === 'text') {
        last.text += `\n${line}`;
      } else {
        turn.items.push({ kind: 'text', text: line });
      }
    }
  }
  return turns;
}

/** A message as the person sees it (`maestro/message.*`). */
export interface MessageInfo {
  id: string;
  from: string;
  to: string;
  subject: string;
  priority: string;
  type: string;
  threadId: string;
  inReplyTo?: string;
  createdAt: number;
  text: string;
  readAt?: number;
}

/** Who an address is, briefly: an agent's name, or `you`. */
export function who(address: string): string {
  if (address.startsWith('person:')) {
    return 'you';
  }
  return address.slice(address.lastIndexOf('/') + 1);
}

/** A message in the inbox's quick pick. */
export function messageItem(msg: MessageInfo, nowMs: number): { label: string; description: string; detail: string } {
  const first = msg.text.split('\n').find((l) => l.trim()) ?? '';
  const mark = msg.readAt === undefined ? '$(circle-filled) ' : '';
  const urgency = msg.priority === 'normal' ? '' : ` · ${msg.priority}`;
  return {
    label: `${mark}${who(msg.from)}: ${msg.subject || first}`.slice(0, 140),
    description: `${msg.type}${urgency} · ${ago((nowMs - msg.createdAt) / 1000)}`,
    detail: msg.subject ? first.slice(0, 200) : '',
  };
}

/** The toast for a message to the person. */
export function messageToast(msg: MessageInfo): string {
  const first = msg.text.split('\n').find((l) => l.trim()) ?? '';
  const body = msg.subject ? `${msg.subject}: ${first}` : first;
  const asks = msg.type === 'request' ? ' asks' : '';
  return `maestro: ${who(msg.from)}${asks}: ${body}`.slice(0, 300);
}

/** A thread (or one message) as a Markdown document, oldest first. */
export function threadDocument(messages: MessageInfo[]): string {
  return messages
    .map((msg) => {
      const when = new Date(msg.createdAt).toISOString().replace('T', ' ').slice(0, 16);
      const read = msg.readAt !== undefined ? ' · read' : '';
      const head = `### ${who(msg.from)} → ${who(msg.to)} · ${msg.type} · ${when} UTC${read}`;
      const subject = msg.subject ? `**${msg.subject}**\n\n` : '';
      return `${head}\n\n${subject}${msg.text}\n\n<sub>${msg.id}</sub>`;
    })
    .join('\n\n---\n\n');
}
