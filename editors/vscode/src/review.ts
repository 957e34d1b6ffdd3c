// Reviewing an agent's work: its changes in VS Code's multi-file diff editor (the base it forked
// from ↔ its worktree, committed or not), line comments on its files, and "Send Review", which
// hands the comments to the agent as its next turn (`maestro.agent.review`: each with the hunk of
// its diff it is about). Merge and Discard are offered beside.

import { execFile, spawn } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import { AgentInfo, ReviewThread, reviewComments } from './model';

/** What the extension gives the review: the agents, a command runner, the merge confirmation. */
export interface ReviewHost {
  agents: Map<string, AgentInfo>;
  run<T = unknown>(command: string, arg: unknown, quiet?: boolean): Promise<T | undefined>;
  refresh(): Promise<void>;
}

interface DiffFile {
  path: string;
  status: string;
  /** Where a renamed file was at the base. */
  oldPath?: string;
}

interface AgentDiff {
  base: string;
  fork: string;
  files: DiffFile[];
  commits: number;
  uncommitted: boolean;
}

/** `maestro-base:/<file>?<repo root>#<commit>`: a file as it is at a commit of the repository. */
class BaseFiles implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'maestro-base';

  static uri(root: string, commit: string, file: string): vscode.Uri {
    return vscode.Uri.from({ scheme: BaseFiles.scheme, path: `/${file}`, query: root, fragment: commit });
  }

  /** Contents read ahead, by URI: one `git cat-file --batch` for a whole diff, not a process a file. */
  private readonly ahead = new Map<string, string>();

  /** Reads `files` at `commit` in one git process, for the diff editor about to ask for them. */
  prefetch(root: string, commit: string, files: string[]): Promise<void> {
    return new Promise((resolve) => {
      const git = spawn('git', ['-C', root, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      git.stdout.on('data', (c: Buffer) => chunks.push(c));
      git.on('error', () => resolve());
      git.on('close', () => {
        // Each answer: `<oid> blob <size>\n<content>\n`, or `<name> missing\n`.
        const out = Buffer.concat(chunks);
        let at = 0;
        for (const file of files) {
          const eol = out.indexOf(10, at);
          if (eol < 0) {
            break;
          }
          const header = out.subarray(at, eol).toString();
          at = eol + 1;
          const size = /^\S+ blob (\d+)$/.exec(header);
          if (size) {
            const n = Number(size[1]);
            this.ahead.set(BaseFiles.uri(root, commit, file).toString(), out.subarray(at, at + n).toString());
            at += n + 1;
          }
        }
        resolve();
      });
      git.stdin.end(files.map((f) => `${commit}:${f}`).join('\n') + '\n');
    });
  }

  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const known = this.ahead.get(uri.toString());
    if (known !== undefined) {
      this.ahead.delete(uri.toString());
      return Promise.resolve(known);
    }
    const file = uri.path.replace(/^\//, '');
    // `git show COMMIT:PATH` with arguments, never a shell: names are the repository's.
    return new Promise((resolve) => {
      execFile('git', ['-C', uri.query, 'show', `${uri.fragment}:${file}`], { maxBuffer: 64 << 20 }, (err, stdout) =>
        resolve(err ? '' : stdout),
      );
    });
  }
}

export class Review {
  private readonly controller: vscode.CommentController;
  private readonly base = new BaseFiles();
  private readonly threads = new Set<vscode.CommentThread>();
  /** How long the last diff took: the server's answer, and the editor after it (the report's). */
  lastOpen: { diffMs: number; editorMs: number } | undefined;

  constructor(private readonly host: ReviewHost, subscriptions: vscode.Disposable[]) {
    this.controller = vscode.comments.createCommentController('maestro.review', 'maestro review');
    // Any line of a file in an agent's worktree can take a comment.
    this.controller.commentingRangeProvider = {
      provideCommentingRanges: (doc) => (this.agentOf(doc.uri) ? [new vscode.Range(0, 0, Math.max(0, doc.lineCount - 1), 0)] : []),
    };
    this.controller.options = { prompt: 'A comment for the agent', placeHolder: 'What should the agent change here?' };
    subscriptions.push(
      this.controller,
      vscode.workspace.registerTextDocumentContentProvider(BaseFiles.scheme, this.base),
      vscode.commands.registerCommand('maestro.ui.review.add', (reply: vscode.CommentReply) => this.add(reply)),
      vscode.commands.registerCommand('maestro.ui.review.delete', (thread: vscode.CommentThread) => {
        this.threads.delete(thread);
        thread.dispose();
      }),
      vscode.commands.registerCommand('maestro.ui.review.send', (given?: unknown) => this.send(given)),
    );
  }

  /** The agent whose worktree holds `uri`. */
  agentOf(uri: vscode.Uri): AgentInfo | undefined {
    if (uri.scheme !== 'file') {
      return undefined;
    }
    return [...this.host.agents.values()].find((a) => {
      if (!a.worktree) {
        return false;
      }
      const rel = path.relative(a.worktree, uri.fsPath);
      return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
    });
  }

  /** Opens the agent's changes in the multi-file diff editor, then offers what to do with them. */
  async open(name: string, root: string): Promise<void> {
    const started = Date.now();
    const agent = this.host.agents.get(name);
    const d = await this.host.run<AgentDiff>('maestro.agent.diff', { name, path: root });
    const answered = Date.now();
    if (!d || !agent?.worktree) {
      return;
    }
    if (d.files.length === 0) {
      void vscode.window.showInformationMessage(`maestro: agent ${name} has no changes against ${d.base}.`);
      return;
    }
    const repo = agent.workspaceRoot;
    const resources = d.files.map((f) => {
      const worktreeFile = vscode.Uri.file(path.join(agent.worktree as string, f.path));
      const original = f.status === 'added' || f.status === 'untracked' ? undefined : BaseFiles.uri(repo, d.fork, f.oldPath ?? f.path);
      const modified = f.status === 'deleted' ? undefined : worktreeFile;
      return [worktreeFile, original, modified];
    });
    await this.base.prefetch(
      repo,
      d.fork,
      d.files.filter((f) => f.status !== 'added' && f.status !== 'untracked').map((f) => f.oldPath ?? f.path),
    );
    const what = `${d.files.length} file${d.files.length === 1 ? '' : 's'}, ${d.commits} commit${d.commits === 1 ? '' : 's'}${d.uncommitted ? ' and uncommitted work' : ''}`;
    await vscode.commands.executeCommand('vscode.changes', `agent ${name} ↔ ${d.base} (${what})`, resources);
    this.lastOpen = { diffMs: answered - started, editorMs: Date.now() - answered };
    const merge = 'Merge…';
    const send = 'Send Review';
    const discard = 'Discard…';
    void vscode.window
      .showInformationMessage(
        `maestro: agent ${name}: ${what} against ${d.base}. Comment on its lines (the + in the gutter), then Send Review; or merge or discard its work.`,
        merge,
        send,
        discard,
      )
      .then(async (choice) => {
        if (choice === merge) {
          await vscode.commands.executeCommand('maestro.ui.agent.merge', name);
        } else if (choice === send) {
          await this.send(name);
        } else if (choice === discard) {
          await this.discard(name, root);
        }
      });
  }

  private add(reply: vscode.CommentReply): void {
    const thread = reply.thread;
    const comment: vscode.Comment = {
      body: new vscode.MarkdownString(reply.text),
      mode: vscode.CommentMode.Preview,
      author: { name: 'you' },
    };
    thread.comments = [...thread.comments, comment];
    thread.canReply = true;
    thread.label = 'for the agent (Send Review sends it)';
    thread.contextValue = 'maestro.review';
    this.threads.add(thread);
  }

  /** Adds a comment without the UI (the end-to-end probe). */
  comment(uri: vscode.Uri, line: number, text: string): void {
    const thread = this.controller.createCommentThread(uri, new vscode.Range(line - 1, 0, line - 1, 0), []);
    this.add({ thread, text });
  }

  /** Sends the comments on one agent's files (the one given, or the only one with comments). */
  async send(given?: unknown): Promise<boolean> {
    const threads: ReviewThread[] = [];
    for (const t of this.threads) {
      const agent = this.agentOf(t.uri);
      if (!agent || !t.range) {
        continue;
      }
      threads.push({
        agent: agent.name,
        file: path.relative(agent.worktree as string, t.uri.fsPath),
        startLine: t.range.start.line + 1,
        endLine: t.range.end.line + 1,
        bodies: t.comments.map((c) => (typeof c.body === 'string' ? c.body : c.body.value)),
      });
    }
    const names = [...new Set(threads.map((t) => t.agent))];
    const name = typeof given === 'string' ? given : names.length === 1 ? names[0] : await vscode.window.showQuickPick(names, { placeHolder: 'Send the review to which agent?' });
    if (!name) {
      if (names.length === 0) {
        void vscode.window.showWarningMessage("maestro: no review comments yet: open an agent's changes and comment on its lines.");
      }
      return false;
    }
    const comments = reviewComments(threads, name);
    if (comments.length === 0) {
      void vscode.window.showWarningMessage(`maestro: no review comments on agent ${name}'s files.`);
      return false;
    }
    const agent = this.host.agents.get(name);
    const r = await this.host.run<AgentInfo>('maestro.agent.review', { name, path: agent?.workspaceRoot, comments });
    if (!r) {
      return false;
    }
    for (const t of [...this.threads]) {
      if (this.agentOf(t.uri)?.name === name) {
        this.threads.delete(t);
        t.dispose();
      }
    }
    void vscode.window.showInformationMessage(
      `maestro: review of ${comments.length} comment${comments.length === 1 ? '' : 's'} sent to agent ${name}; it is ${r.state.replace('_', ' ')}.`,
    );
    return true;
  }

  /** Throws the agent's work away: its worktree goes (its branch stays while it holds commits). */
  private async discard(name: string, root: string): Promise<void> {
    const yes = 'Discard';
    const answer = await vscode.window.showWarningMessage(
      `Discard agent ${name}'s work?`,
      { modal: true, detail: 'Its worktree is deleted with any uncommitted change; its branch stays while it holds commits the base does not have.' },
      yes,
    );
    if (answer !== yes) {
      return;
    }
    const r = await this.host.run<{ branchKept?: string }>('maestro.agent.remove', { name, force: true, path: root });
    if (r) {
      const kept = r.branchKept ? `; branch ${r.branchKept} kept, it holds commits` : '';
      void vscode.window.showInformationMessage(`maestro: agent ${name}'s work discarded${kept}.`);
      await this.host.refresh();
    }
  }
}
