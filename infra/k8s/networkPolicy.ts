/**
 * A small NetworkPolicy evaluator for the manifest test: is a TCP/UDP flow from one endpoint to another allowed
 * by the rendered policies? Semantics of networking.k8s.io/v1: a pod selected by no policy of a direction is
 * open in that direction; once selected, only flows some rule allows pass; both the sender's egress and the
 * receiver's ingress must allow a flow (policies of other namespaces and the outside world are not ours).
 */
import type { K8sObject } from './render.ts';

export interface Endpoint {
  /** In-cluster pod: its namespace and labels. Outside the cluster: `external: true`. */
  namespace?: string;
  labels?: Record<string, string>;
  external?: boolean;
  name: string;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

export function matches(selector: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const value = labels[e.key];
    if (e.operator === 'In' && !(has && e.values?.includes(value!))) return false;
    if (e.operator === 'NotIn' && has && e.values?.includes(value!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

// biome-ignore lint/suspicious/noExplicitAny: NetworkPolicy peers as rendered
function peerMatches(peer: any, endpoint: Endpoint, policyNamespace: string): boolean {
  if (peer.ipBlock) return true; // 0.0.0.0/0-style blocks: treat as matching anything (conservative)
  if (endpoint.external) return false;
  const nsLabels = { 'kubernetes.io/metadata.name': endpoint.namespace ?? '' };
  if (peer.namespaceSelector) {
    if (!matches(peer.namespaceSelector, nsLabels)) return false;
  } else if (endpoint.namespace !== policyNamespace) {
    return false;
  }
  return matches(peer.podSelector, endpoint.labels);
}

// biome-ignore lint/suspicious/noExplicitAny: NetworkPolicy ports as rendered
function portMatches(ports: any[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port));
}

export class PolicySet {
  readonly #policies: K8sObject[];
  constructor(
    objects: K8sObject[],
    readonly namespace: string,
  ) {
    this.#policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  }

  #direction(endpoint: Endpoint, type: 'Ingress' | 'Egress', peer: Endpoint, port: number, protocol: string) {
    if (endpoint.external || endpoint.namespace !== this.namespace) return true; // not governed by our policies
    const selecting = this.#policies.filter(
      (p) =>
        matches(p.spec.podSelector, endpoint.labels) && (p.spec.policyTypes ?? ['Ingress']).includes(type),
    );
    if (selecting.length === 0) return true;
    const key = type === 'Ingress' ? 'ingress' : 'egress';
    const peers = type === 'Ingress' ? 'from' : 'to';
    return selecting.some((p) =>
      // biome-ignore lint/suspicious/noExplicitAny: rules as rendered
      (p.spec[key] ?? []).some((rule: any) => {
        const peerOk = !rule[peers] || rule[peers].some((x: unknown) => peerMatches(x, peer, this.namespace));
        return peerOk && portMatches(rule.ports, port, protocol);
      }),
    );
  }

  allowed(from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
    return (
      this.#direction(from, 'Egress', to, port, protocol) &&
      this.#direction(to, 'Ingress', from, port, protocol)
    );
  }
}
