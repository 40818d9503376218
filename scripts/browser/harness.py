"""Test harness for the party web page: a `partyline serve` on loopback with a test configuration, and
headless Chromium browsers (Debian's chromium and chromedriver, driven by selenium) that act as phones.

Each browser gets its own profile directory (its own IndexedDB, so its own account key), a 360x740 mobile
viewport, a geolocation override, and the camera emulation below. Nothing here talks to anything but
127.0.0.1.

Camera emulation: Chromium's fake capture device (--use-fake-device-for-media-stream) reports no facing mode,
while a phone's main camera reports "environment". The init script below plays the phone's camera driver:
the fake device answers as a rear camera ("rear") or as a front camera ("front"), and every constraint the
page asks getUserMedia for is recorded, so a test can check that the page never asked for the front camera.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

ADMIN_KEY = "browser-admin"
API_KEY = "browser-coordinator"
TURN_SECRET = "browser-turn-secret"

CAMERA_SHIM = r"""
(() => {
  const deviceFacing = "%FACING%";
  const requests = [];
  Object.defineProperty(window, "__cameraRequests", { value: requests });
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints = {}) => {
    requests.push(JSON.parse(JSON.stringify(constraints)));
    const video = constraints.video;
    if (!video) return original(constraints);
    const facing = typeof video === "object" ? video.facingMode : undefined;
    const exact = facing && typeof facing === "object" && "exact" in facing;
    const wanted = typeof facing === "string" ? facing : facing?.exact ?? facing?.ideal;
    if (exact && wanted !== deviceFacing) {
      throw new OverconstrainedError("facingMode", "no camera faces " + wanted);
    }
    const rest = typeof video === "object" ? { ...video } : {};
    delete rest.facingMode;
    const stream = await original({ ...constraints, video: Object.keys(rest).length ? rest : true });
    for (const track of stream.getVideoTracks()) {
      const settings = track.getSettings.bind(track);
      track.getSettings = () => ({ ...settings(), facingMode: deviceFacing });
    }
    return stream;
  };
})();
"""


# A client that ignores the server: incoming signalling messages whose type is in window.__dropTypes never
# reach the page (set at run time by a test). Every incoming message is also kept in window.__received. With stream-stop and turn-result dropped, a prover's page
# keeps its camera streaming and a verifier's page keeps receiving: only the relay can stop the media.
SIGNAL_FILTER = r"""
(() => {
  const Native = window.WebSocket;
  const dropped = new Set();
  const received = [];
  Object.defineProperty(window, "__dropTypes", { value: dropped });
  Object.defineProperty(window, "__received", { value: received });
  window.WebSocket = class extends Native {
    set onmessage(handler) {
      if (!handler) {
        super.onmessage = handler;
        return;
      }
      super.onmessage = (event) => {
        try {
          received.push(event.data);
          if (dropped.has(JSON.parse(event.data).type)) return;
        } catch {}
        handler.call(this, event);
      };
    }
    get onmessage() {
      return super.onmessage;
    }
  };
})();
"""


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`partyline serve` on loopback: STUN/TURN on UDP and TCP, HTTP, SQLite in a temporary folder."""

    def __init__(self, binary, work, turn_deadline=90, reconnect_grace=30, no_show_grace=15, web_root=None,
                 turn_urls=None, cluster=None, relay_ports="21000-21999", name="server"):
        """`cluster`: {"postgres": URL, "nodeId": ..., "roles": "relay,signalling"} makes it a node of a cluster."""
        self.binary = binary
        self.work = work
        self.name = name
        self.http_port = free_port()
        self.turn_port = free_port(socket.SOCK_DGRAM)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.log_path = os.path.join(work, f"{name}.log")
        config = {
            "log": {"level": "info"},
            "stun": {"listen": {"udp": [f"127.0.0.1:{self.turn_port}"], "tcp": [f"127.0.0.1:{self.turn_port}"], "tls": []}},
            "turn": {
                "secrets": [TURN_SECRET],
                "relay": {"addresses": ["127.0.0.1"], "ports": relay_ports},
                "peers": {"allowed": ["127.0.0.0/8"]},
            },
            "http": {"listen": f"127.0.0.1:{self.http_port}"},
            "signalling": {
                "apiKeys": [API_KEY],
                "publicURL": f"ws://127.0.0.1:{self.http_port}/v1/signal",
                "stunURLs": [f"stun:127.0.0.1:{self.turn_port}"],
                "turnURLs": turn_urls or [f"turn:127.0.0.1:{self.turn_port}?transport=udp",
                                          f"turn:127.0.0.1:{self.turn_port}?transport=tcp"],
                "turnDeadline": turn_deadline,
                "noShowGrace": no_show_grace,
                "reconnectGrace": reconnect_grace,
            },
            "coordinator": {
                "database": {"sqlitePath": os.path.join(work, "coordinator.sqlite")},
                "adminKeys": [ADMIN_KEY],
                "loginSecret": "browser-login-secret",
            },
        }
        if web_root:
            config["http"]["webRoot"] = web_root
        if cluster:
            config["coordinator"]["database"] = {"postgresURL": cluster["postgres"]}
            config["cluster"] = {"nodeId": cluster["nodeId"], "roles": [cluster["roles"]],
                                 "heartbeatInterval": 0.5, "deadAfter": 2}
            config["data"] = {"directory": os.path.join(work, f"{name}-data")}
            # The page may open WebSockets to the other nodes of the cluster.
            config["http"]["connectSources"] = ["ws://127.0.0.1:*"]
        self.config_path = os.path.join(work, f"{name}.yaml")
        with open(self.config_path, "w") as file:
            json.dump(config, file, indent=1)  # JSON is YAML
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([self.binary, "serve", "--config", self.config_path], stdout=log, stderr=log,
                                        start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + open(self.log_path).read()[-4000:])
            try:
                if self.get("/healthz", raw=True) == b"ok":
                    return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self):
        """SIGKILL: the node dies as a crashed machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    # Straight to loopback, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def request(self, method, path, body=None, key=None, raw=False):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        with self.opener.open(request, timeout=15) as response:
            payload = response.read()
            return payload if raw else (json.loads(payload) if payload else None)

    def get(self, path, **options):
        return self.request("GET", path, **options)

    def post(self, path, body, **options):
        return self.request("POST", path, body, **options)

    def admin(self, method, path, body=None):
        return self.request(method, path, body, key=ADMIN_KEY)


class Browser:
    """One headless Chromium with its own profile, as one phone."""

    def __init__(self, name, work, location=None, facing="environment", fps=10):
        self.name = name
        self.profile = os.path.join(work, f"profile-{name}")
        self.location = location
        self.facing = facing
        self.fps = fps
        self.driver = None

    def open(self):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in [
            "--headless=new", f"--user-data-dir={self.profile}",
            f"--use-fake-device-for-media-stream=fps={self.fps}", "--use-fake-ui-for-media-stream",
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--allow-loopback-in-peer-connection",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-features=Translate,OptimizationHints,MediaRouter", "--mute-audio",
            "--window-size=360,740", "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows", "--no-proxy-server",
        ]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            self.prepare()
        except Exception:
            self.close()
            raise
        return self

    def prepare(self):
        self.driver.set_script_timeout(30)
        self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": CAMERA_SHIM.replace("%FACING%", self.facing)})
        self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": SIGNAL_FILTER})
        self.cdp("Emulation.setDeviceMetricsOverride", {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
        if self.location:
            self.cdp("Emulation.setGeolocationOverride",
                     {"latitude": self.location[0], "longitude": self.location[1], "accuracy": 8})

    def cdp(self, command, parameters=None):
        return self.driver.execute_cdp_cmd(command, parameters or {})

    def grant_location(self, origin):
        self.cdp("Browser.setPermission", {"origin": origin, "permission": {"name": "geolocation"}, "setting": "granted"})

    def deny_location(self, origin):
        self.cdp("Browser.setPermission", {"origin": origin, "permission": {"name": "geolocation"}, "setting": "denied"})

    def go(self, url):
        self.driver.get(url)

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def state(self):
        return self.js("return window.partyLine ? window.partyLine.state() : null")

    def session(self):
        state = self.state()
        return state and state.get("session")

    def click(self, selector):
        """Taps the element, found again if the page replaced it between the lookup and the tap."""
        for attempt in range(3):
            try:
                self.driver.find_element(By.CSS_SELECTOR, selector).click()
                return
            except StaleElementReferenceException:
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def text(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector).text

    def wait(self, predicate, timeout, what):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = predicate()
                if last:
                    return last
            except Exception as error:  # a page in the middle of a navigation
                last = error
            time.sleep(0.2)
        raise TimeoutError(f"{self.name}: timed out waiting for {what} (last: {str(last)[:300]})")

    def screenshot(self, path):
        self.driver.save_screenshot(path)

    def console(self):
        try:
            return [entry["message"] for entry in self.driver.get_log("browser")]
        except Exception:
            return []

    def pids(self):
        """chromedriver and every process below it (the browser, its renderers, GPU and utility processes)."""
        root = self.driver.service.process.pid
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                    children.setdefault(int(fields[1]), []).append(int(entry))
                except OSError:
                    continue
        found, stack = [], [root]
        while stack:
            pid = stack.pop()
            found.append(pid)
            stack.extend(children.get(pid, []))
        return found

    def cpu_seconds(self):
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                continue
        return total / ticks

    def close(self):
        if self.driver:
            try:
                self.driver.quit()
            except Exception:
                pass
            self.driver = None


def make_work_dir(results):
    os.makedirs(results, exist_ok=True)
    return tempfile.mkdtemp(prefix="partyline-browser.")


def remove_work_dir(work):
    shutil.rmtree(work, ignore_errors=True)
