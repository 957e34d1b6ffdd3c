-- Driven by tests/e2e/editors.rs: a headless Neovim with this plugin on a fixture repository, against
-- the real `maestro lsp` and daemon. It records what it saw in $MAESTRO_NVIM_OUT (JSON) and quits;
-- the Rust test asserts on that. $MAESTRO_NVIM_CASE picks the scenario.
local out = { notes = {} }
local case = os.getenv('MAESTRO_NVIM_CASE')
local dir = os.getenv('MAESTRO_NVIM_REPO')

local function finish()
  vim.fn.writefile({ vim.fn.json_encode(out) }, os.getenv('MAESTRO_NVIM_OUT'))
  vim.cmd('qall!')
end

-- Every message the plugin gives the person, kept in order.
vim.notify = function(msg, level)
  table.insert(out.notes, { msg = msg, level = level })
end

local function count_noted(pattern)
  local n = 0
  for _, note in ipairs(out.notes) do
    if note.msg:find(pattern, 1, true) then
      n = n + 1
    end
  end
  return n
end

local function noted(pattern)
  return count_noted(pattern) > 0
end

local ok, err = pcall(function()
  local maestro = require('maestro')
  out.nvim = vim.version and tostring(vim.version().major .. '.' .. vim.version().minor) or '?'

  if case == 'missing' then
    maestro.setup({ cmd = { dir .. '/no-such-maestro', 'lsp' } })
    vim.cmd('edit ' .. dir .. '/src/lib.rs')
    vim.cmd('edit ' .. dir .. '/src/main.rs')
    vim.wait(500)
    out.missing = count_noted('is not executable or not on PATH')
    out.client = maestro.client() ~= nil
    return
  end

  if case == 'version' then
    maestro.PROTOCOL_VERSION = 99
    maestro.setup({})
    vim.cmd('edit ' .. dir .. '/src/lib.rs')
    vim.wait(20000, function()
      return noted('speaks protocol')
    end, 50)
    vim.cmd('edit ' .. dir .. '/src/main.rs')
    vim.wait(1500)
    out.version = count_noted('speaks protocol')
    out.client = maestro.client() ~= nil
    return
  end

  if case == 'chat' then
    -- A chat made from here: its buffer fills as the moderator routes and the participants
    -- answer, to the synthesis.
    maestro.setup({})
    vim.cmd('edit ' .. dir .. '/src/main.rs')
    vim.wait(20000, function()
      return maestro.client() ~= nil and maestro.server_version ~= nil
    end, 50)
    vim.cmd('Maestro chat new chat-lead:claude chat-alice:codex,chat-bob:gemini which store')
    local id
    vim.wait(30000, function()
      id = next(maestro.chats)
      return id ~= nil
    end, 50)
    out.id = id
    vim.cmd('Maestro chat say ' .. id .. ' which store should we use?')
    local buf = function()
      return vim.fn.bufnr('maestro://chat/' .. id)
    end
    out.synthesis = vim.wait(60000, function()
      if buf() == -1 then
        return false
      end
      for _, l in ipairs(vim.api.nvim_buf_get_lines(buf(), 0, -1, false)) do
        if l:find('(synthesis)', 1, true) then
          return true
        end
      end
      return false
    end, 50)
    vim.wait(500)
    out.lines = vim.api.nvim_buf_get_lines(buf(), 0, -1, false)
    vim.cmd('Maestro chat close ' .. id)
    vim.wait(5000, function()
      return noted('closed')
    end, 50)
    out.closed = noted('chat ' .. id .. ' closed')
    return
  end

  if case == 'messages' then
    -- An agent's request to the person is told; the inbox lists it; read, replied to; and a
    -- message sent to the agent from here.
    maestro.setup({})
    vim.cmd('edit ' .. dir .. '/src/main.rs')
    vim.wait(20000, function()
      return maestro.client() ~= nil and maestro.server_version ~= nil
    end, 50)
    vim.fn.writefile({ 'ready' }, os.getenv('MAESTRO_NVIM_READY'))
    out.told = vim.wait(30000, function()
      return noted('asker asks: Which branch')
    end, 50)
    out.unread = maestro.unread
    vim.cmd('Maestro inbox')
    vim.wait(5000, function()
      return vim.fn.bufnr('maestro://inbox') ~= -1
    end, 50)
    local lines = vim.api.nvim_buf_get_lines(vim.fn.bufnr('maestro://inbox'), 0, -1, false)
    out.inbox = lines
    local id = (lines[2] or ''):match('(msg_%x+)') or 'none'
    out.id = id
    vim.cmd('Maestro read ' .. id)
    vim.wait(5000, function()
      return vim.fn.bufnr('maestro://message/' .. id) ~= -1
    end, 50)
    out.message = vim.api.nvim_buf_get_lines(vim.fn.bufnr('maestro://message/' .. id), 0, -1, false)
    vim.cmd('Maestro reply ' .. id .. ' main, please')
    out.replied = vim.wait(5000, function()
      return noted('reply sent to asker')
    end, 50)
    vim.cmd('Maestro msg asker are you done?')
    out.sent = vim.wait(5000, function()
      return noted('message sent to asker')
    end, 50)
    out.unread_after = maestro.unread
    return
  end

  if case == 'review' then
    -- The agent's diff in a split with its hunks in the quickfix list; a comment on the agent's
    -- file; the review sent from the quickfix list.
    maestro.setup({})
    vim.cmd('edit ' .. dir .. '/src/main.rs')
    vim.wait(20000, function()
      return maestro.client() ~= nil and maestro.server_version ~= nil
    end, 50)
    vim.cmd('Maestro diff reviewed')
    vim.wait(10000, function()
      return #vim.fn.getqflist() > 0
    end, 50)
    local diff_buf = vim.fn.bufnr('maestro://diff/reviewed')
    out.diff_filetype = diff_buf ~= -1 and vim.bo[diff_buf].filetype or nil
    out.hunks = #vim.fn.getqflist()
    vim.cmd('cfirst')
    out.jumped_to = vim.fn.expand('%:t')
    vim.cmd('Maestro comment say who wrote this')
    vim.cmd('edit ' .. dir .. '/src/main.rs')
    vim.cmd('Maestro review reviewed')
    out.sent = vim.wait(10000, function()
      return noted('review of 1 comment sent to reviewed')
    end, 50)
    return
  end

  -- The main scenario: the server starts from PATH for a Rust buffer.
  maestro.setup({ agent = 'aider' })
  vim.cmd('edit ' .. dir .. '/src/main.rs')
  out.started = vim.wait(20000, function()
    return maestro.client() ~= nil and maestro.server_version ~= nil
  end, 50)
  out.server_version = maestro.server_version
  local first_client = maestro.client() and maestro.client().id

  -- Go to definition from the call `helper()` (line 6, 1-based) until the index answers.
  local jumped = false
  for _ = 1, 20 do
    vim.api.nvim_win_set_cursor(0, { 6, 4 })
    vim.lsp.buf.definition()
    jumped = vim.wait(1000, function()
      return vim.api.nvim_win_get_cursor(0)[1] ~= 6
    end, 20)
    if jumped then
      break
    end
  end
  out.definition = vim.api.nvim_win_get_cursor(0)
  out.definition_file = vim.fn.expand('%:t')

  -- A Markdown buffer gets the server (for playbooks); what the graph does not index answers
  -- empty, never an error.
  vim.cmd('edit ' .. dir .. '/README.md')
  vim.wait(10000, function()
    return next(vim.lsp.buf_get_clients(0)) ~= nil
  end, 50)
  local answers = vim.lsp.buf_request_sync(0, 'textDocument/documentSymbol',
    { textDocument = vim.lsp.util.make_text_document_params() }, 5000) or {}
  out.markdown_answers = 0
  for _, a in pairs(answers) do
    out.markdown_answers = out.markdown_answers + 1
    out.markdown_error = a.err and (a.err.message or tostring(a.err)) or out.markdown_error
    out.markdown_symbols = a.result and #a.result or out.markdown_symbols
  end
  vim.cmd('edit ' .. dir .. '/src/main.rs')

  -- :Maestro agents lists the agent the test spawned from the CLI.
  vim.cmd('Maestro agents')
  vim.wait(10000, function()
    local buf = vim.fn.bufnr('maestro://agents')
    return buf ~= -1 and #table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') > 0
  end, 50)
  local agents_buf = vim.fn.bufnr('maestro://agents')
  out.agents = agents_buf ~= -1 and vim.api.nvim_buf_get_lines(agents_buf, 0, -1, false) or {}
  -- An agent of another node of the mesh says which.
  out.remote_agent_line = maestro.agent_lines({
    { name = 'far', agent = 'codex', state = 'idle', turns = 2, branch = 'maestro/far', node = 'build' },
  })[1]
  vim.cmd('wincmd p')

  -- Portable agents: a snapshot of the listed agent, its snapshots in a buffer, a fork.
  vim.cmd('Maestro snapshot fixer before the refactor')
  out.snapshot = vim.wait(15000, function()
    return noted('snapshot 1 of fixer kept')
  end, 50)
  vim.cmd('Maestro snapshots fixer')
  vim.wait(10000, function()
    local buf = vim.fn.bufnr('maestro://snapshots/fixer')
    return buf ~= -1 and #table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') > 0
  end, 50)
  local snaps_buf = vim.fn.bufnr('maestro://snapshots/fixer')
  out.snapshots = snaps_buf ~= -1 and vim.api.nvim_buf_get_lines(snaps_buf, 0, -1, false) or {}
  vim.cmd('wincmd p')
  vim.cmd('Maestro fork fixer fixer-b')
  out.forked = vim.wait(15000, function()
    return noted('fixer forked as fixer-b')
  end, 50)

  -- An agent spawned from here asks a question: its status notifications reach the handler, the
  -- person is told, and the statusline counts it.
  vim.cmd('Maestro spawn asker ask Proceed? [y/n]')
  out.attention = vim.wait(20000, function()
    return noted('agent asker needs input')
  end, 50)
  local root = maestro.git_root(dir .. '/src/main.rs')
  local asker = maestro.agents[root] and maestro.agents[root].asker
  out.asker_state = asker and asker.state
  out.statusline = maestro.statusline()

  -- The server crashes: the person is told once, and the next buffer starts it again.
  local lsp_pid
  for _, pid in ipairs(vim.fn.readdir('/proc')) do
    -- A process may end while it is read: pcall.
    pcall(function()
      assert(pid:match('^%d+$'))
      local stat = vim.fn.readfile('/proc/' .. pid .. '/stat')[1] or ''
      local ppid = tonumber(stat:match('^%d+ %b() %a (%d+)'))
      local cmdline = table.concat(vim.fn.readfile('/proc/' .. pid .. '/cmdline', 'b'), '\n')
      if ppid == vim.fn.getpid() and cmdline:find('lsp', 1, true) then
        lsp_pid = tonumber(pid)
      end
    end)
  end
  out.lsp_pid = lsp_pid
  if lsp_pid then
    vim.loop.kill(lsp_pid, 9)
    out.crash_told = vim.wait(10000, function()
      return noted('exited')
    end, 50)
    vim.cmd('edit ' .. dir .. '/src/lib.rs')
    out.restarted = vim.wait(20000, function()
      local c = maestro.client()
      return c ~= nil and c.id ~= first_client and maestro.server_version ~= nil
    end, 50)
    out.crash_notes = count_noted('exited')
  end
end)

if not ok then
  out.error = tostring(err)
end
finish()
