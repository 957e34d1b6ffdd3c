// The maestro extension: starts `maestro lsp`, and adds what LSP has no words for: the Agents view,
// the status bar, palette commands that gather arguments, attach terminals, playbook progress,
// memory search and attention notifications. The pure parts are in model.ts.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, State } from 'vscode-languageclient/node';
import { Review } from './review';
import { Transcripts } from './transcript';
import { ChatEvent, ChatInfo, Chats } from './chat';
import {
  AgentInfo,
  AgentStatusParams,
  FORMS,
  LineBuffer,
  TreeNode,
  agentDescription,
  agentTree,
  viewBadge,
  answerDocument,
  answerSentence,
  attentionMessage,
  costToday,
  timeZone,
  isRunning,
  memoryItem,
  MessageInfo,
  messageItem,
  messageToast,
  threadDocument,
  missingBinaryMessage,
  missingFromPalette,
  paletteId,
  placeOutput,
  playbookMessage,
  resolveBinary,
  runCounts,
  stateIcon,
  statusText,
  toTerminal,
  versionProblem,
  formArgument,
} from './model';

let client: LanguageClient | undefined;
let state: Extension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = Date.now();
  state = new Extension(context);
  await state.start();
  // From activation to the server's answer and the agents listed (the report's figure).
  state.report.set({ activationMs: Date.now() - started });
}

export async function deactivate(): Promise<void> {
  await state?.report.flush();
  if (client) {
    await client.stop().catch(() => undefined);
  }
}

/** Each problem told once per window. */
class Once {
  private told = new Set<string>();
  readonly messages: string[] = [];

  constructor(private readonly report: Report) {}

