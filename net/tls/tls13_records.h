// TLS 1.3 application records sealed and opened by us (RFC 8446 §5.2–5.5, §7.1–7.2) with
// OpenSSL's AEAD ciphers, so that a server connection needs no SSL object once its handshake is
// done: two traffic secrets, their keys and sequence numbers (~200 bytes) stand in for OpenSSL's
// ~14 KiB per session. No I/O and no framing of a byte stream: tls_session does that.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace chorus::net::tls {

// The TLS 1.3 cipher suites chorusd offers (tls_context.cc); CCM is not among them.
enum class tls13_suite : uint8_t { aes_128_gcm_sha256, aes_256_gcm_sha384, chacha20_sha256 };

// Record content types (RFC 8446 §5.1).
enum class content_type : uint8_t { alert = 21, handshake = 22, application_data = 23 };

class tls13_records {
  public:
    static constexpr size_t header_bytes = 5;
    static constexpr size_t tag_bytes = 16;
    static constexpr size_t max_plaintext = 16384;                 // 2^14 per record
    static constexpr size_t max_inner = max_plaintext + 1;         // plus the content type
    static constexpr size_t max_ciphertext = max_plaintext + 256;  // record body limit
    // Records sealed under one write key before it is replaced (a KeyUpdate): RFC 8446 §5.5
    // allows 2^24.5 full records under one AES-GCM key.
    static constexpr uint64_t default_records_per_key = uint64_t{1} << 24;

    tls13_records() = default;
    ~tls13_records();
    tls13_records(const tls13_records&) = delete;
    tls13_records& operator=(const tls13_records&) = delete;

    // Keys from the traffic secrets of a finished handshake (each the suite's hash length);
    // `write_seq` records were already sealed under the write secret (e.g. session tickets).
    // False if a secret has the wrong length or the cipher is unavailable.
    bool init(tls13_suite suite, std::span<const uint8_t> read_secret,
              std::span<const uint8_t> write_secret, uint64_t write_seq);

    // Appends records carrying the bytes of `iov` as `type` to `out`, 16 KiB of plaintext per
    // record: the bytes are copied into the record and encrypted in place (one copy, no gather
    // buffer). Nothing is appended for no bytes.
    // False only if the cipher fails (out of memory); `out` may then hold a partial record.
    bool seal(std::string& out, const iovec* iov, int iov_count,
              content_type type = content_type::application_data);
    bool seal(std::string& out, std::span<const uint8_t> bytes,
              content_type type = content_type::application_data);

    enum class open_status : uint8_t { ok, bad_mac, too_long };
    // Opens one whole record (its 5-byte header and body; the caller checked the header's type
    // and length) into `into` (at least max_inner bytes): the content without padding goes to
    // the front of `into`, its length to `length`, its type (0 when all padding) to `type`.
    open_status open(std::span<const uint8_t> record, std::span<uint8_t> into, size_t* length,
                     uint8_t* type);

    // KeyUpdate (RFC 8446 §7.2): the next traffic secret for that direction, its sequence at 0.
    // False if the derivation failed (out of memory): the direction is then unusable.
    [[nodiscard]] bool update_read_key() { return advance(_read); }
    [[nodiscard]] bool update_write_key() { return advance(_write); }

    uint64_t write_seq() const { return _write.seq; }
    uint64_t read_seq() const { return _read.seq; }
    tls13_suite suite() const { return _suite; }
    // Whether the write key has sealed its share of records and should be replaced.
    bool write_key_spent() const { return _write.seq >= _records_per_key; }
    void set_records_per_key(uint64_t records) { _records_per_key = records; }

  private:
    struct direction {
        uint8_t secret[48];
        uint8_t key[32];
        uint8_t iv[12];
        uint64_t seq = 0;
    };
    bool derive(direction& d);
    bool advance(direction& d);
    void nonce_for(const direction& d, uint8_t nonce[12]) const;

    direction _read{};
    direction _write{};
    uint64_t _records_per_key = default_records_per_key;
    tls13_suite _suite = tls13_suite::aes_128_gcm_sha256;
};

}  // namespace chorus::net::tls
