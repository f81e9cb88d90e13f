// The hooks, run by Node's own test runner (`node --test`) against a host
// made here: no gateway, no build.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { useHost } from './host.js';
import { onConsumerMessage } from './plugin.js';

/** A host whose settings are `settings`; the other functions are unused here. */
function hostWith(settings) {
  return {
    log() {},
    setting: (key) => settings[key],
    kvGet: () => undefined,
    kvSet() {},
    kvDelete() {},
    nowMs: () => 0n,
  };
}

const conv = {
  id: 'conv-1',
  connectorId: 'conn-1',
  botId: 'bot',
  consumerId: 'consumer-1',
  authenticated: false,
  conversationType: 'messaging',
  accessibility: false,
  customFields: [],
};

test('ping is answered with the pong setting, and the bot is not asked', () => {
  useHost(hostWith({ pong: 'PONG!' }));
  assert.deepEqual(onConsumerMessage(conv, ' Ping '), {
    tag: 'reply',
    val: [{ body: { tag: 'text', val: 'PONG!' } }],
  });
});

test('without the setting the answer is pong', () => {
  useHost(hostWith({}));
  assert.equal(onConsumerMessage(conv, 'ping').val[0].body.val, 'pong');
});

test('anything else goes to the bot unchanged', () => {
  useHost(hostWith({}));
  assert.deepEqual(onConsumerMessage(conv, 'hello'), { tag: 'forward' });
});
