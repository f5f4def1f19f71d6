#pragma once
// Minimal leveled logging to stderr. Progress lines that redraw in place are
// the apps' business; this is for one-off messages.
#include <iostream>
#include <string_view>

namespace moe::log {

enum class Level { kQuiet = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

Level level();
void set_level(Level level);

void warn(std::string_view msg);
void info(std::string_view msg);
void debug(std::string_view msg);

}  // namespace moe::log
