// What the gateway offers this plugin: its log, the plugin's settings for
// the connector, a key-value store kept per plugin and connector, and the
// clock. Import these in plugin.js and call them inside hooks.
//
// Inside the gateway, `switchboard plugin build` wires the real host in
// (through useHost) before any hook runs; a test sets a host of its own
// with useHost, so plugin.js runs under `node --test` unchanged.

/** @typedef {typeof import('switchboard:connector/host@0.2.0')} Host */

/** @type {Host | null} */
let current = null;

/** Sets the host the functions below call. @param {Host} host */
export function useHost(host) {
  current = host;
}

/** @returns {Host} */
function host() {
  if (current === null) {
    throw new Error('no host yet: call the host inside a hook (a test calls useHost first)');
  }
  return current;
}

/** Writes to the gateway's log. @param {'trace'|'debug'|'info'|'warn'|'error'} level @param {string} message */
export const log = (level, message) => host().log(level, message);
/** This plugin's setting `key` for the connector, or undefined. @param {string} key @returns {string | undefined} */
export const setting = (key) => host().setting(key);
/** @param {string} key @returns {Uint8Array | undefined} */
export const kvGet = (key) => host().kvGet(key);
/** Throws the store's error as a string. @param {string} key @param {Uint8Array} value */
export const kvSet = (key, value) => host().kvSet(key, value);
/** @param {string} key */
export const kvDelete = (key) => host().kvDelete(key);
/** Wall-clock milliseconds since the Unix epoch (a BigInt). @returns {bigint} */
export const nowMs = () => host().nowMs();
