// The intake home's "Calls in progress": re-read every 10 seconds from the admin's JSON endpoint.
// Rows are built with textContent only (no HTML from the server is ever inserted). Paused while the
// tab is hidden; a failed read keeps the last list and says since when it is stale.
(function () {
  "use strict";
  var PERIOD_MS = 10000;
  var section = document.querySelector("[data-live-calls]");
  if (!section || !window.fetch) { return; }
  var url = section.getAttribute("data-url");
  var rows = section.querySelector("[data-live-rows]");
  var table = section.querySelector("[data-live-table]");
  var empty = section.querySelector("[data-live-empty]");
  var count = section.querySelector("[data-live-count]");
  var status = section.querySelector("[data-live-status]");
  var timer = null;
  var lastGood = null;

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function render(data) {
    var fresh = document.createDocumentFragment();
    data.calls.forEach(function (call) {
      var tr = document.createElement("tr");
      var first = cell(tr, "");
      var link = document.createElement("a");
      link.href = call.url;
      link.textContent = call.started;
      var ago = document.createElement("span");
      ago.className = "intake-muted";
      ago.textContent = " " + call.elapsed;
      first.appendChild(link);
      first.appendChild(ago);
      var st = cell(tr, call.status);
      if (call.test) {
        var tag = document.createElement("span");
        tag.className = "intake-tag";
        tag.textContent = "test";
        st.appendChild(document.createTextNode(" "));
        st.appendChild(tag);
      }
      cell(tr, call.service);
      cell(tr, call.area);
      cell(tr, call.partner || "Not connected yet");
      fresh.appendChild(tr);
    });
    rows.replaceChildren(fresh);
    table.hidden = data.calls.length === 0;
    empty.hidden = data.calls.length !== 0;
    if (count.textContent !== String(data.count)) { count.textContent = String(data.count); }
    lastGood = data.updated;
    status.textContent = "Refreshes every 10 seconds · updated " + data.updated;
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(render)
      .catch(function () {
        status.textContent = "Could not refresh" + (lastGood ? "; last updated " + lastGood : "") + ". Retrying.";
      });
  }

  function start() { if (timer === null) { timer = window.setInterval(refresh, PERIOD_MS); } }
  function stop() { if (timer !== null) { window.clearInterval(timer); timer = null; } }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { stop(); } else { refresh(); start(); }
  });
  section.setAttribute("data-live-ready", "true");
  start();
})();
