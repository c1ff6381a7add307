import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from '@ghostnet/config';
import { NATS_SERVER_BIN } from '@ghostnet/test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  APPS,
  envSchema,
  PENDING_ENV,
  REPO_ROOT,
  requiredKeys,
  SAMPLE_VALUES,
  schemaKeys,
} from '../appEnv.ts';
import { ApplyEnv } from '../nats/applyStream.ts';
import { generatePasswords, NATS_USERS } from '../nats/securedServer.ts';
import { type Endpoint, PolicySet } from './networkPolicy.ts';
import { K8S_DIR, type K8sObject, render, unknownFields, validateObject } from './render.ts';

/** The Secrets the manifests reference: created out of band, never committed (README lists them). */
const SECRETS: Record<string, string[]> = {
  'ghostnet-nats-users': Object.keys(NATS_USERS).map((u) => `${u}-password`),
  'ghostnet-database': ['api-url', 'gateway-url', 'projector-url'],
  'ghostnet-jwt': ['keys', 'active-kid'],
  'ghostnet-boost-signer': ['private-key'],
  'ghostnet-rpc': ['http-url', 'ws-url'],
};
/** Secret env var → the variable SAMPLE_VALUES holds a well-formed value for. */
const SECRET_ENV_SAMPLE: Record<string, string> = { ...SAMPLE_VALUES };

const OVERLAYS = { base: 'base', dev: 'overlays/dev', prod: 'overlays/prod' } as const;
const NAMESPACE = { base: 'default', dev: 'ghostnet-dev', prod: 'ghostnet' } as const;

type Rendered = Record<keyof typeof OVERLAYS, K8sObject[]>;
const rendered = {} as Rendered;
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: rendered containers
type Container = any;
const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found;
};
const workloads = (objects: K8sObject[]) =>
  objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
const containerOf = (objects: K8sObject[], kind: string, name: string): Container =>
  find(objects, kind, name).spec.template.spec.containers[0];

/** The container's environment as the app would see it: ConfigMap values resolved, Secrets sampled. */
function resolveEnv(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const map = find(objects, 'ConfigMap', ref.name);
      if (!(ref.key in (map.data ?? {})))
        throw new Error(`ConfigMap ${ref.name} has no key ${ref.key} (${e.name})`);
      env[e.name] = map.data[ref.key];
    } else if (e.valueFrom?.secretKeyRef) {
      const sample = SECRET_ENV_SAMPLE[e.name] ?? (e.name === 'NATS_PASSWORD' ? 'psample' : undefined);
      if (sample === undefined) throw new Error(`no sample value for secret env ${e.name}`);
      env[e.name] = sample;
    } else if (e.valueFrom?.fieldRef) env[e.name] = 'pod-0';
    else throw new Error(`env ${e.name}: unsupported source`);
  }
  return env;
}

beforeAll(() => {
  for (const [key, path] of Object.entries(OVERLAYS)) rendered[key as keyof Rendered] = render(path);
});

