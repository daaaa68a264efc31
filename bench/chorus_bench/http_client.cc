// Client-side HTTP for the bench: upgrade request/response and a blocking GET for /metrics.
// The response check is strict about what matters (status, accept key) and lenient elsewhere.
#include "bench/chorus_bench/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "ws/handshake.h"

namespace chorus::bench {
namespace {

constexpr size_t response_head_bytes_max = 16 * 1024;
constexpr size_t http_get_bytes_max = 16 * 1024 * 1024;

uint64_t next_random(uint64_t* state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Value of header `name` (lower-case) in a response head, trimmed; empty if absent.
std::string_view header_value(std::string_view head, std::string_view name) {
    size_t line = head.find("\r\n");
    while (line != std::string_view::npos && line + 2 < head.size()) {
        size_t start = line + 2;
        size_t end = head.find("\r\n", start);
        if (end == std::string_view::npos || end == start) break;
        std::string_view text = head.substr(start, end - start);
        size_t colon = text.find(':');
        if (colon == name.size()) {
            bool same = true;
            for (size_t i = 0; i < colon && same; ++i) same = lower(text[i]) == name[i];
            if (same) {
                std::string_view value = text.substr(colon + 1);
                while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                    value.remove_prefix(1);
                while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                    value.remove_suffix(1);
                return value;
            }
        }
        line = end;
    }
    return {};
}

}  // namespace

std::string make_websocket_key(uint64_t* rng_state) {
    uint8_t raw[16];
    uint64_t a = next_random(rng_state);
    uint64_t b = next_random(rng_state);
    std::memcpy(raw, &a, 8);
    std::memcpy(raw + 8, &b, 8);
    unsigned char encoded[32];
    int length = EVP_EncodeBlock(encoded, raw, sizeof(raw));
    return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(length));
}

void append_upgrade_request(std::string& out, std::string_view host, uint16_t port,
                            std::string_view path, std::string_view key) {
    out.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
    out.append(":").append(std::to_string(port));
    out.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    out.append(key).append("\r\nSec-WebSocket-Version: 13\r\n\r\n");
}

upgrade_response check_upgrade_response(std::string_view bytes, std::string_view key) {
    upgrade_response result;
    size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (bytes.size() > response_head_bytes_max)
            result.status = upgrade_response::state::malformed;
        return result;
    }
    result.header_bytes = end + 4;
    std::string_view head = bytes.substr(0, end + 2);
    if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') {
        result.status = upgrade_response::state::malformed;
        return result;
    }
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
        if (head[i] < '0' || head[i] > '9') {
            result.status = upgrade_response::state::malformed;
            return result;
        }
        status = status * 10 + (head[i] - '0');
    }
    result.http_status = status;
    if (status != 101) {
        result.status = upgrade_response::state::refused;
        result.body = bytes.substr(result.header_bytes);
        return result;
    }
    std::string expected = ws::accept_key(key);
    result.status = header_value(head, "sec-websocket-accept") == expected
                        ? upgrade_response::state::accepted
                        : upgrade_response::state::malformed;
    return result;
}

bool resolve_ipv4(const std::string& host, uint32_t* address_be) {
    in_addr parsed{};
    if (inet_pton(AF_INET, host.c_str(), &parsed) == 1) {
        *address_be = parsed.s_addr;
        return true;
    }
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found) return false;
    *address_be = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr;
    freeaddrinfo(found);
    return true;
}

bool http_get(const std::string& url, int timeout_ms, std::string* body, std::string* error) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) {
        *error = "not an http:// URL: " + url;
        return false;
    }
    std::string rest = url.substr(scheme.size());
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
    size_t colon = authority.rfind(':');
    int port = colon == std::string::npos ? 80 : std::atoi(authority.c_str() + colon + 1);
    std::string host = authority.substr(0, colon);
    uint32_t address = 0;
    if (port <= 0 || port > 65535 || !resolve_ipv4(host, &address)) {
        *error = "cannot resolve " + url;
        return false;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = address;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n";
    std::string response;
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0 &&
              ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                  static_cast<ssize_t>(request.size());
    char buffer[65536];
    while (ok && response.size() < http_get_bytes_max) {
        ssize_t got = ::recv(fd, buffer, sizeof(buffer), 0);
        if (got < 0) ok = false;
        if (got <= 0) break;
        response.append(buffer, static_cast<size_t>(got));
    }
    ::close(fd);
    size_t head_end = response.find("\r\n\r\n");
    if (!ok || head_end == std::string::npos || response.compare(0, 12, "HTTP/1.1 200") != 0) {
        *error = "GET " + url + " failed" + (ok ? ": " + response.substr(0, 40) : "");
        return false;
    }
    *body = response.substr(head_end + 4);
    return true;
}

}  // namespace chorus::bench
