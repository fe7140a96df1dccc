// Live Q&A beside the live stream: viewers ask, the trainer marks answered; every open page of
// the session sees each change at once (one WebSocket per page, reconnecting if it drops).
(() => {
  "use strict";
  const panel = document.getElementById("qa");
  if (!panel) return;
  const texts = JSON.parse(document.getElementById("qa-texts").textContent);
  const list = panel.querySelector("#qa-list");
  const form = panel.querySelector("#qa-form");
  const input = panel.querySelector("#qa-text");
  const status = panel.querySelector("#qa-status");
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}` +
    `/api/v1/sessions/${panel.dataset.session}/questions/ws`;
  let ws = null;
  let moderator = false;
  let retry = 1000;

  function render(item) {
    let li = list.querySelector(`li[data-id="${item.id}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = String(item.id);
      const who = document.createElement("strong");
      const text = document.createElement("span");
      text.className = "qa-text";
      li.append(who, " ", text);
      list.append(li);
    }
    li.querySelector("strong").textContent = item.name;
    li.querySelector(".qa-text").textContent = item.text; // text, never HTML
    answered(li, item.answered);
  }

  function answered(li, yes) {
    li.classList.toggle("answered", yes);
    li.dataset.answered = yes ? "1" : "0";
    let button = li.querySelector("button");
    if (moderator && !yes && !button) {
      button = document.createElement("button");
      button.type = "button";
      button.textContent = texts.mark;
      button.addEventListener("click", () => send({ type: "answered", id: Number(li.dataset.id) }));
      li.append(" ", button);
    }
    if (yes) {
      if (button) button.remove();
      if (!li.querySelector(".qa-done")) {
        const done = document.createElement("span");
        done.className = "qa-done muted";
        done.textContent = ` ✓ ${texts.answered}`;
        li.append(done);
      }
    }
  }

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function connect() {
    ws = new WebSocket(url);
    ws.addEventListener("open", () => {
      retry = 1000;
      status.textContent = "";
      panel.dataset.ready = "1";
    });
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "questions") {
        moderator = msg.moderator;
        list.replaceChildren();
        msg.items.forEach(render);
      } else if (msg.type === "question") {
        render(msg.item);
      } else if (msg.type === "answered") {
        const li = list.querySelector(`li[data-id="${msg.id}"]`);
        if (li) answered(li, true);
      } else if (msg.type === "error") {
        status.textContent = texts[msg.code] || msg.message;
      }
    });
    ws.addEventListener("close", (e) => {
      panel.dataset.ready = "0";
      if (e.code >= 4400 && e.code < 4500) {
        status.textContent = texts.refused;
        return; // not allowed: asking again will not help
      }
      status.textContent = texts.reconnecting;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send({ type: "ask", text });
    input.value = "";
  });
  connect();
})();
