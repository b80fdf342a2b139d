// BootWatch: the one-shot timer behind the driver's boot watchdog. A guest
// that sends nothing over Anotify within the boot timeout never booted
// (a kernel that cannot start, an initramfs that does not run ainit).
#pragma once

#include <glib.h>

#include <functional>

namespace arrow {

// Calls FIRE once, on the GLib main loop, SECONDS after start() unless
// stop() or the destructor comes first. start() replaces a pending timer.
class BootWatch {
 public:
  BootWatch() = default;
  BootWatch(const BootWatch&) = delete;
  BootWatch& operator=(const BootWatch&) = delete;
  ~BootWatch() { stop(); }

  void start(unsigned seconds, std::function<void()> fire) {
    stop();
    fire_ = std::move(fire);
    id_ = g_timeout_add_seconds(seconds, &BootWatch::on_fire, this);
  }
  void stop() {
    if (id_) g_source_remove(id_);
    id_ = 0;
  }
  bool armed() const { return id_ != 0; }

 private:
  static gboolean on_fire(gpointer self) {
    auto* w = static_cast<BootWatch*>(self);
    w->id_ = 0;
    std::function<void()> fire = std::move(w->fire_);  // FIRE may destroy or re-arm the watch
    fire();
    return G_SOURCE_REMOVE;
  }

  guint id_ = 0;
  std::function<void()> fire_;
};

}  // namespace arrow
