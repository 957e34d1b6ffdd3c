// Unit tests of the extension's pure parts (src/model.ts, built by `npm test` into dist-test/).
const test = require('node:test');
const assert = require('node:assert/strict');
const m = require('../dist-test/model.cjs');

const agent = (name, state = 'idle', cost = 0) => ({
  name, state, agent: 'claude', mode: 'headless', workspace: 'w', workspaceRoot: '/r', turns: 1, usage: { costUsd: cost },
});

test('the agents tree groups names only where several share a prefix', () => {
  const labels = (nodes) => nodes.map((n) => n.label);
  // A lone name with dashes is one node, not docs › readme › typos.
  assert.deepEqual(labels(m.agentTree([agent('docs-readme-typos'), agent('alpha')])), ['alpha', 'docs-readme-typos']);
  const tree = m.agentTree([agent('shop-backend-api'), agent('shop-web'), agent('shop'), agent('alpha')]);
  assert.deepEqual(labels(tree), ['alpha', 'shop']);
  const shop = tree[1];
  assert.equal(shop.agent.name, 'shop');
  assert.deepEqual(labels(shop.children), ['backend-api', 'web']);
  assert.equal(shop.children[0].agent.name, 'shop-backend-api');
  // A group with one subgroup is one node.
  const deep = m.agentTree([agent('shop-backend-api'), agent('shop-backend-db')]);
  assert.deepEqual(labels(deep), ['shop-backend']);
  assert.equal(deep[0].kind, 'group');
  assert.deepEqual(labels(deep[0].children), ['api', 'db']);
});

test('playbook workers are under their run, finished agents folded at the end', () => {
  const worker = (name, state, run) => ({ ...agent(name, state), playbookRun: run });
  const tree = m.agentTree([
    worker('claude-r7-w1', 'working', 'r7'),
    worker('claude-r7-w2', 'idle', 'r7'),
    worker('claude-r6-w1', 'idle', 'r6'),
    agent('claude'),
    agent('old-fix', 'done'),
  ]);
  assert.deepEqual(tree.map((n) => n.id), ['claude', 'run:r6', 'run:r7', 'finished']);
  const [, r6, r7, finished] = tree;
  assert.equal(r7.collapsed, false, 'a run with a working agent is open');
  assert.equal(r7.description, '2 agents, 1 working');
  assert.deepEqual(r7.children.map((n) => n.agent.name), ['claude-r7-w1', 'claude-r7-w2']);
  assert.equal(r6.collapsed, true, 'a run with nothing running is folded');
  assert.equal(finished.label, 'finished (1)');
  assert.equal(finished.collapsed, true);
  assert.equal(finished.children[0].agent.name, 'old-fix');
});

test('the status bar counts working and waiting agents and today\'s dollars', () => {
  const agents = [agent('a', 'working'), agent('b', 'starting'), agent('c', 'needs_input'), agent('d', 'idle')];
  const { text, tooltip } = m.statusText(agents, 1.5);
  assert.equal(text, '$(hubot) 2  $(bell-dot) 1  $1.50');
  assert.match(tooltip, /2 agents working, 1 needing input, 4 in all; \$1.50 spent today/);
  assert.equal(m.statusText([], 0).text, '$(hubot) 0  $0.00');
});

test('cost today is the usage row of the person\'s day', () => {
  // 23:30 on the 21st in the person's zone, whatever it is (the server counts days in it too).
  const now = new Date(2026, 10, 21, 23, 30);
  const usage = { rows: [{ key: '2026-11-20', costUsd: 9 }, { key: '2026-11-21', costUsd: 0.25 }] };
  assert.equal(m.costToday(usage, now), 0.25);
  assert.equal(m.costToday({ rows: [] }, now), 0);
  assert.equal(m.costToday(undefined, now), 0);
});

test('the version check accepts protocol 1 only and says what to do', () => {
  const ok = { capabilities: { experimental: { maestro: { protocolVersion: 1 } } }, serverInfo: { version: '0.1.0' } };
  assert.equal(m.versionProblem(ok, '/bin/maestro'), undefined);
  const newer = { capabilities: { experimental: { maestro: { protocolVersion: 2 } } }, serverInfo: { version: '0.9.0' } };
  const said = m.versionProblem(newer, '/bin/maestro');
  assert.match(said, /maestro 0\.9\.0\) speaks protocol 2; this extension speaks protocol 1/);
  assert.match(said, /install\.sh/);
  assert.match(m.versionProblem({ capabilities: {} }, 'x'), /speaks no maestro protocol/);
});

