// The page: polls /v1/telemetry every second, keeps the last snapshots, derives one point per
// update (rates and percentiles over the last `windowSize` updates) and redraws every chart.
// body[data-updates] counts the updates drawn, body[data-errors] the failed polls.
(function () {
  "use strict";
  var windowSize = 5, maxPoints = 120, intervalMs = 1000;
  var snapshots = [], points = [];

  function el(id) { return document.getElementById(id); }
  function orNull(v) { return v === undefined || v === null || !isFinite(v) ? null : v; }
  function firstNonNull() {
    for (var i = 0; i < arguments.length; i++) if (orNull(arguments[i]) !== null) return arguments[i];
    return null;
  }
  function ratio(a, b) { return orNull(a) !== null && orNull(b) !== null && b > 0 ? a / b : null; }
  function percent(x) { return x === null ? null : x * 100; }

  // {phase: cumulative seconds} of the step loop's phases (schedule, allocate, execute,
  // postprocess), from the histogram troupe_step_seconds{phase}; null when absent.
  function phaseSeconds(snap) {
    var f = T.family(snap, "troupe_step_seconds");
    if (!f || f.type !== "histogram") return null;
    return T.byLabel(snap, f.name, "phase", "sum");
  }

  // Cumulative {prefill, decode} tokens computed by steps (the histogram
  // troupe_step_tokens{kind}'s sums), and the number of steps (troupe_steps_total, or the
  // engine's count before that metric exists).
  function stepTokens(snap) {
    var f = T.family(snap, "troupe_step_tokens");
    var t = f && f.type === "histogram" ? T.byLabel(snap, f.name, "kind", "sum") : null;
    var steps = firstNonNull(T.total(snap, "troupe_steps_total"),
                             snap.engine && snap.engine.num_steps);
    return { tokens: t, steps: steps };
  }

  function derive(cur, prev) {
    var dt = T.elapsed(cur, prev), e = cur.engine || {};
    var p = {};
    p.prompt = T.rate(cur, prev, "vllm:prompt_tokens_total");
    p.generation = T.rate(cur, prev, "vllm:generation_tokens_total");
    p.running = firstNonNull(T.total(cur, "vllm:num_requests_running"), e.num_running);
    p.waiting = firstNonNull(T.total(cur, "vllm:num_requests_waiting"), e.num_waiting);
    var kv = T.mean(cur, "vllm:kv_cache_usage_perc");  // each engine's, equal caches
    p.kv = kv !== null ? kv * 100 : percent(ratio(e.num_kv_blocks_used, e.num_kv_blocks_total));
    var hits = T.rate(cur, prev, "vllm:prefix_cache_hits_total");
    var queries = T.rate(cur, prev, "vllm:prefix_cache_queries_total");
    if (hits === null && prev && prev.engine && dt !== null) {  // before the vllm: counters exist
      hits = (e.num_prefix_cache_hits - prev.engine.num_prefix_cache_hits) / dt;
      queries = (e.num_prefix_cache_queries - prev.engine.num_prefix_cache_queries) / dt;
    }
    p.hitRate = percent(ratio(hits, queries));
    p.ttft = T.percentiles(cur, prev, "vllm:time_to_first_token_seconds");
    p.itl = T.percentiles(cur, prev, T.firstPresent(cur, ["vllm:inter_token_latency_seconds",
                                                          "vllm:time_per_output_token_seconds"]));
    p.e2e = T.percentiles(cur, prev, "vllm:e2e_request_latency_seconds");
    p.mailbox = T.byLabel(cur, "troupe_actor_mailbox_depth", "kind");
    p.busy = {};
    if (dt !== null) {
      var busy = T.deltaByLabel(cur, prev, "troupe_actor_busy_seconds_total", "kind");
      for (var k in busy) p.busy[k] = busy[k] / dt * 100;
    }
    p.phases = {};
    var a = phaseSeconds(cur), b = prev ? phaseSeconds(prev) : null;
    if (a && b) {
      var total = 0, d = {};
      for (var ph in a) { d[ph] = Math.max(0, a[ph] - (b[ph] || 0)); total += d[ph]; }
      if (total > 0) for (ph in d) p.phases[ph] = d[ph] / total * 100;
    }
    p.stepTokens = {};
    var sa = stepTokens(cur), sb = prev ? stepTokens(prev) : null;
    var steps = sb && sa.steps !== null && sb.steps !== null ? sa.steps - sb.steps : 0;
    if (steps > 0 && sa.tokens && sb.tokens) {
      for (var kind in sa.tokens) {
        if (sa.tokens[kind] !== null) {
          p.stepTokens[kind] = (sa.tokens[kind] - (sb.tokens[kind] || 0)) / steps;
        }
      }
    }
    return p;
  }

  // One series per key found in any point's `field` object (e.g. per actor kind): the keys of
  // `order` first in that order, then the others sorted.
  function keyedSeries(field, order) {
    var keys = [];
    points.forEach(function (p) {
      for (var k in p[field]) if (keys.indexOf(k) < 0) keys.push(k);
    });
    order = order || [];
    keys.sort(function (a, b) {
      var i = order.indexOf(a), j = order.indexOf(b);
      if (i >= 0 || j >= 0) return (i < 0 ? 1e9 : i) - (j < 0 ? 1e9 : j);
      return a < b ? -1 : a > b ? 1 : 0;
    });
    return keys.map(function (k) {
      return { name: k || "-", values: points.map(function (p) { return orNull(p[field][k]); }) };
    });
  }
  function series(name, get) {
    return { name: name, values: points.map(function (p) { return orNull(get(p)); }) };
  }
  function latency(field) {
    return ["p50", "p90", "p99"].map(function (q) {
      return series(q, function (p) { return p[field][q]; });
    });
  }

  function drawAll() {
    var span = maxPoints * intervalMs / 1000;
    var charts = [
      ["chart-tokens", "tokens/s", "", [series("prompt", function (p) { return p.prompt; }),
                                        series("generation", function (p) { return p.generation; })]],
      ["chart-requests", "requests", "", [series("running", function (p) { return p.running; }),
                                          series("waiting", function (p) { return p.waiting; })]],
      ["chart-ttft", "time to first token", "s", latency("ttft")],
      ["chart-itl", "inter-token latency", "s", latency("itl")],
      ["chart-e2e", "end-to-end latency", "s", latency("e2e")],
      ["chart-kv", "KV cache usage / prefix hit rate", "%",
       [series("kv used", function (p) { return p.kv; }),
        series("hit rate", function (p) { return p.hitRate; })]],
      ["chart-mailbox", "mailbox depth per actor kind", "", keyedSeries("mailbox")],
      ["chart-busy", "busy % per actor kind", "%", keyedSeries("busy")],
      ["chart-step-time", "step time shares (schedule/allocate/execute/post)", "%",
       keyedSeries("phases", ["schedule", "allocate", "execute", "postprocess"]), true],
      ["chart-step-tokens", "tokens per step (prefill vs decode)", "",
       keyedSeries("stepTokens", ["prefill", "decode"]), true],
    ];
    charts.forEach(function (c) {
      var spec = { title: c[1], unit: c[2], series: c[3], stacked: !!c[4], span: span,
                   slots: maxPoints };
      if (c[0] === "chart-step-time") spec.yMax = 100;
      Charts.draw(el(c[0]), spec);
    });
  }

  function engineLine(p, snap) {
    var f = Charts.format;
    return "running " + f(p.running) + "  waiting " + f(p.waiting) + "  KV " + f(p.kv, "%") +
           "  prefix hit rate " + f(p.hitRate, "%") + "  prompt " + f(p.prompt, " tok/s") +
           "  generation " + f(p.generation, " tok/s") + "  steps " +
           f(snap.engine ? snap.engine.num_steps : null);
  }

  function update(snap) {
    snapshots.push(snap);
    if (snapshots.length > windowSize + 1) snapshots.shift();
    var prev = snapshots.length > 1 ? snapshots[0] : null;
    var p = derive(snap, prev);
    points.push(p);
    if (points.length > maxPoints) points.shift();
    if (snap.model) el("model").textContent = "model: " + snap.model.name;
    el("engine-line").textContent = engineLine(p, snap);
    drawAll();
    document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
  }

  // A server started with --api-key guards /v1/telemetry: the key is asked for once a refusal
  // (again after a wrong one) and kept for this tab only.
  var apiKey = sessionStorage.getItem("troupe-api-key") || "";
  var askedFor = null;  // the key that was refused when the user was last asked

  function askForKey() {
    if (askedFor === apiKey) return;  // asked already and not given another key
    askedFor = apiKey;
    var key = window.prompt("This server needs its API key (troupe serve --api-key):", "");
    if (key) {
      apiKey = key;
      sessionStorage.setItem("troupe-api-key", key);
    }
  }

  function poll() {
    var headers = apiKey ? { Authorization: "Bearer " + apiKey } : {};
    // Relative: under a proxy's path prefix (--root-path) the page asks under the prefix too.
    fetch("v1/telemetry", { cache: "no-store", headers: headers })
      .then(function (r) {
        if (r.status === 401) {
          askForKey();
          throw new Error("HTTP 401: the server needs an API key");
        }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (snap) {
        update(snap);
        el("status").textContent = "live " + new Date(snap.timestamp * 1000).toLocaleTimeString();
        el("status").className = "status";
      })
      .catch(function (err) {
        document.body.dataset.errors = String(Number(document.body.dataset.errors) + 1);
        el("status").textContent = "error: " + err.message;
        el("status").className = "status error";
      })
      .then(function () { setTimeout(poll, intervalMs); });
  }

  el("window").textContent = String(windowSize * intervalMs / 1000);
  drawAll();
  poll();
})();
