// TLS set-up and reload for chorusd. The self-signed certificate names localhost, the loopback
// addresses and every IPv4 address of this host's interfaces, so a phone on the LAN can open
// https://<this host's LAN address>:PORT/ and, after accepting the warning, use the microphone.
#include "core/tls_setup.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

namespace chorus::core {

namespace {

// The host's non-loopback IPv4 addresses (the ones a phone on the LAN could reach).
std::vector<std::string> lan_addresses() {
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
        if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET) continue;
        if (entry->ifa_flags & IFF_LOOPBACK) continue;
        char text[INET_ADDRSTRLEN];
        auto* v4 = reinterpret_cast<sockaddr_in*>(entry->ifa_addr);
        if (inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text))) out.push_back(text);
    }
    freeifaddrs(list);
    return out;
}

std::string port_of(const std::string& address) {
    size_t colon = address.rfind(':');
    return colon == std::string::npos ? address : address.substr(colon + 1);
}

}  // namespace

bool tls_setup::start(const server_config& config, std::string* error) {
    net::tls::context_ptr context;
    if (config.tls_self_signed) {
        std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
        char host[256] = {};
        if (gethostname(host, sizeof(host) - 1) == 0 && host[0]) names.push_back(host);
        for (const std::string& address : lan_addresses()) names.push_back(address);
        context = net::tls::make_self_signed_context(names, &_fingerprint, error);
    } else {
        context = net::tls::make_server_context(config.tls_cert, config.tls_key, error);
        if (context) _fingerprint = net::tls::certificate_fingerprint(context.get());
    }
    if (!context) return false;
    _contexts = std::make_unique<net::tls::server_contexts>(std::move(context));
    std::string why;
    bool kernel = net::tls::kernel_tls_available(&why);
    std::fprintf(stderr, "chorusd: TLS: %s; chorusd encrypts in user space (OpenSSL)%s\n",
                 why.c_str(), kernel ? " and does not use kernel TLS yet" : "");
    return true;
}

void tls_setup::announce(const server_config& config) const {
    std::string port = port_of(config.tls_listen);
    std::fprintf(stderr, "chorusd: TLS certificate SHA-256 fingerprint %s\n", _fingerprint.c_str());
    if (!config.tls_self_signed) return;
    std::fprintf(stderr,
                 "chorusd: self-signed certificate: browsers warn once; compare the fingerprint, "
                 "then accept. Open https://localhost:%s/",
                 port.c_str());
    for (const std::string& address : lan_addresses())
        std::fprintf(stderr, " or https://%s:%s/", address.c_str(), port.c_str());
    std::fprintf(stderr, "\n");
}

void tls_setup::reload(const server_config& config) {
    if (config.tls_self_signed) {
        std::fprintf(stderr, "chorusd: SIGHUP: the self-signed certificate is kept\n");
        return;
    }
    std::string error;
    net::tls::context_ptr next =
        net::tls::make_server_context(config.tls_cert, config.tls_key, &error);
    if (!next) {
        std::fprintf(stderr, "chorusd: SIGHUP: keeping the old certificate: %s\n", error.c_str());
        return;
    }
    _fingerprint = net::tls::certificate_fingerprint(next.get());
    _contexts->replace(std::move(next));
    std::fprintf(stderr,
                 "chorusd: SIGHUP: certificate reloaded (SHA-256 %s); new handshakes use it\n",
                 _fingerprint.c_str());
}

}  // namespace chorus::core
