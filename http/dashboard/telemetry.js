// Pure functions over /v1/telemetry snapshots (no DOM): look metrics up by name, sum samples,
// rates from counter deltas, and percentiles from histogram bucket deltas as Prometheus'
// histogram_quantile computes them. A metric that is absent yields null, never an exception,
// so the page keeps working while the engine adds metrics.
var T = (function () {
  "use strict";
  var T = {};

  // The family `name` of a snapshot, or null.
  T.family = function (snap, name) {
    if (!snap || !Array.isArray(snap.metrics)) return null;
    for (var i = 0; i < snap.metrics.length; i++) {
      if (snap.metrics[i].name === name) return snap.metrics[i];
    }
    return null;
  };

  // The first of `names` that the snapshot has, or null.
  T.firstPresent = function (snap, names) {
    for (var i = 0; i < names.length; i++) {
      if (T.family(snap, names[i])) return names[i];
    }
    return null;
  };

  function matches(labels, match) {
    for (var k in match) {
      if (!labels || labels[k] !== match[k]) return false;
    }
    return true;
  }

  // The samples of `name` whose labels include every pair of `match` (an object).
  T.samples = function (snap, name, match) {
    var f = T.family(snap, name);
    if (!f || !Array.isArray(f.samples)) return [];
    return f.samples.filter(function (s) { return matches(s.labels, match || {}); });
  };

  function numeric(v) {
    if (typeof v === "number") return v;
    if (v === "+Inf") return Infinity;
    if (v === "-Inf") return -Infinity;
    return NaN;
  }

  // The sum of a counter's or gauge's matching samples; null when there are none.
  T.total = function (snap, name, match) {
    var s = T.samples(snap, name, match);
    if (s.length === 0) return null;
    return s.reduce(function (acc, x) { return acc + numeric(x.value); }, 0);
  };

  // The mean of a gauge's matching samples (a fraction each data-parallel engine reports for
  // itself); null when there are none.
  T.mean = function (snap, name, match) {
    var s = T.samples(snap, name, match);
    if (s.length === 0) return null;
    return T.total(snap, name, match) / s.length;
  };

  // {label value: summed sample value} of a counter or gauge, or of a histogram's `field`
  // ("sum" or "count").
  T.byLabel = function (snap, name, label, field) {
    var out = {};
    T.samples(snap, name).forEach(function (s) {
      var key = s.labels && s.labels[label] !== undefined ? s.labels[label] : "";
      var v = numeric(field ? s[field] : s.value);
      out[key] = (out[key] || 0) + v;
    });
    return out;
  };

  // Seconds between two snapshots; null unless positive.
  T.elapsed = function (cur, prev) {
    if (!cur || !prev) return null;
    var dt = cur.timestamp - prev.timestamp;
    return dt > 0 ? dt : null;
  };

  // Per-second rate of a counter between two snapshots; null when absent or reset.
  T.rate = function (cur, prev, name, match) {
    var dt = T.elapsed(cur, prev);
    var a = T.total(cur, name, match), b = T.total(prev, name, match);
    if (dt === null || a === null || b === null || a < b) return null;
    return (a - b) / dt;
  };

  // Per-label deltas of byLabel between two snapshots (labels missing before count from 0).
  T.deltaByLabel = function (cur, prev, name, label, field) {
    var a = T.byLabel(cur, name, label, field), b = T.byLabel(prev, name, label, field);
    var out = {};
    for (var k in a) out[k] = a[k] - (b[k] || 0);
    return out;
  };

  // The matching samples of histogram `name` merged: {bounds, cum, sum, count}, where cum[i]
  // counts observations <= bounds[i] (the last bound is Infinity); null when absent.
  T.histogram = function (snap, name, match) {
    var s = T.samples(snap, name, match).filter(function (x) { return Array.isArray(x.buckets); });
    if (s.length === 0) return null;
    var h = { bounds: s[0].buckets.map(function (b) { return numeric(b[0]); }),
              cum: s[0].buckets.map(function () { return 0; }), sum: 0, count: 0 };
    s.forEach(function (x) {
      if (x.buckets.length !== h.bounds.length) return;  // other boundaries: not mergeable
      x.buckets.forEach(function (b, i) { h.cum[i] += b[1]; });
      h.sum += numeric(x.sum);
      h.count += x.count;
    });
    return h;
  };

  // cur - prev, bucket by bucket (the observations made between the two); null when either is
  // missing, the boundaries differ, or the histogram was reset.
  T.histogramDelta = function (cur, prev) {
    if (!cur) return null;
    if (!prev) return cur;
    if (cur.bounds.length !== prev.bounds.length || cur.count < prev.count) return null;
    return { bounds: cur.bounds, cum: cur.cum.map(function (c, i) { return c - prev.cum[i]; }),
             sum: cur.sum - prev.sum, count: cur.count - prev.count };
  };

  // The q-quantile (0..1) of a histogram, interpolated linearly inside its bucket as
  // histogram_quantile does (a bucket starting at 0 when its upper bound is positive; the +Inf
  // bucket answers the highest finite bound); null without observations.
  T.quantile = function (h, q) {
    if (!h || h.count <= 0 || h.cum.length === 0) return null;
    var total = h.cum[h.cum.length - 1];
    if (total <= 0) return null;
    var rank = q * total;
    for (var i = 0; i < h.cum.length; i++) {
      if (h.cum[i] < rank) continue;
      var upper = h.bounds[i];
      if (upper === Infinity) return i > 0 ? h.bounds[i - 1] : null;
      var lower = i > 0 ? h.bounds[i - 1] : (upper > 0 ? 0 : upper);
      var below = i > 0 ? h.cum[i - 1] : 0;
      var inBucket = h.cum[i] - below;
      if (inBucket <= 0) return upper;
      return lower + (upper - lower) * (rank - below) / inBucket;
    }
    return h.bounds[h.bounds.length - 1];
  };

  // p50, p90 and p99 of histogram `name` over the observations between two snapshots.
  T.percentiles = function (cur, prev, name) {
    var d = T.histogramDelta(T.histogram(cur, name), T.histogram(prev, name));
    return { p50: T.quantile(d, 0.5), p90: T.quantile(d, 0.9), p99: T.quantile(d, 0.99) };
  };

  return T;
})();
if (typeof module !== "undefined") module.exports = T;
