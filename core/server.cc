// Start-up and shutdown: probes the backend, binds one SO_REUSEPORT socket per shard, starts the
// pinned loop threads (and, in a cluster, the engine, whose first connection attempt to each
// Redis it waits for), and only then listens, so that the port accepts nothing that the node
// cannot serve. Then it waits for a signal on the main thread and drains every shard.
#include "core/server.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/auth/resume_token.h"
#include "core/shard.h"
#include "core/tls_setup.h"

namespace chorus::core {

namespace {

uint32_t fd_budget() {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < limit.rlim_max) {  // take what we are allowed
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    getrlimit(RLIMIT_NOFILE, &limit);
    uint64_t usable = limit.rlim_cur > 128 ? limit.rlim_cur - 128 : 16;
    return static_cast<uint32_t>(std::min<uint64_t>(usable, 4'000'000));
}

// Settles threads, the connection limit and the resume key; false when the flags cannot work.
bool settle_config(server_context& context) {
    server_config& config = context.config;
    if (config.threads == 0) config.threads = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
    config.threads = std::min(config.threads, shards_max);
    uint32_t budget = fd_budget();
    context.max_connections = config.max_connections ? config.max_connections : budget;
    if (context.max_connections > budget) {
        std::fprintf(stderr,
                     "chorusd: warning: --max-connections %u exceeds the fd limit; using %u\n",
                     context.max_connections, budget);
        context.max_connections = budget;
    }
    context.resume_key = !config.cluster_secret.empty() ? config.cluster_secret
                         : config.resume_key.empty()    ? random_key()
                                                        : config.resume_key;
    context.ip_connections.reset(new std::atomic<uint32_t>[server_context::ip_slots]());
    std::string why;
    bool uring_ok = config.io != io_choice::epoll && net::uring_available(&why);
    if (config.io == io_choice::uring && !uring_ok) {
        std::fprintf(stderr, "chorusd: --io uring asked for, but io_uring is unavailable: %s\n",
                     why.c_str());
        return false;
    }
    if (config.io == io_choice::automatic) {
        if (!uring_ok)
            std::fprintf(stderr, "chorusd: io_uring unavailable (%s); using epoll\n", why.c_str());
        config.io = uring_ok ? io_choice::uring : io_choice::epoll;
    }
    return true;
}

// One bound socket per shard, not listening yet: a bad or taken address fails here, before
// anything starts, while a client that connects meanwhile is refused rather than left waiting.
// A port another process listens on is refused, not shared: SO_REUSEPORT would split the new
// connections between the two servers, and a room's members between two processes that cannot
// hear each other. A predecessor still closing (a drain's listening window, or a killed process
// whose kernel state is still going away) gets a few seconds to let go of the port.
bool bind_listeners(const std::string& address, uint32_t count, std::vector<int>* fds) {
    constexpr int kWaitSteps = 50;  // 5 s in 100 ms steps
    for (int step = 0; net::address_has_listener(address); ++step) {
        if (step == kWaitSteps) {
            std::fprintf(stderr,
                         "chorusd: cannot listen on %s: address in use, another process is "
                         "listening on it (another chorusd?)\n",
                         address.c_str());
            return false;
        }
        if (step == 10)
            std::fprintf(stderr,
                         "chorusd: another process is listening on %s; waiting up to 5 s for "
                         "it to close\n",
                         address.c_str());
        ::usleep(100'000);
    }
    for (uint32_t i = 0; i < count; ++i) {
        std::string error;
        int fd = net::bind_listener(address, &error);
        if (fd < 0) {
            std::fprintf(stderr, "chorusd: %s\n", error.c_str());
            for (int bound : *fds) ::close(bound);
            fds->clear();
            return false;
        }
        fds->push_back(fd);
    }
    return true;
}

// Hands each running shard its socket, then lets them listen. Every shard has taken its socket,
// and with it what its room_sync learned so far (a cluster's link states), before any listens: a
// connection one shard accepts and hands to another then finds both current. The shards work in
// parallel; the main thread waits for all. The sockets belong to the shards from here on.
bool open_listeners(std::vector<std::unique_ptr<shard>>& shards, std::vector<int>& fds,
                    std::vector<int>& tls_fds, const std::string& address) {
    for (size_t i = 0; i < shards.size(); ++i)
        shards[i]->give_listener(i < fds.size() ? fds[i] : -1,
                                 i < tls_fds.size() ? tls_fds[i] : -1);
    fds.clear();
    tls_fds.clear();
    int rc = 0;
    for (auto& s : shards) rc = std::min(rc, s->wait_started());
    if (rc == 0) {
        for (auto& s : shards) s->start_listening();
        for (auto& s : shards) rc = std::min(rc, s->wait_started());
    }
    if (rc < 0)
        std::fprintf(stderr, "chorusd: cannot listen on %s: %s\n", address.c_str(),
                     std::strerror(-rc));
    return rc == 0;
}

// One thread per shard, pinned to a CPU each when asked (and there is more than one).
std::vector<std::thread> start_threads(std::vector<std::unique_ptr<shard>>& shards, bool pin) {
    std::vector<std::thread> threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (size_t i = 0; i < shards.size(); ++i) {
        threads.emplace_back([s = shards[i].get()] { s->run(); });
        if (pin && cpus > 1) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(i % cpus, &set);
            pthread_setaffinity_np(threads.back().native_handle(), sizeof(set), &set);
        }
    }
    return threads;
}

void stop_shards(server_context& context, std::vector<std::unique_ptr<shard>>& shards,
                 std::vector<std::thread>& threads) {
    context.draining.store(true);
    for (auto& s : shards) s->request_drain();
    for (std::thread& t : threads) t.join();
}

// Signals are taken by the main thread alone; the loop threads inherit the blocked mask.
sigset_t block_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return signals;
}

// Serves SIGHUP (a certificate reload, on this thread: the loops never wait for a file) until
// SIGINT or SIGTERM, which it returns.
int wait_for_stop(const sigset_t& signals, const server_config& config, tls_setup& tls) {
    int received = 0;
    for (;;) {
        sigwait(&signals, &received);
        if (received != SIGHUP) return received;
        if (config.tls()) {
            tls.reload(config);
        } else {
            std::fprintf(stderr, "chorusd: SIGHUP: nothing to reload (no TLS certificate)\n");
        }
        std::fflush(stderr);
    }
}

}  // namespace