describe('infra/k8s: rendered manifests', () => {
  it.each(Object.keys(OVERLAYS))(
    '%s renders and every object is valid against the Kubernetes schemas',
    (key) => {
      const objects = rendered[key as keyof Rendered];
      expect(objects.length).toBeGreaterThan(20);
      for (const object of objects) validateObject(object);
      expect(objects.flatMap(unknownFields)).toEqual([]);
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(names).size).toBe(names.length);
      if (key !== 'base')
        expect(
          objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === NAMESPACE[key as 'dev']),
        ).toBe(true);
    },
  );

  it('schema validation catches a broken object (the check can fail)', () => {
    const deployment = structuredClone(find(rendered.base, 'Deployment', 'api'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => validateObject(deployment)).toThrow(/containerPort/);
    deployment.spec.template.spec.containers[0].readinesProbe = {};
    expect(unknownFields(deployment)).toEqual(['Deployment/api api: readinesProbe']);
  });

  it.each(Object.keys(OVERLAYS))(
    '%s: selectors, ports, services, PDBs, HPAs and ingress backends line up',
    (key) => {
      const objects = rendered[key as keyof Rendered];
      const pods = workloads(objects).map((w) => ({
        w,
        labels: w.spec.template.metadata.labels as Record<string, string>,
      }));
      for (const { w, labels } of pods) {
        if (w.kind === 'Job') continue;
        for (const [k, v] of Object.entries(w.spec.selector.matchLabels))
          expect(labels[k], `${w.metadata.name} selector`).toBe(v);
      }
      const selects = (selector: Record<string, string>) =>
        pods.filter(({ labels }) => Object.entries(selector).every(([k, v]) => labels[k] === v));
      for (const service of byKind(objects, 'Service')) {
        const targets = selects(service.spec.selector);
        expect(targets.length, `Service ${service.metadata.name} selects nothing`).toBeGreaterThan(0);
        expect(service.spec.sessionAffinity ?? 'None').toBe('None');
        const portNames = targets.flatMap(({ w }) =>
          w.spec.template.spec.containers.flatMap((c: Container) =>
            (c.ports ?? []).map((p: { name: string }) => p.name),
          ),
        );
        for (const port of service.spec.ports)
          expect(portNames, `Service ${service.metadata.name}`).toContain(port.targetPort);
      }
      for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
        expect(selects(pdb.spec.selector.matchLabels).length, pdb.metadata.name).toBe(1);
      }
      for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) {
        const target = find(objects, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
        expect(target.spec.replicas, 'the HPA owns the replica count').toBeUndefined();
        expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      }
      for (const ingress of byKind(objects, 'Ingress')) {
        expect(JSON.stringify(ingress.metadata.annotations ?? {})).not.toMatch(
          /affinity|sticky|session-cookie/i,
        );
        for (const rule of ingress.spec.rules) {
          for (const path of rule.http.paths) {
            const service = find(objects, 'Service', path.backend.service.name);
            expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(
              path.backend.service.port.name,
            );
          }
        }
      }
      // Every probe and Service port names a container port; every ConfigMap volume exists.
      for (const { w } of pods) {
        const spec = w.spec.template.spec;
        for (const c of spec.containers) {
          const names = (c.ports ?? []).map((p: { name: string }) => p.name);
          for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
            const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
            if (port !== undefined) expect(names, `${w.metadata.name} probe port`).toContain(port);
          }
          for (const m of c.volumeMounts ?? [])
            expect(
              spec.volumes
                .map((v: { name: string }) => v.name)
                .concat((w.spec.volumeClaimTemplates ?? []).map((v: K8sObject) => v.metadata.name)),
            ).toContain(m.name);
        }
        for (const v of spec.volumes ?? []) if (v.configMap) find(objects, 'ConfigMap', v.configMap.name);
      }
    },
  );

  it.each(Object.keys(OVERLAYS))(
    '%s: every resource request and limit is set, every pod is non-root and read-only',
    (key) => {
      for (const w of workloads(rendered[key as keyof Rendered])) {
        const spec = w.spec.template.spec;
        expect(spec.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
        expect(spec.automountServiceAccountToken, w.metadata.name).toBe(false);
        for (const c of spec.containers) {
          expect(
            c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory,
            w.metadata.name,
          ).toBeTruthy();
          expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
          expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        }
      }
    },
  );
});