  error(key: string, message: string, ...actions: string[]): Thenable<string | undefined> | undefined {
    if (this.told.has(key)) {
      return undefined;
    }
    this.told.add(key);
    this.messages.push(message);
    this.report.set({ told: this.messages });
    return vscode.window.showErrorMessage(message, ...actions);
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The workspace folder to act on: the active editor's, else the first. */
function workspacePath(): string | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  const folder = (doc && vscode.workspace.getWorkspaceFolder(doc.uri)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.fsPath;
}

class Extension {
  readonly once: Once;
  /** Requests the language client saw fail (it logs them here), for the end-to-end report. */
  readonly failedRequests: string[] = [];
  readonly output = recordingFailures(vscode.window.createOutputChannel('maestro'), this.failedRequests);
  readonly agents = new Map<string, AgentInfo>();
  readonly tree = new AgentsTree(this);
  readonly status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  readonly results = new ResultDocuments();
  readonly terminals = new Map<string, AgentTerminal>();
  readonly runs = new Map<string, RunProgress>();
  readonly report: Report;
  private today = 0;
  /** Review gates runs of this workspace wait at, by run. */
  private readonly gates = new Map<string, Gate>();
  private view: vscode.TreeView<TreeNode> | undefined;
  private usageTimer: NodeJS.Timeout | undefined;
  serverCommands: string[] = [];
  readonly review: Review;
  readonly transcripts: Transcripts;
  readonly chats: Chats;
  private readonly questions: { message: string; answer?: string }[] = [];
  /** Messages to the person this window told of (for the report). */
  private readonly messagesSeen: { from: string; text: string }[] = [];
  /** Unread messages to the person. */
  private unread = 0;

  constructor(readonly context: vscode.ExtensionContext) {
    this.report = new Report(process.env.MAESTRO_VSCODE_REPORT);
    this.once = new Once(this.report);
    context.subscriptions.push(
      this.output,
      this.status,
      (this.view = vscode.window.createTreeView('maestro.agents', { treeDataProvider: this.tree })),
      vscode.workspace.registerTextDocumentContentProvider(ResultDocuments.scheme, this.results),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('maestro.path')) {
          void this.restart();
        }
      }),
    );
    this.status.command = 'maestro.agents.focus';
    this.review = new Review(this, context.subscriptions);
    this.transcripts = new Transcripts(this, context.subscriptions);
    this.chats = new Chats(this, context.subscriptions);
    this.registerCommands();
  }

  /** Starts the server if its binary is there and speaks our protocol; says once why not. */
  async start(): Promise<void> {
    const configured = vscode.workspace.getConfiguration('maestro').get<string>('path', '');
    const binary = resolveBinary(configured, process.env.PATH, isExecutable);
    if (!binary) {
      const told = this.once.error(`missing:${configured}`, missingBinaryMessage(configured), 'Open Settings');
      this.report.set({ started: false, done: true });
      const choice = await told;
      if (choice === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'maestro.path');
      }
      return;
    }
    const serverOptions: ServerOptions = { command: binary, args: ['lsp'] };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.output,
      initializationOptions: {},
      middleware: {
        // The code actions' "Delegate to agent…" takes the same path as the context menu's: a
        // quick pick of the agent, then what to do.
        executeCommand: async (command, args, next) =>
          command === 'maestro.agent.delegate' && args[0] && typeof args[0] === 'object'
            ? this.delegateFlow(args[0] as Record<string, unknown>)
            : next(command, args),
      },
    };
    const c = new LanguageClient('maestro', 'maestro', serverOptions, clientOptions);
    c.onNotification('maestro/agentStatus', (p: AgentStatusParams) => this.onAgentStatus(p));
    c.onNotification('maestro/agentOutput', (p: { name: string; offset: number; data: string }) => {
      this.terminals.get(p.name)?.output(p.offset, p.data);
      this.transcripts.output(p.name, p.offset, p.data);
    });
    c.onNotification('maestro/playbookProgress', (p: PlaybookProgress) => this.onPlaybookProgress(p));
    c.onNotification('maestro/message', (p: { event: string; message: MessageInfo }) => void this.onMessage(p));
    c.onNotification('maestro/chat', (p: ChatEvent) => this.chats.onEvent(p));
    // After a crash the client restarts the server: list the agents again (the first start
    // lists them below, once the version is checked).
    c.onDidChangeState((e) => {
      if (e.newState === State.Running && client === c && this.serverCommands.length > 0) {
        void this.refresh();
      }
    });
    client = c;
    try {
      await c.start();
    } catch (e) {
      this.once.error(`start:${binary}`, `maestro: ${binary} lsp did not start: ${String(e)}`);
      this.report.set({ started: false, done: true });
      return;
    }
    const problem = versionProblem(c.initializeResult, binary);
    if (problem) {
      this.once.error(`version:${binary}`, problem);
      this.report.set({ started: false, done: true });
      client = undefined;
      await c.stop().catch(() => undefined);
      return;
    }
    const init = c.initializeResult as {
      serverInfo?: { version?: string };
      capabilities: { executeCommandProvider?: { commands?: string[] } };
    };
    this.serverCommands = init.capabilities.executeCommandProvider?.commands ?? [];
    const registered = (await vscode.commands.getCommands(true)).filter((id) => id.startsWith('maestro.ui.'));
    const missing = missingFromPalette(this.serverCommands, registered);
    if (missing.length > 0) {
      this.output.appendLine(`server commands without a palette entry (a newer server?): ${missing.join(', ')}`);
    }
    this.report.set({
      started: true,
      serverVersion: init.serverInfo?.version,
      serverCommands: this.serverCommands,
      palette: registered,
      missingFromPalette: missing,
    });
    this.status.show();
    await this.refresh();
    if (this.report.enabled) {
      void this.report.probe(this);
    }
  }

  async restart(): Promise<void> {
    const c = client;
    client = undefined;
    this.serverCommands = [];
    await c?.stop().catch(() => undefined);
    await this.start();
  }

  /** Runs a server command; errors are shown and give undefined. */
  async run<T = unknown>(command: string, arg: unknown, quiet = false): Promise<T | undefined> {
    if (!client || client.state !== State.Running) {
      if (!quiet) {
        void vscode.window.showErrorMessage('maestro: the server is not running (see the maestro output).');
      }
      return undefined;
    }
    try {
      return (await client.sendRequest('workspace/executeCommand', { command, arguments: [arg] })) as T;
    } catch (e) {
      if (!quiet) {
        void vscode.window.showErrorMessage(`maestro: ${command}: ${(e as Error).message ?? String(e)}`);
      }
      return undefined;
    }
  }

  /** Agents of the workspace, afresh from the server. */
  async refresh(): Promise<void> {
    const p = workspacePath();
    const list = await this.run<AgentInfo[]>('maestro.agent.list', p ? { path: p } : {}, true);
    if (list) {
      this.agents.clear();
      list.forEach((a) => this.agents.set(a.name, a));
      this.tree.changed();
    }
    // Runs already waiting at a gate (started before this window, or from a terminal).
    const runs = await this.run<{ runs: { id: string; status: string; workspaceRoot: string; gate?: Gate }[] }>(
      'maestro.playbook.status',
      {},
      true,
    );
    this.gates.clear();
    for (const r of runs?.runs ?? []) {
      if (!p || path.resolve(r.workspaceRoot) === path.resolve(p)) {
        this.noteGate(r);
      }
    }
    await this.refreshInbox();
    await this.refreshUsage();
  }

  private async refreshUsage(): Promise<void> {
    const p = workspacePath();
    const usage = await this.run<{ rows?: { key: string; costUsd?: number }[] }>(
      'maestro.usage',
      { by: 'day', ...(p ? { path: p } : {}), ...(timeZone() ? { timeZone: timeZone() } : {}) },
      true,
    );
    this.today = costToday(usage, new Date());
    this.updateStatus();
  }

  updateStatus(): void {
    const agents = [...this.agents.values()];
    const { text, tooltip } = statusText(agents, this.today, this.gates.size, this.unread);
    this.status.text = text;
    this.status.tooltip = tooltip;
    const badge = viewBadge(agents, this.gates.size);
    if (this.view) {
      this.view.badge = badge;
    }
    this.report.set({ statusBar: text, badge: badge?.value ?? 0 });
  }

  private onAgentStatus(p: AgentStatusParams): void {
    const root = workspacePath();
    if (root && path.resolve(p.agent.workspaceRoot) !== path.resolve(root)) {
      return;
    }
    if (p.removed) {
      this.agents.delete(p.agent.name);
    } else {
      this.agents.set(p.agent.name, p.agent);
    }
    this.tree.changed();
    this.updateStatus();
    // Dollars change when a turn ends.
    if (p.previous && isRunning(p.previous) && !isRunning(p.agent.state)) {
      clearTimeout(this.usageTimer);
      this.usageTimer = setTimeout(() => void this.refreshUsage(), 500);
    }
    const message = attentionMessage(p);
    if (message && vscode.workspace.getConfiguration('maestro').get('notifyAttention', true)) {
      const name = p.agent.name;
      void vscode.window.showWarningMessage(message, 'Attach', 'Send…').then((choice) => {
        if (choice === 'Attach') {
          void this.attach(name);
        } else if (choice === 'Send…') {
          void vscode.commands.executeCommand('maestro.ui.agent.send', name);
        }
      });
    }
  }

  private onPlaybookProgress(p: PlaybookProgress): void {
    // Gates of this window's workspace count and ask; another window has the others.
    const root = workspacePath();
    if (!root || !p.run.workspaceRoot || path.resolve(p.run.workspaceRoot) === path.resolve(root)) {
      this.noteGate(p.run);
      if (p.event.kind === 'review_wait' && p.run.gate) {
        this.askAtGate(p.run.id, p.run.gate);
      }
    }
    let run = this.runs.get(p.run.id);
    if (!run) {
      run = new RunProgress(this, p.run.id);
      this.runs.set(p.run.id, run);
    }
    run.event(p);
  }

  /** Keeps the review gates runs wait at, for the counts and the badge. */
  private noteGate(run: { id: string; status: string; gate?: Gate }): void {
    if (run.status === 'review' && run.gate) {
      this.gates.set(run.id, run.gate);
    } else {
      this.gates.delete(run.id);
    }
    this.updateStatus();
  }

  /** A run waits at a review gate: the task, with Approve and Open. */
  private askAtGate(id: string, gate: Gate): void {
    const approve = 'Approve';
    const open = 'Open';
    const where = `${path.basename(gate.path)}:${gate.line}`;
    void this.ask(`maestro playbook ${id} waits for your review at ${where}: ${gate.task}`, {}, approve, open)
      .then(async (choice) => {
        if (choice === approve) {
          const r = await this.run<{ status: string }>('maestro.playbook.approve', { id });
          this.report.set({ approvedRun: r?.status });
          if (r) {
            void vscode.window.showInformationMessage(`maestro: review gate approved: playbook ${id} goes on.`);
          }
        } else if (choice === open) {
          const doc = await vscode.workspace.openTextDocument(gate.path);
          const line = Math.max(0, gate.line - 1);
          await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, 0, line, 0) });
        }
      });
  }

  /** Asks for an agent of the workspace (or takes the one a tree item or argument gave). */
  async pickAgent(given: unknown): Promise<string | undefined> {
    if (typeof given === 'string') {
      return given;
    }
    if (given && typeof given === 'object' && 'id' in given) {
      return (given as TreeNode).agent?.name ?? (given as TreeNode).id;
    }
    await this.refresh();
    const items = [...this.agents.values()].map((a) => ({
      label: a.name,
      description: `${a.agent} · ${agentDescription(a)}`,
      detail: a.reason,
    }));
    if (items.length === 0) {
      void vscode.window.showInformationMessage('maestro: no agents in this workspace (maestro: Spawn Agent).');
      return undefined;
    }
    return (await vscode.window.showQuickPick(items, { placeHolder: 'Which agent?' }))?.label;
  }

  private async pickRun(): Promise<string | undefined | null> {
    const status = await this.run<{ runs: { id: string; status: string; documents?: { tasks: number; done: number }[] }[] }>(
      'maestro.playbook.status',
      {},
    );
    const runs = status?.runs ?? [];
    if (runs.length <= 1) {
      return runs[0]?.id;
    }
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => {
        const { done, tasks } = runCounts(r);
        return { label: r.id, description: `${r.status} · ${done}/${tasks} tasks` };
      }),
      { placeHolder: 'Which run?' },
    );
    return pick ? pick.label : null;
  }

  /** Fills a command's form by asking; undefined when the person dismissed a question. */
  private async fill(command: string, given: unknown): Promise<Record<string, unknown> | undefined> {
    const answers: Record<string, string | undefined> = {};
    for (const field of FORMS[command] ?? []) {
      switch (field.kind) {
        case 'path':
          answers[field.key] = workspacePath();
          break;
        case 'agent': {
          const name = await this.pickAgent(given);
          if (!name) {
            return undefined;
          }
          answers[field.key] = name;
          break;
        }
        case 'run': {
          const id = await this.pickRun();
          if (id === null) {
            return undefined;
          }
          answers[field.key] = id;
          break;
        }
        case 'save': {
          const name = typeof answers.name === 'string' ? answers.name : 'agent';
          const folder = workspacePath();
          const uri = await vscode.window.showSaveDialog({
            title: field.prompt,
            defaultUri: folder ? vscode.Uri.file(`${folder}/${name}.maestro-agent`) : undefined,
            filters: { 'maestro agent archive': ['maestro-agent'] },
          });
          if (!uri) {
            return undefined;
          }
          answers[field.key] = uri.fsPath;
          break;
        }
        case 'open': {
          const uris = await vscode.window.showOpenDialog({
            title: field.prompt,
            canSelectMany: false,
            filters: { 'maestro agent archive': ['maestro-agent'] },
          });
          if (!uris || uris.length === 0) {
            return undefined;
          }
          answers[field.key] = uris[0].fsPath;
          break;
        }
        case 'snapshot': {
          const all = await this.run<{ id: string; at: number; note?: string; commit?: string }[]>('maestro.agent.snapshots', {
            name: answers.name,
            path: workspacePath(),
          });
          if (!all || all.length === 0) {
            void vscode.window.showInformationMessage(`maestro: agent ${answers.name} has no snapshots yet (Agent Snapshot keeps one).`);
            return undefined;
          }
          const pick = await vscode.window.showQuickPick(
            [...all].reverse().map((s) => ({
              label: `snapshot ${s.id}`,
              description: `${new Date(s.at * 1000).toLocaleString()} · ${(s.commit ?? '').slice(0, 8)}`,
              detail: s.note,
              id: s.id,
            })),
            { placeHolder: `Roll ${answers.name} back to (its present point is kept as a snapshot first)` },
          );
          if (!pick) {
            return undefined;
          }
          answers[field.key] = pick.id;
          break;
        }
        case 'pick': {
          const choice = await vscode.window.showQuickPick(field.choices, { placeHolder: field.prompt });
          if (choice === undefined) {
            return undefined;
          }
          answers[field.key] = choice;
          break;
        }
        case 'text':
        case 'number': {
          const value = await vscode.window.showInputBox({
            prompt: field.prompt,
            validateInput: (v) =>
              field.kind === 'number' && !/^\d+$/.test(v)
                ? 'a whole number'
                : field.kind === 'text' && !field.optional && !v.trim()
                  ? 'required'
                  : undefined,
          });
          if (value === undefined) {
            return undefined;
          }
          answers[field.key] = value;
          break;
        }
      }
    }
    const arg = formArgument(command, answers);
    if (command === 'maestro.agent.spawn') {
      const cli = vscode.workspace.getConfiguration('maestro').get<string>('agent', '');
      arg.agent = cli;
    }
    return arg;
  }

  private registerCommands(): void {
    const sub = this.context.subscriptions;
    for (const command of Object.keys(FORMS)) {
      sub.push(
        vscode.commands.registerCommand(paletteId(command), async (given?: unknown) => {
          const arg = await this.fill(command, given);
          if (!arg) {
            return;
          }
          if (command === 'maestro.agent.merge' && !(await this.confirmMerge(String(arg.name)))) {
            return;
          }
          const result = await this.run(command, arg);
          if (result !== undefined) {
            await this.show(command, result, typeof arg.name === 'string' ? arg.name : undefined);
          }
        }),
      );
    }
    sub.push(
      vscode.commands.registerCommand('maestro.ui.agent.attach', async (given?: unknown) => {
        const name = await this.pickAgent(given);
        if (name) {
          await this.attach(name);
        }
      }),
      vscode.commands.registerCommand('maestro.ui.agent.delegate', () => this.delegate()),
      vscode.commands.registerCommand('maestro.ui.agent.transcript', async (given?: unknown) => {
        const name = await this.pickAgent(given);
        const root = workspacePath();
        if (name && root) {
          await this.transcripts.show(name, root);
        }
      }),
      // Diff and review open the agent's changes in the multi-file diff editor.
      ...['maestro.ui.agent.diff', 'maestro.ui.agent.review'].map((id) =>
        vscode.commands.registerCommand(id, async (given?: unknown) => {
          const name = await this.pickAgent(given);
          const root = workspacePath();
          if (name && root) {
            await this.review.open(name, root);
            this.report.set({ diffOpen: this.review.lastOpen });
          }
        }),
      ),
      vscode.commands.registerCommand('maestro.ui.chat.new', () => this.newChat()),
      ...['maestro.ui.chat.say', 'maestro.ui.chat.log', 'maestro.ui.chat.list'].map((id) =>
        vscode.commands.registerCommand(id, async (given?: unknown) => {
          const chat = typeof given === 'string' ? given : await this.pickChat('Open which chat?');
          if (chat) {
            await this.chats.show(chat);
          }
        }),
      ),
      vscode.commands.registerCommand('maestro.ui.chat.close', async () => {
        const chat = await this.pickChat('Close which chat?');
        if (chat && (await this.run('maestro.chat.close', { chat })) !== undefined) {
          void vscode.window.showInformationMessage(`maestro: chat ${chat} closed`);
        }
      }),
      vscode.commands.registerCommand('maestro.ui.attention.log', () => this.attentionLog(false)),
      vscode.commands.registerCommand('maestro.ui.attention.answer', () => this.attentionLog(true)),
      vscode.commands.registerCommand('maestro.ui.agent.consult', () => this.consult()),
      vscode.commands.registerCommand('maestro.ui.message.inbox', () => this.openInbox(false)),
      vscode.commands.registerCommand('maestro.ui.message.read', () => this.openInbox(false)),
      vscode.commands.registerCommand('maestro.ui.message.thread', () => this.openInbox(true)),
      vscode.commands.registerCommand('maestro.ui.playbook.run', (uri?: vscode.Uri) => this.runPlaybook(uri)),
      vscode.commands.registerCommand('maestro.ui.memory.search', () => this.searchMemory()),
      vscode.commands.registerCommand('maestro.ui.trust.approve', () => this.trustRepository()),
      vscode.commands.registerCommand('maestro.ui.restart', () => this.restart()),
    );
  }

  /** A group chat: its title, moderator and participants (`NAME:CLI` starts a new agent). */
  async newChat(): Promise<string | undefined> {
    const path = workspacePath();
    const title = await vscode.window.showInputBox({ prompt: 'What is the chat about?' });
    if (title === undefined || !path) {
      return undefined;
    }
    const member = (spec: string) => {
      const [name, agent] = spec.trim().split(':');
      return agent ? { name: name.trim(), agent: agent.trim() } : { name: name.trim() };
    };
    const moderator = await vscode.window.showInputBox({
      prompt: 'Moderator: an agent of this workspace, or NAME:CLI to start one (lead:claude)',
      validateInput: (v) => (v.trim() ? undefined : 'required'),
    });
    if (!moderator) {
      return undefined;
    }
    const others = await vscode.window.showInputBox({
      prompt: 'Participants, comma-separated (api:codex, docs:gemini, an existing agent)',
      validateInput: (v) => (v.split(',').some((p) => p.trim()) ? undefined : 'at least one'),
    });
    if (!others) {
      return undefined;
    }
    const chat = await this.run<ChatInfo>('maestro.chat.new', {
      path,
      title,
      moderator: member(moderator),
      participants: others.split(',').filter((p) => p.trim()).map(member),
    });
    if (chat) {
      await this.chats.show(chat.id);
    }
    return chat?.id;
  }

  private async pickChat(placeHolder: string): Promise<string | undefined> {
    const path = workspacePath();
    const chats = (await this.run<ChatInfo[]>('maestro.chat.list', path ? { path } : {})) ?? [];
    if (chats.length === 0) {
      void vscode.window.showInformationMessage('maestro: no chats in this workspace (maestro: New Group Chat).');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      chats.map((c) => ({
        label: c.title || c.id,
        description: `${c.id} · ${c.state} · @${c.moderator} with ${c.participants.map((p) => '@' + p).join(' ')}`,
        id: c.id,
      })),
      { placeHolder },
    );
    return pick?.id;
  }

  /** What agents asked and how it was decided; a question that waits can be answered here. */
  private async attentionLog(pendingOnly: boolean): Promise<void> {
    const path = workspacePath();
    type Decision = { id: string; agent: string; question: string; decision: string; by: string; reason: string; choices: string[] };
    const r = await this.run<{ decisions: Decision[] }>('maestro.attention.log', { path, pending: pendingOnly, limit: 100 });
    const decisions = r?.decisions ?? [];
    if (decisions.length === 0) {
      void vscode.window.showInformationMessage(pendingOnly ? 'maestro: no agent waits for you.' : 'maestro: no agent asked for anything yet.');
      return;
    }
    const pick = await vscode.window.showQuickPick(
      decisions.map((d) => ({
        label: `${d.agent}: ${d.question}`,
        description: d.by ? `${d.decision} by ${d.by}` : 'waits for you',
        detail: d.reason,
        d,
      })),
      { placeHolder: pendingOnly ? 'Answer which question?' : 'Decisions, newest first (pick one waiting to answer it)' },
    );
    if (!pick || pick.d.by || pick.d.choices.length === 0) {
      return;
    }
    const choice = await vscode.window.showQuickPick(pick.d.choices, { placeHolder: `${pick.d.agent} asks: ${pick.d.question}` });
    if (choice) {
      await this.run('maestro.attention.answer', { id: pick.d.id, choice });
    }
  }

  /** Asks an agent about another's work; its answer also reaches the other as a message. */
  private async consult(): Promise<void> {
    const path = workspacePath();
    const asker = await this.pickAgent(undefined);
    if (!asker) {
      return;
    }
    const name = await this.pickAgent(undefined);
    if (!name) {
      return;
    }
    const question = await vscode.window.showInputBox({ prompt: `What should ${name} answer about ${asker}'s work?` });
    if (!question?.trim()) {
      return;
    }
    const r = await this.run<{ reply: string; thread: string }>('maestro.agent.consult', { path, asker, name, question });
    if (r) {
      await this.results.open(`consult ${r.thread}`, `${name} answers ${asker} (consult ${r.thread}):\n\n${r.reply}\n`, 'markdown');
    }
  }

  /** Unread messages to the person, as the daemon counts them. */
  async refreshInbox(): Promise<void> {
    const r = await this.run<{ unread?: number }>('maestro.message.inbox', { limit: 1 }, true);
    this.unread = r?.unread ?? 0;
    this.updateStatus();
  }

  /**
   * A message sent or read somewhere: one to the person counts as unread and is told, with Read
   * and Reply; one of the person's read by its agent is only a receipt (the thread shows it).
   */
  private async onMessage(p: { event: string; message: MessageInfo }): Promise<void> {
    const toPerson = p.message.to.startsWith('person:');
    if (!toPerson) {
      return;
    }
    if (p.event === 'read') {
      await this.refreshInbox();
      return;
    }
    this.unread += 1;
    this.updateStatus();
    this.messagesSeen.push({ from: p.message.from, text: p.message.text });
    this.report.set({ messages: this.messagesSeen });
    const choice = await this.tell(messageToast(p.message), 'Read', 'Reply');
    if (choice === 'Read') {
      await this.showMessage(p.message.id, false);
    } else if (choice === 'Reply') {
      await this.reply(p.message);
    }
  }

  /** The inbox in a quick pick (unread first, then the rest); the pick opens it, or its thread. */
  private async openInbox(thread: boolean): Promise<void> {
    const r = await this.run<{ messages?: MessageInfo[] }>('maestro.message.inbox', { all: true, limit: 100 }, true);
    const messages = r?.messages ?? [];
    if (messages.length === 0) {
      void vscode.window.showInformationMessage('maestro: no messages for you.');
      return;
    }
    const now = Date.now();
    const items = [...messages]
      .sort((a, b) => Number(a.readAt !== undefined) - Number(b.readAt !== undefined))
      .map((msg) => ({ ...messageItem(msg, now), id: msg.id }));
    const picked = await vscode.window.showQuickPick(items, {
      placeHolder: thread ? 'The thread of which message?' : 'Read which message?',
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (picked) {
      await this.showMessage(picked.id, thread);
    }
  }

  /** A message (marked read) or its whole thread in a Markdown preview, with Reply offered. */
  private async showMessage(id: string, thread: boolean): Promise<void> {
    const read = await this.run<MessageInfo>('maestro.message.read', { id }, true);
    if (!read) {
      return;
    }
    let shown = [read];
    if (thread) {
      const t = await this.run<{ messages?: MessageInfo[] }>('maestro.message.thread', { id }, true);
      shown = t?.messages ?? shown;
    }
    await this.results.open('maestro.message.read', threadDocument(shown), 'markdown');
    this.report.set({ messageRead: read.id });
    await this.refreshInbox();
    if (read.to.startsWith('person:')) {
      const choice = await this.tell(`maestro: ${thread ? 'thread' : 'message'} ${read.id} opened.`, 'Reply');
      if (choice === 'Reply') {
        await this.reply(read);
      }
    }
  }

  private async reply(msg: MessageInfo): Promise<void> {
    const text = await vscode.window.showInputBox({ prompt: `Reply to ${msg.from}`, ignoreFocusOut: true });
    if (!text) {
      return;
    }
    const sent = await this.run<MessageInfo>('maestro.message.send', { to: '', inReplyTo: msg.id, text });
    if (sent) {
      void vscode.window.showInformationMessage(`maestro: reply sent to ${sent.to}.`);
    }
  }

  /** An information message with buttons, scripted in the end-to-end report as [`ask`] is. */
  private async tell(message: string, ...buttons: string[]): Promise<string | undefined> {
    const scripted = this.scripted(message, buttons);
    return scripted ? scripted.answer : vscode.window.showInformationMessage(message, ...buttons);
  }

  /** A question with buttons (a warning), scripted in the end-to-end report. */
  async ask(message: string, options: vscode.MessageOptions, ...buttons: string[]): Promise<string | undefined> {
    const scripted = this.scripted(message, buttons);
    return scripted ? scripted.answer : vscode.window.showWarningMessage(message, options, ...buttons);
  }

  /**
   * Under the end-to-end report, MAESTRO_VSCODE_ANSWERS (button labels) presses the first of them
   * the question offers, and the report keeps question and answer; nobody is there to click.
   * `undefined` when the person is asked.
   */
  private scripted(message: string, buttons: string[]): { answer: string | undefined } | undefined {
    const scripted = (process.env.MAESTRO_VSCODE_ANSWERS ?? '').split(',').filter(Boolean);
    if (!this.report.enabled || scripted.length === 0) {
      return undefined;
    }
    const answer = buttons.find((b) => scripted.includes(b));
    this.questions.push({ message, answer });
    this.report.set({ questions: this.questions });
    return { answer };
  }

  /** Asks before an agent's branch lands on its base. */
  async confirmMerge(name: string): Promise<boolean> {
    const a = this.agents.get(name);
    const into = a?.base ?? 'its base branch';
    const merge = 'Merge';
    const answer = await this.ask(
      `Merge agent ${name} into ${into}?`,
      { modal: true, detail: `The commits on ${a?.branch ?? `maestro/${name}`} land on ${into} in your repository.` },
      merge,
    );
    return answer === merge;
  }

  /** Shows a command's answer: a sentence for actions, a read-only document for listings. */
  private async show(command: string, result: unknown, name?: string): Promise<void> {
    const sentence = answerSentence(command, result, name);
    if (sentence) {
      void (sentence.warn ? vscode.window.showWarningMessage : vscode.window.showInformationMessage)(sentence.text);
      if (command === 'maestro.agent.merge' || command === 'maestro.agent.remove') {
        await this.refresh();
      }
      return;
    }
    if (command === 'maestro.agent.list') {
      await this.refresh();
      void vscode.commands.executeCommand('maestro.agents.focus');
      return;
    }
    if (command === 'maestro.agent.spawn') {
      const a = result as AgentInfo;
      void vscode.window.showInformationMessage(`maestro: agent ${a.name} started (${a.agent}) on ${a.branch ?? 'the checkout'}.`);
      return;
    }
    if (command === 'maestro.agent.input' || command === 'maestro.agent.resize') {
      return;
    }
    if (command === 'maestro.agent.output') {
      const r = result as { data?: string };
      await this.results.open(command, r.data ?? '', 'plaintext');
      return;
    }
    const commands = (this.context.extension.packageJSON?.contributes?.commands ?? []) as { command: string; title: string }[];
    const title = commands.find((c) => c.command === paletteId(command))?.title ?? command.replace('maestro.', '');
    await this.results.open(title, answerDocument(title, result), 'markdown');
  }

  async attach(name: string): Promise<AgentTerminal | undefined> {
    const root = workspacePath();
    if (!root) {
      return undefined;
    }
    const existing = this.terminals.get(name);
    if (existing) {
      existing.terminal.show();
      return existing;
    }
    const t = new AgentTerminal(this, name, root);
    this.terminals.set(name, t);
    t.terminal.show();
    return t;
  }

  /** The context menu's "Delegate Selection to Agent". */
  private async delegate(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) {
      void vscode.window.showErrorMessage('maestro: select the code to delegate first.');
      return;
    }
    const s = editor.selection;
    await this.delegateFlow({
      textDocument: { uri: editor.document.uri.toString() },
      range: { start: { line: s.start.line, character: s.start.character }, end: { line: s.end.line, character: s.end.character } },
      task: 'selection',
    });
  }

  /**
   * One delegate flow for the context menu and the code actions: which agent (a quick pick that
   * stays until answered: an agent free to take it, or a new one), then what to do (required for
   * a selection, optional for a fix or tests), then one sentence with Attach.
   */
  async delegateFlow(base: Record<string, unknown>): Promise<unknown> {
    await this.refresh();
    const task = String(base.task ?? 'selection');
    const what = task === 'fix' ? 'fix this' : task === 'tests' ? 'write these tests' : 'take this';
    const free = [...this.agents.values()]
      .filter((a) => !isRunning(a.state) || a.mode === 'interactive')
      .sort((x, y) => x.name.localeCompare(y.name));
    let agent: string | undefined;
    if (free.length > 0) {
      const items = [
        { label: '$(add) New agent', description: 'spawned for this task', name: undefined as string | undefined },
        ...free.map((a) => ({ label: a.name, description: `${a.agent} · ${agentDescription(a)}`, name: a.name as string | undefined })),
      ];
      const pick = await vscode.window.showQuickPick(items, { placeHolder: `maestro: which agent should ${what}?`, ignoreFocusOut: true });
      if (!pick) {
        return null;
      }
      agent = pick.name;
    }
    const instructions = await vscode.window.showInputBox({
      prompt: task === 'selection' ? 'What should the agent do with the selection?' : `Anything to add? (Enter: ${what} as it is)`,
      ignoreFocusOut: true,
      validateInput: (v) => (task === 'selection' && !v.trim() ? 'say what to do' : undefined),
    });
    if (instructions === undefined) {
      return null;
    }
    const cli = vscode.workspace.getConfiguration('maestro').get<string>('agent', '');
    const r = await this.run<{ agent: AgentInfo; spawned: boolean }>('maestro.agent.delegate', {
      ...base,
      ...(agent ? { agent } : { newAgent: true, ...(cli ? { cli } : {}) }),
      ...(instructions.trim() ? { instructions: instructions.trim() } : {}),
    });
    if (r) {
      const attach = 'Attach';
      void vscode.window
        .showInformationMessage(`maestro: agent ${r.agent.name} ${r.spawned ? 'was spawned for it' : 'took it'}.`, attach)
        .then((choice) => (choice === attach ? this.attach(r.agent.name) : undefined));
      await this.refresh();
    }
    return r ?? null;
  }

  private async runPlaybook(uri?: vscode.Uri): Promise<void> {
    let files: string[] = [];
    if (uri instanceof vscode.Uri) {
      files = [uri.fsPath];
    } else if (vscode.window.activeTextEditor?.document.languageId === 'markdown') {
      files = [vscode.window.activeTextEditor.document.uri.fsPath];
    } else {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: true, filters: { Playbooks: ['md'] } });
      files = picked?.map((u) => u.fsPath) ?? [];
    }
    if (files.length === 0) {
      return;
    }
    const agent = vscode.workspace.getConfiguration('maestro').get<string>('agent', '');
    const r = await this.run<{ run: { id: string } }>('maestro.playbook.run', { paths: files, ...(agent ? { agent } : {}) });
    if (r && !this.runs.has(r.run.id)) {
      this.runs.set(r.run.id, new RunProgress(this, r.run.id));
    }
  }

  /** Shows each command the repository's config chooses and not yet approved, exactly as it would
   * run, and approves the ones the person allows. */
  private async trustRepository(): Promise<void> {
    const path = workspacePath();
    type Chosen = { key: string; when: string; command: string[]; file: string; state: string };
    const list = await this.run<{ commands: Chosen[] }>('maestro.trust.list', { path });
    if (!list) {
      return;
    }
    const waiting = list.commands.filter((c) => c.state !== 'approved');
    if (waiting.length === 0) {
      const what = list.commands.length ? 'every command this repository chooses is approved' : 'this repository chooses no command to run';
      void vscode.window.showInformationMessage(`maestro: ${what}.`);
      return;
    }
    for (const c of waiting) {
      const allow = 'Allow';
      const answer = await vscode.window.showWarningMessage(
        `maestro: this repository asks to run ${JSON.stringify(c.command)} ${c.when} (${c.key} in ${c.file}). Allow this command?`,
        { modal: true },
        allow,
      );
      if (answer === allow) {
        await this.run('maestro.trust.approve', { path, key: c.key, command: c.command });
      }
    }
  }

  private async searchMemory(): Promise<void> {
    const pick = vscode.window.createQuickPick<vscode.QuickPickItem & { file?: string; line?: number; text: string }>();
    pick.placeholder = 'Search memory: what agents did, notes, playbook tasks (keywords and meaning)';
    pick.matchOnDescription = true;
    pick.matchOnDetail = true;
    let seq = 0;
    let timer: NodeJS.Timeout | undefined;
    pick.onDidChangeValue((query) => {
      clearTimeout(timer);
      if (!query.trim()) {
        pick.items = [];
        return;
      }
      timer = setTimeout(async () => {
        const mine = ++seq;
        pick.busy = true;
        const r = await this.run<{ hits: Parameters<typeof memoryItem>[0][]; warning?: string }>(
          'maestro.memory.search',
          { query, path: workspacePath() },
          true,
        );
        if (mine !== seq) {
          return;
        }
        pick.busy = false;
        const now = Date.now() / 1000;
        pick.items = (r?.hits ?? []).map((h) => ({ ...memoryItem(h, now), file: h.file, line: h.line, text: h.text, alwaysShow: true }));
        pick.title = r?.warning ? `maestro: ${r.warning}` : undefined;
      }, 200);
    });
    pick.onDidAccept(async () => {
      const item = pick.selectedItems[0];
      pick.hide();
      if (!item) {
        return;
      }
      if (item.file) {
        const root = workspacePath() ?? '';
        const file = path.isAbsolute(item.file) ? item.file : path.join(root, item.file);
        const doc = await vscode.workspace.openTextDocument(file);
        const line = Math.max(0, (item.line ?? 1) - 1);
        await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, 0, line, 0) });
      } else {
        await this.results.open('memory', item.text, 'markdown');
      }
    });
    pick.onDidHide(() => pick.dispose());
    pick.show();
  }
}

