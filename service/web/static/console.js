// The console's few behaviours of its own: countdowns to report deadlines that tick on the
// server's clock, the event types of the chosen category, the CSRF token on htmx requests,
// and live refreshes that never wipe what an officer is typing.
(function () {
  "use strict";
  var SOON_MS = 30 * 60 * 1000;
  var offset = 0; // server time minus browser time, from the page's data-now

  function syncClock() {
    var holder = document.querySelector("[data-now]");
    if (holder) offset = Date.parse(holder.getAttribute("data-now")) - Date.now();
  }

  function spoken(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var h = Math.floor(minutes / 60), m = minutes % 60;
    var zh = document.documentElement.lang.indexOf("zh") === 0;
    if (zh) return (h ? h + "小时" : "") + m + "分";
    return (h ? h + " h " : "") + m + " min";
  }

  function tick() {
    var now = Date.now() + offset;
    var zh = document.documentElement.lang.indexOf("zh") === 0;
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-due")) - now;
      el.classList.toggle("overdue", left <= 0);
      el.classList.toggle("soon", left > 0 && left <= SOON_MS);
      el.textContent = left <= 0
        ? (zh ? "已逾期 " : "late by ") + spoken(left)
        : (zh ? "剩余 " : "in ") + spoken(left);
    });
    document.dispatchEvent(new CustomEvent("dutyd:tick", { detail: now }));
  }

  function filterTypes() {
    var category = document.getElementById("f-category");
    var types = document.getElementById("f-event_type");
    if (!category || !types) return;
    var keep = null;
    Array.prototype.forEach.call(types.options, function (option) {
      var shown = option.getAttribute("data-category") === category.value;
      option.hidden = !shown;
      option.disabled = !shown;
      if (shown && (keep === null || option.selected)) keep = option;
    });
    if (keep && (types.selectedOptions[0] || {}).disabled !== false) keep.selected = true;
  }

  function typing() {
    var el = document.activeElement;
    return el && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) && el.type !== "submit";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    // A live refresh waits while someone types; the next change or 30 s brings it.
    if (event.detail.requestConfig.verb === "get" && typing()) event.preventDefault();
  });
  document.addEventListener("htmx:afterSwap", function () { syncClock(); tick(); });
  document.addEventListener("dutyd:clock", function () { syncClock(); tick(); });
  // A button with data-dialog opens that <dialog> (a confirmation) instead of its form's
  // plain submit, which asks the server for the same confirmation without JavaScript.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-dialog]");
    var dialog = opener && document.getElementById(opener.getAttribute("data-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    if (!dialog.open) dialog.showModal();
  });
  // A field marked wrong by the server stops saying so once it is changed.
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field.getAttribute || field.getAttribute("aria-invalid") !== "true") return;
    var said = document.getElementById(field.getAttribute("aria-describedby") || "");
    if (said) said.hidden = true;
    field.removeAttribute("aria-invalid");
  });
  document.addEventListener("DOMContentLoaded", function () {
    syncClock();
    tick();
    filterTypes();
    var category = document.getElementById("f-category");
    if (category) category.addEventListener("change", filterTypes);
    setInterval(tick, 1000);
  });
})();

// Live rows for the board and the wall: each change sends the rows of the incidents it
// touched; a row is replaced where it is, added if new, removed if no longer open. The
// rows are kept in the server's order (board.urgency): each carries its key as numbers
// (data-urgency), and if not late yet, the time it falls due (data-urgency-at) and its
// key from then (data-urgency-late), so a row moves up as its countdown turns red.
// Keyboard focus in a row that is replaced, moved or refetched stays on it.
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function focusInRow() {
    var el = document.activeElement;
    var row = el ? el.closest("[data-urgency]") : null;
    if (!row || !row.id) return null;
    var index = Array.prototype.indexOf.call(row.querySelectorAll(FOCUSABLE), el);
    return { id: row.id, index: index };
  }

  function refocus(was) {
    var el = document.activeElement;
    if (!was || (el && el !== document.body)) return;
    var row = document.getElementById(was.id);
    var same = row && row.querySelectorAll(FOCUSABLE)[was.index];
    if (same) same.focus({ preventScroll: true });
  }

  function urgency(row, now) {
    var at = row.getAttribute("data-urgency-at");
    var late = at && Date.parse(at) <= now;
    return row.getAttribute(late ? "data-urgency-late" : "data-urgency").split(" ").map(Number);
  }

  function compare(a, b) {
    for (var i = 0; i < a.length && i < b.length; i++) {
      if (a[i] !== b[i]) return a[i] - b[i];
    }
    return a.length - b.length;
  }

  function order(now) {
    var list = document.getElementById("open-incidents");
    if (!list) return;
    var rows = Array.prototype.filter.call(list.children, function (row) {
      return row.hasAttribute("data-urgency");
    });
    var keyed = rows.map(function (row) { return { row: row, key: urgency(row, now) }; });
    keyed.sort(function (a, b) { return compare(a.key, b.key); });
    var was = focusInRow();
    var move = list.moveBefore || list.insertBefore; // moveBefore keeps the focus itself
    var place = rows[0]; // the rows before it are in order
    keyed.forEach(function (item) {
      if (item.row === place) place = place.nextElementSibling;
      else move.call(list, item.row, place || null);
    });
    refocus(was);
  }

  document.addEventListener("dutyd:tick", function (event) { order(event.detail); });

  var refetched = null; // the focus in a row before the whole board is fetched again
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.target && event.target.id === "board") refetched = focusInRow();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "board") refocus(refetched);
  });

  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (!event.target || event.target.id !== "rows-inbox") return;
    event.preventDefault();
    var holder = document.createElement("template");
    holder.innerHTML = event.detail.data;
    var list = document.getElementById("open-incidents");
    var now = null;
    var was = focusInRow();
    Array.prototype.slice.call(holder.content.children).forEach(function (row) {
      now = now || row.getAttribute("data-now");
      var old = document.getElementById(row.id);
      if (row.hasAttribute("data-gone")) {
        if (old) old.remove();
      } else if (old) {
        old.replaceWith(row);
      } else if (list) {
        list.insertBefore(row, list.firstChild); // put in its place by the tick below
        var table = list.closest("table");
        if (table) table.hidden = false;
        var empty = document.getElementById("no-incidents");
        if (empty) empty.remove();
      }
    });
    refocus(was);
    if (now) {
      var board = document.querySelector(".board[data-now]");
      if (board) board.setAttribute("data-now", now);
    }
    document.dispatchEvent(new CustomEvent("dutyd:clock")); // ticks, and so puts in order
  });
})();