describe('infra/k8s: the apps', () => {
  it('ingester: one replica, Recreate; projector: two; gateway and api: HPA; every app a PDB', () => {
    for (const objects of Object.values(rendered)) {
      const ingester = find(objects, 'Deployment', 'ingester');
      expect(ingester.spec.replicas).toBe(1);
      expect(ingester.spec.strategy.type).toBe('Recreate');
      expect(find(objects, 'Deployment', 'projector').spec.replicas).toBe(2);
      for (const app of ['gateway', 'api']) {
        expect(find(objects, 'HorizontalPodAutoscaler', app).spec.scaleTargetRef.name).toBe(app);
      }
      for (const app of [...APPS, 'nats']) {
        const pdbs = byKind(objects, 'PodDisruptionBudget').filter(
          (p) => p.spec.selector.matchLabels['app.kubernetes.io/name'] === app,
        );
        expect(pdbs, app).toHaveLength(1);
      }
    }
  });

  it.each(APPS)(
    '%s: every variable set is one the app reads, and the app parses the environment it gets',
    async (app) => {
      const schema = await envSchema(app);
      expect(schema, `apps/${app} has no env schema`).not.toBeNull();
      for (const objects of Object.values(rendered)) {
        const container = containerOf(objects, 'Deployment', app);
        const names: string[] = container.env.map((e: { name: string }) => e.name);
        const keys = schemaKeys(schema!);
        const unknown = names.filter((n) => !keys.has(n) && !PENDING_ENV[app].includes(n));
        expect(unknown, `set for ${app} but not in its schema`).toEqual([]);
        const missing = requiredKeys(schema!).filter((k) => !names.includes(k));
        expect(missing, `required by ${app} but not set`).toEqual([]);
        // The app's own parser over what the manifests give it (Secrets replaced by well-formed samples).
        expect(() => parseEnv(app, schema as z.ZodObject, resolveEnv(objects, container))).not.toThrow();
        // Ports the app listens on are the container ports the probes and Services use.
        const env = resolveEnv(objects, container);
        const ports = Object.fromEntries(
          (container.ports ?? []).map((p: { name: string; containerPort: number }) => [
            p.name,
            p.containerPort,
          ]),
        );
        if (env.PORT) expect(Number(env.PORT)).toBe(ports.http ?? ports.ws);
        if (env.METRICS_PORT) expect(Number(env.METRICS_PORT)).toBe(ports.metrics);
        expect(env.NATS_USER).toBe(app);
      }
    },
  );

  it("routes the spec's /ws on the API's host to the gateway (where the session cookie is sent)", () => {
    const [ingress] = byKind(rendered.prod, 'Ingress');
    const apiHost = ingress!.spec.rules.find((r: Container) =>
      r.http.paths.some((p: Container) => p.backend.service.name === 'api'),
    );
    const ws = apiHost.http.paths.find((p: Container) => p.path === '/ws');
    expect(ws?.backend.service).toMatchObject({ name: 'gateway', port: { name: 'ws' } });
    // nginx picks the longest matching prefix, so /ws does not fall through to the API.
    expect(apiHost.http.paths.map((p: Container) => p.path)).toContain('/');
  });

  it('gives the API all the typing mini-game needs in every overlay (without one of them it turns boosts off)', () => {
    for (const [overlay, objects] of Object.entries(rendered)) {
      const env = resolveEnv(objects, containerOf(objects, 'Deployment', 'api'));
      for (const name of ['BOOST_SIGNER_PRIVATE_KEY', 'GHOST_CORE_ADDRESS', 'TRACE_SCAN_ADDRESS', 'RPC_URL'])
        expect(env[name], `${overlay}: ${name}`).toBeTruthy();
      const optional = containerOf(objects, 'Deployment', 'api').env.filter(
        (e: Container) => e.valueFrom?.secretKeyRef?.optional,
      );
      expect(
        optional.map((e: Container) => e.name),
        overlay,
      ).not.toContain('RPC_URL');
    }
  });

  it('names pending variables the apps do not read yet (reported, not failed)', async () => {
    const pending: string[] = [];
    for (const app of APPS) {
      const keys = schemaKeys((await envSchema(app))!);
      for (const name of PENDING_ENV[app]) if (!keys.has(name)) pending.push(`${app}: ${name}`);
    }
    if (pending.length) console.warn(`[infra/k8s] set ahead of the app's schema: ${pending.join(', ')}`);
    expect(pending.every((p) => /BOOST_SIGNER_PRIVATE_KEY/.test(p))).toBe(true);
  });

  it('probes ask the health endpoints the apps serve', () => {
    const sources = {
      api: read('packages/api/src/health/routes.ts'),
      gateway: read('packages/gateway/src/server/gateway.ts'),
      ingester: read('packages/metrics/src/index.ts'),
      projector: read('packages/metrics/src/index.ts'),
    };
    for (const [app, source] of Object.entries(sources)) {
      const c = containerOf(rendered.prod, 'Deployment', app);
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
        if (probe.httpGet)
          expect(source, `${app} serves ${probe.httpGet.path}`).toContain(`'${probe.httpGet.path}'`);
      }
      expect(c.readinessProbe, app).toBeDefined();
      expect(c.livenessProbe, app).toBeDefined();
    }
  });
});

