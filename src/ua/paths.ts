/**
 * Where the user agent keeps its files, after the XDG Base Directory specification: settings and
 * passwords under $XDG_CONFIG_HOME/posthorn (default ~/.config/posthorn), mail under
 * $XDG_DATA_HOME/posthorn/ACCOUNT (default ~/.local/share/posthorn). Relative XDG values are
 * ignored, as the specification asks.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

function xdg(name: string, fallback: string[], env: NodeJS.ProcessEnv): string {
  const v = env[name];
  return v && isAbsolute(v) ? v : join(env.HOME || homedir(), ...fallback);
}

/** $XDG_CONFIG_HOME/posthorn */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(xdg('XDG_CONFIG_HOME', ['.config'], env), 'posthorn');
}

/** $XDG_DATA_HOME/posthorn */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(xdg('XDG_DATA_HOME', ['.local', 'share'], env), 'posthorn');
}
