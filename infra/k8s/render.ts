/** Renders the kustomizations offline with `kubectl kustomize` and validates objects with kubernetes-models. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

export const K8S_DIR = fileURLToPath(new URL('.', import.meta.url));
export const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p)) ?? 'kubectl';

/** A rendered object: untyped YAML, checked field by field by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: see above
type Untyped = any;
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: Untyped };
  [k: string]: Untyped;
};

export function render(overlay: string): K8sObject[] {
  const text = execFileSync(KUBECTL, ['kustomize', `${K8S_DIR}${overlay}`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

// biome-ignore lint/suspicious/noExplicitAny: each model takes its own typed data; the YAML is checked by validate()
type Model = new (data: any) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/ConfigMap': core.ConfigMap,
  'v1/Service': core.Service,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/Namespace': core.Namespace,
  'apps/v1/Deployment': apps.Deployment,
  'apps/v1/StatefulSet': apps.StatefulSet,
  'batch/v1/Job': batch.Job,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
  'networking.k8s.io/v1/Ingress': networking.Ingress,
};

/** Validates against the Kubernetes OpenAPI schema of the object's kind; throws with the object's name. */
export function validateObject(object: K8sObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind} (${object.metadata.name})`);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${object.kind}/${object.metadata.name}: ${(error as Error).message}`);
  }
}

/**
 * The schemas accept unknown fields, so a misspelt key (`readinesProbe`) would pass: the keys where a typo
 * silently drops behaviour are checked against the API's field names.
 */
const KNOWN = {
  podSpec: new Set([
    'serviceAccountName',
    'automountServiceAccountToken',
    'terminationGracePeriodSeconds',
    'securityContext',
    'topologySpreadConstraints',
    'containers',
    'volumes',
    'restartPolicy',
    'affinity',
    'initContainers',
  ]),
  container: new Set([
    'name',
    'image',
    'args',
    'command',
    'ports',
    'env',
    'livenessProbe',
    'readinessProbe',
    'startupProbe',
    'lifecycle',
    'resources',
    'securityContext',
    'volumeMounts',
  ]),
  probe: new Set([
    'httpGet',
    'tcpSocket',
    'exec',
    'initialDelaySeconds',
    'periodSeconds',
    'failureThreshold',
    'timeoutSeconds',
    'successThreshold',
  ]),
};

export function unknownFields(object: K8sObject): string[] {
  const pod = object.spec?.template?.spec;
  if (!pod) return [];
  const out: string[] = [];
  const where = `${object.kind}/${object.metadata.name}`;
  for (const key of Object.keys(pod)) if (!KNOWN.podSpec.has(key)) out.push(`${where} pod spec: ${key}`);
  for (const c of pod.containers ?? []) {
    for (const key of Object.keys(c)) if (!KNOWN.container.has(key)) out.push(`${where} ${c.name}: ${key}`);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      for (const key of Object.keys(c[probe] ?? {})) {
        if (!KNOWN.probe.has(key)) out.push(`${where} ${c.name} ${probe}: ${key}`);
      }
    }
  }
  return out;
}