interface Gate {
  path: string;
  line: number;
  task: string;
}

interface PlaybookProgress {
  run: { id: string; status: string; workspaceRoot?: string; documents?: { tasks: number; done: number }[]; gate?: Gate };
  event: { kind: string; document?: string; line?: number; task?: string; message?: string };
}

/** A playbook run shown as a notification with progress, until it ends; cancelling stops it. */
class RunProgress {
  private update: ((p: PlaybookProgress) => void) | undefined;
  private pending: PlaybookProgress[] = [];

  constructor(ext: Extension, id: string) {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `maestro playbook ${id}`, cancellable: true },
      (progress, token) =>
        new Promise<void>((resolve) => {
          token.onCancellationRequested(() => {
            void ext.run('maestro.playbook.stop', { id });
          });
          let last = 0;
          this.update = (p) => {
            const { done, tasks } = runCounts(p.run);
            const pct = tasks > 0 ? Math.floor((100 * done) / tasks) : 0;
            const { message, ended } = playbookMessage(p.event);
            progress.report({ message: `${done}/${tasks} · ${message}`, increment: Math.max(0, pct - last) });
            last = Math.max(last, pct);
            if (ended) {
              ext.runs.delete(id);
              resolve();
              const say = p.event.kind === 'complete' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
              void say(`maestro playbook ${id}: ${message}`);
            }
          };
          this.pending.splice(0).forEach((p) => this.update?.(p));
        }),
    );
  }

  event(p: PlaybookProgress): void {
    if (this.update) {
      this.update(p);
    } else {
      this.pending.push(p);
    }
  }
}

