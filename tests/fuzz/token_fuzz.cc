// Fuzz target for the untrusted strings of the connect handshake: JWTs and resume tokens. Also
// signs the input as a JWT payload so that the claim parser (reached only behind a valid MAC) is
// explored, and checks that base64url decoding and encoding agree.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/auth/jwt.h"
#include "core/auth/resume_token.h"
#include "core/base/assert.h"
#include "core/base/base64.h"

namespace {

constexpr std::string_view fuzz_secret = "fuzz-secret";
constexpr int64_t fuzz_now = 1'700'000'000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus;
    std::string_view input(reinterpret_cast<const char*>(data), size);

    auto jwt = core::verify_jwt(input, fuzz_secret, fuzz_now);
    if (jwt.ok()) CHORUS_ASSERT(!jwt.value().user.empty());

    auto resume = core::verify_resume_token(fuzz_secret, input, "room", "user");
    (void)resume;

    // Treat the input as a claims payload behind a valid signature.
    std::string signed_token = core::sign_jwt_hs256(input, fuzz_secret);
    auto claims = core::verify_jwt(signed_token, fuzz_secret, fuzz_now);
    if (claims.ok()) {
        CHORUS_ASSERT(!claims.value().user.empty());
        CHORUS_ASSERT(claims.value().user.size() <= 64);
        CHORUS_ASSERT(!claims.value().room.empty());
        CHORUS_ASSERT(claims.value().name.size() <= core::jwt_name_bytes_max);
    } else if (size <= core::jwt_bytes_max / 2) {
        CHORUS_ASSERT(claims.error() != core::token_error::bad_signature);
        CHORUS_ASSERT(claims.error() != core::token_error::bad_algorithm);
    }

    // A successful decode re-encodes to the same text, minus any padding (decoding is canonical).
    if (auto bytes = base::base64url_decode(input)) {
        std::string again = base::base64url_encode(*bytes);
        std::string_view unpadded = input.substr(0, input.find('='));
        CHORUS_ASSERT(again == unpadded);
    }
    return 0;
}
