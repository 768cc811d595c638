/** /api/pull (streamed progress, offline and unknown-model failures) and /api/embed of the fake. */
import type * as http from 'node:http';
import { digestOf, normalizeName } from './catalog';
import { sleep } from './script';
import type { FakeInternals } from './server';
import { HttpError, sendJson } from './server';

export async function pull(x: FakeInternals, body: any, res: http.ServerResponse) {
  const options = x.fake.options;
  const name: string | undefined = body.model ?? body.name;
  if (!name) throw new HttpError(400, 'model is required');
  const stream = body.stream !== false;
  const signal = x.clientGone(res);
  const write = x.writer(res, 'application/x-ndjson', options.fragmentBytes, signal);
  const lines: unknown[] = [];
  const emit = async (o: unknown) => {
    if (stream) await write(JSON.stringify(o) + '\n');
    else lines.push(o);
    await sleep(100 * options.timeScale, signal);
  };
  try {
    await emit({ status: 'pulling manifest' });
    const spec = options.registry.find(m => normalizeName(m.name) === normalizeName(name));
    const err = options.offline
      ? `pull model manifest: Get "https://registry.ollama.ai/v2/library/${normalizeName(name).replace(':', '/manifests/')}": dial tcp: lookup registry.ollama.ai: no such host`
      : !spec ? 'pull model manifest: file does not exist' : undefined;
    if (err) {
      if (stream) {
        await write(JSON.stringify({ error: err }) + '\n');
        return void res.end();
      }
      throw new HttpError(500, err);
    }
    const total = spec!.sizeBytes ?? 1_000_000_000;
    const digest = `sha256:${digestOf(spec!.name)}`;
    const status = `pulling ${digestOf(spec!.name).slice(0, 12)}`;
    for (const frac of [0, 0.25, 0.5, 0.75, 1]) await emit({ status, digest, total, completed: Math.round(total * frac) });
    await emit({ status: 'verifying sha256 digest' });
    await emit({ status: 'writing manifest' });
    if (!x.findModel(spec!.name)) options.models = [...options.models, spec!];
    if (stream) {
      await write(JSON.stringify({ status: 'success' }) + '\n');
      res.end();
    } else sendJson(res, 200, { status: 'success' });
  } catch (e) {
    if (signal.aborted) return;
    throw e;
  }
}

export async function embed(x: FakeInternals, body: any, res: http.ServerResponse) {
  const name: string | undefined = body.model ?? body.name;
  if (!name) throw new HttpError(400, 'model is required');
  const m = x.findModel(name);
  if (!m) throw new HttpError(404, `model '${name}' not found`);
  const inputs: string[] = Array.isArray(body.input) ? body.input : [String(body.input ?? '')];
  const embeddings = inputs.map(s => {
    const v = Array.from({ length: 8 }, (_, i) => (parseInt(digestOf(`${s}#${i}`).slice(0, 6), 16) / 0xffffff) * 2 - 1);
    const norm = Math.hypot(...v) || 1;
    return v.map(x => x / norm);
  });
  sendJson(res, 200, {
    model: name, embeddings, total_duration: 14_143_917, load_duration: 1_019_500,
    prompt_eval_count: inputs.reduce((n, s) => n + Math.ceil(s.length / 4), 0),
  });
}