/** An agent's terminal in VS Code, fed by `maestro/agentOutput` and typing back into it. */
class AgentTerminal implements vscode.Pseudoterminal {
  private readonly writer = new vscode.EventEmitter<string>();
  private readonly closer = new vscode.EventEmitter<void>();
  readonly onDidWrite = this.writer.event;
  readonly onDidClose = this.closer.event;
  readonly terminal: vscode.Terminal;
  private shownUpTo = -1;
  private interactive = false;
  private readonly lines = new LineBuffer();
  private filling: Promise<void> = Promise.resolve();
  /** What was written, kept for the end-to-end report only. */
  written = '';

  constructor(private readonly ext: Extension, readonly name: string, private readonly root: string) {
    this.terminal = vscode.window.createTerminal({ name: `agent ${name}`, pty: this, iconPath: new vscode.ThemeIcon('hubot') });
  }

  private write(text: string): void {
    if (this.ext.report.enabled) {
      this.written += text;
    }
    this.writer.fire(text);
  }

  async open(dims: vscode.TerminalDimensions | undefined): Promise<void> {
    const r = await this.ext.run<{ interactive: boolean; running: boolean; screen?: string; offset: number }>(
      'maestro.agent.attach',
      { name: this.name, path: this.root, ...(dims ? { rows: dims.rows, cols: dims.columns } : {}) },
    );
    if (!r) {
      this.write(`maestro: cannot attach to ${this.name}\r\n`);
      return;
    }
    this.interactive = r.interactive;
    if (r.screen !== undefined) {
      this.write(r.screen);
      this.shownUpTo = r.offset;
    } else {
      // A headless agent: its recent transcript, then what comes.
      this.shownUpTo = Math.max(0, r.offset - 64 * 1024);
      await this.fill(r.offset);
      if (!r.interactive) {
        this.write('\x1b[2m-- type a line and Enter to send it as the next turn --\x1b[0m\r\n');
      }
    }
  }

