/** The API server's own request metrics, for "how much load did the operator put on it". */
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseMetrics, type Sample } from './metrics.js';

/** Metric families worth keeping; the full exposition is megabytes. */
const KEEP = ['apiserver_request_total{', 'apiserver_request_duration_seconds_sum{', 'apiserver_request_duration_seconds_count{'];

/** Scrapes the API server's /metrics with the kubeconfig's credentials, keeping only request counts and durations. */
export async function apiserverRequestMetrics(kc: KubeConfig): Promise<Sample[]> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'text/plain' } };
  await kc.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    const request = https.request(new URL(`${cluster.server.replace(/\/+$/, '')}/metrics`), options, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`apiserver /metrics answered ${response.statusCode}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      let body = '';
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
  return parseMetrics(text.split('\n').filter((line) => KEEP.some((prefix) => line.startsWith(prefix))).join('\n'));
}
