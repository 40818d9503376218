// The floor for Benchmarks/turn-relay.sh: a UDP relay hop with no protocol work, to show what this machine
// costs per relayed packet before any TURN logic. It speaks just enough TURN for `partyline load turn
// --data-path channel` to run against it: every STUN request is answered with a success response carrying
// XOR-RELAYED-ADDRESS (no authentication, no table, no permission check), each client gets its own relay
// socket, ChannelData from a client loses its 4-byte header and goes to the one peer the client bound, and
// a datagram arriving at a relay socket goes back to its client behind a ChannelData header. Sockets are
// read with recvmmsg (32 at a time, as a busy relay would); a relay socket's batch goes to the client in one
// sendmmsg. SO_REUSEPORT spreads clients over THREADS workers, each with its own epoll loop.
//
// Build: cc -O2 -pthread -o relay-floor Benchmarks/relay-floor.c
// Run:   relay-floor PORT [THREADS=2]   (listens on 127.0.0.1 only; loopback benchmarks)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
    struct sockaddr_in address;  // the client, as the listener sees it
    struct sockaddr_in peer;     // where its channel points
    int relay;                   // its relay socket
    int bound;
};

struct worker {
    int listener;
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

static struct client *find(struct worker *w, const struct sockaddr_in *from) {
    for (int i = 0; i < w->count; i++) {
        struct client *c = &w->clients[i];
        if (c->address.sin_port == from->sin_port && c->address.sin_addr.s_addr == from->sin_addr.s_addr) return c;
    }
    return NULL;
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
static void answer(struct worker *w, const uint8_t *request, size_t length, const struct sockaddr_in *from) {
    if (length < 20) return;
    uint16_t type = (uint16_t)(request[0] << 8 | request[1]);
    if ((type & 0x0110) != 0) return;  // not a request
    uint16_t method = type & 0x3EEF;
    struct client *c = find(w, from);
    uint8_t response[64];
    size_t size = 20;
    if (method == 0x0003) {  // Allocate
        if (!c) {
            if (w->count == MAX_CLIENTS) return;
            c = &w->clients[w->count];
            memset(c, 0, sizeof *c);
            c->address = *from;
            c->relay = udp_socket(0, 0);
            if (c->relay < 0) return;
            struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)w->count + 1};
            epoll_ctl(w->epoll, EPOLL_CTL_ADD, c->relay, &event);
            w->count++;
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
    sendto(w->listener, response, size, 0, (const struct sockaddr *)from, sizeof *from);
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
                        answer(w, data, length, &addresses[i]);
                    }
                }
            } else {
                struct client *c = &w->clients[key - 1];
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
        pthread_create(&ids[t], NULL, run, w);
    }
    fprintf(stderr, "relay-floor listening on 127.0.0.1:%d with %d threads\n", port, threads);
    pthread_join(ids[0], NULL);
    return 0;
}
