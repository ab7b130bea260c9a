// Hand-written canvas charts: time series as lines, or stacked areas for shares. A chart with
// no value to draw says "no data". Each draw records on the canvas how many values it drew
// (data-points), so a test can tell a drawn chart from an empty one.
var Charts = (function () {
  "use strict";
  var C = {};
  C.palette = ["#88c0d0", "#a3be8c", "#ebcb8b", "#d08770", "#b48ead", "#bf616a", "#5e81ac",
               "#8fbcbb", "#e5e9f0", "#c0a36e"];
  var margin = { left: 58, right: 10, top: 44, bottom: 20 };

  // 1234 -> "1.23k"; seconds below 1 as "4.2ms" / "12us"; `unit` appended.
  C.format = function (v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return "-";
    var a = Math.abs(v), s;
    if (unit === "s" && a > 0 && a < 1e-3) return (v * 1e6).toFixed(0) + "us";
    if (unit === "s" && a > 0 && a < 1) return (v * 1e3).toFixed(1) + "ms";
    if (a >= 1e9) s = (v / 1e9).toFixed(2) + "G";
    else if (a >= 1e6) s = (v / 1e6).toFixed(2) + "M";
    else if (a >= 1e4) s = (v / 1e3).toFixed(1) + "k";
    else if (a >= 100 || Number.isInteger(v)) s = v.toFixed(0);
    else if (a >= 1) s = v.toFixed(2);
    else s = v.toPrecision(2);
    return s + (unit || "");
  };

  function countValues(series) {
    var n = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null && isFinite(v)) n++; });
    });
    return n;
  }

  // The stacked tops of each series (series i on top of 0..i-1); nulls count as 0 when any
  // series has a value there.
  function stack(series) {
    var len = series.length ? series[0].values.length : 0, base = [], out = [];
    for (var x = 0; x < len; x++) base.push(null);
    series.forEach(function (s) {
      var tops = s.values.map(function (v, x) {
        if (v === null || !isFinite(v)) return base[x];
        return (base[x] || 0) + v;
      });
      out.push(tops);
      base = tops;
    });
    return out;
  }

  function drawFrame(ctx, w, h, spec, yMax) {
    ctx.fillStyle = "#1a1f26";
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = "#d8dee9";
    ctx.font = "bold 13px monospace";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(spec.title, margin.left, 16);
    ctx.font = "11px monospace";
    ctx.strokeStyle = "#2a313b";
    ctx.fillStyle = "#7b8594";
    ctx.textAlign = "right";
    for (var i = 0; i <= 4; i++) {
      var y = margin.top + (h - margin.top - margin.bottom) * (1 - i / 4);
      ctx.beginPath();
      ctx.moveTo(margin.left, y);
      ctx.lineTo(w - margin.right, y);
      ctx.stroke();
      ctx.fillText(C.format(yMax * i / 4, spec.unit), margin.left - 4, y + 4);
    }
    ctx.textAlign = "left";
    ctx.fillText("-" + spec.span + " s", margin.left, h - 5);
    ctx.textAlign = "right";
    ctx.fillText("now", w - margin.right, h - 5);
    ctx.textAlign = "left";
  }

  // One row under the title: each series' name and latest value, in its color.
  function drawLegend(ctx, w, series, unit) {
    var x = margin.left;
    ctx.font = "11px monospace";
    ctx.textAlign = "left";
    series.forEach(function (s) {
      var last = null;
      for (var j = s.values.length - 1; j >= 0 && last === null; j--) last = s.values[j];
      var text = s.name + " " + C.format(last, unit);
      if (x + ctx.measureText(text).width > w - margin.right) return;
      ctx.fillStyle = s.color;
      ctx.fillText(text, x, 32);
      x += ctx.measureText(text).width + 14;
    });
  }

  // Draws `spec` = {title, unit, span (seconds the x axis covers), slots (points the x axis
  // holds; values fill the right end), series: [{name, values}], stacked, yMax (optional fixed
  // top)} on `canvas`; returns the number of values drawn.
  C.draw = function (canvas, spec) {
    var ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    var series = spec.series.map(function (s, i) {
      return { name: s.name, values: s.values, color: s.color || C.palette[i % C.palette.length] };
    });
    var n = countValues(series);
    var tops = spec.stacked ? stack(series) : series.map(function (s) { return s.values; });
    var peak = 0;
    tops.forEach(function (vs) { vs.forEach(function (v) { if (v > peak && isFinite(v)) peak = v; }); });
    var yMax = spec.yMax || (peak > 0 ? peak * 1.15 : 1);
    drawFrame(ctx, w, h, spec, yMax);
    canvas.dataset.points = String(n);
    if (n === 0) {
      ctx.fillStyle = "#7b8594";
      ctx.font = "14px monospace";
      ctx.textAlign = "center";
      ctx.fillText("no data", w / 2, h / 2 + 5);
      ctx.textAlign = "left";
      return 0;
    }
    var len = tops[0].length, pw = w - margin.left - margin.right;
    var ph = h - margin.top - margin.bottom, slots = Math.max(spec.slots || len, len, 2);
    function px(x) { return margin.left + pw * (slots - len + x) / (slots - 1); }
    function py(v) { return margin.top + ph * (1 - Math.min(v, yMax) / yMax); }
    for (var i = tops.length - 1; i >= 0; i--) {
      var vs = tops[i], below = spec.stacked && i > 0 ? tops[i - 1] : null;
      ctx.strokeStyle = series[i].color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      var open = false;
      for (var x = 0; x < len; x++) {
        if (vs[x] === null || !isFinite(vs[x])) { open = false; continue; }
        if (open) ctx.lineTo(px(x), py(vs[x])); else ctx.moveTo(px(x), py(vs[x]));
        open = true;
      }
      ctx.stroke();
      drawIsolated(ctx, vs, px, py, series[i].color);
      if (spec.stacked) fillBetween(ctx, vs, below, series[i].color, px, py);
    }
    drawLegend(ctx, w, series, spec.unit);
    return n;
  };

  // A dot for each value without a neighbour, which a line would not show.
  function drawIsolated(ctx, vs, px, py, color) {
    ctx.fillStyle = color;
    function has(x) { return x >= 0 && x < vs.length && vs[x] !== null && isFinite(vs[x]); }
    for (var x = 0; x < vs.length; x++) {
      if (!has(x) || has(x - 1) || has(x + 1)) continue;
      ctx.beginPath();
      ctx.arc(px(x), py(vs[x]), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  function fillBetween(ctx, top, below, color, px, py) {
    ctx.globalAlpha = 0.35;
    ctx.fillStyle = color;
    for (var x = 0; x + 1 < top.length; x++) {
      if (top[x] === null || top[x + 1] === null) continue;
      var b0 = below && below[x] !== null ? below[x] : 0;
      var b1 = below && below[x + 1] !== null ? below[x + 1] : 0;
      ctx.beginPath();
      ctx.moveTo(px(x), py(top[x]));
      ctx.lineTo(px(x + 1), py(top[x + 1]));
      ctx.lineTo(px(x + 1), py(b1));
      ctx.lineTo(px(x), py(b0));
      ctx.closePath();
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  return C;
})();
