// Who is asking to join a room, read from the upgrade request alone (PROTOCOL.md §1, §6): the
// dev-mode query (?user=&name=) or a JWT (?token=), ?last_seq= and a ?resume= token. Pure:
// the same request, secrets and time give the same join request or the same refusal, so every
// case is unit-tested without a server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ws/http_request.h"

namespace chorus::core {

struct join_request {
    std::string room;
    std::string user;
    std::string name;
    bool speak = true;
    bool admin = false;
    bool chorus_v1 = false;
    bool has_last_seq = false;
    uint64_t last_seq = 0;
    // A resume that does not happen (a token that does not verify, or whose grace is over) is
    // an ordinary join with "gap": true, never a refusal (PROTOCOL.md section 6, v1.0.1): a
    // browser cannot see why an upgrade failed, so a refusal would have it retry forever.
    bool resume_asked = false;  // ?resume= came with it
    bool resume = false;        // ... and it verifies for this room and user
    uint32_t resume_member = 0;
    uint64_t resume_session = 0;
};

struct join_refusal {
    int status = 0;  // 0: no refusal
    std::string_view code;
    std::string_view message;  // static storage
};

struct join_secrets {
    std::string_view auth_secret;  // empty: dev mode (?user=)
    std::string_view resume_key;
    int64_t now_unix = 0;
};

// Reads the join request for `room_id` (already valid) from `request`'s query.
join_refusal parse_join_request(const ws::http_request& request, std::string_view room_id,
                                const join_secrets& secrets, join_request* out);

bool room_id_valid(std::string_view id);
bool user_id_valid(std::string_view id);
bool display_name_valid(std::string_view name);

}  // namespace chorus::core
