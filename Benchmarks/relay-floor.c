// The floor for Benchmarks/turn-relay.sh: a relay hop with no protocol work, to show what this machine
// costs per relayed packet before any TURN logic. It speaks just enough TURN for `partyline load turn
// --data-path channel` to run against it: every STUN request is answered with a success response carrying
// XOR-RELAYED-ADDRESS (no authentication, no table, no permission check), each client gets its own relay
// socket, ChannelData from a client loses its 4-byte header and goes to the one peer the client bound, and
// a datagram arriving at a relay socket goes back to its client behind a ChannelData header. Sockets are
// read with recvmmsg (32 at a time, as a busy relay would); a relay socket's batch goes to the client in one
// sendmmsg. SO_REUSEPORT spreads clients over THREADS workers, each with its own epoll loop.
// Clients may also come over TCP on the same port (RFC 6544 framing: STUN messages and ChannelData padded to
// 4 bytes): a connection's read is cut into frames and each ChannelData goes to the peer with one sendto; a
// relay socket's batch goes back as one write of padded ChannelData frames.
//
// Build: cc -O2 -pthread -o relay-floor Benchmarks/relay-floor.c
// Run:   relay-floor PORT [THREADS=2]   (listens on 127.0.0.1 only; loopback benchmarks)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCH = 32, MAX_CLIENTS = 4096, BUFSIZE = 2048 };

struct client {
    int stream;                  // the client's TCP connection, or -1 over UDP
    size_t have;                 // bytes of an unfinished frame in `pending`
    uint8_t pending[BUFSIZE + 8];
    struct sockaddr_in address;  // the client, as the listener sees it
    struct sockaddr_in peer;     // where its channel points
    int relay;                   // its relay socket
    int bound;
};

// epoll keys: 0 the UDP listener, 1...MAX_CLIENTS a client's relay socket, TCP_LISTENER the TCP listener,
// STREAM + n client n's TCP connection.
enum { TCP_LISTENER = 1 << 20, STREAM = 1 << 21 };

struct worker {
    int listener;
    int tcp_listener;
    int epoll;
    struct client clients[MAX_CLIENTS];
    int count;
};

static int port;

static int udp_socket(uint16_t bind_port, int reuse) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (reuse) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    int buffer = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(bind_port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int tcp_listener(uint16_t bind_port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(bind_port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, 512) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct client *find(struct worker *w, const struct sockaddr_in *from) {
    for (int i = 0; i < w->count; i++) {
        struct client *c = &w->clients[i];
        if (c->stream < 0 && c->address.sin_port == from->sin_port && c->address.sin_addr.s_addr == from->sin_addr.s_addr) return c;
    }
    return NULL;
}

static struct client *add_client(struct worker *w, int stream, const struct sockaddr_in *from) {
    if (w->count == MAX_CLIENTS) return NULL;
    struct client *c = &w->clients[w->count++];
    memset(c, 0, sizeof *c);
    c->stream = stream;
    c->relay = -1;
    c->address = *from;
    return c;
}

// Writes an XOR-address attribute of `type` for an IPv4 address; returns its length.
static size_t xor_address(uint8_t *out, uint16_t type, const struct sockaddr_in *address) {
    uint16_t t = htons(type), length = htons(8), port_xor = address->sin_port ^ htons(0x2112);
    uint32_t ip_xor = address->sin_addr.s_addr ^ htonl(0x2112A442);
    memcpy(out, &t, 2);
    memcpy(out + 2, &length, 2);
    out[4] = 0;
    out[5] = 1;
    memcpy(out + 6, &port_xor, 2);
    memcpy(out + 8, &ip_xor, 4);
    return 12;
}

// Finds XOR-PEER-ADDRESS (0x0012) in a STUN message and decodes it.
static int peer_address(const uint8_t *message, size_t length, struct sockaddr_in *peer) {
    size_t offset = 20;
    while (offset + 4 <= length) {
        uint16_t type = (uint16_t)(message[offset] << 8 | message[offset + 1]);
        uint16_t size = (uint16_t)(message[offset + 2] << 8 | message[offset + 3]);
        if (type == 0x0012 && size == 8 && offset + 12 <= length && message[offset + 5] == 1) {
            uint16_t port_xor;
            uint32_t ip_xor;
            memcpy(&port_xor, message + offset + 6, 2);
            memcpy(&ip_xor, message + offset + 8, 4);
            peer->sin_family = AF_INET;
            peer->sin_port = port_xor ^ htons(0x2112);
            peer->sin_addr.s_addr = ip_xor ^ htonl(0x2112A442);
            return 1;
        }
        offset += 4 + ((size + 3u) & ~3u);
    }
    return 0;
}

// Answers a STUN request with success; an Allocate gets a relay socket and XOR-RELAYED-ADDRESS.
static void answer(struct worker *w, struct client *c, const uint8_t *request, size_t length,
                   const struct sockaddr_in *from) {
    if (length < 20) return;
    uint16_t type = (uint16_t)(request[0] << 8 | request[1]);
    if ((type & 0x0110) != 0) return;  // not a request
    uint16_t method = type & 0x3EEF;
    uint8_t response[64];
    size_t size = 20;
    if (method == 0x0003) {  // Allocate
        if (!c) c = add_client(w, -1, from);
        if (!c) return;
        if (c->relay < 0) {
            c->relay = udp_socket(0, 0);
            if (c->relay < 0) return;
            struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)(c - w->clients) + 1};
            epoll_ctl(w->epoll, EPOLL_CTL_ADD, c->relay, &event);
        }
        struct sockaddr_in relayed;
        socklen_t relayed_length = sizeof relayed;
        getsockname(c->relay, (struct sockaddr *)&relayed, &relayed_length);
        size += xor_address(response + size, 0x0016, &relayed);
        size += xor_address(response + size, 0x0020, from);
    } else if (c && (method == 0x0009 || method == 0x0008)) {  // ChannelBind, CreatePermission
        c->bound = peer_address(request, length, &c->peer);
    }
    uint16_t response_type = htons(type | 0x0100), body = htons((uint16_t)(size - 20));
    memcpy(response, &response_type, 2);
    memcpy(response + 2, &body, 2);
    memcpy(response + 4, request + 4, 16);  // cookie and transaction ID
    if (c && c->stream >= 0) {
        send(c->stream, response, size, MSG_NOSIGNAL);
    } else {
        sendto(w->listener, response, size, 0, (const struct sockaddr *)from, sizeof *from);
    }
}

