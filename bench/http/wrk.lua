-- wrk script shared by every run of bench/http.sh.
--   BENCH_METHOD=POST  send the counter's HTML form POST (empty
--                      application/x-www-form-urlencoded body, like the
--                      browser's + button); default GET.
--   BENCH_OUT=FILE     write one machine-readable result line there.
local method = os.getenv("BENCH_METHOD") or "GET"
if method == "POST" then
	wrk.method = "POST"
	wrk.body = ""
	wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function done(summary, latency, requests)
	local out = os.getenv("BENCH_OUT")
	if out == nil then return end
	local e = summary.errors
	local f = assert(io.open(out, "w"))
	f:write(string.format(
		"requests=%d duration_us=%d rps=%.1f bytes=%d " ..
		"err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d " ..
		"lat_mean_us=%.1f lat_p50_us=%d lat_p90_us=%d lat_p99_us=%d lat_max_us=%d\n",
		summary.requests, summary.duration,
		summary.requests / (summary.duration / 1e6), summary.bytes,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency.mean, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.max))
	f:close()
end
