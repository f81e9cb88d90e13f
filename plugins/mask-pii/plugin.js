// mask-pii: masks card numbers and email addresses in consumer messages
// before the bot sees them, so neither the bot nor its logs ever hold them.
//
// - A card number is a run of 13 to 19 digits, written together or in
//   groups split by single spaces or dashes ("4111 1111 1111 1111",
//   "4111-1111-1111-1111"). Its digits become `*` but for the last
//   `card_keep_last` (setting, 0 to 4, default 4); the separators stay,
//   so the bot still sees that a card number was given. Every such run is
//   masked, Luhn-valid or not: a mistyped card number is still one.
// - An email address (local@domain.tld) becomes `email_mask` (setting,
//   default "[email]").
//
// A message with neither goes on unchanged.

import { log, setting } from './host.js';

/** A run of digits, single spaces or dashes between them. */
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;

/** An email address: a local part, `@`, and a domain with a dot. */
const EMAIL =
  /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g;

/**
 * `text` with its card numbers and email addresses masked.
 *
 * @param {string} text
 * @param {{ keepLast: number, emailMask: string }} options
 */
export function mask(text, { keepLast, emailMask }) {
  const cardsMasked = text.replace(DIGIT_RUN, (run) => {
    const digits = run.replace(/[ -]/g, '').length;
    if (digits < 13 || digits > 19) {
      return run;
    }
    let left = digits - keepLast;
    return run.replace(/\d/g, (digit) => (left-- > 0 ? '*' : digit));
  });
  return cardsMasked.replace(EMAIL, emailMask);
}

/** The settings, checked; a bad one is logged and its default used. */
function options() {
  const keep = setting('card_keep_last') ?? '4';
  if (!/^[0-4]$/.test(keep)) {
    log('warn', `card_keep_last is ${JSON.stringify(keep)}, not 0 to 4: keeping the last 4 digits`);
  }
  const keepLast = /^[0-4]$/.test(keep) ? Number(keep) : 4;
  return { keepLast, emailMask: setting('email_mask') ?? '[email]' };
}

/**
 * @param {import('switchboard:connector/types@0.2.0').Conversation} conv
 * @param {string} text
 * @returns {import('switchboard:connector/types@0.2.0').ConsumerAction}
 */
export function onConsumerMessage(conv, text) {
  const masked = mask(text, options());
  return masked === text ? { tag: 'forward' } : { tag: 'rewrite', val: masked };
}
