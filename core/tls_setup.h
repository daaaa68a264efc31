// The server's TLS set-up on the main thread: the certificate from files or made at start, the
// one-time log lines (kernel TLS, the self-signed fingerprint and the URL to open) and the reload
// on SIGHUP. The loops only ever see net::tls::server_contexts.
#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "net/tls/tls_context.h"

namespace chorus::core {

class tls_setup {
  public:
    // Builds the first context; false with `error` saying which file is bad and why.
    bool start(const server_config& config, std::string* error);
    net::tls::server_contexts* contexts() { return _contexts.get(); }
    // Prints how to reach the TLS listener (and, self-signed, the fingerprint to compare).
    void announce(const server_config& config) const;
    // SIGHUP: reads the files again; a bad file keeps the old certificate and says why.
    void reload(const server_config& config);

  private:
    std::unique_ptr<net::tls::server_contexts> _contexts;
    std::string _fingerprint;
};

}  // namespace chorus::core
