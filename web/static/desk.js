// Frontdesk ticket desk: live updates. One EventSource on
// /api/tickets/events; a "ticket" event refreshes the inbox list (or the
// open ticket's header and timeline) by fetching the server-rendered
// fragment again, so rendering stays in Go templates. The wallboard polls
// its own fragment. Nothing here runs on pages without these elements.
(function () {
  "use strict";
  var list = document.querySelector("[data-live-list]");
  var ticket = document.querySelector("[data-live-ticket]");
  var board = document.querySelector("[data-live-board]");

  // refresher returns a function that fetches url and swaps el's content,
  // at most one request at a time, coalescing bursts of events.
  function refresher(el, url, after) {
    var busy = false, again = false;
    function run() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(url(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var before = after ? after.before() : null;
          el.innerHTML = html;
          if (after) { after.done(before); }
          el.dataset.refreshed = String(Date.now());
        })
        .catch(function () {})
        .then(function () {
          busy = false;
          if (again) { again = false; setTimeout(run, 50); }
        });
    }
    return run;
  }

  function rowNumbers() {
    var seen = {};
    list.querySelectorAll("tr[data-number]").forEach(function (tr) { seen[tr.dataset.number] = true; });
    return seen;
  }

  var refreshList = list && refresher(list, function () {
    var u = list.dataset.liveList;
    return u + (u.indexOf("?") < 0 ? "?" : "&") + "partial=1";
  }, {
    before: rowNumbers,
    done: function (seen) {
      list.querySelectorAll("tr[data-number]").forEach(function (tr) {
        if (!seen[tr.dataset.number]) { tr.classList.add("fresh"); }
      });
    }
  });

  var refreshTicket = ticket && refresher(ticket, function () { return ticket.dataset.url; });

  if ((list || ticket) && window.EventSource) {
    var es = new EventSource("/api/tickets/events");
    es.addEventListener("ticket", function (ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      if (refreshList) { refreshList(); }
      if (refreshTicket && String(d.ticket) === ticket.dataset.liveTicket) { refreshTicket(); }
    });
    es.addEventListener("open", function () { document.body.dataset.live = "on"; });
    es.addEventListener("error", function () { document.body.dataset.live = "off"; });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  if (board) {
    var refreshBoard = refresher(board, function () { return board.dataset.liveBoard; });
    setInterval(refreshBoard, Number(board.dataset.every || 5000));
  }
})();
