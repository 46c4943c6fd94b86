// tideflow ui: live run states and task logs over server-sent events. No dependencies.
"use strict";

function liveRun(body) {
  const source = new EventSource(body.dataset.events);
  source.onmessage = (message) => {
    const state = JSON.parse(message.data);
    document.getElementById("graph").innerHTML = state.graph;
    document.getElementById("tasks").innerHTML = state.tasks;
    const badge = document.getElementById("run-status");
    badge.textContent = state.status;
    badge.className = "badge state-" + state.status;
    document.getElementById("run-duration").textContent = state.duration;
  };
  source.addEventListener("end", () => source.close());
}

function matches(line, text) {
  return !text || line.textContent.includes(text);
}

function liveLog(pre, filter, onEnd) {
  // The browser resends the id of the last event (the log position) when it reconnects,
  // so a dropped connection resumes exactly after the last line shown.
  const source = new EventSource(pre.dataset.events);
  source.onmessage = (message) => {
    const line = document.createElement("span");
    line.textContent = message.data + "\n";
    if (!matches(line, filter.value)) line.classList.add("hidden");
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(line);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  source.addEventListener("end", () => { source.close(); onEnd(); });
}

function cardFigure(base, card) {
  const figure = document.createElement("figure");
  figure.className = "card";
  figure.dataset.card = card.name;
  const caption = document.createElement("figcaption");
  caption.textContent = card.label + " ";
  const open = document.createElement("a");
  open.className = "small";
  open.href = base + card.name;
  open.target = "_blank";
  open.rel = "noopener";
  open.textContent = "open";
  caption.appendChild(open);
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "");
  frame.title = "card " + card.label;
  figure.append(caption, frame);
  return figure;
}

function liveCards(box) {
  // A running task refreshes its cards: reload a card whose HTML changed, add a new one.
  const base = box.dataset.base;
  const source = new EventSource(box.dataset.events);
  source.onmessage = (message) => {
    JSON.parse(message.data).forEach((card) => {
      let figure = box.querySelector(`figure[data-card="${CSS.escape(card.name)}"]`);
      if (!figure) {
        figure = cardFigure(base, card);
        box.insertBefore(figure, box.querySelector("p.empty"));
      }
      if (figure.dataset.hash !== card.hash) {
        figure.dataset.hash = card.hash;
        figure.querySelector("iframe").src = base + card.name + "?v=" + card.hash;
      }
    });
    box.querySelector("p.empty").hidden = box.querySelector("figure") !== null;
  };
  source.addEventListener("end", () => source.close());
}

function taskPage(body) {
  const cards = document.getElementById("cards");
  if (cards && body.dataset.live === "1") liveCards(cards);
  const filter = document.getElementById("log-filter");
  const logs = Array.from(document.querySelectorAll("pre.log"));
  let open = logs.length;
  const ended = () => {
    open -= 1;
    // A task that was running when the page loaded: show its artifacts and outcome.
    if (open === 0 && body.dataset.live === "1") window.location.reload();
  };
  logs.forEach((pre) => liveLog(pre, filter, ended));
  filter.addEventListener("input", () => {
    logs.forEach((pre) => pre.querySelectorAll("span").forEach((line) => {
      line.classList.toggle("hidden", !matches(line, filter.value));
    }));
    document.querySelectorAll("#download-stdout, #download-stderr").forEach((link) => {
      const url = new URL(link.href);
      url.searchParams.set("filter", filter.value);
      link.href = url.toString();
    });
  });
}

function runsPage() {
  // Two runs picked: the "compare" link compares them.
  const link = document.getElementById("compare");
  const base = link.href;
  document.querySelectorAll("input.pick").forEach((box) => box.addEventListener("change", () => {
    const picked = Array.from(document.querySelectorAll("input.pick:checked")).map((b) => b.value);
    const url = new URL(base);
    if (picked.length === 2) {
      url.searchParams.set("a", picked[1]);
      url.searchParams.set("b", picked[0]);
      link.textContent = "compare " + picked[1] + " with " + picked[0];
    } else {
      link.textContent = "compare two runs";
    }
    link.href = url.toString();
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  const body = document.body;
  if (body.dataset.page === "run" && body.dataset.live === "1") liveRun(body);
  if (body.dataset.page === "task") taskPage(body);
  if (body.dataset.page === "runs") runsPage();
});
