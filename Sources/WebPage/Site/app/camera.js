// The prover's camera: the main (rear) camera only, never the front one, never audio.

export class CameraError extends Error {
  constructor(kind, detail) {
    super(detail || kind);
    this.kind = kind; // "denied", "no-rear-camera", "failed"
  }
}

// Low enough for a phone uploading to several verifiers at once.
export const cameraConstraints = {
  audio: false,
  video: {
    facingMode: { exact: "environment" },
    width: { ideal: 640 },
    height: { ideal: 480 },
    frameRate: { ideal: 15, max: 24 },
  },
};

// Opens the rear camera; throws CameraError. Never retries with a looser facing constraint.
export async function openRearCamera() {
  if (!navigator.mediaDevices?.getUserMedia) throw new CameraError("failed", "no camera API");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(cameraConstraints);
  } catch (error) {
    if (error?.name === "NotAllowedError" || error?.name === "SecurityError") throw new CameraError("denied");
    if (error?.name === "OverconstrainedError" || error?.name === "NotFoundError") {
      throw new CameraError("no-rear-camera");
    }
    throw new CameraError("failed", error?.name || String(error));
  }
  const track = stream.getVideoTracks()[0];
  // A camera that does not say it faces away from the person is not used (desktop webcams say nothing).
  const facing = track?.getSettings?.().facingMode;
  if (!track || facing !== "environment") {
    for (const each of stream.getTracks()) each.stop();
    throw new CameraError("no-rear-camera");
  }
  return stream;
}

export function releaseCamera(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