test('the binary is the setting when it is executable, else maestro on PATH', () => {
  const exe = new Set(['/opt/m/maestro', '/usr/bin/maestro']);
  const is = (p) => exe.has(p);
  assert.equal(m.resolveBinary('/opt/m/maestro', '/usr/bin', is), '/opt/m/maestro');
  assert.equal(m.resolveBinary('/nope/maestro', '/usr/bin', is), undefined, 'a wrong setting is not papered over');
  assert.equal(m.resolveBinary('', '/a::/usr/bin/', is), '/usr/bin/maestro');
  assert.equal(m.resolveBinary('', '/a:/b', is), undefined);
  assert.match(m.missingBinaryMessage(''), /not on PATH.*install\.sh.*maestro\.path/);
  assert.match(m.missingBinaryMessage('/nope/maestro'), /\/nope\/maestro \(setting maestro\.path\)/);
});

test('every server command has a palette entry; a new one is reported', () => {
  assert.equal(m.paletteId('maestro.agent.spawn'), 'maestro.ui.agent.spawn');
  assert.deepEqual(m.missingFromPalette(['maestro.status', 'maestro.x.new'], ['maestro.ui.status']), ['maestro.x.new']);
});

test('forms turn answers into typed arguments', () => {
  assert.deepEqual(m.formArgument('maestro.agent.resize', { name: 'a', rows: '40', cols: '120', path: '/r' }), {
    name: 'a', rows: 40, cols: 120, path: '/r',
  });
  assert.deepEqual(m.formArgument('maestro.agent.remove', { name: 'a', force: 'yes', path: '/r' }), { name: 'a', force: true, path: '/r' });
  assert.deepEqual(m.formArgument('maestro.memory.forget', { ids: ' m1  m2 ' }), { ids: ['m1', 'm2'] });
  assert.deepEqual(m.formArgument('maestro.agent.spawn', { name: 'x', prompt: '', path: '/r' }), { name: 'x', path: '/r' });
  assert.equal(m.formArgument('maestro.agent.input', { name: 'a', data: 'y' }).data, 'y\r');
});

test('a headless terminal gathers keystrokes into lines, with backspace, Ctrl-U and Ctrl-C', () => {
  const b = new m.LineBuffer();
  assert.deepEqual(b.feed('fix the te'), { echo: 'fix the te', lines: [] });
  assert.deepEqual(b.feed('x\x7f'), { echo: 'x\b \b', lines: [] });
  assert.deepEqual(b.feed('sts\r'), { echo: 'sts\r\n', lines: ['fix the tests'] });
  assert.deepEqual(b.feed('\r'), { echo: '\r\n', lines: [] }, 'an empty line sends nothing');
  b.feed('oops');
  assert.deepEqual(b.feed('\x03'), { echo: '^C\r\n', lines: [] });
  assert.equal(b.pending, '');
  b.feed('né');
  assert.deepEqual(b.feed('\x15'), { echo: '\b \b\b \b', lines: [] });
  assert.deepEqual(b.feed('a\rb\r'), { echo: 'a\r\nb\r\n', lines: ['a', 'b'] }, 'a paste of lines');
});

test('output batches are placed by byte offset: overlaps trimmed, gaps flagged', () => {
  assert.deepEqual(m.placeOutput(0, 0, 'hello'), { fresh: 'hello', gap: false, end: 5 });
  assert.deepEqual(m.placeOutput(5, 3, 'lo world'), { fresh: ' world', gap: false, end: 11 });
  assert.deepEqual(m.placeOutput(11, 0, 'old'), { fresh: '', gap: false, end: 11 });
  assert.deepEqual(m.placeOutput(11, 20, 'later'), { fresh: 'later', gap: true, end: 25 });
  // Offsets count UTF-8 bytes: "é" is two.
  assert.deepEqual(m.placeOutput(2, 0, 'éa'), { fresh: 'a', gap: false, end: 3 });
  assert.equal(m.toTerminal('a\nb\r\nc'), 'a\r\nb\r\nc');
});

