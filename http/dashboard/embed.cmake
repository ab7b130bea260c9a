# Builds the C++ source of http/dashboard_page.hpp: index.html with dashboard.css and the
# scripts inlined where it says "/* include NAME */" or "// include NAME", as one raw string.
# Run as: cmake -DSOURCE_DIR=<http/dashboard> -DOUTPUT=<file.cpp> -P embed.cmake
file(READ "${SOURCE_DIR}/index.html" page)
foreach(name dashboard.css telemetry.js charts.js app.js)
  file(READ "${SOURCE_DIR}/${name}" content)
  if(name MATCHES "\\.css$")
    set(marker "/* include ${name} */")
  else()
    set(marker "// include ${name}")
  endif()
  string(FIND "${page}" "${marker}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "embed.cmake: index.html has no '${marker}'")
  endif()
  string(REPLACE "${marker}" "${content}" page "${page}")
endforeach()
string(FIND "${page}" ")troupe_dashboard\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "embed.cmake: the page contains the raw string's delimiter")
endif()
set(source "// Generated from http/dashboard/ by http/dashboard/embed.cmake; do not edit.
#include \"http/dashboard_page.hpp\"

namespace troupe::http {

std::string_view dashboard_html() {
  static constexpr std::string_view page = R\"troupe_dashboard(${page})troupe_dashboard\";
  return page;
}

}  // namespace troupe::http
")
file(WRITE "${OUTPUT}.tmp" "${source}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
file(REMOVE "${OUTPUT}.tmp")
