// An allocate-only TURN client for Benchmarks/turn-allocations.sh, light enough that the server, not the
// tool, sets the rate. Each allocation is what a WebRTC client makes: its own UDP socket (connected to the
// server, so its own 5-tuple) or TCP connection, an Allocate answered 401, the authenticated Allocate
// (long-term credentials, or REST credentials derived from a shared secret), and a Refresh with LIFETIME 0
// that ends it. INFLIGHT allocations run at once, each starting as soon as another ends, until TOTAL are
// done. A TCP connection is closed with SO_LINGER 0 (a reset) so that runs do not fill the loopback
// address's ports with TIME_WAIT; UDP source ports cycle over a range. A UDP request unanswered for 500 ms is sent again, up to 5 times.
//
// Build: cc -O2 -o turn-allocate Benchmarks/turn-allocate.c -lcrypto   (Debian: libssl-dev)
// Run:   turn-allocate HOST PORT udp|tcp TOTAL INFLIGHT USERNAME PASSWORD
//        turn-allocate HOST PORT udp|tcp TOTAL INFLIGHT --secret SECRET     (username "<expiry>:load")
// Prints: allocations TOTAL in SECONDS s (RATE/s), failed FAILED
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_INFLIGHT = 4096, BUFSIZE = 1500 };
enum state { IDLE, CONNECTING, CHALLENGED, ALLOCATING, REFRESHING };

struct slot {
    int fd;
    enum state state;
    uint8_t transaction[12];
    uint8_t request[BUFSIZE];
    size_t request_length;
    double sent_at;
    int tries;
    uint8_t pending[BUFSIZE * 2];  // TCP: bytes of an unfinished response
    size_t have;
    char nonce[256];  // each 5-tuple has its own nonce, as a server may bind one to it
    size_t nonce_length;
    uint8_t key[16];
};

static struct sockaddr_in server;
static int tcp;
static char username[256], realm[256];
static size_t realm_length;
static char password[256];
static long started, finished, failed, total;
static int epoll_fd;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t attribute(uint8_t *out, uint16_t type, const void *value, size_t length) {
    out[0] = (uint8_t)(type >> 8);
    out[1] = (uint8_t)type;
    out[2] = (uint8_t)(length >> 8);
    out[3] = (uint8_t)length;
    memcpy(out + 4, value, length);
    size_t padded = (length + 3) & ~(size_t)3;
    memset(out + 4 + length, 0, padded - length);
    return 4 + padded;
}

static void set_length(uint8_t *message, size_t body) {
    message[2] = (uint8_t)(body >> 8);
    message[3] = (uint8_t)body;
}

// Builds the slot's next request: an Allocate (0x0003) or a Refresh (0x0004) with LIFETIME 0, with
// USERNAME, REALM, NONCE and MESSAGE-INTEGRITY once the server has challenged.
static void build(struct slot *s, uint16_t method, int authenticated) {
    uint8_t *m = s->request;
    m[0] = (uint8_t)(method >> 8);
    m[1] = (uint8_t)method;
    uint32_t cookie = htonl(0x2112A442);
    memcpy(m + 4, &cookie, 4);
    for (int i = 0; i < 12; i++) s->transaction[i] = (uint8_t)rand();
    memcpy(m + 8, s->transaction, 12);
    size_t length = 20;
    if (method == 0x0003) {
        uint8_t transport[4] = {17, 0, 0, 0};
        length += attribute(m + length, 0x0019, transport, 4);
    } else {
        uint8_t lifetime[4] = {0, 0, 0, 0};
        length += attribute(m + length, 0x000D, lifetime, 4);
    }
    if (authenticated) {
        length += attribute(m + length, 0x0006, username, strlen(username));
        length += attribute(m + length, 0x0014, realm, realm_length);
        length += attribute(m + length, 0x0015, s->nonce, s->nonce_length);
        set_length(m, length - 20 + 24);
        unsigned int mac_length = 20;
        uint8_t mac[EVP_MAX_MD_SIZE];
        HMAC(EVP_sha1(), s->key, sizeof s->key, m, length, mac, &mac_length);
        length += attribute(m + length, 0x0008, mac, 20);
    }
    set_length(m, length - 20);
    s->request_length = length;
}

static void transmit(struct slot *s) {
    s->sent_at = now();
    s->tries++;
    send(s->fd, s->request, s->request_length, MSG_NOSIGNAL);
}

