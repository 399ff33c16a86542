-- bench/run.py's wrk script: requests come from a file, one per line:
--   METHOD <tab> PATH <tab> COOKIE <tab> CSRF TOKEN <tab> BODY
-- BENCH_MODE=random: every request is a random line (pages read by random learners).
-- BENCH_MODE=once: each line is sent once, in order; line n goes to thread n mod (threads x parts)
--   (BENCH_PART=k/N splits the file between N wrk processes), so a learner's next step is
--   requested long after the previous one was answered. When a thread's lines run out it sends
--   GET /healthz instead (counted as "fillers", 200) so no request is ever repeated.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  mode = os.getenv("BENCH_MODE") or "random"
  local n_threads = tonumber(os.getenv("BENCH_THREADS"))
  local part, parts = string.match(os.getenv("BENCH_PART") or "0/1", "^(%d+)/(%d+)$")
  part, parts = tonumber(part), tonumber(parts)
  local slot, stride = part * n_threads + id - 1, n_threads * parts
  requests = {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if mode == "random" or n % stride == slot then
      local method, path, cookie, csrf, body = string.match(line, "^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      if cookie ~= "" then headers["Cookie"] = cookie end
      if csrf ~= "" then headers["X-CSRFToken"] = csrf end
      if method == "POST" then headers["Content-Type"] = "application/x-www-form-urlencoded" end
      if body == "" then body = nil end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
    n = n + 1
  end
  filler = wrk.format("GET", "/healthz")
  math.randomseed(os.time() + id * 7919)
  statuses = {}
  next_i = 0
  fillers = 0
  sent = 0
end

function request()
  if mode == "random" then
    return requests[math.random(#requests)]
  end
  next_i = next_i + 1
  if next_i > #requests then
    fillers = fillers + 1
    return filler
  end
  sent = sent + 1
  return requests[next_i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests_)
  local total, fillers_total, sent_total = {}, 0, 0
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      total[tostring(code)] = (total[tostring(code)] or 0) + n
    end
    fillers_total = fillers_total + thread:get("fillers")
    sent_total = sent_total + thread:get("sent")
  end
  local parts = {}
  for code, n in pairs(total) do table.insert(parts, string.format('"%s": %d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"statuses": {%s}, "fillers": %d, "sent": %d, "requests": %d, "duration_s": %.3f, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "p999_ms": %.2f, "max_ms": %.2f, "socket_errors": %d}\n',
    table.concat(parts, ", "), fillers_total, sent_total, summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout))
end
