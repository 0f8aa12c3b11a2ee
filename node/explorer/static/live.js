// New blocks as they are committed, from the node's CometBFT-compatible /websocket (same
// origin). Reconnects with backoff when the node restarts; the caller stops it on leaving.

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
const QUERY = "tm.event='NewBlockHeader'";

export function followNewBlocks(onBlock, onState) {
  let socket = null;
  let stopped = false;
  let timer = null;
  let retryMs = RETRY_FIRST_MS;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/websocket`);
    socket.addEventListener("open", () => {
      retryMs = RETRY_FIRST_MS;
      onState("live");
      socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: { query: QUERY } }));
    });
    socket.addEventListener("message", (message) => {
      let answer = null;
      try {
        answer = JSON.parse(message.data);
      } catch {
        return;
      }
      const header = answer && answer.result && answer.result.data
        && answer.result.data.value && answer.result.data.value.header;
      if (header && header.height !== undefined) onBlock(Number(header.height));
    });
    socket.addEventListener("close", () => {
      if (stopped) return;
      onState("reconnecting");
      timer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (socket) socket.close();
  };
}
