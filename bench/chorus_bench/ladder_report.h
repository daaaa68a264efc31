// chorus-bench ladder-report STEP.json... --report FILE.html: one page for a load ladder (the
// same scenario at growing load, one --json per step): latency, cost per delivery, loss and the
// CPU of both sides against the load, so that the knee and a saturated load generator show.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::bench {

// What the ladder page needs from one step's --json.
struct ladder_step {
    std::string file, scenario, command;
    double load = 0;  // rooms (rooms, flood, churn) or connections (echo, idle)
    uint64_t connections = 0;
    double p50_us = 0, p99_us = 0, max_us = 0;
    double loss = 0, deliveries_per_sec = 0, window_seconds = 0;
    double bench_cpu_seconds = 0;
    bool has_server = false;
    double server_cpu_seconds = 0, deliveries_per_cpu_second = 0;
    bool passed = false;
    std::string verdict;
};

// Parses one step; false with a message for people in *error.
bool parse_ladder_step(std::string_view json, ladder_step* out, std::string* error);

// The page; steps in any order (drawn by load). `subtitle` (text, may be empty) says what was
// measured beyond the bench's command, e.g. the server's flags.
std::string ladder_html(std::vector<ladder_step> steps, const std::string& generated_at,
                        const std::string& subtitle = "");

// The subcommand: args[0] is "ladder-report". Returns the exit code (0, or 2 on bad input).
int ladder_report_main(const std::vector<std::string>& args);

}  // namespace chorus::bench