  /** Fetches output from what is shown up to `until` (or the end). */
  private fill(until?: number): Promise<void> {
    this.filling = this.filling.then(async () => {
      const r = await this.ext.run<{ offset: number; data: string }>(
        'maestro.agent.output',
        { name: this.name, path: this.root, offset: this.shownUpTo, ...(until !== undefined ? { limit: until - this.shownUpTo } : {}) },
        true,
      );
      if (r) {
        this.place(r.offset, r.data);
      }
    });
    return this.filling;
  }

  private place(offset: number, data: string): void {
    const placed = placeOutput(this.shownUpTo, offset, data);
    if (placed.fresh) {
      this.write(this.interactive ? placed.fresh : toTerminal(placed.fresh));
    }
    this.shownUpTo = placed.end;
  }

  output(offset: number, data: string): void {
    if (this.shownUpTo < 0) {
      return;
    }
    if (offset > this.shownUpTo) {
      void this.fill();
      return;
    }
    void this.filling.then(() => this.place(offset, data));
  }

  handleInput(data: string): void {
    if (this.interactive) {
      void this.ext.run('maestro.agent.input', { name: this.name, path: this.root, data }, true);
      return;
    }
    const { echo, lines } = this.lines.feed(data);
    this.writer.fire(echo);
    for (const prompt of lines) {
      void this.ext.run('maestro.agent.send', { name: this.name, path: this.root, prompt });
    }
  }