// Cuts a TCP client's bytes into frames: a request is answered, ChannelData goes to the bound peer.
static void stream_frames(struct worker *w, struct client *c, const uint8_t *data, size_t length) {
    while (length > 0) {
        size_t copy = length < sizeof c->pending - c->have ? length : sizeof c->pending - c->have;
        memcpy(c->pending + c->have, data, copy);
        c->have += copy;
        data += copy;
        length -= copy;
        size_t offset = 0;
        while (c->have - offset >= 4) {
            const uint8_t *frame = c->pending + offset;
            size_t body = (size_t)(frame[2] << 8 | frame[3]);
            int channel = (frame[0] & 0xC0) == 0x40;
            size_t total = channel ? 4 + ((body + 3) & ~(size_t)3) : 20 + body;
            if (total > BUFSIZE) {  // not a frame this floor handles: drop the connection's bytes
                c->have = offset = 0;
                break;
            }
            if (c->have - offset < total) break;
            if (channel) {
                if (c->bound)
                    sendto(c->relay, frame + 4, body, 0, (struct sockaddr *)&c->peer, sizeof c->peer);
            } else {
                answer(w, c, frame, total, &c->address);
            }
            offset += total;
        }
        memmove(c->pending, c->pending + offset, c->have - offset);
        c->have -= offset;
    }
}

