#!/usr/bin/env python3
"""The party web page, end to end in six real browsers, through PartyLine's own relay.

Runs, against one `partyline serve` on loopback (see harness.py):
  party      six pages create their accounts, get funds (admin API), register at distinct places through
             the page (one refusal for a place too close first), join at the start and play all six turns
             with relay-only ICE; five turns approved and one denied. Checks from each page: frames decoded
             from every prover, relay/relay candidate pairs, stream-stop, the prover's camera released, no
             frame shown later than a second after the stop, vote secrecy, hide-video within one animation
             frame, the registry (five independent, one unregistered) and a page's attestation verified with
             `partyline verify-attestation`.
  reconnect  a second party: one prover's browser is closed mid-turn and opened again; it resumes and the
             turn finishes approved.
  join       /join with tokens from POST /v1/sessions and no coordinator call; one member's phone has only
             a front camera: its page says so and never asks for it.
  relay      a session whose TURN URL answers nothing: the prover's page says the relay is unreachable.
The reconnect run also plays one turn with the prover's and one verifier's pages ignoring stream-stop and
turn-result (harness.SIGNAL_FILTER): the relay alone must end the video within about a second.
Every page is checked for camera requests: only {"facingMode": {"exact": "environment"}}, never the front.
Screenshots (360x740) of the registration screen, the prover view and the verifier view are saved in the
results folder; --report writes the figures (time to first frame, page size, prover CPU) as JSON.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from harness import API_KEY, Browser, Server, free_port, make_work_dir, remove_work_dir

failures = []


def check(condition, message):
    if condition:
        print(f"  ok   {message}")
    else:
        print(f"  FAIL {message}")
        failures.append(message)
    return condition


def places(count):
    # About 1.1 km apart along a line through Berlin: far more than the party's 100 m spacing.
    return [(52.5200 + 0.01 * index, 13.4050 + 0.005 * index) for index in range(count)]


def wait_account(browser):
    """The page's state once its account is signed in and its funds are shown."""
    return browser.wait(lambda: (browser.state() or {}).get("funds") and browser.state(), 30, "the account")


def wait_session(browser, timeout):
    """The page's session once the server's welcome named its pseudonym."""
    return browser.wait(lambda: (browser.session() or {}).get("you") and browser.session(), timeout, "the session")


