// One WebRTC peer connection of a turn: relay-only ICE with exactly the turn's ICE servers, operations run
// in order (a candidate waits for the description it belongs to), and a watch on the relay.

// Without a relay candidate this long after gathering starts, the relay counts as unreachable.
export const relayCandidateWithin = 6000;
// TURN errors that mean the relay refused the credentials: 401 (revoked or expired), 403, 441 (wrong
// credentials); 438 (stale nonce) and 486 (quota) are retried or local to one allocation.
const refusedCodes = new Set([401, 403, 441]);

export class PeerLink {
  constructor(iceServers, { onCandidate, onRelayProblem, onState }) {
    this.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay", bundlePolicy: "max-bundle" });
    this.chain = Promise.resolve();
    this.closed = false;
    this.relayCandidates = 0;
    this.pc.onicecandidate = (event) => {
      const candidate = event.candidate;
      if (!candidate || !candidate.candidate) return;
      if (candidate.type === "relay" || / typ relay/.test(candidate.candidate)) this.relayCandidates += 1;
      onCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex });
    };
    this.pc.onicecandidateerror = (event) => {
      if (refusedCodes.has(event.errorCode)) onRelayProblem?.("refused");
    };
    this.pc.onconnectionstatechange = () => onState?.(this.pc.connectionState);
    this.watch = setTimeout(() => {
      if (!this.closed && this.relayCandidates === 0) onRelayProblem?.("unreachable");
    }, relayCandidateWithin);
  }

  // Runs `operation` after every earlier one; errors are reported, not thrown into the chain.
  enqueue(operation) {
    this.chain = this.chain.then(() => (this.closed ? undefined : operation())).catch((error) => {
      if (!this.closed) console.warn("peer connection:", error);
    });
    return this.chain;
  }

  addRemoteCandidate(candidate) {
    return this.enqueue(() => this.pc.addIceCandidate(candidate));
  }

  // The selected candidate pair's local and remote candidate types, e.g. {local: "relay", remote: "relay"}.
  async selectedPair() {
    if (this.closed) return null;
    const stats = await this.pc.getStats();
    let pairId = null;
    stats.forEach((report) => {
      if (report.type === "transport" && report.selectedCandidatePairId) pairId = report.selectedCandidatePairId;
    });
    if (!pairId) {
      stats.forEach((report) => {
        if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded") pairId ??= report.id;
      });
    }
    const pair = pairId ? stats.get(pairId) : null;
    if (!pair) return null;
    return {
      local: stats.get(pair.localCandidateId)?.candidateType ?? null,
      remote: stats.get(pair.remoteCandidateId)?.candidateType ?? null,
    };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.watch);
    this.pc.close();
  }
}
