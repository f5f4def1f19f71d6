#include "util/log.h"

#include <atomic>
#include <mutex>

namespace moe::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::mutex g_mutex;

void emit(Level at, std::string_view prefix, std::string_view msg) {
  if (g_level.load() < at) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << prefix << msg << '\n';
}
}  // namespace

Level level() { return g_level.load(); }
void set_level(Level level) { g_level.store(level); }
void warn(std::string_view msg) { emit(Level::kWarn, "WARNING: ", msg); }
void info(std::string_view msg) { emit(Level::kInfo, "", msg); }
void debug(std::string_view msg) { emit(Level::kDebug, "debug: ", msg); }

}  // namespace moe::log
