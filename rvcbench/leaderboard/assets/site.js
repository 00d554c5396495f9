// rvcbench leaderboard: sortable tables and the scorer-profile selector. Vanilla JS, no dependencies.
"use strict";

function cellValue(row, index, kind) {
  const cell = row.children[index];
  const raw = cell ? (cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent) : "";
  if (kind === "num") {
    const value = parseFloat(raw);
    return Number.isFinite(value) ? value : null;
  }
  return raw.trim().toLowerCase();
}

function sortTable(table, header) {
  const headers = Array.from(header.parentElement.children);
  const index = headers.indexOf(header);
  const kind = header.dataset.kind;
  const current = header.getAttribute("aria-sort");
  const order = current === "none" || !current ? header.dataset.first
    : (current === "ascending" ? "descending" : "ascending");
  headers.forEach((h) => { if (h.hasAttribute("aria-sort")) h.setAttribute("aria-sort", "none"); });
  header.setAttribute("aria-sort", order);
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const sign = order === "ascending" ? 1 : -1;
  rows.sort((a, b) => {
    const x = cellValue(a, index, kind);
    const y = cellValue(b, index, kind);
    if (x === null || x === "") return (y === null || y === "") ? 0 : 1;  // missing values last, both ways
    if (y === null || y === "") return -1;
    return x < y ? -sign : (x > y ? sign : 0);
  });
  rows.forEach((row) => body.appendChild(row));
}

function setupSorting() {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th[data-kind]").forEach((header) => {
      const button = header.querySelector("button");
      if (button) button.addEventListener("click", () => sortTable(table, header));
    });
  });
}

function showProfile(profile) {
  document.querySelectorAll("section.profile").forEach((section) => {
    section.hidden = section.dataset.profile !== profile;
  });
}

function setupProfiles() {
  const select = document.getElementById("profile");
  if (!select) return;
  select.addEventListener("change", () => {
    showProfile(select.value);
    history.replaceState(null, "", "#profile=" + encodeURIComponent(select.value));
  });
  const match = /^#profile=(.+)$/.exec(location.hash);
  if (match) {
    const wanted = decodeURIComponent(match[1]);
    if (Array.from(select.options).some((o) => o.value === wanted)) {
      select.value = wanted;
      showProfile(wanted);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => { setupSorting(); setupProfiles(); });
