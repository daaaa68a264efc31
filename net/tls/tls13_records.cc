// TLS 1.3 record protection: HKDF-Expand-Label for the keys (one HMAC block covers every length
// we need), a per-record nonce of the static IV xor the sequence number, the record header as
// additional data. One cipher context per thread and direction is re-keyed for each record, so a
// connection holds only its keys.
#include "net/tls/tls13_records.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>

namespace chorus::net::tls {

namespace {

struct suite_info {
    const char* cipher;
    const char* digest;
    size_t hash_bytes;
    size_t key_bytes;
};

const suite_info& info_of(tls13_suite suite) {
    static const suite_info infos[] = {
        {"AES-128-GCM", "SHA256", 32, 16},
        {"AES-256-GCM", "SHA384", 48, 32},
        {"ChaCha20-Poly1305", "SHA256", 32, 32},
    };
    return infos[static_cast<int>(suite)];
}

// Fetched once per process; OpenSSL's EVP_CIPHER and EVP_MD objects are shared by threads.
const EVP_CIPHER* cipher_of(tls13_suite suite) {
    static const EVP_CIPHER* ciphers[] = {
        EVP_CIPHER_fetch(nullptr, info_of(tls13_suite::aes_128_gcm_sha256).cipher, nullptr),
        EVP_CIPHER_fetch(nullptr, info_of(tls13_suite::aes_256_gcm_sha384).cipher, nullptr),
        EVP_CIPHER_fetch(nullptr, info_of(tls13_suite::chacha20_sha256).cipher, nullptr),
    };
    return ciphers[static_cast<int>(suite)];
}

const EVP_MD* digest_of(tls13_suite suite) {
    static const EVP_MD* digests[] = {
        EVP_MD_fetch(nullptr, "SHA256", nullptr),
        EVP_MD_fetch(nullptr, "SHA384", nullptr),
    };
    return digests[info_of(suite).hash_bytes == 48 ? 1 : 0];
}

// HKDF-Expand-Label(secret, label, "", length) for length up to the hash's (RFC 8446 §7.1):
// the expansion's first block, T(1) = HMAC(secret, HkdfLabel || 0x01). False if HMAC failed
// (out of memory): the caller must not use `out`.
bool expand_label(tls13_suite suite, const uint8_t* secret, const char* label, uint8_t* out,
                  size_t length) {
    size_t hash_bytes = info_of(suite).hash_bytes;
    size_t label_bytes = std::strlen(label);
    uint8_t info[2 + 1 + 6 + 16 + 1 + 1];
    size_t at = 0;
    info[at++] = static_cast<uint8_t>(length >> 8);
    info[at++] = static_cast<uint8_t>(length);
    info[at++] = static_cast<uint8_t>(6 + label_bytes);
    std::memcpy(info + at, "tls13 ", 6);
    at += 6;
    std::memcpy(info + at, label, label_bytes);
    at += label_bytes;
    info[at++] = 0;  // no context
    info[at++] = 1;  // the block counter
    uint8_t block[EVP_MAX_MD_SIZE];
    unsigned int block_bytes = 0;
    bool ok = HMAC(digest_of(suite), secret, static_cast<int>(hash_bytes), info, at, block,
                   &block_bytes) != nullptr &&
              block_bytes == hash_bytes;
    if (ok) std::memcpy(out, block, length);
    OPENSSL_cleanse(block, sizeof(block));
    if (!ok) ERR_clear_error();
    return ok;
}

// One cipher context per thread and direction, re-keyed per record; the cipher itself is set
// again only when a record of another suite comes.
struct cipher_context {
    EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
    const EVP_CIPHER* cipher = nullptr;
    ~cipher_context() { EVP_CIPHER_CTX_free(context); }

