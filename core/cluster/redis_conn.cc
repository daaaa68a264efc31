// A Redis connection over a non-blocking socket: connect, buffered writes, hiredis's reply
// parser on reads, and callbacks in command order.
#include "core/cluster/redis_conn.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace chorus::core::cluster {

redis_conn::~redis_conn() {
    close();
}

bool redis_conn::open(const redis_address& address, std::string* error) {
    close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string port = std::to_string(address.port);
    // Names resolve here, on the engine's thread: never on a shard.
    if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        *error = std::string("cannot resolve ") + address.host + ": " + gai_strerror(rc);
        return false;
    }
    int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(found);
        *error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    int rc = ::connect(fd, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (rc < 0 && errno != EINPROGRESS) {
        *error = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return false;
    }
    _fd = fd;
    _connected = rc == 0;
    _reader = redisReaderCreate();
    return true;
}

void redis_conn::close() {
    if (_fd >= 0) ::close(_fd);
    _fd = -1;
    _connected = false;
    _out.clear();
    _out_sent = 0;
    if (_reader) redisReaderFree(_reader);
    _reader = nullptr;
    std::deque<callback> pending;
    pending.swap(_pending);
    for (callback& done : pending)
        if (done) done(nullptr);
}

void redis_conn::command(const std::vector<std::string_view>& argv, callback done) {
    const char* parts[16];
    size_t lengths[16];
    size_t n = argv.size() < 16 ? argv.size() : 16;
    std::vector<const char*> many_parts;
    std::vector<size_t> many_lengths;
    const char** p = parts;
    size_t* l = lengths;
    if (argv.size() > 16) {
        n = argv.size();
        many_parts.resize(n);
        many_lengths.resize(n);
        p = many_parts.data();
        l = many_lengths.data();
    }
    for (size_t i = 0; i < n; ++i) {
        p[i] = argv[i].data();
        l[i] = argv[i].size();
    }
    char* formatted = nullptr;
    int length = redisFormatCommandArgv(&formatted, static_cast<int>(n), p, l);
    if (length < 0 || _fd < 0) {
        if (formatted) redisFreeCommand(formatted);
        if (done) done(nullptr);
        return;
    }
    if (_out_sent > 0 && _out_sent == _out.size()) {
        _out.clear();
        _out_sent = 0;
    }
    _out.append(formatted, static_cast<size_t>(length));
    redisFreeCommand(formatted);
    if (!on_push) _pending.push_back(std::move(done));  // a subscriber's replies are pushes
}

bool redis_conn::on_writable(std::string* error) {
    if (!_connected) {
        int problem = 0;
        socklen_t size = sizeof(problem);
        getsockopt(_fd, SOL_SOCKET, SO_ERROR, &problem, &size);
        if (problem != 0) {
            *error = std::string("connect: ") + std::strerror(problem);
            return false;
        }
        _connected = true;
    }
    while (_out_sent < _out.size()) {
        ssize_t n = ::send(_fd, _out.data() + _out_sent, _out.size() - _out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            *error = std::string("send: ") + std::strerror(errno);
            return false;
        }
        _out_sent += static_cast<size_t>(n);
    }
    if (_out_sent == _out.size()) {
        _out.clear();
        _out_sent = 0;
    } else if (_out_sent > (1u << 20)) {
        _out.erase(0, _out_sent);
        _out_sent = 0;
    }
    return true;
}

bool redis_conn::on_readable(std::string* error) {
    char buffer[64 * 1024];
    for (int round = 0; round < 16; ++round) {
        ssize_t n = ::recv(_fd, buffer, sizeof(buffer), 0);
        if (n == 0) {
            *error = "connection closed by Redis";
            return false;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            *error = std::string("recv: ") + std::strerror(errno);
            return false;
        }
        if (redisReaderFeed(_reader, buffer, static_cast<size_t>(n)) != REDIS_OK) {
            *error = "malformed reply from Redis";
            return false;
        }
        for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(_reader, &raw) != REDIS_OK) {
                *error = std::string("malformed reply from Redis: ") + _reader->errstr;
                return false;
            }
            if (!raw) break;
            auto* reply = static_cast<redisReply*>(raw);
            if (on_push) {
                on_push(reply);
            } else if (!_pending.empty()) {
                callback done = std::move(_pending.front());
                _pending.pop_front();
                if (done) done(reply);
            }
            freeReplyObject(reply);
            if (_fd < 0) return true;  // a callback closed us
        }
        if (static_cast<size_t>(n) < sizeof(buffer)) break;
    }
    return true;
}

}  // namespace chorus::core::cluster
