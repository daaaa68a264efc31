// The address of one Redis server as the operator writes it on the command line:
// redis://[user[:password]@]host[:port][/], with percent-escapes in user and password. Parsing is
// strict (a typo is an error at start-up, never a silent default), and what it reports never
// repeats the password.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::core::cluster {

struct redis_address {
    std::string host;  // a name, an IPv4 address, or an IPv6 address (without brackets)
    uint16_t port = 6379;
    std::string user;      // empty: Redis's default user
    std::string password;  // empty: no AUTH
    bool has_credentials() const { return !password.empty(); }
};

// Fills `out` from `url`. False with `error` (which never contains the password) when malformed.
// A user without a password is accepted: the password may come from --redis-password-file.
bool parse_redis_url(std::string_view url, redis_address* out, std::string* error);

// `url` with its password replaced by "***", for messages to people.
std::string redact_redis_url(std::string_view url);

}  // namespace chorus::core::cluster
