#define _GNU_SOURCE
#include "CDatagramSockets.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>
#include <unistd.h>

static uint64_t load_big_endian_64(const uint8_t *bytes) {
    uint64_t value = 0;
    for (int index = 0; index < 8; index++) value = (value << 8) | bytes[index];
    return value;
}

static void store_big_endian_64(uint8_t *bytes, uint64_t value) {
    for (int index = 7; index >= 0; index--) {
        bytes[index] = (uint8_t)value;
        value >>= 8;
    }
}

int partyline_address_read(const void *socket_address, partyline_address *out) {
    sa_family_t family;
    memcpy(&family, (const uint8_t *)socket_address + offsetof(struct sockaddr, sa_family), sizeof family);
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        struct sockaddr_in address;
        memcpy(&address, socket_address, sizeof address);
        out->family = 4;
        out->port = ntohs(address.sin_port);
        out->v4 = ntohl(address.sin_addr.s_addr);
        return 1;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 address;
        memcpy(&address, socket_address, sizeof address);
        out->family = 6;
        out->port = ntohs(address.sin6_port);
        out->v6_high = load_big_endian_64(address.sin6_addr.s6_addr);
        out->v6_low = load_big_endian_64(address.sin6_addr.s6_addr + 8);
        return 1;
    }
    return 0;
}

socklen_t partyline_address_write(void *socket_address, const partyline_address *address) {
    if (address->family == 4) {
        struct sockaddr_in value;
        memset(&value, 0, sizeof value);
        value.sin_family = AF_INET;
        value.sin_port = htons(address->port);
        value.sin_addr.s_addr = htonl(address->v4);
        memcpy(socket_address, &value, sizeof value);
        return sizeof value;
    }
    struct sockaddr_in6 value;
    memset(&value, 0, sizeof value);
    value.sin6_family = AF_INET6;
    value.sin6_port = htons(address->port);
    store_big_endian_64(value.sin6_addr.s6_addr, address->v6_high);
    store_big_endian_64(value.sin6_addr.s6_addr + 8, address->v6_low);
    memcpy(socket_address, &value, sizeof value);
    return sizeof value;
}

#if defined(__linux__)
#include <fcntl.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

_Static_assert(sizeof(partyline_datagram) == sizeof(struct mmsghdr), "partyline_datagram is struct mmsghdr");

int partyline_datagram_sockets_supported(void) { return 1; }

int partyline_udp_socket(const struct sockaddr *address, socklen_t length, int reuse_port, int v6_only,
                         int dont_fragment, int buffer_bytes) {
    int family = address->sa_family;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
    if (family == AF_INET6 && v6_only && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) goto fail;
    if (dont_fragment) {
        if (family == AF_INET) {
            int value = IP_PMTUDISC_DO;
            if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof value) < 0) goto fail;
        } else if (setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof one) < 0) {
            goto fail;
        }
    }
    if (buffer_bytes > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
    }
    if (bind(fd, address, length) < 0) goto fail;
    return fd;
fail:;
    int error = errno;
    close(fd);
    return -error;
}

int partyline_receive_batch(int fd, partyline_datagram *datagrams, unsigned int count) {
    int result = recvmmsg(fd, (struct mmsghdr *)datagrams, count, MSG_DONTWAIT, NULL);
    if (result >= 0) return result;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
}

int partyline_send_batch(int fd, partyline_datagram *datagrams, unsigned int count) {
    int result = sendmmsg(fd, (struct mmsghdr *)datagrams, count, MSG_DONTWAIT);
    return result >= 0 ? result : -errno;
}

size_t partyline_segment_control_bytes(void) { return CMSG_SPACE(sizeof(uint16_t)); }

void partyline_set_segment_size(struct msghdr *header, void *control, uint16_t segment_size) {
    memset(control, 0, CMSG_SPACE(sizeof(uint16_t)));
    header->msg_control = control;
    header->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    struct cmsghdr *message = CMSG_FIRSTHDR(header);
    message->cmsg_level = SOL_UDP;
    message->cmsg_type = UDP_SEGMENT;
    message->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(message), &segment_size, sizeof segment_size);
}

int partyline_poll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

int partyline_poll_add(int poll, int fd, uint64_t tag) {
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(poll, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

int partyline_poll_remove(int poll, int fd) {
    return epoll_ctl(poll, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno;
}

int partyline_poll_wait(int poll, uint64_t *tags, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(poll, events, capacity, timeout_ms);
    if (count < 0) return errno == EINTR ? 0 : -errno;
    for (int index = 0; index < count; index++) tags[index] = events[index].data.u64;
    return count;
}

int partyline_wakeup_create(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

int partyline_wakeup_signal(int fd) {
    uint64_t one = 1;
    return write(fd, &one, sizeof one) == sizeof one || errno == EAGAIN ? 0 : -errno;
}

void partyline_wakeup_clear(int fd) {
    uint64_t value;
    while (read(fd, &value, sizeof value) == sizeof value) {
    }
}

#else

int partyline_datagram_sockets_supported(void) { return 0; }
int partyline_udp_socket(const struct sockaddr *address, socklen_t length, int reuse_port, int v6_only,
                         int dont_fragment, int buffer_bytes) { return -ENOSYS; }
int partyline_receive_batch(int fd, partyline_datagram *datagrams, unsigned int count) { return -ENOSYS; }
int partyline_send_batch(int fd, partyline_datagram *datagrams, unsigned int count) { return -ENOSYS; }
size_t partyline_segment_control_bytes(void) { return 0; }
void partyline_set_segment_size(struct msghdr *header, void *control, uint16_t segment_size) {}
int partyline_poll_create(void) { return -ENOSYS; }
int partyline_poll_add(int poll, int fd, uint64_t tag) { return -ENOSYS; }
int partyline_poll_remove(int poll, int fd) { return -ENOSYS; }
int partyline_poll_wait(int poll, uint64_t *tags, int capacity, int timeout_ms) { return -ENOSYS; }
int partyline_wakeup_create(void) { return -ENOSYS; }
int partyline_wakeup_signal(int fd) { return -ENOSYS; }
void partyline_wakeup_clear(int fd) {}

#endif