describe('infra/k8s: secrets', () => {
  it('are referenced by name only: no Secret object, no secret-looking literal, every reference documented', () => {
    const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
    for (const objects of Object.values(rendered)) {
      expect(byKind(objects, 'Secret')).toEqual([]);
      for (const w of workloads(objects)) {
        for (const c of w.spec.template.spec.containers) {
          for (const e of c.env ?? []) {
            if (
              /PASSWORD|SECRET|KEYS?$|PRIVATE|DATABASE_URL|RPC_URL|RPC_WS_URL/.test(e.name) &&
              e.name !== 'NATS_USER'
            ) {
              expect(
                e.valueFrom?.secretKeyRef,
                `${w.metadata.name} ${e.name} must come from a Secret`,
              ).toBeDefined();
            }
            const ref = e.valueFrom?.secretKeyRef;
            if (ref) expect(SECRETS[ref.name], `${ref.name}/${ref.key}`).toContain(ref.key);
          }
        }
      }
    }
    for (const [name, keys] of Object.entries(SECRETS)) {
      expect(readme).toContain(name);
      for (const key of keys) expect(readme, `${name} ${key} documented`).toContain(key);
    }
  });
});

describe('infra/k8s: NATS JetStream cluster', () => {
  it('is 3 nodes whose routes name each other, with the server config and users of infra/nats', () => {
    const sts = find(rendered.prod, 'StatefulSet', 'nats');
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable).toBe('DoNotSchedule');
    const config = byKind(rendered.prod, 'ConfigMap').find((m) =>
      m.metadata.name.startsWith('nats-config-'),
    )!;
    const routes = [...config.data['nats.conf'].matchAll(/nats-route:\/\/([a-z0-9-]+)\.([a-z0-9-]+):6222/g)];
    expect(routes.map((r) => r[1])).toEqual([0, 1, 2].map((i) => `${sts.metadata.name}-${i}`));
    expect(routes.every((r) => r[2] === sts.spec.serviceName)).toBe(true);
    find(rendered.prod, 'Service', sts.spec.serviceName);
    expect(config.data['accounts.conf'], 'base/nats/accounts.conf must equal infra/nats/accounts.conf').toBe(
      read('infra/nats/accounts.conf'),
    );
    // Each password variable the users need, from the Secret.
    const env = sts.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name).sort();
    expect(env).toEqual(['POD_NAME', ...Object.values(NATS_USERS)].sort());
  });

  it('nats-server 2.9 accepts the rendered cluster config', () => {
    const config = byKind(rendered.prod, 'ConfigMap').find((m) =>
      m.metadata.name.startsWith('nats-config-'),
    )!;
    const dir = mkdtempSync(join(tmpdir(), 'ghostnet-k8s-nats-'));
    try {
      for (const [file, text] of Object.entries(config.data as Record<string, string>))
        writeFileSync(join(dir, file), text);
      const env = { ...process.env, ...generatePasswords(), POD_NAME: 'nats-0' };
      const ok = spawnSync(NATS_SERVER_BIN, ['-t', '-c', join(dir, 'nats.conf')], { env, encoding: 'utf8' });
      expect(ok.status, ok.stderr).toBe(0);
      const { NATS_SYS_PASSWORD: _, ...missing } = env;
      const refused = spawnSync(NATS_SERVER_BIN, ['-t', '-c', join(dir, 'nats.conf')], {
        env: missing,
        encoding: 'utf8',
      });
      expect(refused.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the stream: base is infra/nats/stream.json, prod the same at 3 replicas, applied by the Job as admin', async () => {
    const file = JSON.parse(read('infra/nats/stream.json'));
    const stream = (key: keyof Rendered) =>
      JSON.parse(
        byKind(rendered[key], 'ConfigMap').find((m) => m.metadata.name.startsWith('ghostnet-stream-'))!.data[
          'stream.json'
        ],
      );
    expect(stream('base')).toEqual(file);
    expect(stream('dev')).toEqual(file);
    expect(stream('prod')).toEqual({ ...file, num_replicas: 3 });
    // The gateways' connection-lease bucket follows the stream's replication.
    const gateway = (key: keyof Rendered) =>
      resolveEnv(rendered[key], containerOf(rendered[key], 'Deployment', 'gateway'));
    expect(gateway('prod').CONNECTIONS_REPLICAS).toBe('3');
    expect(gateway('base').CONNECTIONS_REPLICAS).toBeUndefined();
    // The ingester checks the live stream against STREAM_REPLICAS: the prod stream's 3, or it reports drift.
    const ingester = (key: keyof Rendered) =>
      resolveEnv(rendered[key], containerOf(rendered[key], 'Deployment', 'ingester'));
    expect(ingester('prod').STREAM_REPLICAS).toBe(String(stream('prod').num_replicas));
    expect(ingester('base').STREAM_REPLICAS).toBeUndefined();
    expect(ingester('dev').STREAM_REPLICAS).toBeUndefined();
    for (const objects of Object.values(rendered)) {
      const c = containerOf(objects, 'Job', 'nats-stream-apply');
      expect(existsSync(join(REPO_ROOT, c.command[3]))).toBe(true);
      expect(c.command[4]).toBe(
        `${c.volumeMounts.find((m: { name: string }) => m.name === 'stream').mountPath}/stream.json`,
      );
      const env = resolveEnv(objects, c);
      expect(env.NATS_USER).toBe('admin');
      expect(() => parseEnv('apply-stream', ApplyEnv, env)).not.toThrow();
      const keys = schemaKeys(ApplyEnv);
      expect(Object.keys(env).filter((k) => !keys.has(k))).toEqual([]);
    }
  });
});

