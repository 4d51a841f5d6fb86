#ifndef INFRASTACK_CEPOLL_SHIM_H
#define INFRASTACK_CEPOLL_SHIM_H
// Linux socket facilities that the Glibc module does not export: epoll, eventfd, and
// accept4 (a GNU extension, wrapped here so nothing needs _GNU_SOURCE). sys/socket.h is
// deliberately not included: its declarations must keep coming from the Glibc module.
#include <sys/epoll.h>
#include <sys/eventfd.h>

struct sockaddr;
extern int accept4(int sockfd, struct sockaddr *addr, unsigned int *addrlen, int flags);

static inline int infrastack_accept4(int fd, void *addr, unsigned int *len, int flags) {
    return accept4(fd, (struct sockaddr *)addr, len, flags);
}
#endif