    EVP_CIPHER_CTX* keyed(const EVP_CIPHER* wanted, const uint8_t* key, const uint8_t* nonce,
                          int encrypt) {
        if (!context || !wanted) return nullptr;
        const EVP_CIPHER* pass = cipher == wanted ? nullptr : wanted;
        if (EVP_CipherInit_ex2(context, pass, key, nonce, encrypt, nullptr) != 1) {
            cipher = nullptr;
            return nullptr;
        }
        cipher = wanted;
        return context;
    }
};

thread_local cipher_context sealing;
thread_local cipher_context opening;

// A cipher call failed (out of memory): its errors are not left on this thread's OpenSSL error
// queue, where the next handshake on the thread would read them as its own.
bool failed() {
    ERR_clear_error();
    return false;
}

}  // namespace

tls13_records::~tls13_records() {
    OPENSSL_cleanse(&_read, sizeof(_read));
    OPENSSL_cleanse(&_write, sizeof(_write));
}

bool tls13_records::init(tls13_suite suite, std::span<const uint8_t> read_secret,
                         std::span<const uint8_t> write_secret, uint64_t write_seq) {
    _suite = suite;
    size_t hash_bytes = info_of(suite).hash_bytes;
    if (read_secret.size() != hash_bytes || write_secret.size() != hash_bytes) return false;
    if (!cipher_of(suite) || !digest_of(suite)) {
        ERR_clear_error();
        return false;
    }
    std::memcpy(_read.secret, read_secret.data(), hash_bytes);
    std::memcpy(_write.secret, write_secret.data(), hash_bytes);
    if (!derive(_read) || !derive(_write)) return false;
    _write.seq = write_seq;
    return true;
}

// The key and IV of a direction's secret, its sequence at 0; false (nothing changed) if the
// derivation failed, so that a sequence is never reset under an old key.
bool tls13_records::derive(direction& d) {
    uint8_t key[32], iv[12];
    size_t key_bytes = info_of(_suite).key_bytes;
    bool ok = expand_label(_suite, d.secret, "key", key, key_bytes) &&
              expand_label(_suite, d.secret, "iv", iv, sizeof(iv));
    if (ok) {
        std::memcpy(d.key, key, key_bytes);
        std::memcpy(d.iv, iv, sizeof(iv));
        d.seq = 0;
    }
    OPENSSL_cleanse(key, sizeof(key));
    return ok;
}

// The next traffic secret of a direction (RFC 8446 §7.2), its key and IV, its sequence at 0.
bool tls13_records::advance(direction& d) {
    size_t hash_bytes = info_of(_suite).hash_bytes;
    uint8_t next[48];
    if (!expand_label(_suite, d.secret, "traffic upd", next, hash_bytes)) return false;
    uint8_t previous[48];
    std::memcpy(previous, d.secret, hash_bytes);
    std::memcpy(d.secret, next, hash_bytes);
    bool ok = derive(d);
    if (!ok) std::memcpy(d.secret, previous, hash_bytes);  // the caller fails the session
    OPENSSL_cleanse(next, sizeof(next));
    OPENSSL_cleanse(previous, sizeof(previous));
    return ok;
}

void tls13_records::nonce_for(const direction& d, uint8_t nonce[12]) const {
    std::memcpy(nonce, d.iv, 12);
    for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(d.seq >> (8 * i));
}

bool tls13_records::seal(std::string& out, std::span<const uint8_t> bytes, content_type type) {
    iovec one{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    return seal(out, &one, 1, type);
}

bool tls13_records::seal(std::string& out, const iovec* iov, int iov_count, content_type type) {
    size_t total = 0;
    for (int i = 0; i < iov_count; ++i) total += iov[i].iov_len;
    if (total == 0) return true;
    int piece = 0;
    size_t piece_offset = 0;
    const EVP_CIPHER* cipher = cipher_of(_suite);
    do {
        size_t chunk = std::min(total, max_plaintext);
        size_t body = chunk + 1 + tag_bytes;
        size_t at = out.size();
        out.resize(at + header_bytes + body);
        auto* record = reinterpret_cast<uint8_t*>(out.data()) + at;
        record[0] = static_cast<uint8_t>(content_type::application_data);  // the outer type
        record[1] = 3;
        record[2] = 3;
        record[3] = static_cast<uint8_t>(body >> 8);
        record[4] = static_cast<uint8_t>(body);
        uint8_t nonce[12];
        nonce_for(_write, nonce);
        EVP_CIPHER_CTX* context = sealing.keyed(cipher, _write.key, nonce, 1);
        int n = 0;
        if (!context || EVP_EncryptUpdate(context, nullptr, &n, record, header_bytes) != 1)
            return failed();
        // The content and its type are copied into the record and encrypted there in one call:
        // AES-GCM's stitched AES-NI path wants long runs, so one update over a pass of small
        // frames costs less than an update per frame, copy included.
        uint8_t* body_start = record + header_bytes;
        uint8_t* cursor = body_start;
        for (size_t left = chunk; left > 0;) {
            size_t take = std::min(left, iov[piece].iov_len - piece_offset);
            if (take > 0) {
                const auto* from = static_cast<const uint8_t*>(iov[piece].iov_base) + piece_offset;
                std::memcpy(cursor, from, take);
                cursor += take;
                left -= take;
                piece_offset += take;
            }
            if (piece_offset == iov[piece].iov_len) {
                ++piece;
                piece_offset = 0;
            }
        }
        *cursor++ = static_cast<uint8_t>(type);
        if (EVP_EncryptUpdate(context, body_start, &n, body_start,
                              static_cast<int>(cursor - body_start)) != 1)
            return failed();
        cursor = body_start + n;
        if (EVP_EncryptFinal_ex(context, cursor, &n) != 1) return failed();
        cursor += n;
        if (EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, tag_bytes, cursor) != 1)
            return failed();
        ++_write.seq;
        total -= chunk;
    } while (total > 0);
    return true;
}

tls13_records::open_status tls13_records::open(std::span<const uint8_t> record,
                                               std::span<uint8_t> into, size_t* length,
                                               uint8_t* type) {
    if (record.size() < header_bytes + tag_bytes + 1) return open_status::bad_mac;
    size_t inner = record.size() - header_bytes - tag_bytes;
    if (inner > max_inner || into.size() < inner) return open_status::too_long;
    uint8_t nonce[12];
    nonce_for(_read, nonce);
    EVP_CIPHER_CTX* context = opening.keyed(cipher_of(_suite), _read.key, nonce, 0);
    int n = 0;
    uint8_t tag[tag_bytes];
    std::memcpy(tag, record.data() + header_bytes + inner, tag_bytes);
    if (!context || EVP_DecryptUpdate(context, nullptr, &n, record.data(), header_bytes) != 1 ||
        EVP_DecryptUpdate(context, into.data(), &n, record.data() + header_bytes,
                          static_cast<int>(inner)) != 1 ||
        EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, tag_bytes, tag) != 1 ||
        EVP_DecryptFinal_ex(context, into.data() + n, &n) != 1) {
        ERR_clear_error();  // a forged record must not leave errors for the next handshake
        return open_status::bad_mac;
    }
    ++_read.seq;
    size_t end = inner;
    while (end > 0 && into[end - 1] == 0) --end;  // the padding
    *type = end > 0 ? into[end - 1] : 0;
    *length = end > 0 ? end - 1 : 0;
    return open_status::ok;
}

}  // namespace chorus::net::tls
