// Fills every element with the class `onnxlet-version` (or the id `version`) with the library's version.
import { env } from '/dist/onnxlet.mjs';

for (const element of document.querySelectorAll('#version, .onnxlet-version')) element.textContent = env.versions.onnxlet;