test('attention is said once per transition into a state that needs a person', () => {
  const p = { agent: { ...agent('asker', 'needs_input'), reason: 'Proceed? [y/n]' }, previous: 'working', attention: true };
  assert.equal(m.attentionMessage(p), 'maestro: agent asker needs input: Proceed? [y/n]');
  assert.equal(m.attentionMessage({ ...p, previous: 'needs_input' }), undefined);
  assert.equal(m.attentionMessage({ ...p, attention: false }), undefined);
  assert.equal(m.attentionMessage({ ...p, removed: true }), undefined);
  assert.equal(m.attentionMessage({ agent: agent('x', 'lost'), attention: true }), 'maestro: agent x was lost');
  const warned = { ...agent('w', 'idle'), reason: 'turn 1 ended with warnings: 1 command failed: shell false' };
  assert.equal(
    m.attentionMessage({ agent: warned, previous: 'working', attention: true }),
    'maestro: agent w finished: turn 1 ended with warnings: 1 command failed: shell false',
  );
});

test('playbook events become progress messages; the end is recognised', () => {
  assert.deepEqual(m.playbookMessage({ kind: 'task_complete', document: 'plan.md', line: 4, task: 'Add tests' }), {
    message: 'task complete · plan.md:4 · Add tests', ended: false,
  });
  assert.equal(m.playbookMessage({ kind: 'complete', message: 'all done' }).ended, true);
  assert.equal(m.playbookMessage({ kind: 'halted' }).ended, true);
  assert.deepEqual(m.runCounts({ documents: [{ tasks: 3, done: 1 }, { tasks: 2, done: 2 }] }), { done: 3, tasks: 5 });
});

test('memory hits read as quick pick items', () => {
  const item = m.memoryItem({ kind: 'turn', agent: 'api', text: '\nRetries live in client.rs\nmore', at: 1000, source: 'agent:api#turn2' }, 1000 + 7200);
  assert.deepEqual(item, { label: 'Retries live in client.rs', description: 'turn · api · 2h ago', detail: 'agent:api#turn2' });
  const code = m.memoryItem({ kind: 'code', agent: '', text: 'fn retry', at: 0, source: 'file:src/a.rs:4', file: 'src/a.rs', line: 4 }, 30);
  assert.equal(code.detail, 'src/a.rs:4');
  assert.equal(code.description, 'code · just now');
});

test('state icons exist for every state', () => {
  for (const s of ['starting', 'working', 'idle', 'needs_input', 'done', 'failed', 'lost']) {
    assert.ok(m.stateIcon(s).icon);
  }
  assert.equal(m.stateIcon('failed').color, 'charts.red');
  assert.equal(m.stateIcon('idle', true).icon, 'warning');
  assert.equal(m.stateIcon('idle').icon, 'circle-outline');
});

test('the palette hides the commands a person does not run by hand', () => {
  const pkg = require('../package.json');
  const hidden = pkg.contributes.menus.commandPalette.filter((e) => e.when === 'false').map((e) => e.command);
  // The tree's icon, the terminal's size and typed keys are the attach terminal's plumbing; a
  // comment is added or deleted on its thread.
  assert.deepEqual(hidden.sort(), [
    'maestro.ui.agent.icon', 'maestro.ui.agent.input', 'maestro.ui.agent.resize',
    'maestro.ui.review.add', 'maestro.ui.review.delete',
  ]);
  const titles = pkg.contributes.commands.filter((c) => !hidden.includes(c.command)).map((c) => c.title);
  assert.ok(!titles.some((t) => /Icon|Resize|Type into/.test(t)), titles.join(', '));
});

