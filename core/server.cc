// Start-up and shutdown: probes the backend, opens one SO_REUSEPORT listener per shard, starts
// the pinned loop threads, waits for a signal on the main thread, then drains every shard.
#include "core/server.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "core/auth/resume_token.h"
#include "core/shard.h"

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

}  // namespace

int run_server(const server_config& given, cluster_engine* cluster) {
    server_context context;
    context.config = given;
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
    local_ledger_factory ledgers(config.history);
    context.ledgers = &ledgers;

    std::string why;
    bool uring_ok = config.io != io_choice::epoll && net::uring_available(&why);
    if (config.io == io_choice::uring && !uring_ok) {
        std::fprintf(stderr, "chorusd: --io uring asked for, but io_uring is unavailable: %s\n",
                     why.c_str());
        return 1;
    }
    if (config.io == io_choice::automatic) {
        if (!uring_ok)
            std::fprintf(stderr, "chorusd: io_uring unavailable (%s); using epoll\n", why.c_str());
        config.io = uring_ok ? io_choice::uring : io_choice::epoll;
    }

    // Signals are taken by the main thread alone; the loop threads inherit the blocked mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    uint32_t n = config.threads;
    for (uint32_t i = 0; i < n * n; ++i) context.rings.push_back(std::make_unique<cross_ring>());
    cluster_hub hub;
    if (cluster) {
        for (uint32_t i = 0; i < n; ++i) {
            hub.to_engine.push_back(std::make_unique<cluster_ring>());
            hub.to_shard.push_back(std::make_unique<cluster_ring>());
        }
        hub.wake_shard = [&context](uint32_t i) { context.shards[i]->loop().wake(); };
        context.cluster = cluster;
        context.hub = &hub;
    }
    std::vector<std::unique_ptr<shard>> shards;
    for (uint32_t i = 0; i < n; ++i) shards.push_back(std::make_unique<shard>(i, context));
    for (auto& s : shards) context.shards.push_back(s.get());
    for (auto& s : shards) {
        std::string error;
        int fd = net::open_listener(config.listen, 4096, &error);
        if (fd < 0 || !s->init(fd, &error)) {
            std::fprintf(stderr, "chorusd: %s\n", error.c_str());
            return 1;
        }
    }
    std::vector<std::thread> threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (uint32_t i = 0; i < n; ++i) {
        threads.emplace_back([&, i] { shards[i]->run(); });
        if (config.pin_threads && cpus > 1) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(i % cpus, &set);
            pthread_setaffinity_np(threads.back().native_handle(), sizeof(set), &set);
        }
    }
    if (cluster) {
        std::string error;
        if (!cluster->start(hub, n, &error)) {
            std::fprintf(stderr, "chorusd: cluster: %s\n", error.c_str());
            context.draining.store(true);
            for (auto& s : shards) s->request_drain();
            for (std::thread& t : threads) t.join();
            return 1;
        }
        // Joins need Redis: say "ready" once it answers (or after 5 s, degraded).
        for (int i = 0; i < 500 && !cluster_ready(hub, n); ++i) usleep(10'000);
        if (!cluster_ready(hub, n))
            std::fprintf(stderr, "chorusd: cluster: Redis unreachable; serving degraded\n");
    }
    std::fprintf(stderr, "chorusd: ready on %s (threads=%u, io=%s%s)\n", config.listen.c_str(), n,
                 config.io == io_choice::uring ? "uring" : "epoll",
                 cluster ? (", node " + cluster->instance()).c_str() : "");
    std::fflush(stderr);
    int received = 0;
    sigwait(&signals, &received);
    std::fprintf(stderr, "chorusd: %s received, closing connections\n",
                 received == SIGINT ? "SIGINT" : "SIGTERM");
    context.draining.store(true);
    for (auto& s : shards) s->request_drain();
    for (std::thread& t : threads) t.join();
    if (cluster) cluster->stop();  // leaves the cluster: others stop counting on this node
    std::fprintf(stderr, "chorusd: stopped\n");
    return 0;
}

}  // namespace chorus::core
