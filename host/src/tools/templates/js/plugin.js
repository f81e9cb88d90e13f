// {{name}}: a switchboard connector plugin.
//
// Write the hooks you need as named exports; `switchboard plugin build`
// makes the component's hook list from them and gives the others their
// defaults. The hooks (types in types/, generated from wit/connector.wit):
//
//   onConversationStart(conv, greeting) -> string | undefined
//   onStepUp(conv, text)                -> string | undefined
//   onConsumerMessage(conv, text)       -> ConsumerAction
//   onBotMessage(conv, messages)        -> Message[]
//   onBotError(conv, text, failure)     -> FailureAction
//   onConversationEnd(conv, reason)
//
// An export whose name starts with `on` and is no hook fails the build.

import { setting } from './host.js';

/**
 * A consumer message on its way to the bot: "ping" is answered here (the
 * `pong` setting, "pong" without it) and the bot never sees it; anything
 * else goes on unchanged.
 *
 * @param {import('switchboard:connector/types@{{contract}}').Conversation} conv
 * @param {string} text
 * @returns {import('switchboard:connector/types@{{contract}}').ConsumerAction}
 */
export function onConsumerMessage(conv, text) {
  if (text.trim().toLowerCase() === 'ping') {
    const answer = setting('pong') ?? 'pong';
    return { tag: 'reply', val: [{ body: { tag: 'text', val: answer } }] };
  }
  return { tag: 'forward' };
}