describe('infra/k8s: network policies allow only what talks to what', () => {
  const pod = (name: string): Endpoint => ({
    name,
    namespace: 'ghostnet',
    labels: { 'app.kubernetes.io/name': name },
  });
  const ingress: Endpoint = {
    name: 'ingress-nginx',
    namespace: 'ingress-nginx',
    labels: { app: 'ingress-nginx' },
  };
  const prometheus: Endpoint = { name: 'prometheus', namespace: 'monitoring', labels: { app: 'prometheus' } };
  const outside: Endpoint = { name: 'internet', external: true };
  const other: Endpoint = { name: 'other-namespace', namespace: 'default', labels: { app: 'x' } };
  let policies: PolicySet;
  beforeAll(() => {
    policies = new PolicySet(rendered.prod, 'ghostnet');
  });

  it('allows each flow of the architecture', () => {
    const allowed: [Endpoint, Endpoint, number, string?][] = [
      [ingress, pod('api'), 3000],
      [ingress, pod('gateway'), 8080],
      ...['ingester', 'projector', 'gateway', 'api', 'nats-stream-apply'].map(
        (a) => [pod(a), pod('nats'), 4222] as [Endpoint, Endpoint, number],
      ),
      [pod('nats'), pod('nats'), 6222],
      ...['projector', 'gateway', 'api'].map((a) => [pod(a), outside, 5432] as [Endpoint, Endpoint, number]),
      [pod('ingester'), outside, 443],
      [pod('ingester'), outside, 8545],
      [pod('api'), outside, 443],
      [prometheus, pod('ingester'), 9464],
      [prometheus, pod('projector'), 9464],
      [prometheus, pod('gateway'), 9464],
      [prometheus, pod('api'), 9464],
      [prometheus, pod('nats'), 8222],
      ...APPS.map(
        (a) =>
          [
            pod(a),
            { name: 'dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
            53,
            'UDP',
          ] as [Endpoint, Endpoint, number, string],
      ),
    ];
    for (const [from, to, port, protocol] of allowed) {
      expect(policies.allowed(from, to, port, protocol), `${from.name} → ${to.name}:${port}`).toBe(true);
    }
  });

  it('denies everything else that matters', () => {
    const denied: [Endpoint, Endpoint, number][] = [
      [outside, pod('nats'), 4222],
      [ingress, pod('nats'), 4222],
      [other, pod('nats'), 4222],
      [other, pod('api'), 3000],
      [ingress, pod('projector'), 9464],
      [ingress, pod('ingester'), 9464],
      [pod('gateway'), pod('api'), 3000],
      [pod('api'), pod('gateway'), 8080],
      [pod('api'), pod('nats'), 6222],
      [pod('api'), pod('nats'), 8222],
      [pod('ingester'), outside, 5432],
      [pod('projector'), outside, 443],
      [pod('gateway'), outside, 443],
      [pod('nats'), outside, 443],
      [pod('nats-stream-apply'), outside, 443],
      [prometheus, pod('nats'), 4222],
    ];
    for (const [from, to, port] of denied) {
      expect(policies.allowed(from, to, port), `${from.name} → ${to.name}:${port}`).toBe(false);
    }
  });
});
