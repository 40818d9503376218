// Great-circle distances and points moved by metres, on a sphere of the Earth's mean radius: plain
// arithmetic for display and for the hand-made picker, not a check (the server checks spacing).

const earthRadius = 6_371_008.8;
const radians = (degrees) => (degrees * Math.PI) / 180;

export function distanceMetres(a, b) {
  const dLat = radians(b.latitude - a.latitude);
  const dLon = radians(b.longitude - a.longitude);
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(radians(a.latitude)) * Math.cos(radians(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadius * Math.asin(Math.min(1, Math.sqrt(s)));
}

export function distanceText(a, b) {
  const metres = distanceMetres(a, b);
  return metres < 1000 ? `${Math.round(metres)} m` : `${(metres / 1000).toFixed(metres < 10_000 ? 2 : 1)} km`;
}

// `point` moved `metres` north (negative: south) and east (negative: west).
export function moved(point, north, east) {
  const latitude = Math.max(-90, Math.min(90, point.latitude + (north / earthRadius) * (180 / Math.PI)));
  const scale = Math.cos(radians(latitude)) || 1e-9;
  let longitude = point.longitude + (east / (earthRadius * scale)) * (180 / Math.PI);
  longitude = ((((longitude + 180) % 360) + 360) % 360) - 180;
  return { latitude, longitude };
}