  setDimensions(dims: vscode.TerminalDimensions): void {
    if (this.interactive) {
      void this.ext.run('maestro.agent.resize', { name: this.name, path: this.root, rows: dims.rows, cols: dims.columns }, true);
    }
  }

  close(): void {
    this.ext.terminals.delete(this.name);
    this.closer.fire();
  }
}

/** The Agents view: the name tree, a state icon per agent, its turns and dollars. */
class AgentsTree implements vscode.TreeDataProvider<TreeNode> {
  private readonly emitter = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private roots: TreeNode[] = [];

  constructor(private readonly ext: Extension) {}

  changed(): void {
    this.roots = agentTree([...this.ext.agents.values()]);
    this.emitter.fire(undefined);
    const agents = [...this.ext.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
    this.ext.report.set({
      agents: agents.map((a) => ({ name: a.name, state: a.state })),
      merged: agents.filter((a) => a.merged).map((a) => a.name),
    });
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? node.children : this.roots;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const item = new vscode.TreeItem(
      node.label,
      node.children.length === 0
        ? vscode.TreeItemCollapsibleState.None
        : node.collapsed
          ? vscode.TreeItemCollapsibleState.Collapsed
          : vscode.TreeItemCollapsibleState.Expanded,
    );
    item.id = node.id;
    const a = node.agent;
    if (!a) {
      const icons = { group: 'folder', run: 'checklist', finished: 'archive' };
      item.iconPath = new vscode.ThemeIcon(icons[node.kind ?? 'group']);
      item.contextValue = node.kind ?? 'group';
      item.description = node.description;
      return item;
    }
    const { icon, color } = stateIcon(a.state, (a.warnings?.length ?? 0) > 0);
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.description = agentDescription(a);
    item.tooltip = new vscode.MarkdownString(
      `**${a.name}** (${a.agent}, ${a.mode})\n\n${a.state}${a.reason ? `: ${a.reason}` : ''}\n\nbranch \`${a.branch ?? '-'}\`` +
        (a.program ? `\n\nruns \`${a.program.path}\` (from ${a.program.from === 'PATH' ? "the daemon's PATH" : a.program.from})` : ''),
    );
    item.contextValue = `agent.${isRunning(a.state) ? 'running' : 'stopped'}`;
    item.command = { command: 'maestro.ui.agent.attach', title: 'Attach', arguments: [a.name] };
    return item;
  }
}

/** Read-only documents showing command answers (`maestro-result:` URIs). */
class ResultDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'maestro-result';
  private readonly texts = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private seq = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  async open(title: string, text: string, language: string): Promise<void> {
    const uri = vscode.Uri.from({ scheme: ResultDocuments.scheme, path: `/${title} ${++this.seq}` });
    this.texts.set(uri.toString(), text);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(doc, language);
    await vscode.window.showTextDocument(doc, { preview: true });
  }
}

