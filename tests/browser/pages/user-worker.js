// A worker of the page's own that imports the ESM build, as the README documents.
import { InferenceSession, Tensor } from '/dist/onnxlet.mjs';

self.onmessage = async ({ data }) => {
  try {
    const session = await InferenceSession.create(data.model);
    const feeds = {};
    for (const input of data.inputs) feeds[input.name] = new Tensor(input.type, new Float32Array(input.data), input.dims);
    const outputs = await session.run(feeds);
    const [name] = session.outputNames;
    self.postMessage({ name, dims: outputs[name].dims, data: outputs[name].data }, [outputs[name].data.buffer]);
  } catch (error) {
    self.postMessage({ error: `${error.code}: ${error.message}` });
  }
};
