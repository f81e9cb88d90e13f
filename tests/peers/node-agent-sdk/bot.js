// A small bot written the way node-agent-sdk's README shows, run against
// switchboard's embedded hub over TLS (the SDK speaks only https/wss; trust
// the hub's certificate with NODE_EXTRA_CA_CERTS).
//
// It goes ONLINE, subscribes to its conversations and routing tasks,
// accepts rings, and answers each consumer message: "transfer" moves the
// conversation to skill 2, "close" closes it, anything else is echoed.
//
// Usage: LP_ACCOUNT=123 LP_USER=... LP_PASS=... LP_CSDS=127.0.0.1:8443 node bot.js
"use strict";
const Agent = require("node-agent-sdk").Agent;

const agent = new Agent({
  accountId: process.env.LP_ACCOUNT,
  username: process.env.LP_USER,
  password: process.env.LP_PASS,
  csdsDomain: process.env.LP_CSDS,
});

const fail = (what) => (error) => { if (error) console.error(what, error); };

agent.on("connected", () => {
  agent.setAgentState({ availability: "ONLINE" }, fail("setAgentState"));
  agent.subscribeExConversations({ convState: ["OPEN"], agentIds: [agent.agentId] }, fail("subscribeExConversations"));
  agent.subscribeRoutingTasks({}, fail("subscribeRoutingTasks"));
  console.log("connected as " + agent.agentId);
});

agent.on("routing.RoutingTaskNotification", (body) => {
  for (const change of body.changes) {
    if (change.type !== "UPSERT") continue;
    for (const ring of change.result.ringsDetails) {
      if (ring.ringState === "WAITING") {
        agent.updateRingState({ ringId: ring.ringId, ringState: "ACCEPTED" }, fail("updateRingState"));
      }
    }
  }
});

const mine = new Set();
agent.on("cqm.ExConversationChangeNotification", (body) => {
  for (const change of body.changes) {
    const id = change.result.convId;
    if (change.type === "DELETE") { mine.delete(id); continue; }
    const assigned = change.result.conversationDetails.participants
      .some((p) => p.role === "ASSIGNED_AGENT" && p.id === agent.agentId);
    if (assigned && !mine.has(id)) {
      mine.add(id);
      agent.subscribeMessagingEvents({ dialogId: id }, fail("subscribeMessagingEvents"));
    }
  }
});

const seen = new Set();
agent.on("ms.MessagingEventNotification", (body) => {
  for (const change of body.changes) {
    if (change.__isMe || change.originatorMetadata.role !== "CONSUMER") continue;
    if (!change.event || change.event.type !== "ContentEvent") continue;
    const key = change.dialogId + ":" + change.sequence;
    if (seen.has(key)) continue;
    seen.add(key);
    const text = change.event.message;
    const dialogId = change.dialogId;
    if (text === "transfer") {
      agent.updateConversationField({ conversationId: dialogId, conversationField: [
        { field: "ParticipantsChange", type: "REMOVE", role: "ASSIGNED_AGENT" },
        { field: "Skill", type: "UPDATE", skill: "2" },
      ] }, fail("transfer"));
    } else if (text === "close") {
      agent.updateConversationField({ conversationId: dialogId, conversationField: [
        { field: "ConversationStateField", conversationState: "CLOSE" },
      ] }, fail("close"));
    } else if (text === "metadata") {
      // The SDK's request signature: body, headers, metadata, encodedMetadata, callback.
      const event = { type: "ContentEvent", contentType: "text/plain", message: "sdk metadata" };
      agent.publishEvent({ dialogId, event }, null, null, "U0RLIG1ldGFkYXRh", fail("publishEvent"));
    } else {
      agent.publishEvent({ dialogId, event: { type: "ContentEvent", contentType: "text/plain", message: "sdk echo: " + text } }, fail("publishEvent"));
    }
  }
});

agent.on("error", (error) => console.error("agent error:", error && error.message));
agent.on("closed", (data) => console.error("agent socket closed", JSON.stringify(data)));