/**
 * The end-to-end test's eyes (only with MAESTRO_VSCODE_REPORT set): what the extension saw, as
 * JSON, rewritten on each change. MAESTRO_VSCODE_PROBE (`FILE:LINE:COL`, 1-based) asks VS Code's
 * definition provider there; MAESTRO_VSCODE_EXPECT_AGENTS (names) and an attach to the first
 * make the probe wait for them before it says done.
 */
class Report {
  private data: Record<string, unknown> = { told: [] };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly file: string | undefined) {}

  get enabled(): boolean {
    return Boolean(this.file);
  }

  set(values: Record<string, unknown>): void {
    if (!this.file) {
      return;
    }
    Object.assign(this.data, values);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), 100);
  }

  async flush(): Promise<void> {
    if (this.file) {
      await fs.promises.writeFile(`${this.file}.tmp`, JSON.stringify(this.data, null, 2));
      await fs.promises.rename(`${this.file}.tmp`, this.file);
    }
  }

  async probe(ext: Extension): Promise<void> {
    const deadline = Date.now() + 60_000;
    const root = workspacePath();
    const spec = process.env.MAESTRO_VSCODE_PROBE;
    if (root && spec) {
      const [file, line, col] = spec.split(':');
      const doc = await vscode.workspace.openTextDocument(path.join(root, file));
      await vscode.window.showTextDocument(doc);
      const at = new vscode.Position(Number(line) - 1, Number(col) - 1);
      while (Date.now() < deadline) {
        const found = (await vscode.commands.executeCommand<(vscode.Location | vscode.LocationLink)[]>(
          'vscode.executeDefinitionProvider',
          doc.uri,
          at,
        )) ?? [];
        if (found.length > 0) {
          const first = found[0];
          const uri = 'targetUri' in first ? first.targetUri : first.uri;
          const range = 'targetUri' in first ? first.targetRange : first.range;
          this.set({ definition: { file: path.relative(root, uri.fsPath), line: range.start.line + 1 } });
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // A file the graph does not index (Markdown) is opened as any other: no request may fail.
    const notes = root ? path.join(root, 'README.md') : undefined;
    if (notes && fs.existsSync(notes)) {
      const doc = await vscode.workspace.openTextDocument(notes);
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('vscode.executeDocumentSymbolProvider', doc.uri);
      await vscode.commands.executeCommand('vscode.executeFoldingRangeProvider', doc.uri);
      await new Promise((r) => setTimeout(r, 1500));
      this.set({ markdownOpened: true });
    }
    // MAESTRO_VSCODE_REVIEW (`NAME:FILE`): the agent's changes in the diff editor, timed from the
    // command to the editor's tab, then a comment on FILE's first line sent as a review.
    const reviewed = process.env.MAESTRO_VSCODE_REVIEW;
    if (reviewed) {
      const [name, file] = reviewed.split(':');
      while (Date.now() < deadline && !ext.agents.get(name)?.worktree) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const started = Date.now();
      await vscode.commands.executeCommand('maestro.ui.agent.review', name);
      let tab: string | undefined;
      while (Date.now() < deadline) {
        tab = vscode.window.tabGroups.activeTabGroup.activeTab?.label;
        if (tab?.includes(`agent ${name}`)) {
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      this.set({ diffTab: tab, diffShownMs: Date.now() - started });
      // Again, the editor's code loaded: closed and opened a second time.
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      const again = Date.now();
      await vscode.commands.executeCommand('maestro.ui.agent.review', name);
      this.set({ diffShownAgainMs: Date.now() - again });
      const worktree = ext.agents.get(name)?.worktree;
      if (worktree) {
        ext.review.comment(vscode.Uri.file(path.join(worktree, file)), 1, 'say who wrote this file');
        this.set({ reviewSent: await ext.review.send(name) });
        // Merge asks first (the scripted answer presses Merge), once the review's turn is over.
        while (Date.now() < deadline && !(ext.agents.get(name)?.turns === 2 && ext.agents.get(name)?.state === 'idle')) {
          await new Promise((r) => setTimeout(r, 100));
        }
        await vscode.commands.executeCommand('maestro.ui.agent.merge', name);
      }
    }
    // MAESTRO_VSCODE_PLAYBOOK: a playbook run from here stops at its review gate; the question
    // has Approve (pressed by the scripted answer), and the run goes on.
    const playbook = process.env.MAESTRO_VSCODE_PLAYBOOK;
    if (root && playbook) {
      await vscode.commands.executeCommand('maestro.ui.playbook.run', vscode.Uri.file(path.join(root, playbook)));
      while (Date.now() < deadline && this.data.approvedRun === undefined) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // MAESTRO_VSCODE_CHAT (`MODERATOR:CLI;NAME:CLI,NAME:CLI`): a chat made here, opened in its
    // panel, a message sent from it; what the panel shows once the synthesis came.
    const chatSpec = process.env.MAESTRO_VSCODE_CHAT;
    if (root && chatSpec) {
      const [moderator, others] = chatSpec.split(';');
      const member = (m: string) => ({ name: m.split(':')[0], agent: m.split(':')[1] });
      const chat = await ext.run<ChatInfo>('maestro.chat.new', {
        path: root,
        title: 'which store',
        moderator: member(moderator),
        participants: others.split(',').map(member),
      });
      if (chat) {
        await ext.chats.show(chat.id);
        const started = Date.now();
        await ext.chats.say(chat.id, 'which store should we use?');
        while (Date.now() < deadline && !ext.chats.shown(chat.id)?.entries.some((e) => e.kind === 'synthesis')) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const shown = ext.chats.shown(chat.id);
        this.set({
          chat: {
            title: shown?.title,
            kinds: shown?.entries.map((e) => `${e.author}:${e.kind}`),
            synthesis: shown?.entries.find((e) => e.kind === 'synthesis')?.text,
            seenThinking: shown?.seenThinking,
            ms: Date.now() - started,
          },
        });
      }
    }
    const expected = (process.env.MAESTRO_VSCODE_EXPECT_AGENTS ?? '').split(',').filter(Boolean);
    while (Date.now() < deadline && !expected.every((n) => ext.agents.has(n))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (expected.length > 0 && ext.agents.has(expected[0])) {
      await vscode.commands.executeCommand('maestro.agents.focus');
      const t = await ext.attach(expected[0]);
      while (t && Date.now() < deadline && !t.written.includes('type a line')) {
        await new Promise((r) => setTimeout(r, 100));
      }
      this.set({ attached: t?.written ?? '' });
      await vscode.commands.executeCommand('maestro.ui.agent.transcript', expected[0]);
      const turns = ext.transcripts.turns(expected[0]) ?? [];
      this.set({
        transcript: turns.map((t) => ({ n: t.n, end: t.end?.status, cost: t.end?.cost, items: t.items.map((i) => i.kind) })),
      });
    }
    // MAESTRO_VSCODE_EXPECT_MESSAGE: a message to the person arrives, is told with Read (pressed
    // by the scripted answer) and opened.
    if (process.env.MAESTRO_VSCODE_EXPECT_MESSAGE) {
      while (Date.now() < deadline && this.data.messageRead === undefined) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.set({ failedRequests: ext.failedRequests, done: true });
  }
}

/** The channel, noting each `Request … failed` line the language client writes to it. */
function recordingFailures(channel: vscode.OutputChannel, failed: string[]): vscode.OutputChannel {
  return new Proxy(channel, {
    get(target, prop, receiver) {
      if (prop === 'append' || prop === 'appendLine') {
        return (value: string) => {
          const line = value.split('\n').find((l) => /Request \S+ failed/.test(l));
          if (line) {
            failed.push(line.trim());
          }
          target[prop](value);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