test('answers read as sentences, listings as documents, never as JSON', () => {
  const merged = m.answerSentence('maestro.agent.merge', { into: 'main', commit: '0123456789ab', fastForward: true, upToDate: false, conflicts: [] }, 'fix-a');
  assert.deepEqual(merged, { text: 'maestro: agent fix-a merged into main, fast-forward (01234567).', warn: false });
  const conflict = m.answerSentence('maestro.agent.merge', { into: 'main', fastForward: false, upToDate: false, conflicts: ['a.rs', 'b.rs'] }, 'fix-a');
  assert.equal(conflict.warn, true);
  assert.match(conflict.text, /not merged into main: a\.rs, b\.rs conflict; nothing was changed/);
  assert.match(m.answerSentence('maestro.agent.merge', { into: 'main', upToDate: true, conflicts: [] }, 'x').text, /nothing to merge/);
  assert.equal(m.answerSentence('maestro.memory.add', { ids: ['m1'], existed: false }).text, 'maestro: remembered (m1).');
  assert.match(m.answerSentence('maestro.memory.add', { ids: ['m1'], existed: true }).text, /already remembered/);
  assert.equal(m.answerSentence('maestro.memory.forget', { forgotten: 0 }).warn, true);
  assert.match(m.answerSentence('maestro.store.backup', { path: '/b.db', sizeBytes: 3 << 20, schemaVersion: 8 }).text, /\/b\.db \(3\.0 MiB, schema 8\)/);
  assert.match(m.answerSentence('maestro.agent.remove', { worktreeRemoved: '/w', branchKept: 'maestro/x' }, 'x').text, /agent x removed, its worktree deleted, branch maestro\/x kept/);
  assert.equal(m.answerSentence('maestro.status', {}), undefined, 'a listing is a document');
  const doc = m.answerDocument('Memory Status', { byKind: { note: 2, turn: 5 }, total: 7, lagSecs: 0.5, recent: [{ id: 'm1', text: 'x' }], empty: [] });
  assert.equal(doc, [
    '# Memory Status', '',
    '- **by kind**:', '  - **note**: 2', '  - **turn**: 5',
    '- **total**: 7', '- **lag secs**: 0.5',
    '- **recent**:', '  - id: m1', '    - **text**: x',
    '- **empty**: none', '',
  ].join('\n'));
  assert.ok(!doc.includes('{'), doc);
});

test('what waits for the person is counted in the status bar and on the view', () => {
  const agents = [agent('a', 'working'), agent('b', 'needs_input'), agent('c', 'failed'), agent('d', 'idle')];
  const { text, tooltip } = m.statusText(agents, 0.5, 2);
  assert.equal(text, '$(hubot) 1  $(bell-dot) 1  $(error) 1  $(checklist) 2  $0.50');
  assert.match(tooltip, /1 needing input, 1 failed, 2 review gates to approve, 4 in all/);
  assert.deepEqual(m.viewBadge(agents, 2), { value: 4, tooltip: 'maestro: 1 needs input, 1 failed, 2 review gates' });
  assert.equal(m.viewBadge([agent('d', 'idle')], 0), undefined, 'no badge when nothing waits');
});

test('review threads become one comment each, for one agent, in file and line order', () => {
  const threads = [
    { agent: 'a', file: 'src/z.rs', startLine: 3, endLine: 3, bodies: ['why?'] },
    { agent: 'a', file: 'src/b.rs', startLine: 10, endLine: 12, bodies: ['rename this', ' and test it '] },
    { agent: 'b', file: 'src/b.rs', startLine: 1, endLine: 1, bodies: ['not a'] },
    { agent: 'a', file: 'src/c.rs', startLine: 1, endLine: 1, bodies: ['  '] },
  ];
  assert.deepEqual(m.reviewComments(threads, 'a'), [
    { file: 'src/b.rs', line: 10, endLine: 12, body: 'rename this\n\nand test it' },
    { file: 'src/z.rs', line: 3, body: 'why?' },
  ]);
  assert.deepEqual(m.reviewComments(threads, 'c'), []);
});

test('an output log reads as turns: words, tool calls, what went wrong, how each ended and its cost', () => {
  const log = [
    'note: setup files copied',
    '── turn 1: add notes/first.txt and commit it',
    'I will add the file.',
    '▸ Write notes/first.txt',
    '▸ Bash git commit -qm add',
    '✗ denied: Bash git push (not allowed)',
    'Done: the file is committed.',
    'It says hello.',
    '⚠ turn 1 done with warnings · 120 in / 30 out tokens · $0.0012',
    '  ⚠ denied: Bash git push',
    '── turn 2: fail please',
    '✗ rate limit exceeded (429)',
    '✗ turn 2 failed: rate limit exceeded (429)',
    '── turn 3: go on',
    'working…',
  ].join('\n');
  const turns = m.parseTranscript(log);
  assert.deepEqual(turns.map((t) => t.n), [0, 1, 2, 3]);
  assert.deepEqual(turns[0].items, [{ kind: 'text', text: 'note: setup files copied' }]);
  const first = turns[1];
  assert.equal(first.prompt, 'add notes/first.txt and commit it');
  assert.deepEqual(first.items.map((i) => i.kind), ['text', 'tool', 'tool', 'denied', 'text']);
  assert.equal(first.items[4].text, 'Done: the file is committed.\nIt says hello.');
  assert.deepEqual(first.end, { status: 'warned', text: 'done with warnings · 120 in / 30 out tokens · $0.0012', cost: '$0.0012' });
  assert.deepEqual(first.warnings, ['denied: Bash git push']);
  assert.equal(turns[2].end.status, 'failed');
  assert.deepEqual(turns[2].items, [{ kind: 'error', text: 'rate limit exceeded (429)' }]);
  assert.equal(turns[3].end, undefined, 'a turn still running has no end');
});