// A UDP socket's source is a loopback address this run picked at random, with ports from a cycle over
// 35000-60999, rather than the kernel's choice, which may hand back a port just closed: a server that keeps
// a deleted allocation's 5-tuple for a few seconds (coturn does) answers that 5-tuple's next Allocate with
// 437, and runs follow each other closely.
static struct in_addr source;

static void bind_next_port(int fd) {
    static uint16_t next = 35000;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(next), .sin_addr = source};
        next = next >= 60999 ? 35000 : next + 1;
        if (bind(fd, (struct sockaddr *)&local, sizeof local) == 0) return;
    }
}

static void open_slot(struct slot *s) {
    s->fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
    s->have = 0;
    s->tries = 0;
    if (s->fd < 0) {
        perror("socket");
        exit(1);
    }
    if (tcp) {
        int one = 1;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct linger linger = {.l_onoff = 1, .l_linger = 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    }
    if (!tcp) bind_next_port(s->fd);
    int connected = connect(s->fd, (struct sockaddr *)&server, sizeof server);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = s};
    started++;
    build(s, 0x0003, 0);
    if (connected < 0 && errno == EINPROGRESS) {
        s->state = CONNECTING;
        event.events = EPOLLOUT;
        s->sent_at = now();
    } else {
        s->state = CHALLENGED;
        transmit(s);
    }
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &event);
}

static void close_slot(struct slot *s, int ok) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
    s->state = IDLE;
    if (ok) {
        finished++;
    } else {
        failed++;
    }
    if (started < total) open_slot(s);
}

// Reads REALM and NONCE of a 401 or 438 answer and derives the key (MD5 of "username:realm:password").
static int take_challenge(struct slot *s, const uint8_t *m, size_t length) {
    size_t offset = 20;
    int found = 0;
    while (offset + 4 <= length) {
        uint16_t type = (uint16_t)(m[offset] << 8 | m[offset + 1]);
        size_t size = (size_t)(m[offset + 2] << 8 | m[offset + 3]);
        if (offset + 4 + size > length) break;
        if (type == 0x0014 && size < sizeof realm) {
            memcpy(realm, m + offset + 4, size);
            realm_length = size;
            found |= 1;
        } else if (type == 0x0015 && size < sizeof s->nonce) {
            memcpy(s->nonce, m + offset + 4, size);
            s->nonce_length = size;
            found |= 2;
        }
        offset += 4 + ((size + 3) & ~(size_t)3);
    }
    if (found != 3) return 0;
    char material[1024];
    int n = snprintf(material, sizeof material, "%s:%.*s:%s", username, (int)realm_length, realm, password);
    unsigned int digest_length = 16;
    EVP_Digest(material, (size_t)n, s->key, &digest_length, EVP_md5(), NULL);
    return 1;
}

static int error_code(const uint8_t *m, size_t length) {
    size_t offset = 20;
    while (offset + 4 <= length) {
        uint16_t type = (uint16_t)(m[offset] << 8 | m[offset + 1]);
        size_t size = (size_t)(m[offset + 2] << 8 | m[offset + 3]);
        if (type == 0x0009 && size >= 4 && offset + 8 <= length) return m[offset + 6] * 100 + m[offset + 7];
        offset += 4 + ((size + 3) & ~(size_t)3);
    }
    return 0;
}

static void answer(struct slot *s, const uint8_t *m, size_t length) {
    if (length < 20 || memcmp(m + 8, s->transaction, 12) != 0) return;
    uint16_t type = (uint16_t)(m[0] << 8 | m[1]);
    int success = (type & 0x0110) == 0x0100, error = (type & 0x0110) == 0x0110;
    if (!success && !error) return;
    int code = error ? error_code(m, length) : 0;
    if (s->state == REFRESHING) {
        if (code == 438 && s->tries < 5 && take_challenge(s, m, length)) {
            build(s, 0x0004, 1);
            return transmit(s);
        }
        if (!success && getenv("TURN_ALLOCATE_DEBUG")) fprintf(stderr, "refresh: error %d\n", code);
        return close_slot(s, success);
    }
    if (success) {  // the Allocate: now end it
        s->state = REFRESHING;
        s->tries = 0;
        build(s, 0x0004, 1);
        return transmit(s);
    }
    if ((code == 401 || code == 438) && s->tries < 5 && take_challenge(s, m, length)) {
        s->state = ALLOCATING;
        build(s, 0x0003, 1);
        return transmit(s);
    }
    if (getenv("TURN_ALLOCATE_DEBUG")) fprintf(stderr, "state %d: error %d\n", s->state, code);
    close_slot(s, 0);
}

