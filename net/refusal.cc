// Connection refusal when slots or descriptors run out (see net/refusal.h).
#include "net/refusal.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace chorus::net {

void refuse_connection(int fd, const std::string& response) {
    if (!response.empty()) {
        ssize_t written = ::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)written;
    }
    ::close(fd);
}

bool refuse_waiting(int listener, int* spare_fd, const std::string& response) {
    if (*spare_fd < 0) *spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (*spare_fd < 0) return false;
    ::close(*spare_fd);
    for (int i = 0; i < refusals_per_pass_max; ++i) {
        int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) break;
        refuse_connection(fd, response);
    }
    *spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return true;
}

}  // namespace chorus::net
