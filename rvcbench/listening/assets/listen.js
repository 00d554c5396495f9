// The listening test page: a listener id seeds the order, each trial is answered, the ratings download as CSV.
// No network: everything is in index.html and audio/. The order is reproducible from (test id, listener id).
"use strict";

(function () {
  const body = document.body;
  const design = body.dataset.design;
  const testId = body.dataset.test;
  const trials = Array.from(document.querySelectorAll("section.trial"));
  const next = document.getElementById("next");
  const hint = document.getElementById("hint");
  const progress = document.getElementById("progress");
  const rows = [];
  let listener = "";
  let order = [];
  let position = 0;
  let shownAt = 0;

  // FNV-1a 32-bit hash of a string: the seed of the listener's order.
  function hash(text) {
    let h = 0x811c9dc5;
    for (const byte of new TextEncoder().encode(text)) {
      h ^= byte;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h;
  }

  // mulberry32: a small seeded generator of floats in [0, 1).
  function generator(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function shuffle(items, random) {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  // Per listener: the order of trials, of MUSHRA samples on each screen, of A and B on each ABX screen.
  function arrange(random) {
    order = shuffle(trials, random);
    for (const trial of trials) {
      const holder = trial.querySelector("ol.stimuli, div.choices");
      if (!holder) continue;
      const children = shuffle(Array.from(holder.children), random);
      children.forEach(function (child, index) {
        holder.appendChild(child);
        const label = child.querySelector(".label");
        label.textContent = design === "abx" ? "AB"[index] : "Sample " + (index + 1);
      });
    }
    body.dataset.order = order.map(function (t) { return t.dataset.trial; }).join(",");
  }

  function answered(trial) {
    if (design === "mos") return trial.querySelector("input:checked") !== null;
    if (design === "mushra") return Array.from(trial.querySelectorAll("input[type=range]"))
      .every(function (r) { return r.dataset.moved === "1"; });
    return trial.querySelector("button.pick[aria-pressed=true]") !== null;
  }

  function refresh() {
    const trial = order[position];
    next.disabled = !answered(trial);
    hint.textContent = next.disabled ? (design === "mushra" ? "Rate every sample to go on." : "Answer to go on.") : "";
  }

  function show(index) {
    trials.forEach(function (t) { t.hidden = true; });
    for (const audio of document.querySelectorAll("audio")) audio.pause();
    const trial = order[index];
    trial.hidden = false;
    progress.textContent = "Screen " + (index + 1) + " of " + order.length;
    next.textContent = index === order.length - 1 ? "Finish" : "Next";
    shownAt = performance.now();
    refresh();
  }

  function record(trial) {
    const base = {
      listener: listener, position: position + 1, trial: trial.dataset.trial, design: design,
      seconds: ((performance.now() - shownAt) / 1000).toFixed(1), time: new Date().toISOString(),
    };
    if (design === "abx") {
      const choices = Array.from(trial.querySelectorAll("div.choice"));
      const picked = choices.findIndex(function (c) { return c.querySelector("button.pick").getAttribute("aria-pressed") === "true"; });
      rows.push(Object.assign({}, base, { item: choices[picked].dataset.item, rating: "", choice: "AB"[picked],
        check: trial.dataset.check }));
      return;
    }
    for (const rated of trial.querySelectorAll(".rating")) {
      const value = design === "mos" ? rated.querySelector("input:checked").value
        : rated.querySelector("input[type=range]").value;
      rows.push(Object.assign({}, base, { item: rated.dataset.item, rating: value, choice: "",
        check: rated.dataset.check }));
    }
  }

  const COLUMNS = ["listener", "position", "trial", "item", "design", "rating", "choice", "check", "seconds", "time"];

  function cell(value) {
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;  // never a formula in a spreadsheet
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function csv() {
    return [COLUMNS.join(",")].concat(rows.map(function (row) {
      return COLUMNS.map(function (c) { return cell(row[c]); }).join(",");
    })).join("\r\n") + "\r\n";
  }

  function download() {
    const blob = new Blob([csv()], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "ratings-" + testId + "-" + listener.replace(/[^A-Za-z0-9_-]+/g, "_") + ".csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  document.getElementById("start").addEventListener("submit", function (event) {
    event.preventDefault();
    listener = document.getElementById("listener").value.trim();
    if (!listener) return;
    arrange(generator(hash(testId + "\n" + listener)));
    document.getElementById("intro").hidden = true;
    document.getElementById("test").hidden = false;
    show(0);
  });

  for (const trial of trials) {
    trial.addEventListener("change", refresh);
    for (const range of trial.querySelectorAll("input[type=range]")) {
      range.addEventListener("input", function () {
        range.dataset.moved = "1";
        range.nextElementSibling.textContent = range.value;
        refresh();
      });
    }
    for (const button of trial.querySelectorAll("button.pick")) {
      button.addEventListener("click", function () {
        for (const other of trial.querySelectorAll("button.pick")) other.setAttribute("aria-pressed", "false");
        button.setAttribute("aria-pressed", "true");
        refresh();
      });
    }
  }

  // Only one clip plays at a time.
  document.addEventListener("play", function (event) {
    for (const audio of document.querySelectorAll("audio")) if (audio !== event.target) audio.pause();
  }, true);

  next.addEventListener("click", function () {
    const trial = order[position];
    if (!answered(trial)) return;
    record(trial);
    position += 1;
    if (position < order.length) {
      show(position);
      return;
    }
    document.getElementById("test").hidden = true;
    document.getElementById("done").hidden = false;
  });

  document.getElementById("download").addEventListener("click", download);
})();