test('a merged agent says where it was merged', () => {
  const a = { ...agent('fix', 'idle', 0.5), turns: 2, merged: { into: 'main', commit: 'abc', at: 1 } };
  assert.equal(m.agentDescription(a), 'idle · 2 turns · $0.50 · merged into main');
  assert.equal(m.agentDescription({ ...a, merged: undefined }), 'idle · 2 turns · $0.50');
  assert.equal(m.agentDescription({ ...a, merged: undefined, node: 'build' }), 'idle · 2 turns · $0.50 · on build');
});

test('messages to the person: the inbox item, the toast, the thread and the status bar', () => {
  const msg = {
    id: 'msg_1', from: 'agent:ws/fixer', to: 'person:me', subject: '', priority: 'high', type: 'request',
    threadId: 'msg_1', createdAt: 1_000_000, text: 'Which branch?\nmain or dev', readAt: undefined,
  };
  assert.deepEqual(m.messageItem(msg, 1_000_000 + 120_000), {
    label: '$(circle-filled) fixer: Which branch?', description: 'request · high · 2m ago', detail: '',
  });
  assert.equal(m.messageToast(msg), 'maestro: fixer asks: Which branch?');
  const reply = { ...msg, id: 'msg_2', from: 'person:me', to: 'agent:ws/fixer', type: 'response', text: 'main', readAt: 5 };
  const doc = m.threadDocument([msg, reply]);
  assert.ok(doc.startsWith('### fixer → you · request · 1970-01-01 00:16 UTC'), doc);
  assert.ok(doc.includes('### you → fixer · response') && doc.includes(' · read'), doc);
  assert.equal(m.statusText([], 0, 0, 2).text, '$(hubot) 0  $(mail) 2  $0.00');
  assert.ok(m.statusText([], 0, 0, 1).tooltip.includes('1 unread message'));
});

test('portable agents: every command has a form, arguments and answers a person reads', () => {
  for (const c of ['export', 'import', 'fork', 'snapshot', 'snapshots', 'rollback', 'transfer']) {
    assert.ok(m.FORMS[`maestro.agent.${c}`], `a form for maestro.agent.${c}`);
  }
  assert.deepEqual(m.formArgument('maestro.agent.fork', { name: 'a', new: 'a-2', path: '/r' }), { name: 'a', new: 'a-2', path: '/r' });
  assert.deepEqual(m.formArgument('maestro.agent.import', { file: '/x.maestro-agent', as: '', path: '/r' }), { file: '/x.maestro-agent', path: '/r' });
  assert.deepEqual(m.formArgument('maestro.agent.rollback', { name: 'a', snapshot: '2', path: '/r' }), { name: 'a', snapshot: '2', path: '/r' });
  const exported = m.answerSentence('maestro.agent.export', { file: '/t/a.maestro-agent', bytes: 3 << 20, memories: 12, messages: 2, notes: [] }, 'a');
  assert.equal(exported.text, 'maestro: agent a exported to /t/a.maestro-agent (3.0 MiB): 12 memories, 2 messages.');
  assert.equal(exported.warn, false);
  const noted = m.answerSentence('maestro.agent.export', { file: '/t/a', bytes: 10, memories: 0, messages: 0, notes: ['1 uncommitted file(s)…'] }, 'a');
  assert.equal(noted.warn, true);
  assert.equal(
    m.answerSentence('maestro.agent.rollback', { restored: { id: '1' }, before: { id: '3' } }, 'a').text,
    'maestro: agent a is back at snapshot 1; where it was is snapshot 3.',
  );
  assert.equal(
    m.answerSentence('maestro.agent.fork', { name: 'a-2', branch: 'maestro/a-2', notes: [] }, 'a').text,
    'maestro: forked agent a as a-2 on maestro/a-2.',
  );
  assert.equal(m.answerSentence('maestro.agent.snapshots', []), undefined, 'a listing is a document');
});