static void *run(void *argument) {
    struct worker *w = argument;
    static __thread uint8_t buffers[BATCH][BUFSIZE + 4];
    static __thread struct sockaddr_in addresses[BATCH];
    static __thread struct mmsghdr messages[BATCH];
    static __thread struct iovec vectors[BATCH];
    struct epoll_event events[64];
    for (;;) {
        int ready = epoll_wait(w->epoll, events, 64, -1);
        for (int e = 0; e < ready; e++) {
            uint64_t key = events[e].data.u64;
            if (key == TCP_LISTENER) {
                struct sockaddr_in from;
                socklen_t from_length = sizeof from;
                int stream = accept4(w->tcp_listener, (struct sockaddr *)&from, &from_length, SOCK_NONBLOCK);
                if (stream < 0) continue;
                int one = 1;
                setsockopt(stream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct client *c = add_client(w, stream, &from);
                if (!c) {
                    close(stream);
                    continue;
                }
                struct epoll_event event = {.events = EPOLLIN, .data.u64 = STREAM + (uint64_t)(c - w->clients)};
                epoll_ctl(w->epoll, EPOLL_CTL_ADD, stream, &event);
                continue;
            }
            if (key >= STREAM) {
                struct client *c = &w->clients[key - STREAM];
                ssize_t got = read(c->stream, buffers[0], sizeof buffers[0]);
                if (got > 0) {
                    stream_frames(w, c, buffers[0], (size_t)got);
                } else if (got == 0 || errno != EAGAIN) {
                    epoll_ctl(w->epoll, EPOLL_CTL_DEL, c->stream, NULL);
                    close(c->stream);
                    c->stream = -1;
                }
                continue;
            }
            int fd = key == 0 ? w->listener : w->clients[key - 1].relay;
            // Relay sockets read behind 4 bytes of room, so the ChannelData header is written in place.
            size_t room = key == 0 ? 0 : 4;
            for (int i = 0; i < BATCH; i++) {
                vectors[i] = (struct iovec){.iov_base = buffers[i] + room, .iov_len = BUFSIZE};
                messages[i].msg_hdr = (struct msghdr){
                    .msg_name = &addresses[i], .msg_namelen = sizeof addresses[i], .msg_iov = &vectors[i],
                    .msg_iovlen = 1};
            }
            int received = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
            if (received <= 0) continue;
            if (key == 0) {
                for (int i = 0; i < received; i++) {
                    uint8_t *data = buffers[i];
                    size_t length = messages[i].msg_len;
                    if (length >= 4 && (data[0] & 0xC0) == 0x40) {
                        struct client *c = find(w, &addresses[i]);
                        uint16_t size = (uint16_t)(data[2] << 8 | data[3]);
                        if (c && c->bound && size + 4u <= length)
                            sendto(c->relay, data + 4, size, 0, (struct sockaddr *)&c->peer, sizeof c->peer);
                    } else {
                        answer(w, find(w, &addresses[i]), data, length, &addresses[i]);
                    }
                }
            } else {
                struct client *c = &w->clients[key - 1];
                if (c->stream >= 0) {  // one write of padded ChannelData frames
                    static __thread uint8_t frames[BATCH * (BUFSIZE + 8)];
                    size_t used = 0;
                    for (int i = 0; i < received; i++) {
                        uint16_t size = (uint16_t)messages[i].msg_len;
                        uint8_t *frame = frames + used;
                        frame[0] = 0x40;
                        frame[1] = 0x00;
                        frame[2] = (uint8_t)(size >> 8);
                        frame[3] = (uint8_t)size;
                        memcpy(frame + 4, buffers[i] + 4, size);
                        size_t padded = (size + 3u) & ~3u;
                        memset(frame + 4 + size, 0, padded - size);
                        used += 4 + padded;
                    }
                    send(c->stream, frames, used, MSG_NOSIGNAL);
                    continue;
                }
                for (int i = 0; i < received; i++) {
                    uint16_t size = (uint16_t)messages[i].msg_len;
                    uint8_t *data = buffers[i];
                    data[0] = 0x40;
                    data[1] = 0x00;
                    data[2] = (uint8_t)(size >> 8);
                    data[3] = (uint8_t)size;
                    vectors[i] = (struct iovec){.iov_base = data, .iov_len = size + 4u};
                    messages[i].msg_hdr = (struct msghdr){
                        .msg_name = &c->address, .msg_namelen = sizeof c->address, .msg_iov = &vectors[i],
                        .msg_iovlen = 1};
                }
                sendmmsg(w->listener, messages, (unsigned)received, 0);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (threads < 1 || threads > 64) threads = 2;
    pthread_t ids[64];
    for (int t = 0; t < threads; t++) {
        struct worker *w = calloc(1, sizeof *w);
        w->listener = udp_socket((uint16_t)port, 1);
        w->epoll = epoll_create1(0);
        if (w->listener < 0 || w->epoll < 0) {
            perror("relay-floor");
            return 1;
        }
        struct epoll_event event = {.events = EPOLLIN, .data.u64 = 0};
        epoll_ctl(w->epoll, EPOLL_CTL_ADD, w->listener, &event);
        w->tcp_listener = tcp_listener((uint16_t)port);
        if (w->tcp_listener < 0) {
            perror("relay-floor: tcp");
            return 1;
        }
        struct epoll_event accept_event = {.events = EPOLLIN, .data.u64 = TCP_LISTENER};
        epoll_ctl(w->epoll, EPOLL_CTL_ADD, w->tcp_listener, &accept_event);
        pthread_create(&ids[t], NULL, run, w);
    }
    fprintf(stderr, "relay-floor listening on 127.0.0.1:%d with %d threads\n", port, threads);
    pthread_join(ids[0], NULL);
    return 0;
}
