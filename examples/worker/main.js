// The page's side: starts the worker, shows its progress, and sends it the text's bytes.
const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

function identify() {
  const bytes = new TextEncoder().encode($('text').value);
  worker.postMessage(bytes, [bytes.buffer]);
}

worker.onmessage = ({ data }) => {
  if (data.progress) {
    const { status, progress } = data.progress;
    $('progress').value = progress ?? 0;
    $('status').textContent = status === 'download' ? `Downloading the model… ${Math.round((progress ?? 0) * 100)}%` : `${status}…`;
  } else if (data.ready) {
    $('identify').disabled = false;
    identify();
  } else if (data.top) {
    $('result').replaceChildren(
      ...data.top.map(({ label, score }) => {
        const li = document.createElement('li');
        li.textContent = `${label} ${(score * 100).toFixed(2)}%`;
        return li;
      }),
    );
    $('status').textContent = `Identified in ${Math.round(data.ms)} ms, in the worker`;
  } else {
    $('status').textContent = `Error: ${data.error}`;
  }
};
worker.onerror = (event) => ($('status').textContent = `Error: ${event.message}`);
$('identify').onclick = identify;
