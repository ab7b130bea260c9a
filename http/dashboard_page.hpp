#pragma once
// GET /dashboard: one self-contained HTML page (CSS and scripts inline, no external request: no
// CDN, no fonts) that polls GET /v1/telemetry every second and draws live charts on <canvas>:
// tokens/s, requests, TTFT / inter-token / end-to-end latency percentiles (from histogram bucket
// deltas), KV usage and prefix hit rate, mailbox depth and busy % per actor kind, and the step
// loop's composition. A metric the engine does not export yet shows "no data".
//
// The page is written in http/dashboard/ (index.html, dashboard.css, telemetry.js, charts.js,
// app.js) and compiled into the binary by http/dashboard/embed.cmake.
#include <string_view>

namespace troupe::http {

inline constexpr std::string_view dashboard_content_type = "text/html; charset=utf-8";

// The page; static storage, never changes.
std::string_view dashboard_html();

}  // namespace troupe::http
