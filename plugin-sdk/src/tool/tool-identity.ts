import { ToolDefinitionError } from './tool-definition-error.js';

// The same rule the sandbox applies at registration, checked here first so an
// author learns about it while writing the tool, not while publishing it.
const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
// semver.org's reference expression: MAJOR.MINOR.PATCH[-pre][+build].
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function checkToolName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ToolDefinitionError('name', 'is required (lowercase letters, digits, "_" and "-", starting with a letter)');
  }
  if (!NAME.test(name)) {
    const hint = name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z]+/, '').slice(0, 64);
    throw new ToolDefinitionError(
      'name',
      `"${name}" is not a valid tool name: use 1-64 lowercase letters, digits, "_" and "-", starting with a letter` +
        (hint && NAME.test(hint) ? ` (e.g. "${hint}")` : ''),
    );
  }
  return name;
}

export function checkToolVersion(version: unknown): string {
  if (typeof version !== 'string' || version.length === 0) {
    throw new ToolDefinitionError('version', 'is required, as a semantic version such as "1.0.0"');
  }
  if (!SEMVER.test(version)) {
    const hint = /^v?\d+(\.\d+)?$/.test(version) ? ` (did you mean "${padSemver(version.replace(/^v/, ''))}"?)` : '';
    throw new ToolDefinitionError('version', `"${version}" is not a semantic version MAJOR.MINOR.PATCH${hint}`);
  }
  return version;
}

function padSemver(version: string): string {
  const parts = version.split('.');
  while (parts.length < 3) parts.push('0');
  return parts.join('.');
}
