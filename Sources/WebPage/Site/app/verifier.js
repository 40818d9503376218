// A verifier's side of a turn: one peer connection to the prover, answering the prover's offers, and the
// received video measured from the page (first and last frame shown, frames decoded, the candidate pair).

import { PeerLink } from "./peer.js";

export class VerifierMedia {
  constructor(turn, video, { send, onProblem, onFirstFrame }) {
    this.turn = turn;
    this.video = video;
    this.send = send;
    this.onProblem = onProblem;
    this.onFirstFrame = onFirstFrame;
    this.link = null;
    this.stopped = false;
    // Frames decoded over every connection of the turn (a resumed prover offers again).
    this.metrics = { turn: turn.turn, firstFrameAt: null, lastFrameAt: null, framesDecoded: 0, pair: null, offers: 0, stoppedAt: null };
    this.earlierFrames = 0;
    this.watching = false;
    this.poll = setInterval(() => this.measure(), 250);
  }

  offer(from, sdp) {
    if (this.stopped || from !== this.turn.prover) return;
    this.metrics.offers += 1;
    if (this.link) {
      this.earlierFrames = this.metrics.framesDecoded;
      this.link.close();
    }
    const link = new PeerLink(this.turn.iceServers, {
      onCandidate: (candidate) => this.send({ type: "candidate", to: from, candidate }),
      onRelayProblem: (kind) => this.onProblem(kind),
    });
    this.link = link;
    link.pc.ontrack = (event) => {
      if (this.stopped) return;
      this.video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      this.watchFrames();
    };
    link.enqueue(async () => {
      await link.pc.setRemoteDescription({ type: "offer", sdp });
      await link.pc.setLocalDescription(await link.pc.createAnswer());
      this.send({ type: "answer", to: from, sdp: link.pc.localDescription.sdp });
    });
  }

  candidate(from, candidate) {
    if (from === this.turn.prover) this.link?.addRemoteCandidate(candidate);
  }

  watchFrames() {
    if (this.watching || !("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    this.watching = true;
    const frame = () => {
      if (this.stopped) {
        this.watching = false;
        return;
      }
      this.frameShown();
      this.video.requestVideoFrameCallback(frame);
    };
    this.video.requestVideoFrameCallback(frame);
  }

  frameShown() {
    const now = Date.now();
    if (this.metrics.firstFrameAt === null) {
      this.metrics.firstFrameAt = now;
      this.onFirstFrame?.();
    }
    this.metrics.lastFrameAt = now;
  }

  async measure() {
    const link = this.link;
    if (!link || link.closed) return;
    try {
      const total = this.earlierFrames + framesDecoded(await link.pc.getStats());
      if (total > this.metrics.framesDecoded) {
        this.metrics.framesDecoded = total;
        if (!this.stopped) this.frameShown();
      }
      this.metrics.pair = (await link.selectedPair()) ?? this.metrics.pair;
    } catch {
      // The connection closed between the check and the call.
    }
  }

  // Stops receiving at once: the video is blanked and the connection closed.
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.metrics.stoppedAt = Date.now();
    clearInterval(this.poll);
    this.video.srcObject = null;
    const link = this.link;
    this.link = null;
    if (!link) return;
    try {
      const total = this.earlierFrames + framesDecoded(await link.pc.getStats());
      this.metrics.framesDecoded = Math.max(this.metrics.framesDecoded, total);
      this.metrics.pair = (await link.selectedPair()) ?? this.metrics.pair;
    } finally {
      link.close();
    }
  }
}

// Video frames decoded on a connection, from its stats.
function framesDecoded(stats) {
  let frames = 0;
  stats.forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") frames += report.framesDecoded ?? 0;
  });
  return frames;
}