static void readable(struct slot *s) {
    uint8_t buffer[BUFSIZE * 2];
    for (;;) {
        ssize_t got = recv(s->fd, buffer, sizeof buffer, 0);
        if (got < 0 && errno == EAGAIN) return;
        if (got <= 0) {
            if (getenv("TURN_ALLOCATE_DEBUG")) fprintf(stderr, "state %d: read %zd errno %d\n", s->state, got, errno);
            return close_slot(s, 0);
        }
        if (!tcp) {
            answer(s, buffer, (size_t)got);
            if (s->state == IDLE) return;
            continue;
        }
        size_t take = (size_t)got < sizeof s->pending - s->have ? (size_t)got : sizeof s->pending - s->have;
        memcpy(s->pending + s->have, buffer, take);
        s->have += take;
        int fd = s->fd;
        while (s->have >= 20) {
            size_t size = 20 + (size_t)(s->pending[2] << 8 | s->pending[3]);
            if (size > BUFSIZE) return close_slot(s, 0);
            if (s->have < size) break;
            uint8_t message[BUFSIZE];
            memcpy(message, s->pending, size);
            memmove(s->pending, s->pending + size, s->have - size);
            s->have -= size;
            answer(s, message, size);
            if (s->fd != fd) return;  // ended (and maybe reopened)
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: %s HOST PORT udp|tcp TOTAL INFLIGHT (USERNAME PASSWORD | --secret SECRET)\n",
                argv[0]);
        return 2;
    }
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) return 2;
    tcp = strcmp(argv[3], "tcp") == 0;
    total = atol(argv[4]);
    int inflight = atoi(argv[5]);
    if (inflight < 1 || inflight > MAX_INFLIGHT) inflight = 500;
    if (strcmp(argv[6], "--secret") == 0) {
        snprintf(username, sizeof username, "%ld:load", (long)time(NULL) + 86400);
        unsigned int mac_length = 20;
        uint8_t mac[EVP_MAX_MD_SIZE];
        HMAC(EVP_sha1(), argv[7], (int)strlen(argv[7]), (uint8_t *)username, strlen(username), mac, &mac_length);
        EVP_EncodeBlock((uint8_t *)password, mac, (int)mac_length);
    } else {
        snprintf(username, sizeof username, "%s", argv[6]);
        snprintf(password, sizeof password, "%s", argv[7]);
    }
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    source.s_addr = htonl(0x7F000000u | (uint32_t)(1 + rand() % 254) << 16 | (uint32_t)(rand() % 256) << 8 |
                          (uint32_t)(1 + rand() % 254));
    epoll_fd = epoll_create1(0);
    static struct slot slots[MAX_INFLIGHT];
    double begin = now();
    for (int i = 0; i < inflight && started < total; i++) open_slot(&slots[i]);
    struct epoll_event events[256];
    while (finished + failed < total) {
        int ready = epoll_wait(epoll_fd, events, 256, 100);
        for (int e = 0; e < ready; e++) {
            struct slot *s = events[e].data.ptr;
            if (s->state == CONNECTING) {
                int error = 0;
                socklen_t error_length = sizeof error;
                getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &error_length);
                if (error != 0) {
                    if (getenv("TURN_ALLOCATE_DEBUG")) fprintf(stderr, "connect: errno %d\n", error);
                    close_slot(s, 0);
                    continue;
                }
                struct epoll_event event = {.events = EPOLLIN, .data.ptr = s};
                epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s->fd, &event);
                s->state = CHALLENGED;
                transmit(s);
                continue;
            }
            if (s->state != IDLE) readable(s);
        }
        double t = now();
        for (int i = 0; i < inflight; i++) {
            struct slot *s = &slots[i];
            if (s->state == IDLE || t - s->sent_at < 0.5) continue;
            if (tcp || s->state == CONNECTING || s->tries >= 5) {
                if (t - s->sent_at > 5) close_slot(s, 0);
                continue;
            }
            transmit(s);
        }
    }
    double seconds = now() - begin;
    printf("allocations %ld in %.2f s (%.0f/s), failed %ld\n", finished, seconds, (double)finished / seconds, failed);
    return failed > 0 ? 1 : 0;
}
