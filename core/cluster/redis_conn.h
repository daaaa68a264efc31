// One non-blocking connection to a Redis server, driven by the engine's poll loop. hiredis
// provides the RESP formatter and reply parser; the socket, its buffers and its failure handling
// are ours, so the engine decides about back-off and buffering. Replies come back in command
// order to per-command callbacks; on a subscriber connection every reply goes to `on_push`.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cluster/redis_url.h"

namespace chorus::core::cluster {

class redis_conn {
  public:
    // nullptr when the connection failed before the reply arrived.
    using callback = std::function<void(const redisReply* reply)>;

    redis_conn() = default;
    ~redis_conn();
    redis_conn(const redis_conn&) = delete;
    redis_conn& operator=(const redis_conn&) = delete;

    // Starts a non-blocking connect. False (with `error`) when it fails at once.
    bool open(const redis_address& address, std::string* error);
    // Closes the socket and fails every pending callback.
    void close();
    bool is_open() const { return _fd >= 0; }
    bool connected() const { return _connected; }
    int fd() const { return _fd; }
    bool wants_write() const { return !_connected || _out_sent < _out.size(); }
    size_t buffered_bytes() const { return _out.size() - _out_sent; }
    size_t pending_replies() const { return _pending.size(); }

    // Queues a command; `done` (may be empty) runs with its reply. On a subscriber connection
    // (on_push set) replies go to on_push instead and `done` is not kept.
    void command(const std::vector<std::string_view>& argv, callback done);
    // Poll said readable/writable. False when the connection failed (`error` says why).
    bool on_readable(std::string* error);
    bool on_writable(std::string* error);

    std::function<void(const redisReply* reply)> on_push;  // subscriber connections

  private:
    int _fd = -1;
    bool _connected = false;
    std::string _out;
    size_t _out_sent = 0;
    redisReader* _reader = nullptr;
    std::deque<callback> _pending;
};

}  // namespace chorus::core::cluster
