"""Prints COUNT distinct loopback ports, each free for both TCP and UDP right now (for test servers)."""
import socket
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
ports = []
while len(ports) < count:
    tcp, udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))
        if port not in ports and port > 1024:
            ports.append(port)
    except OSError:
        pass
    finally:
        tcp.close()
        udp.close()
print(*ports)