int run_server(const server_config& given, room_sync_provider& syncs) {
    server_context context;
    context.config = given;
    server_config& config = context.config;
    if (!settle_config(context)) return 1;
    local_ledger_factory ledgers(config.history);
    context.ledgers = &ledgers;

    sigset_t signals = block_signals();
    tls_setup tls;
    if (config.tls()) {
        std::string error;
        if (!tls.start(config, &error)) {
            std::fprintf(stderr, "chorusd: %s\n", error.c_str());
            return 1;
        }
        context.tls = tls.contexts();
    }
    uint32_t n = config.threads;
    std::vector<int> listen_fds, tls_fds;
    auto close_all = [&] {
        for (int fd : listen_fds) ::close(fd);
        for (int fd : tls_fds) ::close(fd);
    };
    if (config.plain() && !bind_listeners(config.listen, n, &listen_fds)) return 1;
    if (config.tls() && !bind_listeners(config.tls_listen, n, &tls_fds)) {
        close_all();
        return 1;
    }
    for (uint32_t i = 0; i < n * n; ++i) context.rings.push_back(std::make_unique<cross_ring>());
    syncs.prepare(n, [&context](uint32_t i) { context.shards[i]->loop().wake(); });
    context.syncs = &syncs;
    std::vector<std::unique_ptr<shard>> shards;
    for (uint32_t i = 0; i < n; ++i) shards.push_back(std::make_unique<shard>(i, context));
    for (auto& s : shards) context.shards.push_back(s.get());
    for (auto& s : shards) {
        std::string error;
        if (!s->init(&error)) {
            std::fprintf(stderr, "chorusd: %s\n", error.c_str());
            close_all();
            return 1;
        }
    }
    std::vector<std::thread> threads = start_threads(shards, config.pin_threads);
    // A cluster's engine makes its first Redis attempts here (joins must not be refused for a
    // link that is merely not connected yet); a single node has nothing to start.
    std::string error;
    bool started = syncs.start(&error);
    if (!started) std::fprintf(stderr, "chorusd: %s\n", error.c_str());
    std::string addresses = config.plain() ? config.listen : std::string();
    if (config.tls()) addresses += (addresses.empty() ? "" : ", ") + config.tls_listen + " (TLS)";
    if (!started || !open_listeners(shards, listen_fds, tls_fds, addresses)) {
        close_all();
        stop_shards(context, shards, threads);
        syncs.stop();
        return 1;
    }
    if (config.tls()) tls.announce(config);
    std::fprintf(stderr, "chorusd: ready on %s (threads=%u, io=%s%s)\n", addresses.c_str(), n,
                 config.io == io_choice::uring ? "uring" : "epoll", syncs.describe().c_str());
    std::fflush(stderr);
    int received = wait_for_stop(signals, config, tls);
    std::fprintf(stderr, "chorusd: %s received, closing connections\n",
                 received == SIGINT ? "SIGINT" : "SIGTERM");
    stop_shards(context, shards, threads);
    syncs.stop();  // a cluster node leaves: others stop counting on it
    std::fprintf(stderr, "chorusd: stopped\n");
    return 0;
}

}  // namespace chorus::core
