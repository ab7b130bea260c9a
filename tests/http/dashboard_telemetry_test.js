// Unit tests of the dashboard's pure functions (http/dashboard/telemetry.js) under node:
//   node tests/http/dashboard_telemetry_test.js http/dashboard/telemetry.js
// Prints "ok N" and exits 0, or prints the failures and exits 1.
"use strict";
const T = require(require("path").resolve(process.argv[2]));
let failures = 0, checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) { failures++; console.log("FAIL: " + what); }
}
function near(a, b, what) { check(a !== null && Math.abs(a - b) < 1e-9, what + ": " + a + " vs " + b); }

function snapshot(ts, metrics) { return { timestamp: ts, engine: {}, metrics: metrics }; }
function counter(name, samples) { return { name: name, type: "counter", help: "", samples: samples }; }
function hist(name, labels, bounds, cum, sum) {
  const buckets = bounds.map((b, i) => [b, cum[i]]).concat([["+Inf", cum[cum.length - 1]]]);
  return { name: name, type: "histogram", help: "",
           samples: [{ labels: labels, buckets: buckets, sum: sum, count: cum[cum.length - 1] }] };
}

// Lookup and sums across label sets; absent metrics are null, not errors.
const a = snapshot(100, [counter("vllm:prompt_tokens_total",
  [{ labels: { model_name: "m", engine: "0" }, value: 10 },
   { labels: { model_name: "m", engine: "1" }, value: 5 }])]);
const b = snapshot(102, [counter("vllm:prompt_tokens_total",
  [{ labels: { model_name: "m", engine: "0" }, value: 30 },
   { labels: { model_name: "m", engine: "1" }, value: 25 }])]);
check(T.total(a, "vllm:prompt_tokens_total") === 15, "total sums samples");
check(T.total(a, "vllm:prompt_tokens_total", { engine: "1" }) === 5, "total filters labels");
check(T.total(a, "vllm:missing") === null, "absent total is null");
check(T.mean(a, "vllm:prompt_tokens_total") === 7.5, "mean averages samples (each engine's)");
check(T.mean(a, "vllm:missing") === null, "absent mean is null");
near(T.rate(b, a, "vllm:prompt_tokens_total"), 20, "rate over 2 s");
check(T.rate(a, b, "vllm:prompt_tokens_total") === null, "a counter reset has no rate");
check(T.rate(b, a, "vllm:missing") === null, "absent rate is null");
check(T.rate(b, null, "vllm:prompt_tokens_total") === null, "no previous snapshot: no rate");
check(T.elapsed(a, a) === null, "zero elapsed is null");
check(T.family(null, "x") === null && T.samples({}, "x").length === 0, "no snapshot");

// Histogram quantiles as histogram_quantile: 10 observations in (0, 0.1], 10 in (0.1, 0.5].
const h = { bounds: [0.1, 0.5, 1, Infinity], cum: [10, 20, 20, 20], sum: 4, count: 20 };
near(T.quantile(h, 0.5), 0.1, "p50 at the first bucket's top");
near(T.quantile(h, 0.25), 0.05, "p25 interpolated from 0");
near(T.quantile(h, 0.75), 0.3, "p75 interpolated in the second bucket");
check(T.quantile({ bounds: [1, Infinity], cum: [0, 0], sum: 0, count: 0 }, 0.5) === null,
      "no observations: null");
near(T.quantile({ bounds: [1, 2, Infinity], cum: [0, 0, 5], sum: 50, count: 5 }, 0.99), 2,
     "the +Inf bucket answers the highest finite bound");
check(T.quantile(null, 0.5) === null, "no histogram: null");

// Percentiles of the observations between two snapshots only (bucket deltas), merged over
// label sets.
const bounds = [0.1, 0.5, 1];
const h1 = snapshot(10, [hist("vllm:e2e_request_latency_seconds", { engine: "0" }, bounds,
                              [100, 100, 100, 100], 5)]);
const h2 = snapshot(11, [hist("vllm:e2e_request_latency_seconds", { engine: "0" }, bounds,
                              [100, 110, 110, 110], 8)]);
const p = T.percentiles(h2, h1, "vllm:e2e_request_latency_seconds");
near(p.p50, 0.3, "p50 of the new observations (all in (0.1, 0.5])");
near(p.p99, 0.496, "p99 of the new observations");
const q = T.percentiles(h2, h2, "vllm:e2e_request_latency_seconds");
check(q.p50 === null && q.p99 === null, "nothing observed in between: null");
const merged = T.histogram(snapshot(0, [{ name: "x", type: "histogram", samples: [
  { labels: { kind: "a" }, buckets: [[1, 1], ["+Inf", 2]], sum: 3, count: 2 },
  { labels: { kind: "b" }, buckets: [[1, 3], ["+Inf", 3]], sum: 1, count: 3 }] }]), "x");
check(merged.cum[0] === 4 && merged.cum[1] === 5 && merged.count === 5 && merged.sum === 4,
      "histograms merge bucket by bucket");
check(merged.bounds[1] === Infinity, "+Inf parses");

// Per-label figures (actor kinds).
const k1 = snapshot(1, [counter("troupe_actor_busy_seconds_total",
  [{ labels: { kind: "batcher" }, value: 1 }, { labels: { kind: "executor", rank: "0" }, value: 2 }])]);
const k2 = snapshot(2, [counter("troupe_actor_busy_seconds_total",
  [{ labels: { kind: "batcher" }, value: 1.5 }, { labels: { kind: "executor", rank: "0" }, value: 2.9 },
   { labels: { kind: "request" }, value: 0.1 }])]);
const d = T.deltaByLabel(k2, k1, "troupe_actor_busy_seconds_total", "kind");
near(d.batcher, 0.5, "batcher delta");
near(d.executor, 0.9, "executor delta");
near(d.request, 0.1, "a kind new since the previous snapshot counts from 0");

if (failures) { console.log(failures + " of " + checks + " checks failed"); process.exit(1); }
console.log("ok " + checks);
