// mask-pii's masking and its hook, run by Node's own test runner
// (`node --test`) against a host made here.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { useHost } from './host.js';
import { mask, onConsumerMessage } from './plugin.js';

const defaults = { keepLast: 4, emailMask: '[email]' };

/** A host with these settings, keeping what is logged in `logged`. */
function hostWith(settings, logged = []) {
  return {
    log: (level, message) => logged.push([level, message]),
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

test('card numbers of 13 to 19 digits are masked but their last four, separators kept', () => {
  assert.equal(mask('card 4111111111111111 ok', defaults), 'card ************1111 ok');
  assert.equal(mask('4111 1111 1111 1111', defaults), '**** **** **** 1111');
  assert.equal(mask('4111-1111-1111-1111.', defaults), '****-****-****-1111.');
  assert.equal(mask('3782 822463 10005', defaults), '**** ****** *0005');
  assert.equal(mask('1234567890123', defaults), '*********0123');
  assert.equal(mask('1234567890123456789', defaults), '***************6789');
});

test('shorter and longer digit runs are left alone', () => {
  for (const text of ['order 123456789012', 'call +44 20 7946 0958', '12345678901234567890', 'on 2024-01-15']) {
    assert.equal(mask(text, defaults), text);
  }
});

test('two separators in a row end a run', () => {
  assert.equal(mask('4111 1111 1111  1111', defaults), '4111 1111 1111  1111');
});

test('email addresses are replaced whole', () => {
  assert.equal(
    mask('mail jane.doe+bills@mail.example.co.uk or bob@example.com, thanks', defaults),
    'mail [email] or [email], thanks',
  );
  for (const text of ['me @ home', 'a@b', 'user@localhost']) {
    assert.equal(mask(text, defaults), text);
  }
});

test('the hook rewrites a message with PII and forwards one without', () => {
  useHost(hostWith({}));
  assert.deepEqual(onConsumerMessage(conv, 'pay with 4111 1111 1111 1111, mail me at jane@example.com'), {
    tag: 'rewrite',
    val: 'pay with **** **** **** 1111, mail me at [email]',
  });
  assert.deepEqual(onConsumerMessage(conv, 'hello'), { tag: 'forward' });
});

test('the settings choose the digits kept and the email mask', () => {
  useHost(hostWith({ card_keep_last: '0', email_mask: '<hidden>' }));
  assert.deepEqual(onConsumerMessage(conv, '4111111111111111 a@example.org'), {
    tag: 'rewrite',
    val: '**************** <hidden>',
  });
});

test('a bad card_keep_last is logged and the default used', () => {
  const logged = [];
  useHost(hostWith({ card_keep_last: 'all' }, logged));
  assert.equal(onConsumerMessage(conv, '4111111111111111').val, '************1111');
  assert.equal(logged.length, 1);
  assert.equal(logged[0][0], 'warn');
});
