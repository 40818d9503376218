// The prover's side of a turn: the rear camera, and one peer connection per verifier, each with the ICE
// servers the server minted for that verifier and a bitrate cap (a phone uploads to every verifier at once).

import { openRearCamera, releaseCamera } from "./camera.js";
import { PeerLink } from "./peer.js";

// Bits per second to each verifier, and the frame rate sent.
export const maxBitratePerVerifier = 250_000;
export const maxFramerate = 15;
// An offer unanswered this long no longer holds back a new one.
const answerWithin = 5000;

export class ProverMedia {
  constructor(turn, { send, onProblem, onLinkState }) {
    this.turn = turn;
    this.send = send;
    this.onProblem = onProblem;
    this.onLinkState = onLinkState;
    this.stream = null;
    this.links = new Map();
    this.pending = new Set();
    this.stopped = false;
  }

  async start(preview) {
    this.stream = await openRearCamera();
    if (this.stopped) {
      releaseCamera(this.stream);
      return;
    }
    preview.srcObject = this.stream;
    for (const verifier of this.turn.verifiers) this.offer(verifier);
  }

  iceServers(verifier) {
    return this.turn.verifierIceServers?.[verifier] ?? this.turn.iceServers;
  }

  // (Re)opens the connection to `verifier` and sends it an offer. While an earlier offer still waits for its
  // answer, the new one waits too: otherwise that answer would be taken for the new offer's.
  offer(verifier) {
    if (this.stopped || !this.stream) return;
    const current = this.links.get(verifier);
    const waited = current ? performance.now() - current.offeredAt : Infinity;
    if (current && current.pc.signalingState === "have-local-offer" && waited < answerWithin) {
      if (!this.pending.has(verifier)) {
        this.pending.add(verifier);
        setTimeout(() => this.pending.has(verifier) && this.offer(verifier), answerWithin - waited + 10);
      }
      return;
    }
    this.pending.delete(verifier);
    current?.close();
    const link = new PeerLink(this.iceServers(verifier), {
      onCandidate: (candidate) => this.send({ type: "candidate", to: verifier, candidate }),
      onRelayProblem: (kind) => this.onProblem(kind),
      onState: (state) => this.onLinkState(verifier, state),
    });
    this.links.set(verifier, link);
    const [track] = this.stream.getVideoTracks();
    link.pc.addTransceiver(track, {
      direction: "sendonly",
      streams: [this.stream],
      sendEncodings: [{ maxBitrate: maxBitratePerVerifier, maxFramerate }],
    });
    link.offeredAt = performance.now();
    link.enqueue(async () => {
      const offer = await link.pc.createOffer();
      await link.pc.setLocalDescription(offer);
      this.send({ type: "offer", to: verifier, sdp: link.pc.localDescription.sdp });
    });
  }

  answer(from, sdp) {
    const link = this.links.get(from);
    link?.enqueue(async () => {
      // An answer with no offer waiting belongs to an older connection.
      if (link.pc.signalingState !== "have-local-offer") return;
      await link.pc.setRemoteDescription({ type: "answer", sdp });
      if (this.pending.has(from)) this.offer(from);
    });
  }

  // After the signalling connection came back: offer again to each verifier not connected yet.
  reofferUnconnected() {
    for (const verifier of this.turn.verifiers) {
      if (this.links.get(verifier)?.pc.connectionState !== "connected") this.offer(verifier);
    }
  }

  candidate(from, candidate) {
    this.links.get(from)?.addRemoteCandidate(candidate);
  }

  // A verifier came back: its old connection is gone, so offer again.
  verifierJoined(verifier) {
    if (this.turn.verifiers.includes(verifier)) this.offer(verifier);
  }

  get trackState() {
    return this.stream?.getVideoTracks()[0]?.readyState ?? "none";
  }

  linkStates() {
    return Object.fromEntries([...this.links].map(([verifier, link]) => [verifier, link.pc.connectionState]));
  }

  // Releases the camera at once and closes every connection.
  stop() {
    this.stopped = true;
    releaseCamera(this.stream);
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
