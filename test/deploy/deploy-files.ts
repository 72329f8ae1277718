// Loads the deployment files the deploy tests check (docker-compose.yml, the Dockerfile, dashboards)
// and holds the checks themselves as pure functions, so each test can also prove that a check fails
// on a broken copy.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function repoPath(...parts: string[]): string {
  return join(repoRoot, ...parts);
}

export function readRepoFile(...parts: string[]): string {
  return readFileSync(repoPath(...parts), 'utf8');
}

export type ComposeHealthcheck = { test?: string | string[]; disable?: boolean };
export type ComposeDependsOn = string[] | Record<string, { condition?: string }>;
export type ComposeService = {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  pull_policy?: string;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target?: number; published?: string | number })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  networks?: string[] | Record<string, unknown>;
  depends_on?: ComposeDependsOn;
  healthcheck?: ComposeHealthcheck;
  container_name?: string;
  restart?: string;
};
export type ComposeFile = {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
  [extension: `x-${string}`]: unknown;
};

/** docker-compose.yml as Compose reads it: YAML 1.1 merge keys (`<<: *anchor`) resolved. */
export function loadCompose(text = readRepoFile('docker-compose.yml')): ComposeFile {
  return parse(text, { merge: true }) as ComposeFile;
}

/** The images some service builds (from the repository's Dockerfile). */
export function builtImages(compose: ComposeFile): Set<string> {
  return new Set(
    Object.values(compose.services)
      .filter((service) => service.build !== undefined && service.image)
      .map((service) => service.image!),
  );
}

/** The empsync services: those that build the repository's image or run the image another service builds. */
export function empsyncServices(compose: ComposeFile): [string, ComposeService][] {
  const images = builtImages(compose);
  return Object.entries(compose.services).filter(
    ([, service]) => service.build !== undefined || (service.image !== undefined && images.has(service.image)),
  );
}

/**
 * Image tags that more than one service builds. Compose builds through buildx bake, which exports those
 * targets in parallel; on a clean machine the second export fails with `image "…": already exists`.
 */
export function imagesBuiltTwice(compose: ComposeFile): string[] {
  const builders = new Map<string, string[]>();
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build === undefined) continue;
    const image = service.image ?? name;
    builders.set(image, [...(builders.get(image) ?? []), name]);
  }
  return [...builders].filter(([, names]) => names.length > 1).map(([image]) => image);
}

/** The healthcheck command as one string (CMD / CMD-SHELL forms joined). */
export function healthcheckCommand(service: ComposeService): string {
  const test = service.healthcheck?.test ?? [];
  return (Array.isArray(test) ? test.filter((word) => !/^(CMD|CMD-SHELL)$/.test(word)) : [test]).join(' ');
}

/**
 * Why a database healthcheck could pass before the server takes TCP connections, or null. Both images run
 * a first-start server on the Unix socket only (mysql: --skip-networking; postgres: listen_addresses=''),
 * so the check must connect to a loopback address: for MySQL clients the host `localhost` means the socket.
 */
export function healthcheckOverTcpProblem(service: ComposeService, client: 'mysqladmin' | 'pg_isready'): string | null {
  const command = healthcheckCommand(service);
  if (!new RegExp(`\\b${client}\\b`).test(command)) return `the healthcheck does not run ${client}`;
  if (!/(^|\s)(-h\s*|--host[=\s])(127\.0\.0\.1|::1)(\s|$)/.test(command)) {
    return `${client} does not connect to 127.0.0.1 (-h 127.0.0.1): without it, or with localhost, it may ask the socket`;
  }
  return null;
}

/** The `--name=value` options of a service's command. */
export function commandOptions(service: ComposeService): Map<string, string> {
  const words = Array.isArray(service.command) ? service.command : (service.command ?? '').split(/\s+/);
  return new Map(
    words.flatMap((word) => {
      const match = /^--([a-z0-9_-]+)=(.*)$/i.exec(word);
      return match ? [[match[1]!.replace(/_/g, '-'), match[2]!] as [string, string]] : [];
    }),
  );
}

/** The variables that Compose requires (`${VAR:?message}`): it refuses to start while one is unset. */
export function requiredVariables(composeText: string): string[] {
  return [...new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((match) => match[1]!))].sort();
}

/** The text of a Markdown section (from its `## heading` to the next heading of the same or a higher level). */
export function markdownSection(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.replace(/^#+\s*/, '') === heading && /^#+\s/.test(line));
  if (start < 0) return '';
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex((line, index) => index > start && /^#+\s/.test(line) && /^#+/.exec(line)![0].length <= level);
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

export function environmentKeys(service: ComposeService): string[] {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) return environment.map((entry) => entry.split('=')[0]!);
  return Object.keys(environment);
}

/** An image reference pinned to a release: an explicit tag that is not `latest` and holds a digit, or a digest. */
export function isPinnedImage(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  if (colon < 0) return false;
  const tag = image.slice(colon + 1);
  return tag !== 'latest' && !/\blatest\b/.test(tag) && /\d/.test(tag) && !tag.includes('${');
}

/** Host paths of bind mounts (`./x:/y[:ro]` or long syntax with type bind), relative to the repo. */
export function bindMountSources(service: ComposeService): string[] {
  const sources: string[] = [];
  for (const volume of service.volumes ?? []) {
    if (typeof volume === 'string') {
      const source = volume.split(':')[0]!;
      if (source.startsWith('.') || source.startsWith('/')) sources.push(source);
    } else if (volume.type === 'bind' && volume.source) {
      sources.push(volume.source);
    }
  }
  return sources;
}

export function namedVolumeSources(service: ComposeService): string[] {
  const names: string[] = [];
  for (const volume of service.volumes ?? []) {
    const source =
      typeof volume === 'string'
        ? volume.split(':')[0]!
        : volume.type === 'volume'
          ? (volume.source ?? '')
          : '';
    if (source && !source.startsWith('.') && !source.startsWith('/')) names.push(source);
  }
  return names;
}

/** Bind-mounted paths that do not exist in the repository. */
export function missingMountSources(compose: ComposeFile, root = repoRoot): string[] {
  return Object.values(compose.services)
    .flatMap(bindMountSources)
    .filter((source) => !existsSync(resolve(root, source)));
}

/** Container ports published on the host, as "host:container" with `${VAR:-default}` resolved to the default. */
export function publishedPorts(service: ComposeService): { host: string; container: string }[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port !== 'string')
      return { host: String(port.published ?? ''), container: String(port.target ?? '') };
    const resolved = port.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
    const parts = resolved.split(':');
    return { host: parts.at(-2) ?? '', container: parts.at(-1)!.replace(/\/(tcp|udp)$/, '') };
  });
}

export function dependsOnConditions(service: ComposeService): Record<string, string | undefined> {
  const dependsOn = service.depends_on ?? {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(dependsOn).map(([name, value]) => [name, value.condition]));
}
