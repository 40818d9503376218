// Batched UDP system calls for the relay's datagram plane: recvmmsg and sendmmsg, UDP GSO, epoll and an
// eventfd. Glibc declares `struct mmsghdr` only under _GNU_SOURCE, which Swift's Glibc module does not
// define, so the batch entry is declared here with the kernel's layout and the calls are made in C.
// Every call returns a count or a file descriptor, or -errno; none of them retries or blocks unless asked.
#ifndef PARTYLINE_CDATAGRAMSOCKETS_H
#define PARTYLINE_CDATAGRAMSOCKETS_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/// One datagram of a batch (the layout of Linux's `struct mmsghdr`).
typedef struct {
    struct msghdr header;
    unsigned int length;
} partyline_datagram;

/// An IP socket address in host byte order: `family` 4 or 6; `v4` for IPv4, `v6_high` and `v6_low` for IPv6.
typedef struct {
    int family;
    uint16_t port;
    uint32_t v4;
    uint64_t v6_high;
    uint64_t v6_low;
} partyline_address;

/// Reads a `sockaddr_in` or `sockaddr_in6` into `out`: 1, or 0 for another family.
int partyline_address_read(const void *socket_address, partyline_address *out);
/// Writes `address` as a `sockaddr_in` or `sockaddr_in6` into `socket_address` (room for a
/// `sockaddr_storage`) and returns its length.
socklen_t partyline_address_write(void *socket_address, const partyline_address *address);

/// Whether the calls below exist on this platform (Linux); elsewhere each returns -ENOSYS.
int partyline_datagram_sockets_supported(void);

/// A non-blocking UDP socket of `family` bound to `address`: SO_REUSEPORT if `reuse_port`, IPV6_V6ONLY if
/// `v6_only`, DF on every datagram if `dont_fragment`, and `buffer_bytes` of SO_RCVBUF and SO_SNDBUF if positive.
int partyline_udp_socket(const struct sockaddr *address, socklen_t length, int reuse_port, int v6_only,
                         int dont_fragment, int buffer_bytes);
/// recvmmsg without waiting: the number of datagrams read (0 when none is waiting), or -errno.
int partyline_receive_batch(int fd, partyline_datagram *datagrams, unsigned int count);
/// sendmmsg: the number of datagrams the kernel took, or -errno for the first one.
int partyline_send_batch(int fd, partyline_datagram *datagrams, unsigned int count);
/// Bytes of control data a UDP_SEGMENT message needs.
size_t partyline_segment_control_bytes(void);
/// Puts a UDP_SEGMENT control message of `segment_size` into `control` (partyline_segment_control_bytes()
/// long) and points `header` at it: the kernel cuts the datagram into segments of that size.
void partyline_set_segment_size(struct msghdr *header, void *control, uint16_t segment_size);

/// An epoll instance (close-on-exec).
int partyline_poll_create(void);
/// Watches `fd` for readability, level-triggered, reported with `tag`.
int partyline_poll_add(int poll, int fd, uint64_t tag);
int partyline_poll_remove(int poll, int fd);
/// Waits up to `timeout_ms` (-1: forever); writes the tags of ready descriptors and returns their count.
int partyline_poll_wait(int poll, uint64_t *tags, int capacity, int timeout_ms);

/// An eventfd (non-blocking, close-on-exec) that wakes a poll from another thread.
int partyline_wakeup_create(void);
int partyline_wakeup_signal(int fd);
/// Clears a signalled eventfd.
void partyline_wakeup_clear(int fd);

#endif
