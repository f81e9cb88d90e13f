// A small bot written with the official Bot Framework SDK (botbuilder), run
// offline with an empty app id. switchboard's Bot Framework client is tested
// against it: it answers text, a hero card, suggested actions and typing,
// and greets new members. Texts starting "tpb " get answers the way bots
// written for LivePerson's Third-Party Bots write them (channelData bot
// actions, private texts, encoded metadata, botbuilder's handoff event).
//
// Usage: node echo-bot.js PORT   (prints "listening on PORT" when ready)
"use strict";
const http = require("http");
const { BotFrameworkAdapter, CardFactory, EventFactory, MessageFactory, ActivityTypes } = require("botbuilder");

// Third-Party Bots answers, by what the consumer said after "tpb ".
const THIRD_PARTY_BOTS = {
  note: () => [
    { type: "message", text: "note: the consumer asked for a note", channelData: { messageAudience: "AGENTS_AND_MANAGERS" } },
    { type: "message", text: "noted" },
  ],
  urgent: () => [
    { type: "message", text: "marked urgent", channelData: { action: { name: "CHANGE_TTR", type: "client", parameters: { ttrType: "URGENT" } } } },
  ],
  custom: () => [
    { type: "message", text: "", channelData: { action: { name: "CHANGE_TTR", parameters: { ttrType: "CUSTOM", value: "120" } } } },
  ],
  transfer: () => [
    { type: "message", text: "I'll transfer you to a human agent", channelData: { action: { name: "TRANSFER", parameters: { skill: "human-expert" } } } },
  ],
  handoff: (context) => [
    { text: "handing off", ...EventFactory.createHandoffInitiation(context, { skill: "2" }) },
  ],
  card: () => [
    {
      type: "message",
      text: "",
      channelData: {
        metadata: [{ type: "ExternalId", id: "ABCD1234" }],
        structuredContent: {
          type: "vertical",
          elements: [
            { type: "button", title: "Recommend a movie", click: { actions: [{ type: "publishText", text: "Recommend me a movie" }] } },
          ],
        },
      },
    },
  ],
  metadata: () => [
    { type: "message", text: "with metadata", channelData: { encodedMetadata: "ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ==" } },
    {
      type: "message",
      text: "",
      channelData: {
        encodedMetadata: "ZGlmZmVyZW50IGVuY29kZWQgbWV0YWRhdGE=",
        structuredContent: { type: "vertical", elements: [{ type: "text", text: "a card with metadata" }] },
      },
    },
  ],
  sdes: (context) => {
    const sdes = ((context.activity.channelData || {}).context || {}).lpSdes;
    const customer = sdes && sdes.ctmrinfo && sdes.ctmrinfo.info && sdes.ctmrinfo.info.customerId;
    return [{ type: "message", text: customer ? "customer " + customer : "no engagement attributes" }];
  },
  multi: () => [
    {
      type: "message",
      text: "",
      channelData: {
        multiMessage: [
          { type: "text", value: "first of several", encodedMetadata: "Zmlyc3Q=" },
          { type: "private-message", value: { text: "a note among several", messageAudience: "AGENTS_AND_MANAGERS" } },
          { type: "delay", value: 1 },
          {
            type: "structured-content",
            value: { metadata: [], structuredContent: { type: "vertical", elements: [{ type: "text", text: "after the pause" }] } },
          },
        ],
      },
    },
  ],
  pause: () => [
    { type: "message", text: "after a pause", channelData: { delay: { delay: 1, typing: true } } },
  ],
  quick: () => [
    {
      type: "message",
      text: "",
      channelData: {
        structuredContent: {
          quickReplies: {
            type: "quickReplies",
            itemsPerRow: 8,
            replies: [
              { type: "button", tooltip: "yes i do", title: "yes", click: { actions: [{ type: "publishText", text: "yep" }] } },
              { type: "button", tooltip: "No!", title: "No!", click: { actions: [{ type: "publishText", text: "No!" }] } },
            ],
          },
          message: "Do you like Bots?",
        },
      },
    },
  ],
  close: () => [
    { type: "message", text: "bye", channelData: { action: { name: "CLOSE_CONVERSATION" } } },
  ],
};

const adapter = new BotFrameworkAdapter({ appId: "", appPassword: "" });
adapter.onTurnError = async (context, error) => {
  console.error("turn error:", error);
  await context.sendActivity("the bot failed: " + error.message);
};

async function logic(context) {
  const activity = context.activity;
  if (activity.type === ActivityTypes.ConversationUpdate) {
    for (const member of activity.membersAdded || []) {
      if (member.id !== activity.recipient.id) {
        await context.sendActivity("welcome, " + member.id);
      }
    }
    return;
  }
  if (activity.type !== ActivityTypes.Message) return;
  const text = (activity.text || "").trim();
  const thirdParty = text.startsWith("tpb ") && THIRD_PARTY_BOTS[text.slice(4)];
  if (thirdParty) {
    for (const answer of thirdParty(context)) {
      await context.sendActivity(answer);
    }
  } else if (text === "card") {
    const card = CardFactory.heroCard(
      "Plan A",
      "Ten gigabytes",
      ["https://example.com/plan-a.png"],
      [
        { type: "imBack", title: "Choose A", value: "I choose A" },
        { type: "openUrl", title: "Details", value: "https://example.com/a" },
      ],
    );
    await context.sendActivity(MessageFactory.attachment(card, "Here is a plan"));
  } else if (text === "suggest") {
    await context.sendActivity(MessageFactory.suggestedActions(["Yes", "No"], "Shall we?"));
  } else if (text === "slow") {
    await context.sendActivity({ type: ActivityTypes.Typing });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await context.sendActivity("done thinking");
  } else {
    await context.sendActivity("echo: " + text);
  }
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/api/messages") {
    res.statusCode = 404;
    res.end();
    return;
  }
  // processActivity wants a restify/express-like response.
  const response = {
    statusCode: 200,
    body: undefined,
    status(code) { this.statusCode = code; return this; },
    send(body) { this.body = body; return this; },
    end() {
      res.statusCode = this.statusCode;
      if (this.body !== undefined) {
        res.setHeader("content-type", "application/json");
        res.end(typeof this.body === "string" ? this.body : JSON.stringify(this.body));
      } else {
        res.end();
      }
    },
  };
  adapter.processActivity(req, response, logic).catch((error) => {
    console.error("processActivity failed:", error);
    if (!res.writableEnded) { res.statusCode = 500; res.end(); }
  });
});

const port = Number(process.argv[2] || 3978);
server.listen(port, "127.0.0.1", () => console.log("listening on " + server.address().port));