class Run:
    def __init__(self, server, browsers, results, figures, work):
        self.work = work
        self.server = server
        self.browsers = browsers
        self.results = results
        self.figures = figures

    # MARK: accounts and registration

    def open_accounts(self):
        for browser in self.browsers:
            browser.go(self.server.base + "/")
            browser.grant_location(self.server.base)
        accounts = {}
        for browser in self.browsers:
            state = wait_account(browser)
            accounts[browser.name] = state["account"]
            self.server.admin("POST", "/v1/admin/credits", {"account": state["account"], "amount": 20000})
        return accounts

    def create_party(self, name, registration_seconds):
        now = int(time.time())
        return self.server.admin("POST", "/v1/parties", {
            "name": name, "registrationOpensAt": now - 5, "registrationClosesAt": now + registration_seconds,
            "startsAt": now + registration_seconds, "duration": 1800, "groupSize": 6, "minimumDistance": 100,
            "deposit": 5000, "slashPermille": 250})

    @staticmethod
    def open_registration(browser, party):
        """Taps the party's Register button (after a refresh of the list)."""
        browser.click("#parties-refresh")
        selector = f'button.register[data-party="{party["id"]}"]'
        browser.wait(lambda: browser.js(f"return !!document.querySelector('{selector}')"), 15, "the register button")
        browser.click(selector)

    @staticmethod
    def submit_registration(browser, party):
        """Taps the submit button and waits until the account lists the registration."""
        browser.click("#register-submit")
        browser.wait(lambda: party["id"] in ((browser.state() or {}).get("funds") or {}).get("registrations", []),
                     15, "the registration")

    def register(self, browser, party, screenshot=None, refuse_near=None):
        self.open_registration(browser, party)
        if refuse_near:
            # A point set by hand 30 m from another registration: the coordinator refuses it, in words.
            browser.click("#manual-point summary")
            browser.js("document.getElementById('latitude').value = arguments[0];"
                       "document.getElementById('longitude').value = arguments[1];", refuse_near[0] + 0.00027, refuse_near[1])
            browser.click("#register-submit")
            result = browser.wait(lambda: browser.js("return document.getElementById('register-status').dataset.result"),
                                  15, "the refusal")
            check(result == "location-taken", f"{browser.name}: a place 30 m from another is refused (location-taken)")
            text = browser.text("#register-status")
            check("too close" in text, f"{browser.name}: the refusal is shown in words: {text!r}")
        browser.click("#use-location")
        result = browser.wait(lambda: browser.js(
            "const r = document.getElementById('register-status').dataset.result; return r === 'located' ? r : null"),
            20, "the location")
        check(result == "located", f"{browser.name}: the page found its location")
        if screenshot:
            browser.screenshot(screenshot)
        self.submit_registration(browser, party)

    # MARK: a whole session

    def wait_turn(self, turn, timeout=90):
        def everyone():
            sessions = [browser.session() for browser in self.browsers]
            if all(session and session.get("turn") and session["turn"]["turn"] == turn for session in sessions):
                return sessions
            return None
        sessions = self.browsers[0].wait(everyone, timeout, f"turn {turn} on every page")
        prover = next(browser for browser, session in zip(self.browsers, sessions) if session["turn"]["role"] == "prover")
        return prover, [browser for browser in self.browsers if browser is not prover]

    @staticmethod
    def metric(browser, turn):
        session = browser.session() or {}
        found = [metric for metric in session.get("metrics", []) if metric["turn"] == turn]
        return found[-1] if found else None

    def wait_frames(self, verifiers, turn, timeout=60, above=None):
        for browser in verifiers:
            def decoding():
                metric = self.metric(browser, turn)
                frames = (metric or {}).get("media", {}).get("framesDecoded", 0)
                floor = (above or {}).get(browser.name, 0)
                return frames > floor and metric
            browser.wait(decoding, timeout, f"video frames of turn {turn}")

    def vote(self, verifiers, choice, turn):
        """Taps `choice` on each verifier's page while that page still shows `turn` (a human taps a visible
        button; the next turn's buttons are never tapped for this one), and waits for that page's vote-ack
        or the turn's end. Returns how many verifiers' votes were acknowledged."""
        acknowledged = 0
        for browser in verifiers:
            browser.wait(lambda b=browser: b.js("""
                const session = window.partyLine.state().session;
                return !document.getElementById(arguments[0]).disabled || !session.turn
                    || session.turn.turn !== arguments[1] || session.vote !== null;""", choice, turn),
                         10, "the vote buttons")
            browser.js("""
                const session = window.partyLine.state().session;
                const button = document.getElementById(arguments[0]);
                if (session && session.turn && session.turn.turn === arguments[1] && !button.disabled) button.click();""",
                       choice, turn)
            browser.wait(lambda b=browser: b.js("""
                const session = window.partyLine.state().session;
                return (session.turn && session.turn.turn === arguments[0] && session.voteAck)
                    || !session.turn || session.turn.turn !== arguments[0];""", turn), 20, "the vote-ack")
        return sum(self.acknowledged(browser, turn) for browser in verifiers)

    @staticmethod
    def acknowledged(browser, turn):
        """Whether the server sent this page a vote-ack for `turn` (read off the wire)."""
        return browser.js("""return window.__received.some(m => { const x = JSON.parse(m);
            return x.type === 'vote-ack' && x.turn === arguments[0]; })""", turn)

    def wait_result(self, turn, timeout=60):
        for browser in self.browsers:
            browser.wait(lambda b=browser: any(r["turn"] == turn for r in (b.session() or {}).get("results", [])),
                         timeout, f"the result of turn {turn}")
        return next(r for r in self.browsers[0].session()["results"] if r["turn"] == turn)

    def check_stop(self, prover, verifiers, turn, first_frame_delays):
        for browser in [prover] + verifiers:
            errors = [e for e in (browser.session() or {}).get("errors", []) if e.startswith("errorRelay")]
            check(not errors, f"turn {turn}: {browser.name} met no relay error ({errors})")
        proof = self.metric(prover, turn)
        check(proof and proof.get("camera") == "ended", f"turn {turn}: the prover's camera track ended ({proof and proof.get('camera')})")
        for browser in verifiers:
            metric = self.metric(browser, turn)
            media = (metric or {}).get("media") or {}
            check(media.get("framesDecoded", 0) > 0, f"turn {turn}: {browser.name} decoded {media.get('framesDecoded')} frames")
            check(media.get("pair") == {"local": "relay", "remote": "relay"},
                  f"turn {turn}: {browser.name}'s selected pair is relay/relay ({media.get('pair')})")
            check(metric.get("stopAt") is not None and media.get("stoppedAt") is not None,
                  f"turn {turn}: {browser.name} got stream-stop and closed its connection")
            if media.get("firstFrameAt"):
                first_frame_delays.append(media["firstFrameAt"] - metric["turnStartAt"])

    def session_text(self, browser):
        return browser.js("""
            const view = document.getElementById('session-view');
            if (!view) return '';
            const copy = view.cloneNode(true);
            for (const id of ['#countdown', '#verifier-prompt', '#prover-prompt']) copy.querySelector(id)?.remove();
            return copy.textContent;""")

    def check_vote_secrecy(self, voter, watcher, turn):
        before = self.session_text(watcher)
        received = watcher.js("return window.__received.length")
        voter.wait(lambda: voter.js("return !document.getElementById('approve').disabled"), 10, "the vote buttons")
        voter.js("document.getElementById('approve').click()")
        voter.wait(lambda: (voter.session() or {}).get("voteAck") == "approve", 15, "the vote-ack")
        # A round trip on the watcher's own connection: anything sent to it about the vote has arrived by now.
        watcher.js("document.getElementById('new-prompt').click()")
        watcher.wait(lambda: watcher.js("return window.__received.slice(arguments[0]).some(m => JSON.parse(m).type === 'prompt')",
                                        received), 15, "the new prompt")
        arrived = watcher.js("return window.__received.slice(arguments[0])", received)
        leaks = [m for m in arrived if "approve" in m or "vote" in m or "turn-result" in m]
        check(not leaks, f"turn {turn}: nothing about {voter.name}'s vote reached {watcher.name} ({len(arrived)} messages: {leaks})")
        after = self.session_text(watcher)
        check(before == after, f"turn {turn}: {watcher.name}'s page shows nothing of {voter.name}'s vote before the result")
        ack = voter.text("#vote-status")
        check("counted" in ack, f"turn {turn}: the voter's page shows the server's vote-ack ({ack!r})")
        check(voter.js("return document.getElementById('approve').disabled && document.getElementById('deny').disabled"),
              f"turn {turn}: the vote is locked after one tap")

    def check_hide_video(self, browser, turn):
        result = browser.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const video = document.getElementById('remote');
            const before = video.checkVisibility();
            document.getElementById('hide-video').click();
            requestAnimationFrame(() => done({before, after: video.checkVisibility(),
                notice: document.getElementById('hidden-notice').checkVisibility()}));""")
        check(result["before"] and not result["after"] and result["notice"],
              f"turn {turn}: hide-video blanked {browser.name}'s video within one animation frame ({result})")

    def check_relay_stop(self, prover, verifiers, turn):
        """The prover's page and one verifier's page ignore stream-stop and turn-result (a modified client):
        the prover keeps streaming, the verifier keeps its connection open. The other verifiers approve; once
        the turn is decided the relay revokes the turn's credentials, and the watching verifier decodes no
        frame later than about a second after the decision."""
        watcher, voters = verifiers[0], verifiers[1:]
        for page in (prover, watcher):
            page.js("for (const t of ['stream-stop', 'turn-result', 'turn-start']) window.__dropTypes.add(t);")
        self.vote(voters, "approve", turn)
        for browser in voters:
            browser.wait(lambda b=browser: any(r["turn"] == turn for r in (b.session() or {}).get("results", [])),
                         60, f"the result of turn {turn}")
        decided = min(self.metric(browser, turn)["stopAt"] for browser in voters)
        time.sleep(3)
        media = self.metric(watcher, turn)["media"]
        camera = self.metric(prover, turn).get("camera")
        late = media["lastFrameAt"] - decided
        still = watcher.session()["turn"]
        check(still and still["turn"] == turn and media.get("stoppedAt") is None,
              f"turn {turn}: the watching verifier's page never stopped the video itself ({still})")
        result = next(r for r in voters[0].session()["results"] if r["turn"] == turn)
        check(result["outcome"] == "approved", f"relay-stop turn {turn}: approved by the other verifiers")
        check(camera == "live", f"turn {turn}: the prover's page, ignoring the stop, kept its camera on ({camera})")
        check(media["framesDecoded"] > 0 and late <= 1500,
              f"turn {turn}: with both pages ignoring the stop, the relay ended the video {late} ms after the decision")
        self.figures["relayStopMillis"] = late
        # Back to a client that listens: both pages are reloaded and rejoin the session.
        for page in (prover, watcher):
            page.js("window.__dropTypes.clear();")
            page.go(self.server.base + "/")
        for page in (prover, watcher):
            wait_session(page, 60)

    def play_session(self, turns, deny_turn=None, label="", on_turn=None, relay_stop_turn=None):
        first_frame_delays = []
        provers = {}
        for turn in range(turns):
            prover, verifiers = self.wait_turn(turn)
            provers[turn] = prover
            print(f"turn {turn}: {prover.name} proves")
            self.wait_frames(verifiers, turn)
            if on_turn:
                on_turn(turn, prover, verifiers)
            if turn == relay_stop_turn:
                self.check_relay_stop(prover, verifiers, turn)
                continue
            choice = "deny" if turn == deny_turn else "approve"
            self.vote(verifiers, choice, turn)
            result = self.wait_result(turn)
            acknowledged = sum(self.acknowledged(browser, turn) for browser in verifiers)
            check(result["outcome"] == ("denied" if turn == deny_turn else "approved"),
                  f"{label}turn {turn}: {result['outcome']} ({result['approvals']} approve, {result['denials']} deny)")
            counted = result["denials" if turn == deny_turn else "approvals"]
            check(counted == acknowledged, f"{label}turn {turn}: the tally counts the {acknowledged} acknowledged votes")
            for browser in self.browsers:
                locked = browser.js("const s = window.partyLine.state().session; return s.turn && s.vote && !s.voteAck"
                                    " && s.turn.turn !== arguments[0] ? s.vote : null", turn)
                check(not locked, f"{label}turn {turn}: {browser.name}'s next turn is not locked by a late vote ({locked})")
            self.check_stop(prover, verifiers, turn, first_frame_delays)
        return provers, first_frame_delays

    def check_cameras(self):
        for browser in self.browsers:
            requests = browser.js("return window.__cameraRequests || []")
            text = json.dumps(requests)
            rear = [isinstance(r.get("video"), dict) and r["video"].get("facingMode") == {"exact": "environment"}
                    and r.get("audio") is False for r in requests]
            check(requests and all(rear) and "user" not in text,
                  f"{browser.name}: {len(requests)} camera requests, each rear only and without audio, none for the front camera")


def run_party(run, accounts):
    print("== party: six browsers, one party")
    party = run.create_party("Browser party", 80)
    for index, browser in enumerate(run.browsers):
        shot = os.path.join(run.results, "registration.png") if index == 0 else None
        near = places(1)[0] if index == 5 else None
        run.register(browser, party, screenshot=shot, refuse_near=near)
    print(f"registered; the party starts in {party['startsAt'] - int(time.time())} s")
    for browser in run.browsers:
        wait_session(browser, party["startsAt"] - time.time() + 60)
    run.check_cameras_before = True

    def on_turn(turn, prover, verifiers):
        if turn == 0:
            # A verifier's request reaches the prover's screen, shown over the camera.
            asker = verifiers[1]
            asker.js("document.getElementById('request-text').value = 'turn slowly to the left';")
            asker.click("#request-send")
            prover.wait(lambda: any(r["text"] == "turn slowly to the left" for r in prover.session()["requests"]), 15, "the request")
            check("turn slowly to the left" in prover.text("#prover-requests"), "turn 0: a verifier's request is shown over the prover's camera")
            prover.screenshot(os.path.join(run.results, "prover.png"))
            verifiers[0].screenshot(os.path.join(run.results, "verifier.png"))
            run.check_vote_secrecy(verifiers[0], verifiers[1], turn)
        if turn == 1:
            run.check_hide_video(verifiers[0], turn)
        if turn == 2:
            started, cpu = time.time(), prover.cpu_seconds()
            time.sleep(8)
            run.figures["proverCPUPercent"] = round(100 * (prover.cpu_seconds() - cpu) / (time.time() - started), 1)
            run.figures["proverCPUNote"] = "prover's whole Chromium (browser, renderer, GPU, utility processes), 5 verifiers, fake camera 640x480 at 10 fps"

    provers, delays = run.play_session(6, deny_turn=3, on_turn=on_turn)
    denied = provers[3]
    for browser in run.browsers:
        browser.wait(lambda b=browser: (b.state() or {}).get("outcome") and (b.state() or {}).get("attestation"), 30, "the outcome")
        state = browser.state()
        expected = "failed" if browser is denied else "validated"
        check(state["outcome"] == expected, f"{browser.name}: the page shows the outcome {state['outcome']}")
        deposit = browser.text("#deposit-text")
        expected_deposit = "1250 of your deposit was kept; 3750 was returned" if browser is denied else "deposit of 5000 was returned"
        check(expected_deposit in deposit, f"{browser.name}: the deposit's fate is shown ({deposit!r})")
        level = run.server.get(f"/v1/registry/{accounts[browser.name]}")["level"]
        check(level == (0 if browser is denied else 1), f"{browser.name}: registry level {level}")
    validated = next(browser for browser in run.browsers if browser is not denied)
    attestation = validated.state()["attestation"]
    key_path = os.path.join(run.results, "attestation-key.json")
    attestation_path = os.path.join(run.results, "attestation.json")
    json.dump(run.server.get("/.well-known/partyline-attestation-key"), open(key_path, "w"))
    json.dump(attestation, open(attestation_path, "w"))
    verified = subprocess.run([run.server.binary, "verify-attestation", "--key-file", key_path, attestation_path],
                              capture_output=True, text=True)
    check(verified.returncode == 0 and "attestation verified" in verified.stdout,
          f"the attestation shown on {validated.name}'s page verifies: {verified.stdout.strip() or verified.stderr.strip()}")
    run.check_cameras()
    run.figures["firstFrameMillis"] = {"p50": statistics.median(delays), "worst": max(delays), "samples": len(delays)}
    return party


def register_by_hand(run, browser, party):
    """Location turned off: the page says so and the point is set by hand (typed, then moved 100 m north)."""
    browser.deny_location(run.server.base)
    run.open_registration(browser, party)
    browser.click("#use-location")
    result = browser.wait(lambda: browser.js("return document.getElementById('register-status').dataset.result"), 20,
                          "the location answer")
    check(result == "denied" and "turned off" in browser.text("#register-status"),
          f"{browser.name}: location denied is said in words ({browser.text('#register-status')!r})")
    check(browser.js("return document.getElementById('manual-point').open"), f"{browser.name}: the hand-set point opens")
    browser.js("document.getElementById('latitude').value = '48.137154'; document.getElementById('longitude').value = '11.576124';")
    browser.click('[data-nudge="north"]')
    moved = float(browser.js("return document.getElementById('latitude').value"))
    check(abs((moved - 48.137154) * 111_195 - 100) < 1, f"{browser.name}: North moves the point 100 m ({moved})")
    run.submit_registration(browser, party)
    browser.grant_location(run.server.base)


def run_reconnect(run, work):
    print("== reconnect: a prover's browser closed mid-turn and opened again")
    for browser in run.browsers:
        browser.go(run.server.base + "/")
    # The first party is still on: each page goes back in and, its session being over, shows the outcome.
    # The person then goes back to the parties.
    for browser in run.browsers:
        browser.wait(lambda b=browser: (b.state() or {}).get("outcome"), 30, "the first party's outcome")
        browser.click("#party-back")
        browser.wait(lambda b=browser: b.js("return !document.getElementById('parties-view').hidden"), 10, "the parties")
    party = run.create_party("Reconnect party", 75)
    for index, browser in enumerate(run.browsers):
        if index == 2:
            register_by_hand(run, browser, party)
        else:
            run.register(browser, party)
    for browser in run.browsers:
        wait_session(browser, party["startsAt"] - time.time() + 60)

    def on_turn(turn, prover, verifiers):
        if turn != 0:
            return
        prover.close()
        print(f"  closed {prover.name}'s browser mid-turn")
        verifiers[0].wait(lambda: (verifiers[0].session() or {}).get("presence", {}).get(
            run.metric(verifiers[0], turn)["prover"]) == "reconnecting", 20, "the prover's drop")
        time.sleep(1)
        offers = {b.name: run.metric(b, turn)["media"]["offers"] for b in verifiers}
        frames = {b.name: run.metric(b, turn)["media"]["framesDecoded"] for b in verifiers}
        prover.open()
        prover.go(run.server.base + "/")
        session = prover.wait(lambda: (prover.session() or {}).get("turn") and prover.session(), 60, "the resumed turn")
        check(session["turn"]["role"] == "prover" and session["turn"]["turn"] == turn,
              f"{prover.name} resumed its turn as prover after reopening")
        for browser in verifiers:
            browser.wait(lambda b=browser: run.metric(b, turn)["media"]["offers"] > offers[b.name], 60, "a new offer")
        run.wait_frames(verifiers, turn, above=frames)
        check(True, "every verifier got a new offer from the reopened prover and decodes its video again")

    run.play_session(6, on_turn=on_turn, label="reconnect ", relay_stop_turn=2)


def run_join(run, work, accounts_browsers):
    print("== join: /join with POST /v1/sessions tokens, no coordinator")
    front = run.browsers[5]
    front.close()
    front.facing = "user"
    front.open()
    members = [f"member-{index}" for index in range(6)]
    created = run.server.request("POST", "/v1/sessions", {"members": members, "options": {"turnDeadlineSeconds": 45}}, key=API_KEY)
    tokens = {entry["member"]: entry["token"] for entry in created["members"]}
    for index, browser in enumerate(run.browsers):
        browser.go(f"{run.server.base}/join#token={tokens[members[index]]}")
    for browser in run.browsers:
        wait_session(browser, 30)
    front_turn = {}

    def play():
        for turn in range(6):
            prover, verifiers = run.wait_turn(turn)
            if prover is front:
                front_turn["turn"] = turn
                front.wait(lambda: "errorNoRearCamera" in (front.session() or {}).get("errors", []), 20, "the no-rear-camera message")
                check("rear camera" in front.text("#notice-text"), f"turn {turn}: the front-only phone says it has no rear camera")
                run.vote(verifiers, "deny", turn)
                result = run.wait_result(turn)
                check(result["outcome"] == "denied", f"join turn {turn}: the prover without a rear camera is denied")
                continue
            run.wait_frames(verifiers, turn)
            run.vote(verifiers, "approve", turn)
            result = run.wait_result(turn)
            check(result["outcome"] == "approved", f"join turn {turn}: approved")
            run.check_stop(prover, verifiers, turn, [])
    play()
    session = run.server.request("GET", f"/v1/sessions/{created['session']}", key=API_KEY)
    check(session["state"] == "finished", f"the session finished ({session['state']})")
    for browser in run.browsers:
        calls = browser.js("return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/v1/'))")
        check(calls == [], f"{browser.name}: /join made no coordinator call ({calls})")
    requests = front.js("return window.__cameraRequests || []")
    check(requests and "user" not in json.dumps(requests), f"the front-only phone's page never asked for the front camera ({requests})")
    blank = Browser("tokenless", work)
    try:
        blank.open()
        blank.go(f"{run.server.base}/join")
        blank.wait(lambda: blank.js("return document.getElementById('notice').dataset.key") == "joinNoToken", 10, "the missing-token message")
        check(True, "/join without a token says so")
    finally:
        blank.close()
    log = open(run.server.log_path).read()
    check(not any(token in log for token in tokens.values()), "no join token appears in the server log")


def run_relay_unreachable(run, work):
    print("== relay unreachable: the turn's TURN URL answers nothing")
    dead = free_port(socket.SOCK_DGRAM)
    folder = os.path.join(work, "unreachable")
    os.makedirs(folder, exist_ok=True)
    server = Server(run.server.binary, folder, turn_urls=[f"turn:127.0.0.1:{dead}?transport=udp"])
    try:
        server.start()
        members = ["u-0", "u-1", "u-2"]
        created = server.request("POST", "/v1/sessions", {"members": members}, key=API_KEY)
        tokens = {entry["member"]: entry["token"] for entry in created["members"]}
        phones = run.browsers[:3]
        prover = None
        for member, browser in zip(members, phones):
            browser.go(f"{server.base}/join#token={tokens[member]}")
        for browser in phones:
            session = browser.wait(lambda b=browser: (b.session() or {}).get("turn") and b.session(), 30, "the turn")
            if session["turn"]["role"] == "prover":
                prover = browser
        if not check(prover is not None, "one of the pages is the prover"):
            return
        prover.wait(lambda: "errorRelayUnreachable" in prover.session()["errors"], 20, "the relay-unreachable message")
        check("cannot be reached" in prover.text("#notice-text"),
              f"the prover's page says the relay cannot be reached ({prover.text('#notice-text')!r})")
    finally:
        server.stop()


def run_cluster(run, work, nodes):
    """Three nodes on one PostgreSQL: node A (run.server) holds the coordinator and serves the page and the
    API; B and C run sessions and relays. The group's node is killed mid-turn; the pages find the group's
    new session on the other node through /me and play the party to its end there."""
    print("== cluster: the node running the group killed mid-turn; the pages follow the group to another node")
    party = run.create_party("Cluster party", 75)
    for browser in run.browsers:
        run.register(browser, party)
    for browser in run.browsers:
        wait_session(browser, party["startsAt"] - time.time() + 60)
    placed = {n["id"]: n for n in run.server.admin("GET", "/v1/cluster/nodes")["nodes"]}
    carrying = [node for node in nodes if placed.get(node.node_id, {}).get("load", {}).get("sessions", 0) > 0]
    check(len(carrying) == 1, f"the group's session runs on one of the session nodes ({[n.node_id for n in carrying]})")
    first = carrying[0]
    other = next(node for node in nodes if node is not first)
    old = {browser.name: browser.js("return window.partyLine.state().sessionId") for browser in run.browsers}
    run.play_session(1, label="cluster ")
    prover, verifiers = run.wait_turn(1)
    run.wait_frames(verifiers, 1)
    first.kill()
    killed = time.time()
    print(f"  killed {first.node_id} (SIGKILL) in turn 1, {prover.name} proving")
    for browser in run.browsers:
        browser.wait(lambda b=browser: b.js("return window.partyLine.state().sessionId") not in (None, old[b.name])
                     and (b.session() or {}).get("you"), 90, "the group's new session")
    rejoined = time.time() - killed
    run.figures["clusterRejoinSeconds"] = round(rejoined, 1)
    check(True, f"every page joined the group's new session on {other.node_id} {rejoined:.1f} s after the kill")
    for browser in run.browsers:
        browser.wait(lambda b=browser: b.js("return document.getElementById('notice').hidden"), 10,
                     "the lost-connection notice to go once connected again")
    check(True, "no page still says its connection is lost once it is in the new session")
    run.browsers[1].screenshot(os.path.join(run.results, "cluster-rejoined.png"))
    # The member validated in the lost session only verifies; the other five prove in the new one.
    run.play_session(5, label="cluster (new session) ")
    for browser in run.browsers:
        browser.wait(lambda b=browser: (b.state() or {}).get("outcome") == "validated", 60, "the outcome")
    check(True, "every member's outcome is validated, the first one's from the session that was lost")
    run.browsers[0].js("document.getElementById('party-outcome').scrollIntoView()")
    run.browsers[0].screenshot(os.path.join(run.results, "cluster-outcome.png"))


def check_security(run):
    print("== page security headers and size")
    with run.server.opener.open(run.server.base + "/", timeout=15) as response:
        policy = response.headers.get("Content-Security-Policy", "")
        check("script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy,
              f"strict Content-Security-Policy: {policy}")
        check(response.headers.get("Referrer-Policy") == "no-referrer", "Referrer-Policy: no-referrer")
    # A fresh profile, so every file comes over the network (cached files make no resource timing entry).
    browser = Browser("cold", run.work)
    try:
        browser.open()
        browser.go(run.server.base + "/")
        wait_account(browser)
        sizes = browser.js("""
        const nav = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource').filter(e => !e.name.includes('/v1/'));
        return {document: nav.decodedBodySize, files: resources.map(e => [e.name, e.decodedBodySize]),
                external: resources.filter(e => !e.name.startsWith(location.origin)).map(e => e.name)};""")
        stored = browser.js("return Object.keys(localStorage).length + Object.keys(sessionStorage).length")
        account = browser.state()["account"]
        # The key's backup is offered on the visit that made it; another browser signs in with it.
        browser.click("#key-backup")
        backup = browser.js("return document.getElementById('key-backup-text').value")
        check(backup.startswith("partyline-key-v1:"), "the creating visit offers the key's backup text")
        browser.go(run.server.base + "/")
        wait_account(browser)
        check(browser.state()["account"] == account, "a reload signs in as the same account (key kept in IndexedDB)")
        check(browser.js("return document.getElementById('key-backup').hidden && !document.getElementById('key-locked').hidden"),
              "after a reload the key is locked: no backup is offered any more")
    finally:
        browser.close()
    other = Browser("imported", run.work)
    try:
        other.open()
        other.go(run.server.base + "/")
        wait_account(other)
        check(other.state()["account"] != account, "another browser starts with its own account")
        other.js("document.querySelector('#key-import-form').closest('details').open = true;"
                 "document.getElementById('key-import-text').value = arguments[0];"
                 "window.confirm = () => true;", backup)
        other.click("#key-import-form button[type=submit]")
        other.wait(lambda: (other.state() or {}).get("account") == account, 20, "the imported account")
        check(True, "a key backup imported in another browser signs in as the same account")
        other.go(run.server.base + "/join#token=not-a-token")
        other.wait(lambda: other.js("return document.getElementById('notice').dataset.key") == "errorTokenInvalid",
                   15, "the invalid-token message")
        check("not valid" in other.text("#notice-text"), "/join with a bad token says the invitation is not valid")
    finally:
        other.close()
    total = sizes["document"] + sum(size for _, size in sizes["files"])
    check(sizes["external"] == [], f"no third-party resource ({sizes['external']})")
    check(total < 100_000, f"the page transfers {total} bytes uncompressed (goal under 100 KB)")
    run.figures["pageBytes"] = total
    run.figures["pageFiles"] = len(sizes["files"]) + 1
    check(stored == 0, "nothing in localStorage or sessionStorage")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--results", default="results/browser")
    parser.add_argument("--web-root", help="serve this folder instead of the bundled page (for editing)")
    parser.add_argument("--scenarios", default="party,reconnect,join,relay")
    parser.add_argument("--report", help="write the figures as JSON here")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    work = make_work_dir(args.results)
    # A CI timeout's SIGTERM still closes the browsers and stops the server (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    # The cluster scenario runs alone (--scenarios cluster): its server is node A of three on PostgreSQL.
    postgres = os.environ.get("PARTYLINE_BROWSER_POSTGRES_URL")
    nodes = []
    if "cluster" in scenarios:
        if not postgres:
            sys.exit("the cluster scenario needs PARTYLINE_BROWSER_POSTGRES_URL")
        database = f"browser_{int(time.time())}_{os.getpid()}"
        subprocess.run(["psql", "-q", postgres, "-c", f"CREATE DATABASE {database}"], check=True)
        postgres = postgres.replace("/partyline_test", f"/{database}")
        server = Server(os.path.abspath(args.binary), work, web_root=args.web_root, name="node-a",
                        cluster={"postgres": postgres, "nodeId": "node-a", "roles": "coordinator"})
        for index, name in enumerate(["node-b", "node-c"]):
            node = Server(os.path.abspath(args.binary), work, name=name, relay_ports=f"{22000 + index * 1000}-{22999 + index * 1000}",
                          cluster={"postgres": postgres, "nodeId": name, "roles": "relay,signalling"})
            node.node_id = name
            nodes.append(node)
    else:
        server = Server(os.path.abspath(args.binary), work, web_root=args.web_root)
    browsers = [Browser(f"phone{index}", work, location=place) for index, place in enumerate(places(6))]
    figures = {}
    run = Run(server, browsers, os.path.abspath(args.results), figures, work)
    started = time.time()
    try:
        server.start()
        for node in nodes:
            node.start()
        for browser in browsers:
            browser.open()
        accounts = run.open_accounts()
        check_security(run)
        if "party" in scenarios:
            run_party(run, accounts)
        if "reconnect" in scenarios:
            run_reconnect(run, work)
        if "join" in scenarios:
            run_join(run, work, accounts)
        if "relay" in scenarios:
            run_relay_unreachable(run, work)
        if "cluster" in scenarios:
            run_cluster(run, work, nodes)
    except Exception as error:
        failures.append(f"{type(error).__name__}: {error}")
        print(f"  FAIL {type(error).__name__}: {error}")
        for browser in browsers:
            if browser.driver:
                try:
                    browser.screenshot(os.path.join(args.results, f"failure-{browser.name}.png"))
                    print(f"--- {browser.name}: {json.dumps(browser.state())[:3000]}")
                    for line in browser.console()[-20:]:
                        print(f"    console: {line[:300]}")
                except Exception:
                    pass
        for each in [server] + nodes:
            print(f"--- {each.name} log (tail)")
            print(open(each.log_path).read()[-3000:] if os.path.exists(each.log_path) else "(none)")
    finally:
        for browser in browsers:
            browser.close()
        for node in nodes:
            node.stop()
        server.stop()
    figures["seconds"] = round(time.time() - started)
    print(json.dumps(figures, indent=1))
    if args.report:
        json.dump(figures, open(args.report, "w"), indent=1)
    remove_work_dir(work)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("every check passed")


if __name__ == "__main__":
    main()
