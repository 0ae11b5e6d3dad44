// The same import under "moduleResolution": "bundler" is checked by tsconfig.bundler.json.
import { Detector, GeodetectError } from "geodetect";
import type { DetectResult } from "geodetect";

export async function viaBundler(): Promise<DetectResult | GeodetectError> {
  const d = await Detector.create({ source: { url: "/tiles/{z}/{x}/{y}.png" }, model: "m" });
  try {
    return await d.detect({ type: "Polygon", coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] }, { zoom: 3 });
  } catch (e) {
    if (e instanceof GeodetectError) return e;
    throw e;
  } finally {
    d.dispose();
  }
}
