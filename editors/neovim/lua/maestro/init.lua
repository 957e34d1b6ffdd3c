-- maestro for Neovim: starts `maestro lsp` for buffers in a git repository, gives its commands as
-- :Maestro, and shows its notifications. Works on Neovim 0.7 and newer (feature-detected).
local M = {}

-- The protocol this plugin speaks: the server's `experimental.maestro.protocolVersion`.
M.PROTOCOL_VERSION = 1

local defaults = {
  -- The server command; `cmd[1]` is looked up on PATH unless it is a path.
  cmd = { 'maestro', 'lsp' },
  -- Buffers of these filetypes (inside a git repository) get the server.
  filetypes = {
    'rust', 'python', 'typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'go', 'java',
    'c', 'cpp', 'ruby', 'cs', 'markdown',
  },
  -- The agent CLI for `:Maestro spawn` and `:Maestro delegate` ("" = the server's `agents.default`).
  agent = '',
  -- Tell the person (vim.notify) when an agent needs input, fails or is lost.
  notify_attention = true,
  -- Tell the person about playbook runs (tasks done, review gates, the end).
  notify_playbooks = true,
}

M.config = vim.deepcopy(defaults)

-- Agents by workspace root and name, as the last `maestro/agentStatus` said.
M.agents = {}
-- Client ids by repository root.
local clients = {}
-- Problems already told (each once).
local told = {}

local levels = vim.log.levels

local function notify_once(key, message, level)
  if told[key] then
    return
  end
  told[key] = true
  vim.notify(message, level or levels.ERROR, { title = 'maestro' })
end

local function has(feature)
  return vim.fn.has(feature) == 1
end

-- A client's method: `client:m(...)` on 0.11+, `client.m(...)` before (closures without self).
local function call(client, m, ...)
  if has('nvim-0.11') then
    return client[m](client, ...)
  end
  return client[m](...)
end

local function get_client(id)
  return vim.lsp.get_client_by_id(id)
end

--- The repository root around `path`: the nearest directory holding `.git` (a directory, or a
--- file in a worktree), or nil.
function M.git_root(path)
  local dir = vim.fn.fnamemodify(path, ':p')
  if vim.fn.isdirectory(dir) == 0 then
    dir = vim.fn.fnamemodify(dir, ':h')
  end
  while dir and dir ~= '' do
    if vim.loop.fs_stat(dir .. '/.git') then
      return dir
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      return nil
    end
    dir = parent
  end
  return nil
end

local function current_root()
  local name = vim.api.nvim_buf_get_name(0)
  -- A maestro buffer (the inbox, a diff, a message) belongs to the repository last worked in.
  if name:sub(1, 10) == 'maestro://' and M.last_root then
    return M.last_root
  end
  local root = M.git_root(name ~= '' and name or vim.fn.getcwd())
  if root then
    M.last_root = root
  end
  return root
end

--- The live client for `root` (default: the current buffer's repository), or nil.
function M.client(root)
  root = root or current_root()
  local id = root and clients[root]
  local client = id and get_client(id)
  if client and not call(client, 'is_stopped') then
    return client
  end
  return nil
end

--- The server binary, or nil after telling the person (once) how to get it.
local function server_cmd()
  local cmd = M.config.cmd
  local exe = cmd[1]
  if vim.fn.executable(exe) == 1 then
    return cmd
  end
  notify_once(
    'missing:' .. exe,
    ('maestro: the server `%s` is not executable or not on PATH. Install it with ./install.sh from the maestro repository, or set require("maestro").setup{ cmd = { "/path/to/maestro", "lsp" } }.'):format(exe)
  )
  return nil
end

-- A status notification: remember the agent, tell the person when it wants attention.
local function on_agent_status(_, params)
  if type(params) ~= 'table' or type(params.agent) ~= 'table' then
    return
  end
  local agent = params.agent
  local root = agent.workspaceRoot or ''
  M.agents[root] = M.agents[root] or {}
  if params.removed then
    M.agents[root][agent.name] = nil
  else
    M.agents[root][agent.name] = agent
  end
  M.last_status = params
  if params.attention and M.config.notify_attention and params.previous ~= agent.state then
    local what = ({ needs_input = 'needs input', failed = 'failed', lost = 'was lost', idle = 'finished' })[agent.state] or agent.state
    local why = agent.reason and (': ' .. agent.reason) or ''
    vim.notify(('maestro: agent %s %s%s  (:Maestro attach %s)'):format(agent.name, what, why, agent.name), levels.WARN, { title = 'maestro' })
  end
  vim.cmd('redrawstatus')
end

local PLAYBOOK_TOLD = {
  task_complete = levels.INFO,
  task_stalled = levels.WARN,
  review_wait = levels.WARN,
  document_skipped = levels.WARN,
  halted = levels.WARN,
  error = levels.ERROR,
  complete = levels.INFO,
  stopped = levels.INFO,
}

local function on_playbook_progress(_, params)
  if type(params) ~= 'table' or type(params.event) ~= 'table' then
    return
  end
  M.last_playbook = params
  local event = params.event
  local level = PLAYBOOK_TOLD[event.kind]
  if not (level and M.config.notify_playbooks) then
    return
  end
  local where = event.document and (' ' .. event.document .. (event.line and (':' .. event.line) or '')) or ''
  local what = event.task or event.message or ''
  vim.notify(('maestro playbook %s: %s%s %s'):format(params.run and params.run.id or '', event.kind, where, what), level, { title = 'maestro' })
end

-- Who an address is, briefly: an agent's name, or `you`.
local function who(address)
  if address:sub(1, 7) == 'person:' then
    return 'you'
  end
  return address:match('([^/]+)$') or address
end

local function first_line(text)
  return (text or ''):match('[^\n]*') or ''
end

-- A message to the person: told, and counted until read (`:Maestro inbox`).
M.unread = 0
local function on_message(_, params)
  if type(params) ~= 'table' or type(params.message) ~= 'table' then
    return
  end
  local msg = params.message
  if (msg.to or ''):sub(1, 7) ~= 'person:' then
    return
  end
  if params.event == 'read' then
    M.unread = math.max(0, M.unread - 1)
    return
  end
  M.unread = M.unread + 1
  local asks = msg.type == 'request' and ' asks' or ''
  local body = msg.subject ~= '' and (msg.subject .. ': ' .. first_line(msg.text)) or first_line(msg.text)
  vim.notify(('maestro: %s%s: %s (:Maestro read %s)'):format(who(msg.from), asks, body, msg.id), levels.INFO, { title = 'maestro' })
end

-- Open chat buffers (`maestro://chat/ID`): their entries, who is thinking.
M.chats = {}

local function chat_entry_lines(e)
  local who_said = e.author == 'person' and 'you' or (e.author == 'maestro' and 'maestro' or '@' .. e.author)
  local label = ({ synthesis = ' (synthesis)', failed = ' ✗', note = ' ⚠' })[e.kind] or ''
  local text = vim.split(e.text or '', '\n', { plain = true })
  local lines = { ('%s%s: %s'):format(who_said, label, text[1] or '') }
  for i = 2, #text do
    table.insert(lines, '  ' .. text[i])
  end
  return lines
end

--- Draws chat `id`'s buffer from what is known of it.
function M.draw_chat(id)
  local c = M.chats[id]
  if not c then
    return
  end
  local info = c.info
  local lines = {
    ('# %s (%s)'):format(info.title ~= '' and info.title or info.id, info.id),
    ('moderator @%s · %s · %s · <CR> or :Maestro chat say %s TEXT'):format(info.moderator,
      table.concat(vim.tbl_map(function(p) return '@' .. p end, info.participants), ' '), info.state, info.id),
    '',
  }
  for _, e in ipairs(c.entries) do
    vim.list_extend(lines, chat_entry_lines(e))
  end
  if #c.thinking > 0 then
    table.insert(lines, '')
    table.insert(lines, table.concat(vim.tbl_map(function(p) return '@' .. p end, c.thinking), ' ') .. ' thinking…')
  end
  local buf = M.show('chat/' .. id, lines)
  if not c.mapped then
    c.mapped = true
    vim.keymap.set('n', '<CR>', function()
      vim.ui.input({ prompt = 'To the moderator: ' }, function(text)
        if text and text ~= '' then
          M.chat_say(id, text)
        end
      end)
    end, { buffer = buf, desc = 'maestro: say in this chat' })
  end
end

function M.chat_add(id, e)
  local c = M.chats[id]
  if not c then
    return
  end
  for _, x in ipairs(c.entries) do
    if x.seq == e.seq then
      return
    end
  end
  table.insert(c.entries, e)
  table.sort(c.entries, function(a, b) return a.seq < b.seq end)
end

function M.chat_say(id, text)
  M.execute('maestro.chat.say', { chat = id, text = text }, function(r)
    for _, e in ipairs(r.entries or {}) do
      M.chat_add(id, e)
    end
    M.draw_chat(id)
  end)
end

local function on_chat(_, params)
  if type(params) ~= 'table' then
    return
  end
  local c = M.chats[params.chat]
  if not c then
    return
  end
  if params.event == 'entry' and type(params.entry) == 'table' then
    M.chat_add(params.chat, params.entry)
  end
  c.thinking = params.thinking or {}
  if params.event == 'done' or params.event == 'closed' then
    c.info.state = params.event == 'closed' and 'closed' or 'open'
  end
  M.draw_chat(params.chat)
end

-- A question an agent waits on: told, with how to answer it (the LSP front also asks with
-- window/showMessageRequest, which Neovim shows as a choice list).
local function on_attention(_, params)
  if type(params) ~= 'table' or type(params.attention) ~= 'table' or params.event ~= 'ask' then
    return
  end
  local q = params.attention
  local how = #(q.choices or {}) > 0 and (':Maestro attention answer %s %s'):format(q.id, table.concat(q.choices, '|'))
    or (':Maestro attention answer %s TEXT'):format(q.id)
  vim.notify(('maestro: %s asks: %s (%s)'):format(q.agent, q.question, how), levels.WARN, { title = 'maestro' })
end

M.handlers = {
  ['maestro/chat'] = on_chat,
  ['maestro/attention'] = on_attention,
  ['maestro/agentStatus'] = on_agent_status,
  ['maestro/playbookProgress'] = on_playbook_progress,
  ['maestro/message'] = on_message,
  -- Output is for attached terminals (`:Maestro attach` runs `maestro agent attach`).
  ['maestro/agentOutput'] = function() end,
  ['maestro/workspaceOpened'] = function() end,
}

local function check_version(client, result)
  local exp = result and result.capabilities and result.capabilities.experimental
  local version = type(exp) == 'table' and type(exp.maestro) == 'table' and exp.maestro.protocolVersion
  if version ~= M.PROTOCOL_VERSION then
    local server = result and result.serverInfo and result.serverInfo.version or '?'
    notify_once(
      'version',
      ('maestro: the server (maestro %s) speaks protocol %s, this plugin speaks %d. Update both from the same maestro checkout (./install.sh), or point cmd at the matching binary.'):format(server, tostring(version), M.PROTOCOL_VERSION)
    )
    call(client, 'stop')
    return false
  end
  return true
end

local function client_config(root, cmd)
  return {
    name = 'maestro',
    cmd = cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    handlers = M.handlers,
    on_init = function(client, result)
      if check_version(client, result) then
        M.server_version = result.serverInfo and result.serverInfo.version
      end
    end,
    on_exit = function(code, signal, id)
      if clients[root] == id then
        clients[root] = nil
      end
      if (code ~= 0 or signal ~= 0) and not told.version then
        -- Said once per exit; the next buffer opened in the repository starts it again.
        vim.schedule(function()
          vim.notify(('maestro: the server for %s exited (code %d, signal %d); it starts again with the next buffer (:e to reload this one)'):format(root, code, signal), levels.WARN, { title = 'maestro' })
        end)
      end
    end,
  }
end

--- Starts (or reuses) the server for the buffer's repository and attaches the buffer.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or vim.bo[bufnr].buftype ~= '' then
    return
  end
  local root = M.git_root(name)
  if not root or told.version then
    return
  end
  local cmd = server_cmd()
  if not cmd then
    return
  end
  local existing = M.client(root)
  if existing then
    vim.lsp.buf_attach_client(bufnr, existing.id)
    return existing.id
  end
  local id
  if vim.lsp.start then
    id = vim.lsp.start(client_config(root, cmd), { bufnr = bufnr, reuse_client = function(c, conf)
      return c.name == 'maestro' and c.config.root_dir == conf.root_dir
    end })
  else
    id = vim.lsp.start_client(client_config(root, cmd))
    if id then
      vim.lsp.buf_attach_client(bufnr, id)
    end
  end
  clients[root] = id
  return id
end

-- Runs a server command on the current repository's client; `on_result(result)` gets its answer.
function M.execute(command, argument, on_result)
  local client = M.client()
  if not client then
    vim.notify('maestro: no maestro server for this buffer (open a file of a git repository first)', levels.ERROR, { title = 'maestro' })
    return
  end
  local params = { command = command, arguments = { argument } }
  call(client, 'request', 'workspace/executeCommand', params, function(err, result)
    if err then
      vim.notify(('maestro: %s: %s'):format(command, err.message or vim.inspect(err)), levels.ERROR, { title = 'maestro' })
      return
    end
    if on_result then
      on_result(result)
    end
  end, 0)
end

-- A scratch buffer `maestro://NAME` showing `lines` in a split (reused when open).
function M.show(name, lines)
  local bufname = 'maestro://' .. name
  local buf = vim.fn.bufnr(bufname)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, bufname)
    vim.bo[buf].bufhidden = 'hide'
    vim.bo[buf].filetype = 'maestro'
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  if vim.fn.bufwinnr(buf) == -1 then
    vim.cmd('botright sbuffer ' .. buf)
  end
  return buf
end

local function dollars(x)
  return ('$%.2f'):format(tonumber(x) or 0)
end

--- The agents as lines: the name tree (`-` parts indented), CLI, state, turns, dollars, branch,
--- and, in a mesh, the node an agent of another machine runs on.
function M.agent_lines(agents)
  table.sort(agents, function(a, b)
    return a.name < b.name
  end)
  local lines = {}
  local open = {}
  for _, a in ipairs(agents) do
    local parts = vim.split(a.name, '-', { plain = true })
    for depth = 1, #parts - 1 do
      local prefix = table.concat(parts, '-', 1, depth)
      if not open[prefix] then
        open[prefix] = true
        table.insert(lines, string.rep('  ', depth - 1) .. parts[depth] .. '/')
      end
    end
    local usage = a.usage or {}
    table.insert(lines, ('%s%-16s %-8s %-11s %3d turns %8s  %s'):format(
      string.rep('  ', #parts - 1), parts[#parts], a.agent or '', a.state or '', a.turns or 0,
      dollars(usage.costUsd), a.branch or '') .. (a.node and ('  on ' .. a.node) or ''))
  end
  if #lines == 0 then
    lines = { 'no agents in this repository (:Maestro spawn NAME PROMPT)' }
  end
  return lines
end

--- For a statusline: `maestro: 2 working · 1 needs input` for this repository, '' without agents.
function M.statusline()
  local root = current_root()
  local working, waiting = 0, 0
  for _, a in pairs(root and M.agents[root] or {}) do
    if a.state == 'working' or a.state == 'starting' then
      working = working + 1
    elseif a.state == 'needs_input' then
      waiting = waiting + 1
    end
  end
  if working == 0 and waiting == 0 then
    return ''
  end
  local parts = {}
  if working > 0 then
    table.insert(parts, working .. ' working')
  end
  if waiting > 0 then
    table.insert(parts, waiting .. ' needs input')
  end
  return 'maestro: ' .. table.concat(parts, ' · ')
end

local function need(args, n, usage)
  if #args < n then
    vim.notify('maestro: usage: :Maestro ' .. usage, levels.ERROR, { title = 'maestro' })
    return false
  end
  return true
end

local function rest(args, from)
  return table.concat(args, ' ', from)
end

local function say(result_text)
  vim.notify(result_text, levels.INFO, { title = 'maestro' })
end

-- :Maestro subcommands. Each gets (args, command info) and the repository root.
local sub = {}

function sub.agents(_, _, root)
  M.execute('maestro.agent.list', { path = root }, function(agents)
    -- The list is the truth: agents removed while no notification reached us go too.
    M.agents[root] = {}
    for _, a in ipairs(agents or {}) do
      M.agents[root][a.name] = a
    end
    M.show('agents', M.agent_lines(agents or {}))
  end)
end

function sub.spawn(args, _, root)
  if not need(args, 1, 'spawn NAME [PROMPT]') then
    return
  end
  local prompt = #args > 1 and rest(args, 2) or nil
  M.execute('maestro.agent.spawn', { name = args[1], agent = M.config.agent, path = root, prompt = prompt }, function(a)
    say(('maestro: agent %s started (%s) on %s'):format(a.name, a.agent, a.branch or a.worktree))
  end)
end

function sub.send(args, _, root)
  if not need(args, 2, 'send NAME PROMPT') then
    return
  end
  M.execute('maestro.agent.send', { name = args[1], path = root, prompt = rest(args, 2) }, function()
    say('maestro: sent to ' .. args[1])
  end)
end

-- Portable agents: an archive of an agent (its branch, memories, session, inbox), one brought
-- back, a fork, snapshots and rollback, a move to another node of the mesh.
local function absolute(path)
  return vim.fn.fnamemodify(vim.fn.expand(path), ':p')
end

local function notes_of(result)
  local out = ''
  for _, n in ipairs(result.notes or {}) do
    out = out .. '\n  ' .. n
  end
  return out
end

function sub.export(args, _, root)
  if not need(args, 1, 'export NAME [FILE]') then
    return
  end
  local file = absolute(args[2] or (args[1] .. '.maestro-agent'))
  M.execute('maestro.agent.export', { name = args[1], path = root, output = file }, function(r)
    say(('maestro: %s exported to %s (%d bytes): %d memories, %d messages%s'):format(
      args[1], r.file, r.bytes or 0, r.memories or 0, r.messages or 0, notes_of(r)))
  end)
end

function sub.import(args, _, root)
  if not need(args, 1, 'import FILE [NAME]') then
    return
  end
  M.execute('maestro.agent.import', { file = absolute(args[1]), path = root, as = args[2] }, function(a)
    say(('maestro: %s imported in %s%s'):format(a.name, a.worktree, notes_of(a)))
  end)
end

function sub.fork(args, _, root)
  if not need(args, 2, 'fork NAME NEW') then
    return
  end
  M.execute('maestro.agent.fork', { name = args[1], path = root, new = args[2] }, function(a)
    say(('maestro: %s forked as %s on %s%s'):format(args[1], a.name, a.branch or a.worktree, notes_of(a)))
  end)
end

function sub.snapshot(args, _, root)
  if not need(args, 1, 'snapshot NAME [NOTE]') then
    return
  end
  local note = #args > 1 and rest(args, 2) or nil
  M.execute('maestro.agent.snapshot', { name = args[1], path = root, note = note }, function(s)
    say(('maestro: snapshot %s of %s kept'):format(s.id, s.agent))
  end)
end

function M.snapshot_lines(snapshots)
  local lines = {}
  for _, s in ipairs(snapshots) do
    table.insert(lines, ('%3s  %s  %s  %s'):format(s.id, os.date('%Y-%m-%d %H:%M', math.floor(s.at or 0)),
      (s.commit or '-'):sub(1, 10), s.note or ''))
  end
  if #lines == 0 then
    lines = { 'no snapshots (:Maestro snapshot NAME keeps one)' }
  end
  return lines
end

function sub.snapshots(args, _, root)
  if not need(args, 1, 'snapshots NAME') then
    return
  end
  M.execute('maestro.agent.snapshots', { name = args[1], path = root }, function(all)
    M.show('snapshots/' .. args[1], M.snapshot_lines(all or {}))
  end)
end

function sub.rollback(args, _, root)
  if not need(args, 2, 'rollback NAME SNAPSHOT') then
    return
  end
  M.execute('maestro.agent.rollback', { name = args[1], path = root, snapshot = args[2] }, function(r)
    say(('maestro: %s is back at snapshot %s; where it was is snapshot %s'):format(
      args[1], r.restored.id, r.before.id))
  end)
end

function sub.transfer(args, _, root)
  if not need(args, 2, 'transfer NAME NODE') then
    return
  end
  M.execute('maestro.agent.transfer', { name = args[1], path = root, to = args[2] }, function(a)
    say(('maestro: %s is on node %s now'):format(a.name, a.node or args[2]))
  end)
end

-- The agent's changes against its base in a split (`maestro://diff/NAME`, filetype diff), and its
-- hunks in the quickfix list, each at the agent's file in its worktree.
function sub.diff(args, _, root)
  if not need(args, 1, 'diff NAME') then
    return
  end
  local name = args[1]
  M.execute('maestro.agent.status', { name = name, path = root }, function(agent)
    M.execute('maestro.agent.diff', { name = name, path = root }, function(d)
      local buf = M.show('diff/' .. name, vim.split(d.patch or '', '\n', { plain = true }))
      vim.bo[buf].filetype = 'diff'
      local items, file = {}, nil
      for _, line in ipairs(vim.split(d.patch or '', '\n', { plain = true })) do
        file = line:match('^%+%+%+ b/(.*)$') or file
        local start = line:match('^@@ %-%d+,?%d* %+(%d+)')
        if start and file then
          table.insert(items, { filename = agent.worktree .. '/' .. file, lnum = tonumber(start), text = line })
        end
      end
      vim.fn.setqflist({}, ' ', { title = 'maestro diff ' .. name, items = items })
      say(('maestro: %s: %d files, %d commits%s against %s; :Maestro comment TEXT on a line, then :Maestro review %s'):format(
        name, #(d.files or {}), d.commits or 0, d.uncommitted and ' and uncommitted work' or '', d.base or '?', name))
    end)
  end)
end

-- A review comment on the current line (or the lines of a range), kept in the quickfix list.
function sub.comment(args, info, _)
  if not need(args, 1, 'comment TEXT') then
    return
  end
  local first, last = vim.fn.line('.'), vim.fn.line('.')
  if info and info.range and info.range > 0 then
    first, last = info.line1, info.line2
  end
  local items = { { filename = vim.api.nvim_buf_get_name(0), lnum = first, end_lnum = last, text = rest(args, 1) } }
  vim.fn.setqflist({}, 'a', { title = 'maestro review', items = items })
  say(('maestro: comment on line %d%s kept in the quickfix list'):format(first, last > first and ('-' .. last) or ''))
end

-- Sends the comments of the quickfix list (their file, lines and text) to the agent as its next
-- turn, each with the hunk of its diff it is about. Files are taken relative to the agent's
-- worktree, or to the repository.
function sub.review(args, _, root)
  if not need(args, 1, 'review NAME') then
    return
  end
  local name = args[1]
  M.execute('maestro.agent.status', { name = name, path = root }, function(agent)
    local comments = {}
    for _, e in ipairs(vim.fn.getqflist()) do
      local file = e.bufnr > 0 and vim.api.nvim_buf_get_name(e.bufnr) or ''
      for _, base in ipairs({ agent.worktree, root }) do
        if base and file:sub(1, #base + 1) == base .. '/' then
          file = file:sub(#base + 2)
          break
        end
      end
      if e.text ~= '' and not file:match('^/') and not e.text:match('^@@ ') then
        table.insert(comments, {
          file = file,
          line = e.lnum,
          endLine = (e.end_lnum or 0) > e.lnum and e.end_lnum or nil,
          body = e.text,
        })
      end
    end
    if #comments == 0 then
      vim.notify('maestro: no review comments in the quickfix list (:Maestro comment TEXT on a line)', levels.ERROR, { title = 'maestro' })
      return
    end
    M.execute('maestro.agent.review', { name = name, path = root, comments = comments }, function()
      say(('maestro: review of %d comment%s sent to %s'):format(#comments, #comments == 1 and '' or 's', name))
    end)
  end)
end

function sub.stop(args, _, root)
  if not need(args, 1, 'stop NAME') then
    return
  end
  M.execute('maestro.agent.stop', { name = args[1], path = root }, function()
    say('maestro: stopped ' .. args[1])
  end)
end

function sub.attach(args, _, root)
  if not need(args, 1, 'attach NAME') then
    return
  end
  local cmd = { M.config.cmd[1], 'agent', 'attach', args[1] }
  vim.cmd('botright new')
  if has('nvim-0.11') then
    vim.fn.jobstart(cmd, { term = true, cwd = root })
  else
    vim.fn.termopen(cmd, { cwd = root })
  end
  vim.cmd('startinsert')
end

function sub.delegate(args, info, _)
  local first, last = info.line1, info.line2
  local bufnr = vim.api.nvim_get_current_buf()
  local instructions = #args > 0 and rest(args, 1) or nil
  if not instructions then
    instructions = vim.fn.input('What should the agent do with lines ' .. first .. '-' .. last .. '? ')
    if instructions == '' then
      return
    end
  end
  M.execute('maestro.agent.delegate', {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = first - 1, character = 0 }, ['end'] = { line = last, character = 0 } },
    task = 'selection',
    instructions = instructions,
    cli = M.config.agent ~= '' and M.config.agent or nil,
  }, function(r)
    say(('maestro: %s took it%s'):format(r.agent.name, r.spawned and ' (new agent)' or ''))
  end)
end

function sub.playbook(args, _, _)
  local action = args[1] or 'run'
  if action == 'run' then
    local files = {}
    for i = 2, #args do
      table.insert(files, vim.fn.fnamemodify(args[i], ':p'))
    end
    if #files == 0 then
      files = { vim.api.nvim_buf_get_name(0) }
    end
    M.execute('maestro.playbook.run', { paths = files, agent = M.config.agent ~= '' and M.config.agent or nil }, function(r)
      say(('maestro: playbook run %s started'):format(r.run.id))
    end)
  elseif action == 'status' then
    M.execute('maestro.playbook.status', {}, function(r)
      local lines = {}
      for _, run in ipairs(r.runs or {}) do
        local tasks, done = 0, 0
        for _, d in ipairs(run.documents or {}) do
          tasks, done = tasks + (d.tasks or 0), done + (d.done or 0)
        end
        table.insert(lines, ('%s  %-9s %d/%d tasks  %s  %s'):format(run.id, run.status, done, tasks, dollars(run.costUsd), run.reason or ''))
      end
      M.show('playbooks', #lines > 0 and lines or { 'no playbook runs' })
    end)
  elseif vim.tbl_contains({ 'stop', 'pause', 'resume', 'approve' }, action) then
    M.execute('maestro.playbook.' .. action, { id = args[2] }, function()
      say('maestro: playbook ' .. action .. ' done')
    end)
  else
    vim.notify('maestro: usage: :Maestro playbook [run FILE...|status|stop|pause|resume|approve] [RUN]', levels.ERROR, { title = 'maestro' })
  end
end

function sub.search(args, _, root)
  if not need(args, 1, 'search QUERY') then
    return
  end
  M.execute('maestro.memory.search', { query = rest(args, 1), path = root }, function(r)
    local items = {}
    for _, hit in ipairs(r.hits or {}) do
      local text = ('[%s%s] %s'):format(hit.kind, hit.agent ~= '' and (' · ' .. hit.agent) or '', (hit.text:gsub('\n', ' ')))
      if hit.file then
        table.insert(items, { filename = hit.file, lnum = hit.line or 1, text = text })
      else
        table.insert(items, { filename = '', lnum = 0, text = text })
      end
    end
    vim.fn.setqflist({}, 'r', { title = 'maestro search: ' .. rest(args, 1), items = items })
    if r.warning then
      vim.notify('maestro: ' .. r.warning, levels.WARN, { title = 'maestro' })
    end
    vim.cmd('copen')
  end)
end

function sub.usage(args, _, root)
  M.execute('maestro.usage', { by = args[1] or 'agent', path = root }, function(r)
    local lines = {}
    for _, row in ipairs(r.rows or {}) do
      table.insert(lines, ('%-24s %4d turns %10d in %10d out %9s'):format(row.key, row.turns, row.inputTokens, row.outputTokens, dollars(row.costUsd)))
    end
    table.insert(lines, ('%-24s %15s %9s'):format('total', '', dollars(r.total and r.total.costUsd)))
    M.show('usage', lines)
  end)
end

function sub.status()
  M.execute('maestro.status', {}, function(r)
    say(('maestro %s: daemon pid %s, up %ds, %d sessions, %d workspaces open'):format(r.version or '', r.pid or '?', math.floor(r.uptimeSecs or 0), #(r.sessions or {}), #(r.workspaces or {})))
  end)
end

-- A message, or a thread, as lines: a header per message, then its text.
function M.message_lines(messages)
  local lines = {}
  for i, msg in ipairs(messages) do
    if i > 1 then
      table.insert(lines, '')
    end
    local read = msg.readAt and ' · read' or ''
    table.insert(lines, ('## %s → %s · %s · %s · %s%s'):format(who(msg.from), who(msg.to), msg.type, msg.priority,
      os.date('!%Y-%m-%d %H:%M UTC', math.floor(msg.createdAt / 1000)), read))
    if msg.subject ~= '' then
      table.insert(lines, msg.subject)
    end
    for _, l in ipairs(vim.split(msg.text or '', '\n', { plain = true })) do
      table.insert(lines, l)
    end
    table.insert(lines, msg.id)
  end
  return lines
end

-- The person's messages, newest first, unread marked `●` (`:Maestro inbox all` for read ones too).
function sub.inbox(args)
  M.execute('maestro.message.inbox', { all = args[1] == 'all', limit = 50 }, function(r)
    M.unread = r.unread or 0
    local lines = { ('%d unread · :Maestro read ID · :Maestro reply ID TEXT · :Maestro thread ID'):format(r.unread or 0) }
    for _, msg in ipairs(r.messages or {}) do
      local mark = msg.readAt and ' ' or '●'
      local body = msg.subject ~= '' and msg.subject or first_line(msg.text)
      table.insert(lines, ('%s %s  %-12s %-12s %s'):format(mark, msg.id, who(msg.from), msg.type, body))
    end
    M.show('inbox', lines)
  end)
end

function sub.read(args)
  if not need(args, 1, 'read ID') then
    return
  end
  M.execute('maestro.message.read', { id = args[1] }, function(msg)
    M.show('message/' .. msg.id, M.message_lines({ msg }))
  end)
end

function sub.thread(args)
  if not need(args, 1, 'thread ID') then
    return
  end
  M.execute('maestro.message.thread', { id = args[1] }, function(t)
    M.show('thread/' .. t.threadId, M.message_lines(t.messages or {}))
  end)
end

function sub.reply(args)
  if not need(args, 2, 'reply ID TEXT') then
    return
  end
  M.execute('maestro.message.send', { to = '', inReplyTo = args[1], text = rest(args, 2) }, function(msg)
    say(('maestro: reply sent to %s'):format(who(msg.to)))
  end)
end

-- :Maestro msg NAME TEXT — a request to agent NAME (it wakes if idle).
function sub.msg(args, _, root)
  if not need(args, 2, 'msg NAME TEXT') then
    return
  end
  M.execute('maestro.message.send', { to = args[1], text = rest(args, 2), type = 'request', path = root }, function(msg)
    say(('maestro: message sent to %s'):format(who(msg.to)))
  end)
end

-- :Maestro chat new MODERATOR[:CLI] NAME[:CLI],NAME[:CLI] [TITLE] · chat ID · chat say ID TEXT
-- · chat list · chat close ID
function sub.chat(args, _, root)
  local action = args[1]
  local member = function(spec)
    local name, cli = spec:match('^([^:]+):?(.*)$')
    return cli ~= '' and { name = name, agent = cli } or { name = name }
  end
  local open = function(id)
    M.execute('maestro.chat.log', { chat = id }, function(log)
      M.chats[log.chat.id] = { info = log.chat, entries = log.entries or {}, thinking = log.thinking or {} }
      M.draw_chat(log.chat.id)
    end)
  end
  if action == 'new' then
    if not need(args, 3, 'chat new MODERATOR[:CLI] NAME[:CLI],… [TITLE]') then
      return
    end
    local participants = vim.tbl_map(member, vim.split(args[3], ',', { trimempty = true }))
    M.execute('maestro.chat.new', { path = root, title = rest(args, 4), moderator = member(args[2]), participants = participants },
      function(chat)
        open(chat.id)
      end)
  elseif action == 'say' then
    if not need(args, 3, 'chat say ID TEXT') then
      return
    end
    M.execute('maestro.chat.log', { chat = args[2] }, function(log)
      M.chats[log.chat.id] = M.chats[log.chat.id] or { info = log.chat, entries = log.entries or {}, thinking = {} }
      M.chat_say(log.chat.id, rest(args, 3))
    end)
  elseif action == 'list' or action == nil then
    M.execute('maestro.chat.list', { path = root }, function(chats)
      local lines = { ':Maestro chat ID opens one · :Maestro chat new MODERATOR[:CLI] NAME[:CLI],… TITLE' }
      for _, c in ipairs(chats or {}) do
        table.insert(lines, ('%s  %-8s @%s with %s  %s'):format(c.id, c.state, c.moderator,
          table.concat(vim.tbl_map(function(p) return '@' .. p end, c.participants), ' '), c.title))
      end
      M.show('chats', lines)
    end)
  elseif action == 'close' then
    if not need(args, 2, 'chat close ID') then
      return
    end
    M.execute('maestro.chat.close', { chat = args[2] }, function(c)
      if M.chats[c.id] then
        M.chats[c.id].info = c
        M.draw_chat(c.id)
      end
      say(('maestro: chat %s closed'):format(c.id))
    end)
  else
    open(action)
  end
end

-- :Maestro attention [pending] · attention answer ID CHOICE
function sub.attention(args, _, root)
  if args[1] == 'answer' then
    if not need(args, 3, 'attention answer ID CHOICE') then
      return
    end
    M.execute('maestro.attention.answer', { id = args[2], choice = args[3] }, function(d)
      say(('maestro: %s: %s'):format(d.agent, d.decision))
    end)
    return
  end
  M.execute('maestro.attention.log', { path = root, pending = args[1] == 'pending', limit = 100 }, function(r)
    local lines = { ':Maestro attention answer ID CHOICE answers a question that waits' }
    for _, d in ipairs(r.decisions or {}) do
      local decided = d.by ~= '' and (d.decision .. ' by ' .. d.by) or ('waits: ' .. table.concat(d.choices or {}, '|'))
      table.insert(lines, ('%s  %-12s %s — %s (%s)'):format(d.id, d.agent, d.question, decided, d.reason))
    end
    M.show('attention', lines)
  end)
end

-- :Maestro consult ASKER NAME QUESTION — NAME answers about ASKER's work (and tells ASKER).
function sub.consult(args, _, root)
  if not need(args, 3, 'consult ASKER NAME QUESTION') then
    return
  end
  M.execute('maestro.agent.consult', { path = root, asker = args[1], name = args[2], question = rest(args, 3) }, function(r)
    local lines = { ('## %s answers %s (consult %s)'):format(args[2], args[1], r.thread) }
    vim.list_extend(lines, vim.split(r.reply or '', '\n', { plain = true }))
    M.show('consult/' .. r.thread, lines)
  end)
end

M.subcommands = sub

local function complete(arglead, line)
  local words = vim.split(line, '%s+')
  if #words <= 2 then
    local names = vim.tbl_keys(sub)
    table.sort(names)
    return vim.tbl_filter(function(n)
      return n:sub(1, #arglead) == arglead
    end, names)
  end
  if words[2] == 'playbook' and #words == 3 then
    return { 'run', 'status', 'stop', 'pause', 'resume', 'approve' }
  end
  local root = current_root()
  return vim.tbl_filter(function(n)
    return n:sub(1, #arglead) == arglead
  end, vim.tbl_keys(root and M.agents[root] or {}))
end

local function command(info)
  local args = info.fargs
  local name = table.remove(args, 1)
  local fn = name and sub[name]
  if not fn then
    local names = vim.tbl_keys(sub)
    table.sort(names)
    vim.notify('maestro: :Maestro ' .. table.concat(names, '|'), levels.ERROR, { title = 'maestro' })
    return
  end
  local root = current_root()
  if not root then
    vim.notify('maestro: this buffer is not in a git repository', levels.ERROR, { title = 'maestro' })
    return
  end
  fn(args, info, root)
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  local group = vim.api.nvim_create_augroup('maestro', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = M.config.filetypes,
    callback = function(ev)
      M.attach(ev.buf)
    end,
  })
  vim.api.nvim_create_user_command('Maestro', command, {
    nargs = '+',
    range = true,
    complete = complete,
    desc = 'maestro: agents|spawn|send|diff|comment|review|stop|attach|delegate|playbook|search|usage|status|inbox|msg|read|reply|thread',
  })
  -- Buffers already open when setup runs.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

return M
